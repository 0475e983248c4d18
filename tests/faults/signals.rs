//! Every signal that ends a dashboard: a checkpoint and a `stopped` record are written, the
//! terminal is restored (stty shows icanon and echo, the main screen, the cursor shown) and the
//! exit status is 128 + the signal. Driven in tmux like tests/e2e_tmux.rs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use convtop::train::rundir::METRICS_FILE;

use crate::common::*;
use crate::viewers::wait_until;

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn has_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn one_signal(sig: i32, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let socket = format!("convtop-faults-{}-{name}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_convtop");
    let script = format!(
        "cd {d} && sh -c 'echo $$ > {d}/pid; exec {bin} train --run-dir {d}/runs --epochs 50 --batch 64'; \
         echo $? > {d}/exit; stty -a > {d}/stty; sleep 600"
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "sig",
            "-x",
            "100",
            "-y",
            "30",
            &script,
        ],
    );
    let runs = dir.path().join("runs");
    wait_until("the dashboard to train", 60, || {
        std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .is_some_and(|e| {
                std::fs::read_to_string(e.path().join(METRICS_FILE))
                    .is_ok_and(|t| t.matches("\"iter\"").count() > 20)
            })
    });
    assert_eq!(
        tmux(&socket, &["display", "-p", "-t", "sig", "#{alternate_on}"]),
        "1"
    );
    let pid: i32 = std::fs::read_to_string(dir.path().join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill sends a signal to the process this test started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    let exit = dir.path().join("exit");
    wait_until("the dashboard to exit", 60, || {
        exit.exists() && dir.path().join("stty").exists()
    });
    std::thread::sleep(Duration::from_millis(200));
    let code = std::fs::read_to_string(&exit).unwrap();
    let stty = std::fs::read_to_string(dir.path().join("stty")).unwrap();
    let alternate = tmux(&socket, &["display", "-p", "-t", "sig", "#{alternate_on}"]);
    let cursor = tmux(&socket, &["display", "-p", "-t", "sig", "#{cursor_flag}"]);
    let _ = tmux(&socket, &["kill-server"]);
    assert_eq!(
        code.trim(),
        (128 + sig).to_string(),
        "SIG{name}: exit status"
    );
    let words: Vec<&str> = stty.split_whitespace().collect();
    assert!(
        words.contains(&"icanon") && words.contains(&"echo"),
        "SIG{name}: {stty}"
    );
    assert_eq!(alternate, "0", "SIG{name}: left on the alternate screen");
    assert_eq!(cursor, "1", "SIG{name}: the cursor is hidden");
    let run = only_run(&runs);
    let text_of = std::fs::read_to_string(run.join(METRICS_FILE)).unwrap();
    let last_state = text_of
        .lines()
        .rev()
        .find(|l| l.contains("\"type\":\"state\""))
        .unwrap();
    assert!(last_state.contains("stopped"), "SIG{name}: {last_state}");
    let at = checkpoint_iteration(&run).expect("a checkpoint");
    assert_exactly_once(&run, at, &format!("SIG{name}"));
    assert_eq!(
        iterations(&run).last().copied(),
        Some(at),
        "SIG{name}: checkpoint behind"
    );
    eprintln!(
        "faults: SIG{name}: exit {}, checkpoint at {at}, terminal restored",
        code.trim()
    );
}

#[test]
fn every_signal_writes_a_checkpoint_and_restores_the_terminal() {
    if !has_tmux() {
        eprintln!("faults: signal tests skipped: tmux is not installed");
        return;
    }
    let _ = Path::new("");
    for (sig, name) in [
        (libc::SIGINT, "INT"),
        (libc::SIGTERM, "TERM"),
        (libc::SIGHUP, "HUP"),
    ] {
        one_signal(sig, name);
    }
}
