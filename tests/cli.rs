//! The binary's subcommands, run as a user would (stdout piped, so `train` is headless).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn convtop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_convtop"))
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
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

#[test]
fn inspect_prints_formulas_shapes_and_totals() {
    let (code, out, _) = run(&["inspect", "--net", "cifar"]);
    assert_eq!(code, 0);
    // conv1 on 32×32, k5 p2: (32 + 4 − 5)/1 + 1 = 32
    assert!(out.contains("⌊(32 + 2·2 − 5)/1⌋ + 1 = 32"), "{out}");
    assert!(out.contains("16×32×32"), "{out}");
    assert!(out.contains("7.84 MFLOP"), "{out}");
}

#[test]
fn inspect_keeps_its_columns_under_long_layer_names() {
    // alexnet has `dropout1`, one character wider than the usual name column
    let (code, out, _) = run(&["inspect", "--net", "alexnet"]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = out
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("total"))
        .collect();
    assert!(rows.iter().any(|r| r.starts_with("dropout1 ")), "{out}");
    // the second column starts where the first word's trailing spaces end
    let second = |row: &str| {
        let name = row.split_whitespace().next().unwrap();
        name.chars().count() + row[name.len()..].chars().take_while(|&c| c == ' ').count()
    };
    for row in &rows {
        assert_eq!(second(row), second(rows[0]), "{out}");
    }
}

