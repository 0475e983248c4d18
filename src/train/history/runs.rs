//! The runs table: one row per run directory under a base (`runs/`), read through the run
//! listing (`summary::list_runs`) and the run history — the lr and λ a run trained with, how long
//! it took, its best and last validation, and its validation curve for drawing it behind another.

use std::path::{Path, PathBuf};

use super::RunHistory;
use crate::train::error::TrainError;
use crate::train::rundir::{METRICS_FILE, Record, parse_lines, read_nofollow};
use crate::train::summary::{RunStatus, list_runs};

/// One evaluation of an earlier run, as an overlay draws it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValPoint {
    pub epoch: f64,
    /// Wall-clock seconds since the run started.
    pub secs: f64,
    pub val_loss: f32,
    pub val_accuracy: f32,
}

/// One run directory as the runs table lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: String,
    pub path: PathBuf,
    pub net: String,
    pub data: String,
    pub status: RunStatus,
    /// The lr and λ of its last iteration (a schedule, a person or the autopilot may have
    /// changed the starting ones).
    pub lr: Option<f32>,
    pub lambda: Option<f32>,
    pub epochs: f64,
    /// Wall-clock training time, from the recorded throughput.
    pub secs: Option<f64>,
    /// The highest validation accuracy, and the last one.
    pub best_val: Option<f32>,
    pub last_val: Option<f32>,
    pub curve: Vec<ValPoint>,
    /// Why the run cannot be read, or what in it was damaged.
    pub problem: Option<String>,
}

/// A column of the runs table, in the order shown; the sort key cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Net,
    Data,
    Lr,
    Lambda,
    Duration,
    BestVal,
    LastVal,
}

impl Column {
    pub const ALL: [Column; 8] = [
        Column::Id,
        Column::Net,
        Column::Data,
        Column::Lr,
        Column::Lambda,
        Column::Duration,
        Column::BestVal,
        Column::LastVal,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Id => "run",
            Column::Net => "net",
            Column::Data => "data",
            Column::Lr => "lr",
            Column::Lambda => "λ",
            Column::Duration => "time",
            Column::BestVal => "best val",
            Column::LastVal => "last val",
        }
    }

    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }
}

/// Every run under `base`, oldest first; a run that cannot be read is a row with its problem.
pub fn read_runs(base: &Path) -> Result<Vec<RunRow>, TrainError> {
    Ok(list_runs(base)?
        .into_iter()
        .map(|s| {
            let mut row = RunRow {
                id: s.id,
                path: s.path,
                net: s.config.net,
                data: s.config.data,
                status: s.status,
                lr: None,
                lambda: None,
                epochs: s.epochs,
                secs: None,
                best_val: None,
                last_val: None,
                curve: Vec::new(),
                problem: s.problem,
            };
            if row.status != RunStatus::BadConfig {
                read_history(&mut row);
            }
            row
        })
        .collect())
}

/// Fills a row from its `metrics.jsonl`, read quietly (no warning on stderr under a dashboard):
/// damaged lines are counted in the row's problem.
fn read_history(row: &mut RunRow) {
    let bytes = match read_nofollow(&row.path.join(METRICS_FILE)) {
        Ok(b) => b,
        Err(e) => {
            row.problem = Some(format!("no readable metrics: {e}"));
            return;
        }
    };
    let lines = parse_lines::<Record>(&bytes);
    if lines.skipped > 0 {
        row.problem = Some(format!(
            "{} damaged line(s) in {METRICS_FILE} skipped, the first at line {}",
            lines.skipped,
            lines.first_skipped.unwrap_or(0)
        ));
    }
    let h = RunHistory::from_records(&lines.items);
    if let Some(last) = h.last {
        row.lr = Some(last.knobs.learning_rate);
        row.lambda = Some(last.knobs.lambda);
        row.epochs = last.epoch;
        row.secs = h.elapsed_secs(h.len() - 1);
    }
    row.best_val = h
        .evals
        .iter()
        .map(|e| e.val_accuracy)
        .max_by(f32::total_cmp);
    row.last_val = h.evals.last().map(|e| e.val_accuracy);
    row.curve = h
        .evals
        .iter()
        .map(|e| ValPoint {
            epoch: e.epoch,
            secs: h.elapsed_at(e.iteration),
            val_loss: e.val_loss,
            val_accuracy: e.val_accuracy,
        })
        .collect();
}

/// Sorts `rows` by `column` (runs without the value last), descending when `is_reversed`.
pub fn sort_rows(rows: &mut [RunRow], column: Column, is_reversed: bool) {
    use std::cmp::Ordering;
    let flip = |o: Ordering| if is_reversed { o.reverse() } else { o };
    let num = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => flip(a.total_cmp(&b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    rows.sort_by(|a, b| {
        let order = match column {
            Column::Id => flip(a.id.cmp(&b.id)),
            Column::Net => flip(a.net.cmp(&b.net)),
            Column::Data => flip(a.data.cmp(&b.data)),
            Column::Lr => num(a.lr.map(f64::from), b.lr.map(f64::from)),
            Column::Lambda => num(a.lambda.map(f64::from), b.lambda.map(f64::from)),
            Column::Duration => num(a.secs, b.secs),
            Column::BestVal => num(a.best_val.map(f64::from), b.best_val.map(f64::from)),
            Column::LastVal => num(a.last_val.map(f64::from), b.last_val.map(f64::from)),
        };
        order.then_with(|| a.id.cmp(&b.id))
    });
}
