//! THE run history: iterations, evaluations, knob changes, roll-backs and diagnostics of one run,
//! built alike from `metrics.jsonl` records and live events, with the one smoothing and the one
//! thinning used to draw it (dashboard, attach, replay, export, compare).

pub mod backlog;
mod labels;
mod lookup;
pub mod runs;
pub mod scale;
mod series;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::events::{Diagnostic, EvalStats, Event, IterStats, KnobChange, Rollback};
use super::rundir::Record;

pub use labels::{knob_change_label, rollback_label};
pub use series::{Ema, MinMax, smooth, thin};

/// The smoothing weight a history starts with: TensorBoard's default 0.6.
pub const DEFAULT_SMOOTHING: f64 = 0.6;
/// Diagnostics and knob changes compared against when a repeat arrives (an attach overlap).
const REPEAT_WINDOW: usize = 64;

/// One evaluation, without its confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    pub iteration: u64,
    pub epoch: f64,
    pub train_loss: f32,
    pub train_accuracy: f32,
    pub val_loss: f32,
    pub val_accuracy: f32,
    pub is_best: bool,
}

impl From<&EvalStats> for EvalPoint {
    fn from(e: &EvalStats) -> EvalPoint {
        EvalPoint {
            iteration: e.iteration,
            epoch: e.epoch,
            train_loss: e.train_loss,
            train_accuracy: e.train_accuracy,
            val_loss: e.val_loss,
            val_accuracy: e.val_accuracy,
            is_best: e.is_best,
        }
    }
}

/// A per-iteration quantity the charts draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Loss,
    SmoothedLoss,
    Accuracy,
    SmoothedAccuracy,
}

/// Every iteration, evaluation, knob change and diagnostic of a run, in iteration order; the
/// smoothed curves and min/max summaries are kept up to date as points arrive.
#[derive(Debug, Clone)]
pub struct RunHistory {
    iters: Vec<IterStats>,
    pub evals: Vec<EvalPoint>,
    pub knob_changes: Vec<KnobChange>,
    pub diagnostics: Vec<Diagnostic>,
    /// Where the advice autopilot was switched: (iteration, on), in order.
    pub autopilot: Vec<(u64, bool)>,
    /// Where weights were put back (a roll-back to the best checkpoint, and the like), in order.
    pub rollbacks: Vec<Rollback>,
    /// The latest iteration's full statistics.
    pub last: Option<IterStats>,
    smoothing: f64,
    loss_ema: Ema,
    accuracy_ema: Ema,
    smoothed_loss: Vec<f32>,
    smoothed_accuracy: Vec<f32>,
    /// Wall-clock seconds from the run's start to each point, summed from the recorded
    /// throughput (the trainer times each iteration from the end of the one before, so pauses
    /// and evaluations count).
    elapsed: Vec<f64>,
    summaries: [MinMax; 4],
}

impl Default for RunHistory {
    fn default() -> Self {
        RunHistory::new(DEFAULT_SMOOTHING)
    }
}

impl RunHistory {
    pub fn new(smoothing: f64) -> RunHistory {
        let smoothing = smoothing.clamp(0.0, 0.999);
        RunHistory {
            iters: Vec::new(),
            evals: Vec::new(),
            knob_changes: Vec::new(),
            diagnostics: Vec::new(),
            autopilot: Vec::new(),
            rollbacks: Vec::new(),
            last: None,
            smoothing,
            loss_ema: Ema::new(smoothing),
            accuracy_ema: Ema::new(smoothing),
            smoothed_loss: Vec::new(),
            smoothed_accuracy: Vec::new(),
            elapsed: Vec::new(),
            summaries: Default::default(),
        }
    }

    /// The history in a run's `metrics.jsonl` records.
    pub fn from_records(records: &[Record]) -> RunHistory {
        let mut h = RunHistory::default();
        for r in records {
            h.push_record(r);
        }
        h
    }

