//! `metrics.jsonl`: one record a line, appended by the trainer, fsynced before every checkpoint
//! so the file is never behind one, and cut back to the checkpoint's iteration on resume (a torn
//! last line included). Readers take it line by line: a bad line is skipped and counted.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::fsafe::{self, DirHandle, DirPolicy};
use crate::train::error::TrainError;
use crate::train::events::{Diagnostic, EvalStats, IterStats, KnobChange, Rollback, RunState};

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Iter(IterStats),
    Eval(EvalStats),
    Knob(KnobChange),
    Diagnostic(Diagnostic),
    Rollback(Rollback),
    State {
        iteration: u64,
        state: RunState,
    },
    Checkpoint {
        iteration: u64,
        path: String,
    },
    Resume {
        iteration: u64,
    },
    /// The advice autopilot switched on or off (at the start, if on, and at every switch).
    Autopilot {
        iteration: u64,
        on: bool,
    },
}

/// Appends records to `metrics.jsonl`. A write error (full disk) is reported once by the caller;
/// the lines already written stay intact.
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The byte length of the part of `bytes` to keep when resuming at `iteration`: every whole line
/// up to the first record past `iteration`, without a torn (unterminated) last line.
pub fn keep_until(bytes: &[u8], iteration: u64) -> usize {
    let mut keep = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.last() != Some(&b'\n') {
            break;
        }
        let past = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("iteration").and_then(serde_json::Value::as_u64))
            .is_some_and(|i| i > iteration);
        if past {
            break;
        }
        keep += line.len();
    }
    keep
}

impl MetricsLog {
    /// Opens `path` to append, never through a symlink; nothing is cut.
    pub fn open(path: PathBuf) -> Result<MetricsLog, TrainError> {
        Self::open_at(path, None)
    }

    /// Opens `path` for a run at `iteration`: records past it (written after the checkpoint the
    /// run resumes from) and a torn last line are cut off first, and the cut is fsynced.
    pub fn resume(path: PathBuf, iteration: u64) -> Result<MetricsLog, TrainError> {
        Self::open_at(path, Some(iteration))
    }

    fn open_at(path: PathBuf, cut: Option<u64>) -> Result<MetricsLog, TrainError> {
        let (dir, name) = fsafe::split(&path)?;
        let mut f = DirHandle::open(&dir, DirPolicy::Owned)?.open_log(&name)?;
        if let Some(iteration) = cut {
            let mut bytes = Vec::new();
            f.seek(SeekFrom::Start(0)).map_err(io(&path))?;
            f.read_to_end(&mut bytes).map_err(io(&path))?;
            let keep = keep_until(&bytes, iteration);
            if keep < bytes.len() {
                f.set_len(keep as u64).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
        }
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

    /// Flushes and fsyncs: what was written is on disk once this returns.
    pub fn sync(&mut self) -> Result<(), TrainError> {
        self.flush()?;
        self.out.get_ref().sync_data().map_err(io(&self.path))
    }
}

/// What a line-by-line read of a JSON-lines file found.
#[derive(Debug, Default)]
pub struct Lines<T> {
    pub items: Vec<T>,
    /// Complete lines that were not valid UTF-8 or not a record (an unterminated last line, a
    /// write in progress or torn by a crash, is not counted).
    pub skipped: usize,
    /// The first skipped line, 1-based.
    pub first_skipped: Option<usize>,
}

/// Parses every line of `bytes` as a `T`, skipping and counting the bad ones.
pub fn parse_lines<T: DeserializeOwned>(bytes: &[u8]) -> Lines<T> {
    let mut out = Lines {
        items: Vec::new(),
        skipped: 0,
        first_skipped: None,
    };
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let is_whole = line.last() == Some(&b'\n');
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(body) {
            Ok(item) => out.items.push(item),
            Err(_) if is_whole => {
                out.skipped += 1;
                out.first_skipped.get_or_insert(i + 1);
            }
            Err(_) => {}
        }
    }
    out
}

static HAS_WARNED: AtomicBool = AtomicBool::new(false);

/// Reads a JSON-lines file without following a symlink; bad lines are skipped and, the first
/// time in this process, reported on stderr.
pub fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Lines<T>, TrainError> {
    let bytes = fsafe::read_nofollow(path)?;
    let lines = parse_lines(&bytes);
    if lines.skipped > 0 && !HAS_WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "convtop: warning: {}: {} damaged line(s) skipped (not UTF-8 or not a record), the \
             first at line {}",
            path.display(),
            lines.skipped,
            lines.first_skipped.unwrap_or(0)
        );
    }
    Ok(lines)
}

/// Every record of a `metrics.jsonl`; damaged lines and a torn last line are skipped.
pub fn read_metrics(path: &Path) -> Result<Vec<Record>, TrainError> {
    read_lines(path).map(|l| l.items)
}
