//! Earlier runs behind the live one: the runs picker's state (the table of the run directory,
//! read on a thread; its cursor, sort and selection) and the runs it drew on the charts.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};

use super::app::App;
use super::keys::Action;
use super::mode::Mode;
use crate::train::Severity;
use crate::train::history::runs::{Column, RunRow, ValPoint, read_runs, sort_rows};
use crate::train::summary::RunStatus;

/// Earlier runs drawn at once: each needs a colour and a digit of its own.
pub const MAX_OVERLAYS: usize = 6;

/// An earlier run's validation curve, drawn dimmed behind the live run.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    pub id: String,
    pub path: PathBuf,
    pub curve: Vec<ValPoint>,
}

impl Overlay {
    /// Its name in the legend: the id without the date every run of the day shares.
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}

/// `20261129-193500-mnist` → `193500-mnist`.
pub fn short_id(id: &str) -> &str {
    let date = id.split('-').next().unwrap_or_default();
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) && id.len() > 9 {
        &id[9..]
    } else {
        id
    }
}

/// The runs table: its rows once read, the highlighted row, the sort.
#[derive(Debug, Default)]
pub struct RunsPicker {
    /// The run directory's base (`runs/`), from the live run's own directory.
    pub base: Option<PathBuf>,
    pub rows: Vec<RunRow>,
    pub cursor: usize,
    pub sort: Option<Column>,
    pub is_reversed: bool,
    /// Why the table could not be read.
    pub error: Option<String>,
    loading: Option<Receiver<Result<Vec<RunRow>, String>>>,
}

impl RunsPicker {
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    pub fn sort_column(&self) -> Column {
        self.sort.unwrap_or(Column::Id)
    }

    fn resort(&mut self) {
        let at = self.rows.get(self.cursor).map(|r| r.path.clone());
        let column = self.sort_column();
        sort_rows(&mut self.rows, column, self.is_reversed);
        self.cursor = at
            .and_then(|p| self.rows.iter().position(|r| r.path == p))
            .unwrap_or(0);
    }
}

impl App {
    /// The run directory's base: the parent of the live run's directory.
    fn runs_base(&self) -> Option<PathBuf> {
        let dir = Path::new(&self.info.as_ref()?.run_dir);
        let parent = dir.parent()?;
        Some(if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        })
    }

    /// `o`: opens the runs table and (re)reads the run directory on a thread of its own: a
    /// long run's metrics take a while, and the dashboard keeps drawing meanwhile.
    pub(super) fn open_runs(&mut self) {
        let Some(base) = self.runs_base() else {
            self.set_status(
                Severity::Info,
                "no run yet: no run directory to list".into(),
            );
            return;
        };
        self.mode = Mode::Runs;
        if self.runs.is_loading() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = base.clone();
        std::thread::spawn(move || {
            let rows = read_runs(&dir).map_err(|e| e.to_string());
            let _ = tx.send(rows);
        });
        self.runs.base = Some(base);
        self.runs.loading = Some(rx);
        self.runs.error = None;
    }

    /// Takes the runs table once its thread has read it; true when it arrived.
    pub(super) fn poll_runs(&mut self) -> bool {
        let Some(rx) = &self.runs.loading else {
            return false;
        };
        let rows = match rx.try_recv() {
            Ok(rows) => rows,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => Err("the runs reader stopped".to_string()),
        };
        self.runs.loading = None;
        match rows {
            Ok(rows) => {
                self.runs.rows = rows;
                self.runs.resort();
            }
            Err(e) => self.runs.error = Some(e),
        }
        self.mark_dirty();
        true
    }

    /// The live run's own row (listed, not drawn behind itself).
    pub(super) fn is_live_row(&self, row: &RunRow) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| Path::new(&i.run_dir) == row.path || i.run_id == row.id)
    }

    pub(super) fn is_overlaid(&self, row: &RunRow) -> bool {
        self.overlays.iter().any(|o| o.path == row.path)
    }

    pub(super) fn runs_action(&mut self, action: Action) {
        let n = self.runs.rows.len();
        match action {
            Action::MoveRun(delta) => {
                let last = n.saturating_sub(1) as i64;
                let at = (self.runs.cursor as i64 + i64::from(delta)).clamp(0, last);
                self.runs.cursor = at as usize;
            }
            Action::SortRuns => {
                self.runs.sort = Some(self.runs.sort_column().next());
                self.runs.resort();
            }
            Action::ReverseSort => {
                self.runs.is_reversed ^= true;
                self.runs.resort();
            }
            Action::ClearOverlays => self.overlays.clear(),
            Action::ToggleRun => self.toggle_run(),
            _ => {}
        }
    }

    /// Draws the highlighted run behind the live one, or stops drawing it.
    fn toggle_run(&mut self) {
        let Some(row) = self.runs.rows.get(self.runs.cursor).cloned() else {
            return;
        };
        if self.is_overlaid(&row) {
            self.overlays.retain(|o| o.path != row.path);
            return;
        }
        let refusal = if self.is_live_row(&row) {
            Some("this is the live run: it is drawn already".to_string())
        } else if row.status == RunStatus::BadConfig {
            Some(format!(
                "{} cannot be read: {}",
                row.id,
                row.problem.as_deref().unwrap_or("no configuration")
            ))
        } else if row.curve.is_empty() {
            Some(format!("{} has no evaluation to draw", row.id))
        } else if self.overlays.len() >= MAX_OVERLAYS {
            Some(format!(
                "at most {MAX_OVERLAYS} earlier runs at once: unselect one first"
            ))
        } else {
            None
        };
        match refusal {
            Some(text) => self.set_status(Severity::Warn, text),
            None => self.overlays.push(Overlay {
                id: row.id,
                path: row.path,
                curve: row.curve,
            }),
        }
    }

    /// The earlier runs drawn behind the live one.
    pub fn overlays(&self) -> &[Overlay] {
        &self.overlays
    }
}
