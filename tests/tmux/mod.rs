//! Driving the real binary in tmux: a private server per test, keys with send-keys, the screen
//! (with or without its escape codes) with capture-pane.

// each test crate that includes this module uses a part of it
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    pub socket: String,
    pub session: &'static str,
}

impl Tmux {
    pub fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", self.session])
    }

    /// The screen with its colour and attribute escapes (`capture-pane -e`).
    pub fn screen_with_escapes(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-e", "-t", self.session])
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    pub fn display(&self, format: &str) -> String {
        self.cmd(&["display", "-p", "-t", self.session, format])
            .trim()
            .to_string()
    }

    pub fn wait_screen(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

pub fn has_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn wait_file(path: &Path, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.is_empty()
        {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} never appeared", path.display());
}

/// The one run directory under `runs`.
pub fn run_of(runs: &Path) -> PathBuf {
    std::fs::read_dir(runs)
        .expect("run dir")
        .next()
        .expect("one run")
        .expect("entry")
        .path()
}

/// Starts convtop in a fresh tmux server of `w`×`h`; the pane records the exit status and the
/// terminal modes (`stty -a`) once convtop has returned.
pub fn start(name: &str, dir: &Path, w: u32, h: u32, env: &str, args: &str) -> Tmux {
    let tmux = Tmux {
        socket: format!("convtop-e2e-{}-{name}", std::process::id()),
        session: "e2e",
    };
    let bin = env!("CARGO_BIN_EXE_convtop");
    let d = dir.display();
    let script = format!(
        "cd {d} && {env} {bin} --run-dir {d}/runs --epochs 100 {args}; echo $? > {d}/exit; stty -a > {d}/stty; sleep 600"
    );
    tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        tmux.session,
        "-x",
        &w.to_string(),
        "-y",
        &h.to_string(),
        &script,
    ]);
    tmux
}

/// The iteration the header shows (`iter 1,234/…`), if any.
pub fn iteration(screen: &str) -> Option<u64> {
    let at = screen.find("iter ")? + 5;
    let digits: String = screen[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
