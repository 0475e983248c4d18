//! The real binary in a real terminal: tmux runs `convtop`, keys are typed with send-keys and the
//! screen read with capture-pane.

mod tmux;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tmux::{Tmux, has_tmux, run_of, start, wait_file};

fn metrics_of(runs: &Path) -> PathBuf {
    run_of(runs).join("metrics.jsonl")
}

fn is_loss_chart_drawn(s: &str) -> bool {
    // braille dots (colour) or the ASCII markers of the loss line
    s.contains("running")
        && s.chars()
            .filter(|c| ('\u{2801}'..='\u{28ff}').contains(c))
            .count()
            > 20
}

#[test]
fn dashboard_trains_takes_a_knob_and_quits_cleanly() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = start("knob", dir.path(), 100, 30, "COLORTERM=truecolor", "");
    tmux.wait_screen("the loss chart to fill", 60, is_loss_chart_drawn);
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "1",
        "the dashboard uses the alternate screen"
    );

    // → on the selected knob (the learning rate) doubles it: 0.05 → 0.1
    tmux.keys(&["Right"]);
    let metrics = metrics_of(&dir.path().join("runs"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let change = loop {
        let text = std::fs::read_to_string(&metrics).unwrap_or_default();
        // a hand change: on a loaded machine the first epoch's schedule step may come first
        let is_hand = |l: &&str| l.contains("\"type\":\"knob\"") && l.contains("\"hand\"");
        if let Some(line) = text.lines().find(is_hand) {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no knob change in metrics.jsonl");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        change.contains("learning_rate") && change.contains("\"old\":0.05,\"new\":0.1,"),
        "{change}"
    );
    tmux.wait_screen("the new rate in the knobs panel", 10, |s| {
        s.contains("1.0e-1")
    });

    tmux.keys(&["q"]);
    tmux.wait_screen("the quit confirmation", 10, |s| {
        s.to_lowercase().contains("quit")
    });
    tmux.keys(&["y"]);
    let status = wait_file(&dir.path().join("exit"), 30);
    assert_eq!(status.trim(), "0");
    let stty = wait_file(&dir.path().join("stty"), 10);
    assert!(
        stty.contains(" icanon") && stty.contains(" echo "),
        "raw mode left on: {stty}"
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0",
        "alternate screen left"
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{cursor_flag}"])
            .trim(),
        "1",
        "cursor shown again"
    );
    let screen = tmux.screen();
    assert!(screen.contains("resume with"), "{screen}");
    let run = metrics.parent().unwrap();
    assert!(run.join("checkpoint-last.safetensors").is_file());
}

#[test]
fn ascii_mode_in_80x24_and_a_too_small_terminal() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = start("ascii", dir.path(), 80, 24, "TERM=dumb", "");
    let screen = tmux.wait_screen("the ASCII dashboard", 60, |s| {
        s.contains("running") && s.contains("+--")
    });
    assert!(
        screen.is_ascii(),
        "non-ASCII output with TERM=dumb:\n{screen}"
    );
    tmux.cmd(&["resize-window", "-t", "e2e", "-x", "40", "-y", "10"]);
    tmux.wait_screen("the size message", 10, |s| {
        s.contains("80") && s.contains("24")
    });
    tmux.cmd(&["resize-window", "-t", "e2e", "-x", "80", "-y", "24"]);
    tmux.wait_screen("the dashboard again", 10, |s| s.contains("running"));
    tmux.keys(&["q"]);
    tmux.keys(&["y"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 30).trim(), "0");
}

#[test]
fn a_bad_data_path_is_a_clear_message_not_a_broken_terminal() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corrupt")).unwrap();
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(
            dir.path().join("corrupt").join(name),
            b"\x00\x00\x08\x03\x00\x00",
        )
        .unwrap();
    }
    let args = format!("--data idx:{}/corrupt", dir.path().display());
    let tmux = start("corrupt", dir.path(), 80, 24, "", &args);
    let status = wait_file(&dir.path().join("exit"), 30);
    assert_eq!(status.trim(), "2");
    let screen = tmux.screen();
    assert!(
        screen.contains("convtop:") && screen.contains("corrupt"),
        "{screen}"
    );
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0"
    );
}

#[test]
fn a_hangup_writes_a_checkpoint_and_stops_cleanly() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = start("hangup", dir.path(), 100, 30, "", "");
    tmux.wait_screen("the loss chart to fill", 60, is_loss_chart_drawn);
    // killing the session hangs up the pane's terminal: convtop gets SIGHUP, as over a dropped SSH
    tmux.cmd(&["kill-session", "-t", "e2e"]);
    let metrics = metrics_of(&dir.path().join("runs"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&metrics).unwrap_or_default();
        if text.contains("\"state\":\"stopped\"") {
            break;
        }
        assert!(Instant::now() < deadline, "no stopped state after SIGHUP");
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = metrics.parent().unwrap();
    assert!(run.join("checkpoint-last.safetensors").is_file());
}

#[test]
fn detached_training_survives_d_and_a_second_attach() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("convtop-e2e-{}-detach", std::process::id()),
        session: "e2e",
    };
    let bin = env!("CARGO_BIN_EXE_convtop");
    let d = dir.path().display();
    let script = format!(
        "cd {d} && COLORTERM=truecolor {bin} train --detach --run-dir {d}/runs --epochs 100; echo $? > {d}/exit; sleep 600"
    );
    tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "100",
        "-y",
        "30",
        &script,
    ]);
    tmux.wait_screen("the curves of the detached run", 60, is_loss_chart_drawn);
    tmux.keys(&["d"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 20).trim(), "0");
    let screen = tmux.wait_screen("the way back", 10, |s| s.contains("convtop attach"));
    assert!(screen.contains("left"), "{screen}");
    let runs = dir.path().join("runs");
    let run = metrics_of(&runs).parent().unwrap().to_path_buf();
    assert!(
        run.join("control.sock").exists(),
        "the training ended with its viewer"
    );

    // attach again (the latest live run by default), then stop it from the quit dialog
    std::fs::remove_file(dir.path().join("exit")).unwrap();
    let again = format!(
        "cd {d} && COLORTERM=truecolor {bin} attach --run-dir {d}/runs; echo $? > {d}/exit; sleep 600"
    );
    tmux.cmd(&["respawn-pane", "-k", "-t", "e2e", &again]);
    tmux.wait_screen(
        "the curves again, history included",
        60,
        is_loss_chart_drawn,
    );
    tmux.keys(&["q"]);
    tmux.wait_screen("stop or leave", 10, |s| s.contains("only leave"));
    tmux.keys(&["y"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 30).trim(), "0");
    let deadline = Instant::now() + Duration::from_secs(30);
    while run.join("control.sock").exists() {
        assert!(Instant::now() < deadline, "the training did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(run.join("checkpoint-last.safetensors").is_file());
}
