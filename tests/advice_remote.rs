//! Advice steered from an attached client over the socket: `set_autopilot` and `apply_advice`
//! reach the trainer; the switch is recorded in metrics.jsonl (`{"type":"autopilot"}`), sent to
//! late viewers in the compacted backlog, and read back by the run history and replay; the
//! applied advice arrives in metrics.jsonl as a knob change with its source and reason.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use convtop::train::Event;
use convtop::train::history::RunHistory;
use convtop::train::rundir::{METRICS_FILE, read_metrics};

const BIN: &str = env!("CARGO_BIN_EXE_convtop");

fn start_detached(base: &Path) -> PathBuf {
    let out = Command::new(BIN)
        .args(["train", "--detach", "--no-attach", "--epochs", "50"])
        .args(["--eval-every", "10", "--lr", "0.01", "--run-dir"])
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

fn connect(dir: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let stream = UnixStream::connect(dir.join("control.sock")).expect("the socket answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

/// Sends `cmd` (the JSON of one command) and waits for its `ok`.
fn request(dir: &Path, cmd: &str) {
    let (mut stream, mut reader) = connect(dir);
    writeln!(stream, "{{\"v\":1,\"cmd\":{cmd}}}").unwrap();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a reply");
        assert!(
            !line.is_empty(),
            "the socket closed before the reply to {cmd}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        if v.get("event").is_none() {
            assert_eq!(v["ok"], true, "{cmd}: {line}");
            return;
        }
    }
}

/// The events of a new viewer's backlog, up to its `State`.
fn backlog(dir: &Path) -> Vec<serde_json::Value> {
    let (_stream, mut reader) = connect(dir);
    let mut events = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("the backlog");
        assert!(!line.is_empty(), "the socket closed");
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let is_state = v["event"].get("State").is_some();
        events.push(v["event"].clone());
        if is_state {
            return events;
        }
    }
}

fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(METRICS_FILE))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_for(dir: &Path, what: &str, ok: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = records(dir).into_iter().find(|r| ok(r)) {
            return r;
        }
        assert!(Instant::now() < deadline, "no {what} in metrics.jsonl");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn autopilot_in_backlog(dir: &Path) -> Option<bool> {
    backlog(dir)
        .iter()
        .find_map(|e| e.get("Autopilot").and_then(|a| a["on"].as_bool()))
}

#[test]
fn apply_advice_and_set_autopilot_from_a_client_reach_the_trainer_the_file_and_late_viewers() {
    let base = tempfile::tempdir().unwrap();
    let dir = start_detached(base.path());
    assert_eq!(autopilot_in_backlog(&dir), None, "never switched on");
    request(&dir, r#"{"cmd":"set_autopilot","on":true}"#);
    let on = wait_for(&dir, "autopilot on", |r| {
        r["type"] == "autopilot" && r["on"] == true
    });
    assert!(on["iteration"].is_u64(), "{on}");
    assert_eq!(autopilot_in_backlog(&dir), Some(true), "a late viewer");
    // a roll-back needs a best checkpoint: one evaluation first
    wait_for(&dir, "an evaluation", |r| r["type"] == "eval");
    let apply = r#"{"cmd":"apply_advice","action":{"rollback":"best","knob":{"knob":"learning_rate","value":0.02}},"reason":"advice from a client"}"#;
    request(&dir, apply);
    let change = wait_for(&dir, "the advice's knob change", |r| {
        r["type"] == "knob" && r["reason"] == "advice from a client"
    });
    assert_eq!(change["knob"], "learning_rate", "{change}");
    assert_eq!(
        change["new"].as_f64().map(|v| v as f32),
        Some(0.02),
        "{change}"
    );
    assert_eq!(change["source"], "hand", "{change}");
    request(&dir, r#"{"cmd":"set_autopilot","on":false}"#);
    wait_for(&dir, "autopilot off", |r| {
        r["type"] == "autopilot" && r["on"] == false
    });
    assert_eq!(autopilot_in_backlog(&dir), Some(false), "a late viewer");
    request(&dir, r#"{"cmd":"stop"}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    while dir.join("control.sock").exists() {
        assert!(Instant::now() < deadline, "the training did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    // read back: the run history holds both switches, and replay says the last
    let history = RunHistory::from_records(&read_metrics(&dir.join(METRICS_FILE)).unwrap());
    let switches: Vec<bool> = history.autopilot.iter().map(|&(_, on)| on).collect();
    assert_eq!(switches, [true, false]);
    assert!(history.autopilot[0].0 <= history.autopilot[1].0);
    let replay = convtop::remote::history::replay(&dir).unwrap();
    let shown: Vec<Event> = replay.events.try_iter().collect();
    assert!(
        shown
            .iter()
            .any(|e| matches!(e, Event::Autopilot { on: false })),
        "{shown:?}"
    );
    let _ = replay.commands.send(convtop::train::Command::Stop);
}
