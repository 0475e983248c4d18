//! Faults in knob values, checkpoint and trainer state, and exit statuses (issue 16, part A):
//! each case was reproduced against the old code and is kept here.

mod common;
use common::wait_for;

use std::path::Path;

use convtop::remote::protocol::parse_request;
use convtop::train::checkpoint::Checkpoint;
use convtop::train::rundir::LAST_CHECKPOINT;
use convtop::train::{self, Command, Event, Knob, RunState, Severity, TrainConfig, TrainerHandle};

fn start_paused(dir: &Path) -> TrainerHandle {
    let cfg = TrainConfig {
        run_dir: dir.to_path_buf(),
        ..TrainConfig::default()
    };
    let mut run = train::new_run(cfg).unwrap();
    run.is_start_paused = true;
    train::spawn(run).unwrap()
}

fn stop(h: TrainerHandle) {
    h.commands.send(Command::Stop).unwrap();
    wait_for(&h.events, 30, |e| {
        matches!(e, Event::State(RunState::Stopped)).then_some(())
    });
    h.thread.join().unwrap().unwrap();
}

fn set_knob(knob: &str, value: &str) -> Vec<u8> {
    format!(r#"{{"v":1,"cmd":{{"cmd":"set_knob","knob":"{knob}","value":{value}}}}}"#).into_bytes()
}

#[test]
fn the_socket_refuses_knob_values_that_do_not_survive_f32() {
    // each of these was answered "ok" and stored as inf, 0 or 1.0
    for (knob, value, says) in [
        ("learning_rate", "1e39", "learning rate 1e39 refused"),
        ("learning_rate", "1e-50", "learning rate 1e-50 refused"),
        ("momentum", "0.9999999999", "momentum 0.9999999999 refused"),
        ("batch_size", "65536", "batch size 65536 refused"),
        ("lambda", "-1", "λ (L2) -1 refused"),
    ] {
        let problem = parse_request(&set_knob(knob, value)).unwrap_err();
        assert!(problem.contains(says), "{problem}");
        assert!(problem.contains("valid:"), "the range is named: {problem}");
    }
    assert!(parse_request(&set_knob("learning_rate", "0.01")).is_ok());
}

#[test]
fn a_refused_knob_never_reaches_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_paused(dir.path());
    for (knob, value) in [
        (Knob::LearningRate, 1e39),
        (Knob::LearningRate, 1e-50),
        (Knob::Momentum, 0.9999999999),
        (Knob::BatchSize, 65_536.0),
    ] {
        h.commands.send(Command::SetKnob { knob, value }).unwrap();
        let text = wait_for(&h.events, 20, |e| match e {
            Event::Message {
                level: Severity::Warn,
                text,
            } if text.contains("refused") => Some(text.clone()),
            Event::KnobChanged(c) => panic!("accepted: {c:?}"),
            _ => None,
        });
        assert!(
            text.contains(knob.label()) && text.contains("kept"),
            "{text}"
        );
    }
    h.commands.send(Command::SaveCheckpoint).unwrap();
    let path = wait_for(&h.events, 20, |e| match e {
        Event::CheckpointSaved { path, .. } => Some(path.clone()),
        _ => None,
    });
    stop(h);
    let ck = Checkpoint::load(Path::new(&path)).expect("the checkpoint loads");
    assert_eq!(ck.state.knobs.learning_rate, 0.05);
    assert_eq!(ck.state.knobs.batch_size, 32);
}

#[test]
fn a_checkpoint_with_knobs_out_of_range_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_paused(dir.path());
    h.commands.send(Command::SaveCheckpoint).unwrap();
    let path = wait_for(&h.events, 20, |e| match e {
        Event::CheckpointSaved { path, .. } => Some(path.clone()),
        _ => None,
    });
    stop(h);
    let good = Checkpoint::load(Path::new(&path)).unwrap();
    let bad_path = Path::new(&path).with_file_name("bad.safetensors");
    for edit in [
        |ck: &mut Checkpoint| ck.state.knobs.learning_rate = -0.1,
        |ck: &mut Checkpoint| ck.state.knobs.momentum = 5.0,
        |ck: &mut Checkpoint| ck.state.knobs.batch_size = 0,
    ] {
        let mut ck = Checkpoint::load(Path::new(&path)).unwrap();
        edit(&mut ck);
        ck.save(&bad_path).unwrap();
        let e = Checkpoint::load(&bad_path)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("bad.safetensors") && e.contains("refused"),
            "{e}"
        );
    }
    assert!(path.ends_with(LAST_CHECKPOINT));
    assert_eq!(good.state.iteration, 0);
}