    /// Adds one `metrics.jsonl` record; a `Resume` drops what came after the resumed checkpoint
    /// (the resumed run does those iterations again).
    pub fn push_record(&mut self, record: &Record) {
        match record {
            Record::Iter(s) => self.push_iter(*s),
            Record::Eval(e) => {
                self.push_eval(e);
            }
            Record::Knob(k) => {
                self.push_knob_change(k);
            }
            Record::Diagnostic(d) => {
                self.push_diagnostic(d);
            }
            Record::Resume { iteration } => self.truncate_after(*iteration),
            Record::Autopilot { iteration, on } => self.push_autopilot(*iteration, *on),
            Record::Rollback(r) => {
                self.push_rollback(*r);
            }
            Record::State { .. } | Record::Checkpoint { .. } => {}
        }
    }

    /// Adds what a live event carries; returns whether the curves changed. Points already held
    /// (a viewer's backlog overlapping the file it read) are ignored.
    pub fn push_event(&mut self, event: &Event) -> bool {
        match event {
            Event::Iterations(batch) => {
                let before = self.iters.len();
                for s in batch {
                    self.push_iter(*s);
                }
                self.iters.len() != before
            }
            Event::Evaluation(e) => self.push_eval(e),
            Event::KnobChanged(k) => self.push_knob_change(k),
            Event::Diagnostic(d) => self.push_diagnostic(d),
            Event::RolledBack(r) => self.push_rollback(*r),
            Event::Autopilot { on } => {
                let at = self.last.map_or(0, |s| s.iteration);
                self.push_autopilot(at, *on);
                false
            }
            _ => false,
        }
    }

    pub fn push_iter(&mut self, s: IterStats) {
        if self.last.is_some_and(|l| s.iteration <= l.iteration) {
            return;
        }
        let i = self.iters.len();
        let loss = self.loss_ema.push(f64::from(s.data_loss)) as f32;
        let accuracy = self.accuracy_ema.push(f64::from(s.batch_accuracy)) as f32;
        self.smoothed_loss.push(loss);
        self.smoothed_accuracy.push(accuracy);
        // a thinned history (an attach backlog) stands for the iterations between its points
        let gap = s.iteration - self.last.map_or(0, |l| l.iteration);
        let per_iter = f64::from(s.knobs.batch_size as f32 / s.images_per_sec);
        let per_iter = if per_iter.is_finite() && per_iter > 0.0 {
            per_iter
        } else {
            0.0
        };
        let before = self.elapsed.last().copied().unwrap_or(0.0);
        self.elapsed.push(before + gap as f64 * per_iter);
        for (summary, v) in
            self.summaries
                .iter_mut()
                .zip([s.data_loss, loss, s.batch_accuracy, accuracy])
        {
            summary.push(i, v);
        }
        self.iters.push(s);
        self.last = Some(s);
    }

    pub fn push_eval(&mut self, e: &EvalStats) -> bool {
        if self
            .evals
            .last()
            .is_some_and(|l| e.iteration <= l.iteration)
        {
            return false;
        }
        self.evals.push(EvalPoint::from(e));
        true
    }

    pub fn push_knob_change(&mut self, k: &KnobChange) -> bool {
        let recent = self.knob_changes.iter().rev().take(REPEAT_WINDOW);
        if recent.clone().any(|c| c == k) {
            return false;
        }
        self.knob_changes.push(k.clone());
        true
    }

    pub fn push_diagnostic(&mut self, d: &Diagnostic) -> bool {
        if self
            .diagnostics
            .iter()
            .rev()
            .take(REPEAT_WINDOW)
            .any(|c| c == d)
        {
            return false;
        }
        self.diagnostics.push(d.clone());
        true
    }

    /// Records weights put back; a repeat (an attach backlog overlapping the file) is ignored.
    /// True when it is new: the curves gain a mark.
    pub fn push_rollback(&mut self, r: Rollback) -> bool {
        if self
            .rollbacks
            .iter()
            .rev()
            .take(REPEAT_WINDOW)
            .any(|x| *x == r)
        {
            return false;
        }
        self.rollbacks.push(r);
        true
    }

