//! kill -9 at random moments, then --resume, over and over: metrics.jsonl must hold every
//! iteration exactly once up to the last checkpoint, and the run must always resume. A full disk
//! (a tiny tmpfs, root only) must leave the previous checkpoint intact.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use convtop::train::rundir::LAST_CHECKPOINT;

use crate::common::*;

const CAP: u64 = 150;
/// Iterations in the one epoch of `short_args` (18,000 training images / batch 64).
const EPOCH: u64 = 282;

fn spawn(args: &[String]) -> Child {
    convtop()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn resume_args(run: &Path) -> Vec<String> {
    ["train", "--headless", "--resume"]
        .iter()
        .map(ToString::to_string)
        .chain([run.display().to_string()])
        .collect()
}

/// Waits until `run` (or the only run under `base`) has a checkpoint, up to 60 s.
fn wait_checkpoint(base: &Path, child: &mut Child) -> Option<std::path::PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(Ok(d)) = std::fs::read_dir(base).ok().and_then(|mut d| d.next())
            && d.path().join(LAST_CHECKPOINT).exists()
        {
            return Some(d.path());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The temporary checkpoint files in `run` (`.NAME.tmp`), each as (inode, mtime in ns): one
/// that is there after a kill was being written when it came (a leftover of an earlier kill
/// keeps its inode and mtime).
fn temp_files(run: &Path) -> Vec<(u64, i128)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = std::fs::read_dir(run) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(".checkpoint-") && name.ends_with(".tmp")
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| {
            (
                m.ino(),
                i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            )
        })
        .collect()
}

/// Waits (spinning, up to 5 s) for a checkpoint write to begin (a temporary file not among
/// `left`); false if none began.
fn wait_for_write(run: &Path, left: &[(u64, i128)], child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if temp_files(run).iter().any(|t| !left.contains(t)) {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
    }
    false
}

#[test]
fn kill_9_at_random_moments_leaves_exact_once_metrics_and_a_resumable_run() {
    let mut rng = Rng::from_env(0x5eed_f00d);
    let rounds = rounds(4);
    let base = tempfile::tempdir().unwrap();
    let runs = base.path().join("runs");
    // long enough that every kill lands on a live trainer
    let cap = (rounds as u64 * 40).clamp(CAP, EPOCH);
    let mut child = spawn(&short_args(&runs, cap));
    let run = wait_checkpoint(&runs, &mut child).expect("a first checkpoint");
    let (mut kills, mut resumed, mut mid_write) = (0, 0, 0);
    let mut left = Vec::new();
    for round in 0..rounds {
        // odd rounds aim at a checkpoint write (kill as soon as its temporary file appears);
        // even rounds kill at a random moment
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_millis(rng.below(300)));
            wait_for_write(&run, &left, &mut child);
        } else {
            std::thread::sleep(Duration::from_millis(rng.below(900)));
        }
        if child.try_wait().unwrap().is_some() {
            eprintln!("faults: the run finished before kill {round}; no more kills");
            break;
        }
        let _ = child.kill();
        let _ = child.wait();
        kills += 1;
        // a new temporary file left behind: the kill caught a checkpoint write in progress
        let now = temp_files(&run);
        mid_write += usize::from(now.iter().any(|t| !left.contains(t)));
        left = now;
        let at = checkpoint_iteration(&run).expect("the checkpoint survives a kill");
        assert_exactly_once(&run, at, &format!("after kill {round}"));
        child = spawn(&resume_args(&run));
        resumed += 1;
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the last resume failed\n{}",
        text(&out)
    );
    let at = checkpoint_iteration(&run).unwrap();
    assert!(at >= cap, "stopped at {at}\n{}", text(&out));
    assert_exactly_once(&run, at, "at the end");
    eprintln!(
        "faults: kill -9 tried {kills} ({mid_write} during a checkpoint write), resumed \
         {resumed}, metrics exact-once {kills}, lost 0"
    );
}

#[test]
fn a_full_disk_keeps_the_previous_checkpoint_and_metrics_in_step() {
    if !is_root() {
        eprintln!("faults: full-disk test skipped: not root (mounting a tmpfs needs it)");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=400k", "tmpfs"])
        .arg(&mnt)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("faults: full-disk test skipped: mount -t tmpfs failed (no privilege here)");
        return;
    }
    let runs = mnt.join("runs");
    let out = convtop().args(short_args(&runs, 2000)).output().unwrap();
    let run = only_run(&runs);
    let at = checkpoint_iteration(&run);
    let umount = |m: &Path| {
        let _ = std::process::Command::new("umount").arg(m).status();
    };
    let Some(at) = at else {
        umount(&mnt);
        panic!("no checkpoint at all on a 400 KB disk\n{}", text(&out));
    };
    assert_exactly_once(&run, at, "on a full disk");
    let err =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    umount(&mnt);
    assert!(
        at < EPOCH,
        "the disk never filled (an epoch is 282 iterations)\n{err}"
    );
    assert!(!out.status.success(), "a failed save exited 0\n{err}");
    eprintln!(
        "faults: full disk: checkpoint intact at {at}, exit {:?}",
        out.status.code()
    );
}
