//! What the binary prints and where: the headless summary, warnings on stderr, `--help`'s
//! defaults, the README's flag table, error messages that name the problem once.

use std::path::Path;
use std::process::Command;

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

fn short_run(runs: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "train",
        "--headless",
        "--epochs",
        "1",
        "--max-iterations",
        "20",
        "--run-dir",
        runs.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn the_headless_summary_gives_elapsed_time_and_peak_rss() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = short_run(&dir.path().join("runs"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("trained for "))
        .unwrap_or_else(|| panic!("no summary line:\n{out}"));
    // "trained for 3.2s · peak RSS 61.5 MiB": the peak of a process that holds the embedded
    // MNIST subset is well above 10 MiB
    let peak = line.split("peak RSS ").nth(1).expect("peak RSS");
    let (value, unit) = peak.split_once(' ').expect("value and unit");
    let mib = value.parse::<f64>().expect("a number")
        * match unit {
            "MiB" => 1.0,
            "GiB" => 1024.0,
            other => panic!("unit {other} in {line}"),
        };
    assert!(mib > 10.0, "{line}");
}
