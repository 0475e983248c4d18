//! Slow and hostile viewers of a detached training: five that never read, one that floods knob
//! changes and never reads its replies; a new viewer still gets a small backlog at once, and a
//! `stop` from a client that leaves before its reply still stops the training.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use convtop::train::rundir::METRICS_FILE;

use crate::common::*;

/// `convtop train --detach --no-attach`; returns its run directory.
pub fn start_detached(base: &Path) -> PathBuf {
    let out = convtop()
        .args([
            "train",
            "--detach",
            "--no-attach",
            "--epochs",
            "50",
            "--batch",
            "64",
        ])
        .args(["--eval-every", "50", "--run-dir"])
        .arg(base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

pub fn connect(dir: &Path) -> UnixStream {
    UnixStream::connect(dir.join("control.sock")).expect("the socket answers")
}

pub fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const FLOOD: usize = 20_000;

#[test]
fn stuck_and_flooding_viewers_stall_nobody_and_a_stop_always_gets_through() {
    let base = tempfile::tempdir().unwrap();
    let dir = start_detached(base.path());
    let metrics = dir.join(METRICS_FILE);
    let stuck: Vec<UnixStream> = (0..5).map(|_| connect(&dir)).collect();
    let mut flood = connect(&dir);
    let writer = std::thread::spawn(move || {
        for i in 0..FLOOD {
            let lr = if i % 2 == 0 { 0.02 } else { 0.05 };
            let line = format!(
                "{{\"v\":1,\"cmd\":{{\"cmd\":\"set_knob\",\"knob\":\"learning_rate\",\"value\":{lr}}}}}\n"
            );
            if flood.write_all(line.as_bytes()).is_err() {
                return i;
            }
        }
        FLOOD
    });
    assert_eq!(writer.join().unwrap(), FLOOD, "the flood was cut off");
    // every change was executed, the viewers that never read notwithstanding
    wait_until("the flood's knob records", 120, || {
        std::fs::read_to_string(&metrics)
            .unwrap_or_default()
            .matches("\"type\":\"knob\"")
            .count()
            >= FLOOD
    });
    // a new viewer: its backlog comes at once and is small
    let viewer = connect(&dir);
    viewer
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(viewer.try_clone().unwrap());
    let (mut bytes, mut lines) = (0, 0);
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .expect("the backlog arrives within 10 s");
        assert!(n > 0, "the socket closed");
        bytes += n;
        lines += 1;
        if line.contains("\"State\"") {
            break;
        }
    }
    eprintln!("faults: backlog after {FLOOD} knob changes: {lines} lines, {bytes} bytes");
    assert!(bytes < 1_000_000, "a backlog of {bytes} bytes");
    // a stop from a client that does not wait for its reply
    {
        let mut quitter = connect(&dir);
        quitter
            .write_all(b"{\"v\":1,\"cmd\":{\"cmd\":\"stop\"}}\n")
            .unwrap();
    }
    wait_until("the training to stop", 60, || {
        !dir.join("control.sock").exists()
    });
    drop(stuck);
    let text_of = std::fs::read_to_string(&metrics).unwrap();
    let last_state = text_of
        .lines()
        .rev()
        .find(|l| l.contains("\"type\":\"state\""))
        .unwrap();
    assert!(last_state.contains("stopped"), "{last_state}");
    assert_exactly_once(
        &dir,
        checkpoint_iteration(&dir).unwrap(),
        "after a socket stop",
    );
}