#[test]
fn inspect_notes_a_presets_deliberate_gaps_on_its_own_input_only() {
    let (code, out, _) = run(&["inspect", "--net", "mnist"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("note: `pool3`") && out.contains("2 row(s)") && out.contains("as designed"),
        "{out}"
    );
    assert!(
        !out.contains("warning") && !out.contains("pick a kernel"),
        "{out}"
    );
    // the spec written out still warns (tests/cli_output.rs)
    // the preset on another input than its own is no longer as designed
    let (_, out, _) = run(&["inspect", "--net", "mnist", "--input", "1x32x32"]);
    assert!(out.contains("warning: `pool3`"), "{out}");
}

#[test]
fn inspect_names_each_convolutions_path() {
    let (code, out, _) = run(&["inspect", "--net", "vggish"]);
    assert_eq!(code, 0);
    assert!(out.contains("conv path (this CPU)"), "{out}");
    let paths = ["winograd ", "implicit ", "im2col "];
    for line in out.lines().filter(|l| l.starts_with("conv")) {
        assert!(paths.iter().any(|p| line.contains(p)), "{line}");
    }
    for line in out.lines().filter(|l| l.starts_with("relu")) {
        assert!(!paths.iter().any(|p| line.contains(p)), "{line}");
    }
    // vggish's 3×3 pad-1 layers with 32+ channels on even maps take Winograd on a vector CPU
    let has_kernel = out
        .lines()
        .any(|l| l.contains("avx2") || l.contains("avx512"));
    if has_kernel {
        assert!(out.contains("winograd "), "{out}");
    }
}

#[cfg(unix)]
#[test]
fn a_report_whose_reader_has_gone_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    // A pipe whose read end is closed before convtop writes: its first write fails with EPIPE,
    // as it does when `head` has read its lines and left.
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just opened by pipe(2) and are owned here alone.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    for args in [
        &["inspect", "--net", "alexnet"][..],
        &["ls", "--run-dir", "."],
    ] {
        let out = convtop()
            .args(args)
            .stdout(Stdio::from(write_end.try_clone().unwrap()))
            .output()
            .expect("convtop runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    // A write that fails for another reason is still an error (a full disk: /dev/full).
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let out = convtop()
            .args(["inspect", "--net", "alexnet"])
            .stdout(Stdio::from(full))
            .output()
            .expect("convtop runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("No space left"), "{err}");
    }
}

#[test]
fn an_impossible_spec_names_the_layer_and_the_formula() {
    let (code, _, err) = run(&[
        "inspect",
        "--net",
        "conv8k7 relu pool2 fc10",
        "--input",
        "1x5x5",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("conv1") && err.contains("7×7") && err.contains("5×5") && err.contains("⌊"),
        "{err}"
    );
    let (code, _, err) = run(&["inspect", "--net", "conv8k5 relu poool2 fc10"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("poool2") && err.contains("unknown layer"),
        "{err}"
    );
}

#[test]
fn gradcheck_passes_and_reports_every_tensor() {
    let (code, out, err) = run(&[
        "gradcheck",
        "--net",
        "conv3k3s2p1 relu pool2 fc4",
        "--input",
        "2x9x7",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    for t in [
        "conv1.weight",
        "conv1.bias",
        "fc1.weight",
        "fc1.bias",
        "input",
        "passed",
    ] {
        assert!(out.contains(t), "{t} missing:\n{out}");
    }
}

#[test]
fn bad_knob_values_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().display().to_string();
    let (code, _, err) = run(&["train", "--lr", "-1", "--run-dir", &runs]);
    assert_eq!(code, 2);
    assert!(
        err.contains("learning rate") && err.contains("positive"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "train",
        "--net",
        "conv8k5p2 relu pool2 fc7",
        "--run-dir",
        &runs,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("fc7") && err.contains("10 classes"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no run directory for a refused configuration"
    );
}

#[test]
fn headless_training_writes_a_complete_run_and_eval_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let cfg = dir.path().join("run.toml");
    // the file sets λ and the seed; the flag overrides the batch size
    std::fs::write(&cfg, "lambda = 0.0005\nbatch = 128\nseed = 7\n").unwrap();
    let (code, out, err) = run(&[
        "train",
        "--epochs",
        "1",
        "--batch",
        "64",
        "--config",
        cfg.to_str().unwrap(),
        "--run-dir",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("epoch  1.00") && out.contains("val loss"),
        "{out}"
    );
    // the default preset's floored pool is deliberate: no warning about it on every run
    assert!(!format!("{out}{err}").contains("uncovered"), "{out}{err}");
    let run_dir = only_run(&runs);
    let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(
        config.contains("batch = 64")
            && config.contains("lambda = 0.0005")
            && config.contains("seed = 7"),
        "{config}"
    );
    for f in [
        "metrics.jsonl",
        "checkpoint-last.safetensors",
        "checkpoint-best.safetensors",
    ] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }
    let (code, out, err) = run(&["eval", "--checkpoint", run_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("val loss") && out.contains("accuracy"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn an_interrupt_writes_a_checkpoint_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let child = convtop()
        .args([
            "train",
            "--headless",
            "--epochs",
            "100",
            "--run-dir",
            runs.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait until the run directory exists and training is under way
    let deadline = Instant::now() + Duration::from_secs(30);
    while !runs.exists() || std::fs::read_dir(&runs).map_or(0, |d| d.count()) == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let run_dir = only_run(&runs);
    let ck =
        convtop::train::checkpoint::Checkpoint::load(&run_dir.join("checkpoint-last.safetensors"))
            .unwrap();
    assert!(ck.state.iteration > 0);
}

#[test]
fn a_diverging_headless_run_stops_with_status_1_and_keeps_good_checkpoints_apart() {
    let runs = tempfile::tempdir().unwrap();
    let dir = runs.path().to_str().unwrap();
    let (code, out, err) = run(&[
        "train",
        "--headless",
        "--lr",
        "5",
        "--epochs",
        "1",
        "--run-dir",
        dir,
    ]);
    assert_eq!(code, 1, "{out}{err}");
    // the diagnosis is an error: on stderr, not among the progress lines
    assert!(
        err.contains("error: loss exploded") && err.contains("5.0e0 → 5.0e-1"),
        "{err}"
    );
    assert!(out.contains("training diverged and stopped"), "{out}");
    let run_dir = only_run(runs.path());
    assert!(run_dir.join("checkpoint-diverged.safetensors").is_file());
    assert!(!run_dir.join("checkpoint-last.safetensors").exists());
}
