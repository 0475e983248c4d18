//! One line about a run for `convtop ls` and `convtop compare`, read from its files alone.

use std::path::{Path, PathBuf};

use super::config::TrainConfig;
use super::error::TrainError;
use super::events::RunState;
use super::rundir::{CONFIG_FILE, METRICS_FILE};

/// The control socket of a detached training, inside its run directory.
pub const SOCKET_FILE: &str = "control.sock";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// A detached training answers on its socket.
    Live,
    /// A socket answers, but a process of another user serves it: not trusted, never attached.
    Untrusted,
    Finished,
    Stopped,
    /// No final state record: the process died (or an in-process session is still running).
    Crashed,
    /// Its `config.toml` cannot be read (empty, unparseable, a link); `problem` says why.
    BadConfig,
}

impl RunStatus {
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Live => "live",
            RunStatus::Untrusted => "untrusted",
            RunStatus::Finished => "finished",
            RunStatus::Stopped => "stopped",
            RunStatus::Crashed => "crashed",
            RunStatus::BadConfig => "bad config",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub id: String,
    pub path: PathBuf,
    pub config: TrainConfig,
    pub status: RunStatus,
    pub iterations: u64,
    pub epochs: f64,
    pub best_val_accuracy: Option<f32>,
    /// Records of explicit test-set evaluations (the vault); each one is a look at the test set.
    pub test_evaluations: usize,
    /// When the metrics file was last written (seconds since the epoch), for sorting.
    pub modified: u64,
    /// Why the run cannot be read, for a `BadConfig` run.
    pub problem: Option<String>,
}

/// The uid of the process that answers on `dir`'s socket (SO_PEERCRED), if one does.
pub fn socket_owner(dir: &Path) -> Option<u32> {
    let stream = std::os::unix::net::UnixStream::connect(dir.join(SOCKET_FILE)).ok()?;
    Some(super::rundir::peer_uid(&stream).unwrap_or(u32::MAX))
}

/// Whether a detached training of ours listens on `dir`'s socket.
pub fn is_live(dir: &Path) -> bool {
    socket_owner(dir) == Some(super::rundir::euid())
}

pub fn summarize(dir: &Path) -> Result<RunSummary, TrainError> {
    let config = TrainConfig::from_run_file(&dir.join(CONFIG_FILE))?;
    let metrics = dir.join(METRICS_FILE);
    // line by line: a damaged line (not UTF-8, torn) is skipped, not the whole file
    let bytes = super::rundir::read_nofollow(&metrics).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let mut s = RunSummary {
        id: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        path: dir.to_path_buf(),
        config,
        status: RunStatus::Crashed,
        iterations: 0,
        epochs: 0.0,
        best_val_accuracy: None,
        test_evaluations: 0,
        modified: std::fs::metadata(&metrics)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs()),
        problem: None,
    };
    let mut last_state = None;
    let mut was_finished = false;
    // loose parsing: records written by newer versions (test evaluations) count without a type
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or_default();
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
        match kind {
            "iter" => {
                s.iterations = num("iteration").unwrap_or(0.0) as u64;
                s.epochs = num("epoch").unwrap_or(0.0);
            }
            "eval" => {
                if let Some(acc) = num("val_accuracy") {
                    let acc = acc as f32;
                    s.best_val_accuracy = Some(s.best_val_accuracy.map_or(acc, |b| b.max(acc)));
                }
            }
            "state" => {
                let state = v
                    .get("state")
                    .and_then(|s| serde_json::from_value::<RunState>(s.clone()).ok());
                match state {
                    Some(RunState::Finished) => was_finished = true,
                    Some(RunState::Running) => was_finished = false,
                    _ => {}
                }
                last_state = state.or(last_state);
            }
            k if k.starts_with("test") => s.test_evaluations += 1,
            _ => {}
        }
    }
    // the vault's own record counts every look, `convtop test` and the dashboard's `T` alike
    if let Ok(looks) = super::vault::read_record(dir) {
        s.test_evaluations = s.test_evaluations.max(looks.len());
    }
    let owner = socket_owner(dir);
    s.status = if owner == Some(super::rundir::euid()) {
        RunStatus::Live
    } else if owner.is_some() {
        RunStatus::Untrusted
    } else {
        match last_state {
            Some(RunState::Stopped) if was_finished => RunStatus::Finished,
            Some(RunState::Finished) => RunStatus::Finished,
            Some(RunState::Stopped) => RunStatus::Stopped,
            _ => RunStatus::Crashed,
        }
    };
    Ok(s)
}

fn unreadable(dir: &Path, e: &TrainError) -> RunSummary {
    RunSummary {
        id: dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        path: dir.to_path_buf(),
        config: TrainConfig {
            data: "?".into(),
            net: "?".into(),
            ..TrainConfig::default()
        },
        status: RunStatus::BadConfig,
        iterations: 0,
        epochs: 0.0,
        best_val_accuracy: None,
        test_evaluations: 0,
        modified: 0,
        problem: Some(e.to_string()),
    }
}

/// Every run directory under `base`, oldest first.
pub fn list_runs(base: &Path) -> Result<Vec<RunSummary>, TrainError> {
    let entries = std::fs::read_dir(base).map_err(|source| TrainError::Io {
        path: base.to_path_buf(),
        source,
    })?;
    // a run whose config cannot be read is listed with its problem, not hidden
    let mut runs: Vec<RunSummary> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| std::fs::symlink_metadata(p.join(CONFIG_FILE)).is_ok())
        .map(|p| summarize(&p).unwrap_or_else(|e| unreadable(&p, &e)))
        .collect();
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(runs)
}
