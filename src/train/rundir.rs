//! The run directory `runs/<id>/`: the resolved configuration, `metrics.jsonl`, checkpoints.
//! Every whole-file write is atomic (a temporary file, fsync, rename, fsync of the directory),
//! never through a symlink, into a directory of ours checked by its handle.

mod fsafe;
mod lock;
mod metrics;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::TrainError;

pub use fsafe::{
    DirHandle, DirPolicy, atomic_write, ensure_dir, euid, peer_uid, read_nofollow, refused,
};
pub use lock::{LOCK_FILE, RunLock, flock, try_flock};
pub use metrics::{Lines, MetricsLog, Record, keep_until, parse_lines, read_lines, read_metrics};

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const LAST_CHECKPOINT: &str = "checkpoint-last.safetensors";
pub const BEST_CHECKPOINT: &str = "checkpoint-best.safetensors";
/// Where a run that stops while diverged puts its weights, so the last good checkpoint survives.
pub const DIVERGED_CHECKPOINT: &str = "checkpoint-diverged.safetensors";
pub const LOG_FILE: &str = "convtop.log";

/// Now in UTC as (year, month, day, hour, minute, second).
fn utc_now() -> (i64, i64, i64, u64, u64, u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn timestamp() -> String {
    let (y, m, d, hh, mm, ss) = utc_now();
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339) in UTC.
pub fn rfc3339_now() -> String {
    let (y, m, d, hh, mm, ss) = utc_now();
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
    /// The trainer's lock on the directory, once taken (`lock`); released when dropped.
    lock: Option<RunLock>,
    /// The mode a loose directory had before `open` tightened it to owner-only.
    pub tightened_from: Option<u32>,
}

/// A run directory holds no symlinks: each would be a way to make convtop read or write a file
/// outside it.
fn refuse_symlinks(path: &Path) -> Result<(), TrainError> {
    let entries = fs::read_dir(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            let target = fs::read_link(entry.path())
                .map_or_else(|_| "?".into(), |t| t.display().to_string());
            return Err(refused(
                &entry.path(),
                &format!(
                    "is a symbolic link (to {target}); a run directory must hold none, since \
                     convtop would read or write through it: remove it (and check who put it there)"
                ),
            ));
        }
    }
    Ok(())
}

impl RunDir {
    /// Creates `base/<timestamp>-<net>[-N]/` (0700: runs may hold a control socket later) with
    /// mkdir, which fails if anything has the name; then checks it by handle and locks it.
    pub fn create(base: &Path, net_label: &str) -> Result<RunDir, TrainError> {
        fs::create_dir_all(base).map_err(|source| TrainError::Io {
            path: base.to_path_buf(),
            source,
        })?;
        let parent = DirHandle::open(base, DirPolicy::Base)?;
        let label: String = net_label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(24)
            .collect();
        let stem = format!("{}-{label}", timestamp());
        for n in 0..1000 {
            let id = if n == 0 {
                stem.clone()
            } else {
                format!("{stem}-{n}")
            };
            match parent.mkdir(&id) {
                Ok(()) => {
                    let path = base.join(&id);
                    let handle = DirHandle::open(&path, DirPolicy::Run)?;
                    let lock = RunLock::acquire(&handle)?;
                    return Ok(RunDir {
                        id,
                        path,
                        lock: Some(lock),
                        tightened_from: None,
                    });
                }
                Err(TrainError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(TrainError::Config {
            problem: format!("could not find a free run id under {}", base.display()),
        })
    }

    /// An existing run directory: yours (a loose one is tightened to owner-only), with a
    /// configuration in it.
    pub fn open(path: &Path) -> Result<RunDir, TrainError> {
        let handle = DirHandle::open(path, DirPolicy::Run)?;
        refuse_symlinks(path)?;
        match handle.open_read(CONFIG_FILE)? {
            Some(f) if f.metadata().is_ok_and(|m| m.is_file()) => {}
            _ => {
                return Err(TrainError::Config {
                    problem: format!(
                        "{} is not a run directory (no {CONFIG_FILE} in it)",
                        path.display()
                    ),
                });
            }
        }
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(RunDir {
            id,
            path: path.to_path_buf(),
            lock: None,
            tightened_from: handle.tightened_from,
        })
    }

    /// Takes the one-trainer lock (refused, naming the holder, while another process trains).
    pub fn lock(&mut self) -> Result<(), TrainError> {
        if self.lock.is_none() {
            let handle = DirHandle::open(&self.path, DirPolicy::Run)?;
            self.lock = Some(RunLock::acquire(&handle)?);
        }
        Ok(())
    }

    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The directory, opened and checked by its handle.
    pub fn handle(&self) -> Result<DirHandle, TrainError> {
        DirHandle::open(&self.path, DirPolicy::Run)
    }
}
