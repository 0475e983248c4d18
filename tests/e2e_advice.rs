//! The real binary in tmux with advice on screen: a rate too high for the embedded data kills
//! ReLUs; `a` applies the selected diagnostic's action (a hand change with the diagnostic as its
//! reason, in metrics.jsonl; its roll-back recorded and marked on the charts) and `A` switches
//! the autopilot on and off (recorded and shown).

mod tmux;

use std::path::Path;
use std::time::{Duration, Instant};

use tmux::{has_tmux, iteration, run_of, start};

fn records(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits up to 60 s for a record of metrics.jsonl that `ok` accepts.
fn wait_record(
    run: &Path,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = records(run).into_iter().find(|r| ok(r)) {
            return r;
        }
        assert!(Instant::now() < deadline, "no {what} in metrics.jsonl");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_applies_the_selected_advice_and_shift_a_switches_the_autopilot() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = start("advice", dir.path(), 120, 40, "", "--lr 0.5");
    tmux.wait_screen("training", 60, |s| iteration(s).is_some_and(|i| i > 0));
    let run = run_of(&dir.path().join("runs"));
    let dead = wait_record(&run, "the dead-ReLU diagnostic", |r| {
        r["type"] == "diagnostic" && r["kind"] == "dead_relu"
    });
    let rate = dead["action"]["knob"]["value"]
        .as_f64()
        .expect("a rate to set");
    tmux.wait_screen("the diagnostic in the panel", 20, |s| {
        s.contains("most ReLUs are dead")
    });
    tmux.keys(&["a"]);
    let change = wait_record(&run, "the applied advice", |r| {
        r["type"] == "knob"
            && r["reason"]
                .as_str()
                .is_some_and(|t| t.contains("most ReLUs are dead"))
    });
    assert_eq!(change["knob"], "learning_rate", "{change}");
    assert_eq!(change["source"], "hand", "{change}");
    let new = change["new"].as_f64().unwrap_or(f64::NAN);
    assert!((new - rate).abs() <= 1e-6 * rate, "{change}: not {rate}");
    tmux.wait_screen("the roll-back's message", 20, |s| s.contains("rolled back"));
    // the roll-back is in the run's history, and the charts mark where it happened
    let back = wait_record(&run, "the roll-back", |r| r["type"] == "rollback");
    assert_eq!(back["to"], "start", "{back}");
    tmux.wait_screen("the roll-back's mark", 20, |s| s.contains("back to start"));
    tmux.keys(&["A"]);
    wait_record(&run, "the autopilot switched on", |r| {
        r["type"] == "autopilot" && r["on"] == true
    });
    tmux.wait_screen("the panel saying so", 20, |s| s.contains("autopilot on"));
    tmux.keys(&["A"]);
    wait_record(&run, "the autopilot switched off", |r| {
        r["type"] == "autopilot" && r["on"] == false
    });
    tmux.wait_screen("the panel saying so", 20, |s| !s.contains("autopilot on"));
}