fn convtop() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_convtop"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = convtop().args(args).output().expect("convtop runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn only_run(runs: &Path) -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail
    unsafe { libc::geteuid() == 0 }
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: mount -t tmpfs failed here");
            return None;
        }
        Some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_stops_a_headless_run_with_a_non_zero_exit_and_the_real_cause() {
    let Some(fs) = Tmpfs::mount("450k") else {
        return;
    };
    let runs = fs.0.path().join("runs");
    let runs_s = runs.to_str().unwrap();
    let (code, out, err) = run(&[
        "train",
        "--headless",
        "--epochs",
        "1",
        "--checkpoint-every",
        "5",
        "--run-dir",
        runs_s,
    ]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(
        err.contains("No space left on device") && err.contains("disk is full"),
        "{err}"
    );
    assert!(!out.contains("best validation accuracy"), "{out}");
    assert!(!err.contains("permission"), "{err}");
    let dir = only_run(&runs);
    let summary = train::summary::summarize(&dir).unwrap();
    assert_ne!(summary.status.label(), "finished");
    // whatever checkpoint is on disk loads, and a best claimed by an eval line is on disk
    let last = Checkpoint::load(&dir.join(LAST_CHECKPOINT)).expect("the last checkpoint loads");
    assert!(last.state.iteration < 563, "{}", last.state.iteration);
    if out.contains("(best)") {
        let best = Checkpoint::load(&dir.join("checkpoint-best.safetensors")).unwrap();
        let acc = best.state.best_val_accuracy.unwrap();
        assert!(
            out.contains(&format!("{:>6.2}%  (best)", acc * 100.0)),
            "{out}"
        );
    }
}

#[test]
fn a_read_only_run_dir_pauses_the_trainer_and_says_read_only() {
    let Some(fs) = Tmpfs::mount("4m") else {
        return;
    };
    let h = start_paused(fs.0.path());
    let dir = only_run(fs.0.path());
    // a read-only bind mount over the run dir: the open metrics file stays writable
    let bind = |args: &[&str]| {
        std::process::Command::new("mount")
            .args(args)
            .arg(&dir)
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !(bind(&["--bind"]) && bind(&["-o", "remount,bind,ro"])) {
        eprintln!("skipped: a read-only bind mount failed here");
        stop(h);
        return;
    }
    h.commands.send(Command::Resume).unwrap();
    h.commands.send(Command::SaveCheckpoint).unwrap();
    let problem = wait_for(&h.events, 30, |e| match e {
        Event::CheckpointFailed { problem, .. } => Some(problem.clone()),
        Event::CheckpointSaved { .. } => panic!("saved on a read-only dir"),
        _ => None,
    });
    assert!(problem.contains("read-only"), "{problem}");
    assert!(!problem.contains("free some space"), "{problem}");
    wait_for(&h.events, 30, |e| {
        matches!(e, Event::State(RunState::Paused)).then_some(())
    });
    let _ = std::process::Command::new("umount").arg(&dir).status();
    stop(h);
}

#[test]
fn a_kill_in_epoch_2_leaves_a_checkpoint_from_the_epoch_end_to_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let mut child = convtop()
        .args(["train", "--headless", "--epochs", "3", "--run-dir"])
        .arg(&runs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // the epoch-1 evaluation line comes right before the epoch-end checkpoint
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        assert!(n > 0, "the run ended before its first epoch");
        if line.starts_with("epoch  1.00") {
            break;
        }
    }
    let dir = only_run(&runs);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !dir.join(LAST_CHECKPOINT).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no epoch-end checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let ck = Checkpoint::load(&dir.join(LAST_CHECKPOINT)).unwrap();
    assert_eq!(ck.state.batcher.epoch, 1);
    assert_eq!(ck.state.batcher.position, 0);
    let d = dir.to_str().unwrap();
    let (code, out, err) = run(&["train", "--headless", "--resume", d, "--epochs", "2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("epoch  2.00"), "{out}");
    // #14: the run has now done its 2 epochs; resuming again says so instead of training on
    let (code, _, err) = run(&["train", "--headless", "--resume", d, "--epochs", "2"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("already finished 2/2 epochs; pass --epochs N"),
        "{err}"
    );
}

#[test]
fn a_capped_run_is_not_resumed_past_its_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let r = runs.to_str().unwrap();
    let (code, out, err) = run(&[
        "train",
        "--headless",
        "--max-iterations",
        "50",
        "--run-dir",
        r,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let dir = only_run(&runs);
    let (code, _, err) = run(&["train", "--headless", "--resume", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cap of 50 iterations"), "{err}");
    let ck = Checkpoint::load(&dir.join(LAST_CHECKPOINT)).unwrap();
    assert_eq!(ck.state.iteration, 50);
}

/// A stopped run of a few iterations, to damage in the tests below.
fn short_run(tmp: &Path) -> std::path::PathBuf {
    let runs = tmp.join("runs");
    let r = runs.to_str().unwrap();
    let (code, out, err) = run(&[
        "train",
        "--headless",
        "--max-iterations",
        "20",
        "--epochs",
        "2",
        "--run-dir",
        r,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    only_run(&runs)
}

#[test]
fn a_bit_flip_in_a_checkpoint_is_refused_with_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = short_run(tmp.path());
    let path = dir.join(LAST_CHECKPOINT);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1000] ^= 0x10; // a bit of a weight, well past the header
    std::fs::write(&path, &bytes).unwrap();
    let e = Checkpoint::load(&path).err().expect("refused").to_string();
    assert!(e.contains(LAST_CHECKPOINT) && e.contains("damaged"), "{e}");
    let (code, _, err) = run(&["eval", "--checkpoint", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("damaged") && err.contains(LAST_CHECKPOINT),
        "{err}"
    );
}

type Edit = fn(&mut Checkpoint);

#[test]
fn hostile_trainer_state_is_refused_not_trained_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = short_run(tmp.path());
    let path = dir.join(LAST_CHECKPOINT);
    let d = dir.to_str().unwrap();
    let edits: [(&str, Edit); 5] = [
        ("an index past the data", |ck| {
            ck.state.batcher.order[0] = 10_000_000
        }),
        ("an empty order", |ck| ck.state.batcher.order.clear()),
        ("batch 0", |ck| ck.state.knobs.batch_size = 0),
        ("momentum 5", |ck| ck.state.knobs.momentum = 5.0),
        ("iteration u64::MAX", |ck| ck.state.iteration = u64::MAX),
    ];
    let good = std::fs::read(&path).unwrap();
    for (what, edit) in edits {
        let mut ck = Checkpoint::load(&path).unwrap();
        edit(&mut ck);
        // saved through the writer, so its checksum is right: only validation can refuse it
        ck.save(&path).unwrap();
        let (code, _, err) = run(&["train", "--headless", "--resume", d]);
        assert_eq!(code, 2, "{what}: {err}");
        assert!(err.contains(LAST_CHECKPOINT), "{what}: {err}");
        std::fs::write(&path, &good).unwrap();
    }
}

#[test]
fn a_changed_empty_or_linked_config_is_refused_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = short_run(tmp.path());
    let d = dir.to_str().unwrap();
    let config = dir.join("config.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    // a changed seed silently changed the validation split
    std::fs::write(&config, good.replace("seed = 1", "seed = 2")).unwrap();
    let (code, _, err) = run(&["train", "--headless", "--resume", d]);
    assert_eq!(code, 2);
    assert!(err.contains("has changed since"), "{err}");
    // an empty file resumed with every default
    std::fs::write(&config, "").unwrap();
    let (code, _, err) = run(&["train", "--headless", "--resume", d]);
    assert_eq!(code, 2);
    assert!(err.contains("config.toml is empty"), "{err}");
    // a link is not followed (its target's first line was printed in a parse error)
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "password = hunter2\n").unwrap();
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink(&secret, &config).unwrap();
    let (code, _, err) = run(&["train", "--headless", "--resume", d]);
    assert_eq!(code, 2);
    assert!(
        err.contains("symbolic link") && !err.contains("hunter2"),
        "{err}"
    );
    // `ls` lists the run with its problem instead of hiding it
    let runs = dir.parent().unwrap().to_str().unwrap();
    let (code, out, _) = run(&["ls", "--run-dir", runs]);
    assert_eq!(code, 0);
    assert!(
        out.contains("bad config") && out.contains("symbolic link"),
        "{out}"
    );
    // epochs may change
    std::fs::remove_file(&config).unwrap();
    std::fs::write(&config, &good).unwrap();
    let (code, out, err) = run(&["train", "--headless", "--resume", d, "--epochs", "3"]);
    assert_eq!(code, 2, "the cap of 20 still holds: {out}");
    assert!(err.contains("cap of 20"), "{err}");
}

#[test]
fn a_reader_that_leaves_or_a_full_stdout_is_not_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else {
        eprintln!("skipped: no /dev/full");
        return;
    };
    let status = convtop()
        .args(["train", "--headless", "--max-iterations", "30", "--run-dir"])
        .arg(&runs)
        .stdout(full)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let dir = only_run(&runs);
    let ck = Checkpoint::load(&dir.join(LAST_CHECKPOINT)).unwrap();
    assert_eq!(ck.state.iteration, 30);
}

#[test]
fn an_os_error_is_said_once() {
    let (code, _, err) = run(&["train", "--config", "/nonexistent/convtop.toml"]);
    assert_eq!(code, 2);
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}
