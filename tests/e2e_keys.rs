//! The real binary in tmux: quitting with Ctrl-C, the quit dialog on a small terminal and the
//! keys it takes, and what reaches the terminal under NO_COLOR and TERM=xterm.

mod tmux;

use std::time::{Duration, Instant};

use tmux::{has_tmux, iteration, run_of, start, wait_file};

macro_rules! need_tmux {
    () => {
        if !has_tmux() {
            eprintln!("skipped: tmux is not installed (.ci/run installs it)");
            return;
        }
    };
}

fn is_training(screen: &str) -> bool {
    screen.contains("running") && iteration(screen).is_some_and(|i| i > 0)
}

#[test]
fn ctrl_c_twice_writes_a_checkpoint_and_restores_the_terminal() {
    need_tmux!();
    let dir = tempfile::tempdir().unwrap();
    let tmux = start("ctrlc", dir.path(), 100, 30, "", "");
    tmux.wait_screen("training", 60, is_training);
    tmux.keys(&["C-c"]);
    tmux.wait_screen("the quit dialog", 10, |s| {
        s.contains("Stop training and quit?")
    });
    tmux.keys(&["C-c"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 30).trim(), "0");
    let stty = wait_file(&dir.path().join("stty"), 10);
    assert!(
        stty.contains(" icanon") && stty.contains(" echo "),
        "raw mode left on: {stty}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "alternate screen left"
    );
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "cursor shown again");
    let run = run_of(&dir.path().join("runs"));
    assert!(run.join("checkpoint-last.safetensors").is_file());
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"state\":\"stopped\""), "{metrics}");
}

#[test]
fn q_on_a_small_terminal_shows_its_dialog_and_enter_keeps_training() {
    need_tmux!();
    let dir = tempfile::tempdir().unwrap();
    let tmux = start("small", dir.path(), 100, 30, "", "");
    tmux.wait_screen("training", 60, is_training);
    tmux.cmd(&["resize-window", "-t", "e2e", "-x", "60", "-y", "20"]);
    tmux.wait_screen("the size message", 10, |s| s.contains("at least 80x24"));
    tmux.keys(&["q"]);
    tmux.wait_screen("the quit dialog at 60x20", 10, |s| {
        s.contains("Stop training and quit?") && s.contains("keep training")
    });
    tmux.cmd(&["resize-window", "-t", "e2e", "-x", "100", "-y", "30"]);
    let before = tmux.wait_screen("the dashboard under the dialog", 10, |s| {
        s.contains("Stop training and quit?") && iteration(s).is_some()
    });
    let at = iteration(&before).unwrap();
    // Enter is not a key the dialog names: nothing quits, the training goes on
    tmux.keys(&["Enter"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = tmux.screen();
        assert!(!dir.path().join("exit").exists(), "Enter quit: {s}");
        if iteration(&s).is_some_and(|i| i > at) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "training stopped after Enter:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    tmux.keys(&["Escape"]);
    tmux.wait_screen("the dialog closed", 10, |s| {
        !s.contains("Stop training and quit?")
    });
    tmux.keys(&["q"]);
    tmux.wait_screen("the quit dialog", 10, |s| {
        s.contains("Stop training and quit?")
    });
    tmux.keys(&["y"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 30).trim(), "0");
}

/// The colour parameters of every SGR sequence in `screen`.
fn sgr_parameters(screen: &str) -> Vec<String> {
    screen
        .split("\x1b[")
        .skip(1)
        .filter_map(|rest| rest.split_once('m').map(|(p, _)| p.to_string()))
        .filter(|p| {
            p.chars()
                .all(|c| c.is_ascii_digit() || c == ';' || c == ':')
        })
        .collect()
}

/// Whether an SGR parameter list sets a colour, and whether only with 16-colour codes.
fn colours(params: &str) -> (bool, bool) {
    let codes: Vec<u32> = params
        .split([';', ':'])
        .filter_map(|c| c.parse().ok())
        .collect();
    let mut has_colour = false;
    let mut only_16 = true;
    let mut i = 0;
    while i < codes.len() {
        match codes[i] {
            30..=37 | 40..=47 | 90..=97 | 100..=107 => has_colour = true,
            38 | 48 => {
                has_colour = true;
                only_16 = false;
                i += if codes.get(i + 1) == Some(&5) { 2 } else { 4 };
            }
            _ => {}
        }
        i += 1;
    }
    (has_colour, only_16)
}

#[test]
fn no_color_keeps_unicode_and_sends_no_colour() {
    need_tmux!();
    let dir = tempfile::tempdir().unwrap();
    let tmux = start(
        "nocolor",
        dir.path(),
        100,
        30,
        "NO_COLOR=1 TERM=xterm-256color",
        "",
    );
    tmux.wait_screen("training", 60, is_training);
    let screen = tmux.screen_with_escapes();
    assert!(
        screen.contains('╭') && screen.contains('│') && screen.contains('─'),
        "no box drawing under NO_COLOR:\n{screen}"
    );
    let coloured: Vec<String> = sgr_parameters(&screen)
        .into_iter()
        .filter(|p| colours(p).0)
        .collect();
    assert!(
        coloured.is_empty(),
        "colour codes under NO_COLOR: {coloured:?}"
    );
    tmux.keys(&["q", "y"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 30).trim(), "0");
}

#[test]
fn term_xterm_gets_only_16_colours() {
    need_tmux!();
    let dir = tempfile::tempdir().unwrap();
    let tmux = start("xterm16", dir.path(), 100, 30, "TERM=xterm COLORTERM=", "");
    tmux.wait_screen("training", 60, is_training);
    // the image screens use the most colours
    for tab in ["1", "2", "3", "5"] {
        tmux.keys(&[tab]);
        std::thread::sleep(Duration::from_millis(1500));
        let screen = tmux.screen_with_escapes();
        let params = sgr_parameters(&screen);
        assert!(
            params.iter().any(|p| colours(p).0),
            "no colour at all on screen {tab}:\n{screen}"
        );
        let wide: Vec<&String> = params.iter().filter(|p| !colours(p).1).collect();
        assert!(
            wide.is_empty(),
            "256/true-colour codes on screen {tab}: {wide:?}"
        );
    }
    tmux.keys(&["q", "y"]);
    assert_eq!(wait_file(&dir.path().join("exit"), 30).trim(), "0");
}

#[test]
fn the_headless_progress_bar_shows_an_eta_and_warnings_reach_stderr() {
    need_tmux!();
    let dir = tempfile::tempdir().unwrap();
    // stderr to a file: the terminal shows the bar (stdout and the bar are the terminal's)
    // the mnist preset's layers written out: its floored pool3 is a warning (the preset's a note)
    let net = "--net 'conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10'";
    let tmux = start(
        "eta",
        dir.path(),
        120,
        20,
        "",
        &format!("{net} --headless 2> err.txt"),
    );
    let screen = tmux.wait_screen("a progress bar with an ETA", 60, |s| {
        s.contains("img/s") && s.contains("ETA ")
    });
    assert!(screen.contains("epoch "), "{screen}");
    tmux.keys(&["C-c"]);
    let exit = wait_file(&dir.path().join("exit"), 60);
    assert_eq!(exit.trim(), "130", "interrupted");
    // the pool warning went to stderr, named by its spec token
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap_or_default();
    assert!(err.contains("warning: `pool3` (the 2nd pool"), "{err}");
    let screen = tmux.screen();
    assert!(!screen.contains("warning:"), "{screen}");
}
