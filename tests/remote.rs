//! A detached training steered over its socket: owner-only permissions, refused messages, a
//! viewer that hangs up, a stop through the socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_convtop");

/// Starts `convtop train --detach --no-attach` and returns its run directory.
fn start_detached(base: &Path) -> PathBuf {
    let out = Command::new(BIN)
        .args([
            "train",
            "--detach",
            "--no-attach",
            "--epochs",
            "50",
            "--eval-every",
            "20",
        ])
        .arg("--run-dir")
        .arg(base)
        .output()
        .expect("convtop runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    fn connect(dir: &Path) -> Client {
        let stream = UnixStream::connect(dir.join("control.sock")).expect("socket answers");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader }
    }

    /// Sends one line and returns the reply to it (skipping the event lines in between).
    fn request(&mut self, line: &[u8]) -> serde_json::Value {
        self.stream.write_all(line).unwrap();
        self.stream.write_all(b"\n").unwrap();
        loop {
            let mut text = String::new();
            self.reader.read_line(&mut text).expect("a reply");
            assert!(!text.is_empty(), "the socket closed");
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON line");
            assert_eq!(v["v"], 1);
            if v.get("event").is_none() {
                return v;
            }
        }
    }
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metrics(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap_or_default()
}

fn last_iteration(dir: &Path) -> u64 {
    metrics(dir)
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "iter")
        .find_map(|v| v["iteration"].as_u64())
        .unwrap_or(0)
}

