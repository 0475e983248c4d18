//! The run directory `runs/<id>/`: the resolved configuration, `metrics.jsonl`, checkpoints.
//! Every whole-file write is atomic: a temporary file, fsync, rename, fsync of the directory.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::events::{Diagnostic, EvalStats, IterStats, KnobChange, RunState};

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const LAST_CHECKPOINT: &str = "checkpoint-last.safetensors";
pub const BEST_CHECKPOINT: &str = "checkpoint-best.safetensors";
/// Where a run that stops while diverged puts its weights, so the last good checkpoint survives.
pub const DIVERGED_CHECKPOINT: &str = "checkpoint-diverged.safetensors";
pub const LOG_FILE: &str = "convtop.log";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or the new.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))?;
        // the rename itself is durable only once the directory is synced
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

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
}

impl RunDir {
    /// Creates `base/<timestamp>-<net>[-N]/` (0700: runs may hold a control socket later).
    pub fn create(base: &Path, net_label: &str) -> Result<RunDir, TrainError> {
        fs::create_dir_all(base).map_err(io(base))?;
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
            let path = base.join(&id);
            match fs::create_dir(&path) {
                Ok(()) => {
                    set_owner_only(&path);
                    return Ok(RunDir { id, path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(TrainError::Io { path, source: e }),
            }
        }
        Err(TrainError::Config {
            problem: format!("could not find a free run id under {}", base.display()),
        })
    }

    pub fn open(path: &Path) -> Result<RunDir, TrainError> {
        if !path.join(CONFIG_FILE).is_file() {
            return Err(TrainError::Config {
                problem: format!(
                    "{} is not a run directory (no {CONFIG_FILE} in it)",
                    path.display()
                ),
            });
        }
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(RunDir {
            id,
            path: path.to_path_buf(),
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

#[cfg(unix)]
fn set_owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
}

#[cfg(not(unix))]
fn set_owner_only(_path: &Path) {}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Iter(IterStats),
    Eval(EvalStats),
    Knob(KnobChange),
    Diagnostic(Diagnostic),
    State { iteration: u64, state: RunState },
    Checkpoint { iteration: u64, path: String },
    Resume { iteration: u64 },
}

/// Appends records to `metrics.jsonl`. A write error (full disk) is reported once by the caller
/// and training goes on; the lines already written stay intact.
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl MetricsLog {
    pub fn open(path: PathBuf) -> Result<MetricsLog, TrainError> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(MetricsLog {
            out: BufWriter::new(f),
            path,
        })
    }

    pub fn write(&mut self, record: &Record) -> Result<(), TrainError> {
        let line = serde_json::to_string(record).map_err(|e| TrainError::Config {
            problem: e.to_string(),
        })?;
        writeln!(self.out, "{line}").map_err(io(&self.path))
    }

    pub fn flush(&mut self) -> Result<(), TrainError> {
        self.out.flush().map_err(io(&self.path))
    }
}

/// Reads every record of a `metrics.jsonl`; a torn last line (a crash mid-write) is skipped.
pub fn read_metrics(path: &Path) -> Result<Vec<Record>, TrainError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
