//! What the fault tests share: running the binary, short runs, reading a run's iterations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use convtop::train::checkpoint::Checkpoint;
use convtop::train::rundir::{LAST_CHECKPOINT, METRICS_FILE, Record, read_metrics};

pub fn convtop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_convtop"))
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The arguments of a short headless run: batch 64, a checkpoint every 5 iterations.
pub fn short_args(base: &Path, iterations: u64) -> Vec<String> {
    [
        "train",
        "--headless",
        "--epochs",
        "1",
        "--batch",
        "64",
        "--checkpoint-every",
        "5",
        "--eval-every",
        "20",
        "--max-iterations",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([iterations.to_string(), "--run-dir".into()])
    .chain([base.display().to_string()])
    .collect()
}

/// A finished short run under `base`; returns its directory.
pub fn short_run(base: &Path, iterations: u64) -> PathBuf {
    let out = convtop()
        .args(short_args(base, iterations))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    only_run(base)
}

pub fn only_run(base: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The iteration of the run's last checkpoint, if it has one.
pub fn checkpoint_iteration(run: &Path) -> Option<u64> {
    let path = run.join(LAST_CHECKPOINT);
    path.exists().then(|| {
        Checkpoint::load(&path)
            .expect("the checkpoint loads")
            .state
            .iteration
    })
}

/// The iteration numbers of every `iter` record, in file order.
pub fn iterations(run: &Path) -> Vec<u64> {
    read_metrics(&run.join(METRICS_FILE))
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            Record::Iter(s) => Some(s.iteration),
            _ => None,
        })
        .collect()
}

/// metrics.jsonl holds 1..=upto each exactly once, in order, as its first iterations.
pub fn assert_exactly_once(run: &Path, upto: u64, context: &str) {
    let iters = iterations(run);
    let head: Vec<u64> = iters.iter().copied().take(upto as usize).collect();
    let want: Vec<u64> = (1..=upto).collect();
    assert_eq!(head, want, "{context}: iterations up to the checkpoint");
    let mut rest = iters[head.len()..].to_vec();
    let n = rest.len();
    rest.dedup();
    assert_eq!(rest.len(), n, "{context}: repeated iterations past {upto}");
    assert!(
        rest.windows(2).all(|w| w[1] == w[0] + 1) && rest.first().is_none_or(|&f| f == upto + 1),
        "{context}: a gap past {upto}: {rest:?}"
    );
}

/// A small deterministic generator (xorshift), seeded from `FAULTS_SEED` or a fixed value.
pub struct Rng(u64);

impl Rng {
    pub fn from_env(default: u64) -> Rng {
        let seed = std::env::var("FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        eprintln!("faults: seed {seed}");
        Rng(seed.max(1))
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// `FAULTS_ROUNDS`, or `default` (the test command keeps it small; the script raises it).
pub fn rounds(default: usize) -> usize {
    std::env::var("FAULTS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