    /// Records a switch of the autopilot; a repeat of the current state is no switch.
    pub fn push_autopilot(&mut self, iteration: u64, on: bool) {
        if self.is_autopilot_on() != on || self.autopilot.is_empty() {
            self.autopilot.push((iteration, on));
        }
    }

    /// Whether the autopilot was on at the latest switch (off when never switched).
    pub fn is_autopilot_on(&self) -> bool {
        self.autopilot.last().is_some_and(|&(_, on)| on)
    }

    /// Forgets everything after `iteration`.
    pub fn truncate_after(&mut self, iteration: u64) {
        let keep = self.iters.partition_point(|s| s.iteration <= iteration);
        if keep < self.iters.len() {
            self.iters.truncate(keep);
            self.rebuild();
        }
        self.evals.retain(|e| e.iteration <= iteration);
        self.knob_changes.retain(|k| k.iteration <= iteration);
        self.diagnostics.retain(|d| d.iteration <= iteration);
        self.autopilot.retain(|&(at, _)| at <= iteration);
        self.rollbacks.retain(|r| r.iteration <= iteration);
    }

    /// Changes the smoothing weight (0 = raw, up to 0.999); the smoothed curves are recomputed.
    pub fn set_smoothing(&mut self, weight: f64) {
        let weight = weight.clamp(0.0, 0.999);
        if weight != self.smoothing {
            self.smoothing = weight;
            self.rebuild();
        }
    }

    pub fn smoothing(&self) -> f64 {
        self.smoothing
    }

    fn rebuild(&mut self) {
        let iters = std::mem::take(&mut self.iters);
        let smoothing = self.smoothing;
        let (evals, knobs, diagnostics) = (
            std::mem::take(&mut self.evals),
            std::mem::take(&mut self.knob_changes),
            std::mem::take(&mut self.diagnostics),
        );
        let autopilot = std::mem::take(&mut self.autopilot);
        let rollbacks = std::mem::take(&mut self.rollbacks);
        *self = RunHistory::new(smoothing);
        self.iters.reserve(iters.len());
        for s in iters {
            self.push_iter(s);
        }
        (self.evals, self.knob_changes, self.diagnostics) = (evals, knobs, diagnostics);
        self.autopilot = autopilot;
        self.rollbacks = rollbacks;
    }

    pub fn is_empty(&self) -> bool {
        self.iters.is_empty()
    }

    pub fn len(&self) -> usize {
        self.iters.len()
    }

    pub fn iters(&self) -> &[IterStats] {
        &self.iters
    }

    /// The value of `series` at point `index` (0 ≤ index < len).
    pub fn value(&self, series: Series, index: usize) -> f32 {
        match series {
            Series::Loss => self.iters[index].data_loss,
            Series::SmoothedLoss => self.smoothed_loss[index],
            Series::Accuracy => self.iters[index].batch_accuracy,
            Series::SmoothedAccuracy => self.smoothed_accuracy[index],
        }
    }

    /// Points `lo..hi` of `series` thinned to at most two a column (the lowest and highest of
    /// each), in order: a whole run draws in bounded time and no spike is dropped.
    pub fn thinned(&self, series: Series, lo: usize, hi: usize, columns: usize) -> Vec<usize> {
        let summary = &self.summaries[series as usize];
        summary.thin(|i| self.value(series, i), lo, hi.min(self.len()), columns)
    }

    /// Points of `series` thinned to the lowest and highest of each column
    /// `edges[c]..edges[c + 1]` (point indices), in order.
    pub fn thinned_by_edges(&self, series: Series, edges: &[usize]) -> Vec<usize> {
        let summary = &self.summaries[series as usize];
        let edges: Vec<usize> = edges.iter().map(|&e| e.min(self.len())).collect();
        summary.thin_edges(|i| self.value(series, i), &edges)
    }
}
