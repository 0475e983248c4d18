//! Finding things in a run history by iteration: the nearest point, its epoch and wall-clock
//! time, the nearest and the best evaluation, and the marks the charts draw.

use super::{EvalPoint, RunHistory};
use crate::train::events::{DiagnosticKind, KnobChange, KnobSource};

impl RunHistory {
    /// Wall-clock seconds from the run's start to point `index`.
    pub fn elapsed_secs(&self, index: usize) -> Option<f64> {
        self.elapsed.get(index).copied()
    }

    /// Wall-clock seconds from the run's start to `iteration` (its nearest point).
    pub fn elapsed_at(&self, iteration: u64) -> f64 {
        self.nearest(iteration)
            .and_then(|i| self.elapsed_secs(i))
            .unwrap_or(0.0)
    }

    /// The index of the first point at or after `iteration`.
    pub fn index_at(&self, iteration: u64) -> usize {
        self.iters.partition_point(|s| s.iteration < iteration)
    }

    /// The point nearest `iteration`.
    pub fn nearest(&self, iteration: u64) -> Option<usize> {
        let i = self.index_at(iteration);
        let before = i.checked_sub(1);
        match (before, self.iters.get(i)) {
            (Some(b), Some(a)) if iteration - self.iters[b].iteration < a.iteration - iteration => {
                Some(b)
            }
            (_, Some(_)) => Some(i),
            (b, None) => b,
        }
    }

    /// The fractional epoch of `iteration`, from the recorded points around it.
    pub fn epoch_at(&self, iteration: u64) -> f64 {
        let Some(first) = self.iters.first() else {
            return 0.0;
        };
        let i = self.index_at(iteration).min(self.iters.len() - 1);
        let s = self.iters[i];
        if s.iteration == 0 || s.epoch <= 0.0 {
            return first.epoch;
        }
        // epoch is proportional to iteration within a run
        s.epoch * iteration as f64 / s.iteration as f64
    }

    /// The evaluation nearest `iteration`.
    pub fn nearest_eval(&self, iteration: u64) -> Option<&EvalPoint> {
        self.evals
            .iter()
            .min_by_key(|e| e.iteration.abs_diff(iteration))
    }

    /// The best evaluation: the latest marked best, else the highest validation accuracy.
    pub fn best_eval(&self) -> Option<&EvalPoint> {
        self.evals.iter().rev().find(|e| e.is_best).or_else(|| {
            self.evals
                .iter()
                .max_by(|a, b| a.val_accuracy.total_cmp(&b.val_accuracy))
        })
    }

    /// Where the overfitting diagnostic first fired, and where it fired last.
    pub fn overfitting_marks(&self) -> Vec<u64> {
        self.diagnostics
            .iter()
            .filter(|d| d.kind == DiagnosticKind::Overfitting)
            .map(|d| d.iteration)
            .collect()
    }

    /// Knob changes a person or the autopilot made (schedule steps are drawn as the lr strip).
    pub fn labelled_changes(&self) -> impl Iterator<Item = &KnobChange> {
        self.knob_changes
            .iter()
            .filter(|k| k.source != KnobSource::Schedule)
    }
}