fn stop(dir: &Path) {
    let mut c = Client::connect(dir);
    assert_eq!(c.request(br#"{"v":1,"cmd":{"cmd":"stop"}}"#)["ok"], true);
    wait_until("the training to end", 60, || {
        !dir.join("control.sock").exists()
    });
}

#[test]
fn socket_is_owner_only_and_bad_messages_are_refused() {
    let base = tempfile::tempdir().unwrap();
    let dir = start_detached(base.path());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "run directory");
    assert_eq!(mode(&dir.join("control.sock")), 0o600, "socket");

    let mut c = Client::connect(&dir);
    let malformed = c.request(b"{this is not json");
    assert!(
        malformed["error"].as_str().unwrap().contains("not JSON"),
        "{malformed}"
    );
    let unknown = c.request(br#"{"v":1,"cmd":{"cmd":"format_disk"}}"#);
    assert!(
        unknown["error"].as_str().unwrap().contains("unknown"),
        "{unknown}"
    );
    let version = c.request(br#"{"v":7,"cmd":{"cmd":"stop"}}"#);
    assert!(
        version["error"].as_str().unwrap().contains("version"),
        "{version}"
    );
    let mut huge = br#"{"v":1,"cmd":{"cmd":"stop","pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 100 * 1024));
    huge.extend_from_slice(br#""}}"#);
    let oversized = c.request(&huge);
    assert!(
        oversized["error"].as_str().unwrap().contains("longer"),
        "{oversized}"
    );

    // none of that stopped it: iterations keep coming and the socket still answers
    let before = last_iteration(&dir);
    wait_until("training to go on", 30, || last_iteration(&dir) > before);
    assert_eq!(
        c.request(br#"{"v":1,"cmd":{"cmd":"evaluate_now"}}"#)["ok"],
        true
    );
    assert!(!metrics(&dir).contains("\"state\":\"stopped\""));
    stop(&dir);
}

fn has_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_viewer_hanging_up_never_stops_a_detached_training() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let dir = start_detached(base.path());
    // the viewer: `convtop attach` in a real terminal (exec, so the pane's pid is convtop's)
    let socket = format!("convtop-remote-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let script = format!("exec {BIN} attach {}", dir.display());
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "v",
        "-x",
        "100",
        "-y",
        "30",
        &script,
    ]);
    wait_until("the viewer to draw", 30, || {
        tmux(&["capture-pane", "-p", "-t", "v"]).contains("running")
    });
    let viewer_pid = tmux(&["display", "-p", "-t", "v", "#{pane_pid}"]);

    let mut c = Client::connect(&dir);
    let reply = c.request(br#"{"v":1,"cmd":{"cmd":"set_knob","knob":"lambda","value":0.003}}"#);
    assert_eq!(reply["ok"], true, "{reply}");

    let killed = Command::new("kill")
        .args(["-HUP", viewer_pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = tmux(&["kill-server"]);

    // still training after the viewer is gone, with the λ change on record
    let before = last_iteration(&dir);
    wait_until("training to go on after the hang-up", 30, || {
        last_iteration(&dir) > before + 20
    });
    let text = metrics(&dir);
    let knob = text
        .lines()
        .find(|l| l.contains("\"type\":\"knob\"") && l.contains("lambda"))
        .expect("the λ change in metrics.jsonl");
    assert!(knob.contains("\"new\":0.003"), "{knob}");
    assert!(!text.contains("\"state\":\"stopped\""));

    stop(&dir);
    assert!(dir.join("checkpoint-last.safetensors").is_file());
    assert!(metrics(&dir).contains("\"state\":\"stopped\""));
    let ls = Command::new(BIN)
        .arg("ls")
        .arg("--run-dir")
        .arg(base.path())
        .output()
        .unwrap();
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.contains("stopped"), "{ls}");
}

fn iter(i: u64) -> convtop::train::IterStats {
    convtop::train::IterStats {
        iteration: i,
        epoch: i as f64 / 100.0,
        data_loss: 1.0,
        reg_loss: 0.0,
        batch_accuracy: 0.5,
        knobs: convtop::train::Knobs::default(),
        images_per_sec: 1.0,
    }
}

#[test]
fn attach_joins_the_file_history_and_the_live_stream_without_repeats() {
    use convtop::train::rundir::{MetricsLog, Record};
    use convtop::train::{Event, Knob, KnobChange, KnobSource};
    let dir = tempfile::tempdir().unwrap();
    let knob = KnobChange {
        iteration: 2,
        knob: Knob::Lambda,
        old: 1e-4,
        new: 1e-3,
        source: KnobSource::Hand,
        reason: None,
    };
    let mut log = MetricsLog::open(dir.path().join("metrics.jsonl")).unwrap();
    for r in [
        Record::Iter(iter(1)),
        Record::Iter(iter(2)),
        Record::Knob(knob.clone()),
    ] {
        log.write(&r).unwrap();
    }
    log.flush().unwrap();
    let (live_tx, live_rx) = std::sync::mpsc::channel();
    // the training's backlog overlaps the file: iteration 2 and the knob change come twice
    live_tx.send(Event::KnobChanged(knob)).unwrap();
    live_tx
        .send(Event::Iterations(vec![iter(2), iter(3)]))
        .unwrap();
    drop(live_tx);
    let (mut history, events) =
        convtop::remote::history::attach_stream(dir.path(), live_rx).unwrap();
    for e in events.iter() {
        history.push_event(&e);
    }
    let iterations: Vec<u64> = history.iters().iter().map(|s| s.iteration).collect();
    assert_eq!(iterations, vec![1, 2, 3]);
    assert_eq!(history.knob_changes.len(), 1);
}

#[test]
fn attaching_before_the_first_metrics_line_is_written_shows_the_live_stream() {
    use convtop::train::Event;
    // a detached run answers on its socket a moment before its metrics.jsonl exists
    let dir = tempfile::tempdir().unwrap();
    let (live_tx, live_rx) = std::sync::mpsc::channel();
    live_tx.send(Event::Iterations(vec![iter(1)])).unwrap();
    drop(live_tx);
    let (history, events) = convtop::remote::history::attach_stream(dir.path(), live_rx)
        .expect("no history yet is not an error");
    assert!(history.is_empty());
    assert_eq!(events.iter().count(), 1);
}

#[test]
fn every_viewer_sees_another_viewers_knob_change() {
    let base = tempfile::tempdir().unwrap();
    let dir = start_detached(base.path());
    let mut a = Client::connect(&dir);
    let mut b = Client::connect(&dir);
    let reply = a.request(br#"{"v":1,"cmd":{"cmd":"set_knob","knob":"momentum","value":0.5}}"#);
    assert_eq!(reply["ok"], true, "{reply}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "viewer b never saw the change");
        let mut text = String::new();
        b.reader.read_line(&mut text).expect("an event");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let change = &v["event"]["KnobChanged"];
        if change["knob"] == "momentum" {
            assert_eq!(change["new"], 0.5);
            break;
        }
    }
    stop(&dir);
}
