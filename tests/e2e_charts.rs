//! The real binary in tmux, on the embedded data: the charts' cursor (`i`, ←/→, shift ×10, Esc)
//! on a paused run, the wall-clock axis (`w`), and the runs table (`o`) drawing an earlier real
//! run behind the live one.

mod tmux;

use std::process::Command;

use tmux::{has_tmux, iteration, start, wait_file};

/// The cursor's readout in the footer: `it 1,234`.
fn cursor_at(screen: &str) -> Option<u64> {
    let footer = screen.lines().rev().find(|l| !l.trim().is_empty())?;
    let at = footer.find(" it ")? + 4;
    let digits: String = footer[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn the_cursor_and_the_runs_table_on_a_real_run() {
    if !has_tmux() {
        eprintln!("skipped: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    // an earlier run: 60 iterations, an evaluation every 20
    let earlier = Command::new(env!("CARGO_BIN_EXE_convtop"))
        .args([
            "train",
            "--headless",
            "--max-iterations",
            "60",
            "--eval-every",
            "20",
        ])
        .arg("--run-dir")
        .arg(&runs)
        .output()
        .expect("convtop runs");
    assert!(
        earlier.status.success(),
        "{}",
        String::from_utf8_lossy(&earlier.stderr)
    );
    let earlier_id = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    let short = &earlier_id[9..];

    let tmux = start("charts", dir.path(), 120, 32, "", "--eval-every 20");
    tmux.wait_screen("two evaluations", 60, |s| {
        s.contains("running") && iteration(s).is_some_and(|i| i > 45)
    });
    tmux.keys(&["Space"]);
    let paused = tmux.wait_screen("paused", 10, |s| s.contains("paused"));
    let last = iteration(&paused).expect("an iteration");

    // i: the cursor at the last iteration; ← one step of ⌊(last − 1)/100⌋ (at least 1); shift ×10
    tmux.keys(&["i"]);
    let s = tmux.wait_screen("the readout", 10, |s| cursor_at(s).is_some());
    assert_eq!(cursor_at(&s), Some(last), "{s}");
    assert!(
        s.contains("loss") && s.contains("val") && s.contains(" λ "),
        "{s}"
    );
    let step = ((last - 1) / 100).max(1);
    tmux.keys(&["Left"]);
    let s = tmux.wait_screen("one step left", 10, |s| cursor_at(s) != Some(last));
    assert_eq!(cursor_at(&s), Some(last - step), "{s}");
    tmux.keys(&["S-Left"]);
    let s = tmux.wait_screen("ten steps left", 10, |s| cursor_at(s) != Some(last - step));
    assert_eq!(cursor_at(&s), Some(last - 11 * step), "{s}");
    // w: wall-clock time on the x axis, the readout adds the time
    tmux.keys(&["w"]);
    let s = tmux.wait_screen("the wall-clock axis", 10, |s| {
        s.lines()
            .any(|l| l.starts_with('╰') && l.contains("s─") && !l.contains("ep"))
    });
    assert_eq!(cursor_at(&s), Some(last - 11 * step), "{s}");
    tmux.keys(&["Escape"]);
    tmux.wait_screen("the cursor gone", 10, |s| cursor_at(s).is_none());

    // o: the runs table lists the earlier run and the live one; space draws the earlier behind
    tmux.keys(&["o"]);
    let table = tmux.wait_screen("the runs table", 20, |s| {
        s.contains("runs in") && s.contains(short) && s.contains("best val")
    });
    let row = table.lines().find(|l| l.contains(short)).unwrap();
    // the default lr (0.05, no change in 60 iterations) as trained, and a best validation
    assert!(row.contains("5.0e-2") && row.contains('%'), "{table}");
    tmux.keys(&["Space"]);
    tmux.keys(&["Escape"]);
    tmux.wait_screen("the legend of the earlier run, the table closed", 10, |s| {
        s.contains(&format!("behind: 1 {short}")) && !s.contains("runs in")
    });

    tmux.keys(&["q"]);
    tmux.wait_screen("the quit dialog", 10, |s| s.contains("quit?"));
    tmux.keys(&["y"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 30).trim(), "0");
}
