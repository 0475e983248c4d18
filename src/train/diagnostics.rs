//! Training diagnostics: pure, deterministic checks over the metric stream. Each `Diagnostic` names
//! what looks wrong, the numbers and iterations that show it, and a concrete knob change.
//!
//! Re-report rule: a condition (per kind, and per layer for the layer checks) is reported when it
//! is first seen to hold. While it keeps holding it stays silent, except for one reminder each time
//! `cooldown_evals` evaluations have passed since its last report. A check that finds the
//! condition false re-arms it, so it is reported at once when it comes back. Two exceptions:
//! divergence stays latched until `reset_after_rollback`, because the trainer pauses on it; and
//! an inert norm is noted once, because its α is no knob and a reminder would ask nothing new.

mod config;
mod evaluation;
mod inputs;
mod iteration;
mod layers;
mod rate;
mod schedule;
mod text;

pub use config::{DecaySchedule, DiagnosticsConfig};
use config::{INITIAL_ITERATION_MAX, MAX_HISTORY};
pub use inputs::channel_stats;
pub use schedule::{ReduceOnPlateau, ScheduleError};
use text::{arrow_list, diagnostic, fig, iteration_list, knob_action, sci, with_action};

use std::collections::VecDeque;

use super::advice::Arbiter;
use super::events::{Diagnostic, DiagnosticKind, EvalStats, IterStats, Knobs, LayerStats};

/// When a condition was last reported, in evaluations seen; `None` means armed.
#[derive(Debug, Clone, Default)]
struct Latch {
    last_report: Option<u64>,
}

impl Latch {
    /// Applies the re-report rule of the module doc; true when the condition should be reported.
    fn should_report(&mut self, holds: bool, evals_seen: u64, cooldown: u64) -> bool {
        if !holds {
            self.last_report = None;
            return false;
        }
        match self.last_report {
            Some(at) if evals_seen < at + cooldown => false,
            _ => {
                self.last_report = Some(evals_seen);
                true
            }
        }
    }
}

/// One evaluation, as the checks need it.
#[derive(Debug, Clone, Copy)]
struct EvalPoint {
    iteration: u64,
    epoch: f64,
    train_loss: f32,
    train_accuracy: f32,
    val_loss: f32,
    val_accuracy: f32,
}

/// A stateful monitor over the metric stream; feed it every event, send what it returns.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    cfg: DiagnosticsConfig,
    evals_seen: u64,
    /// Latest knobs seen with an iteration: the base of every suggested change.
    knobs: Option<Knobs>,
    latches: Vec<(DiagnosticKind, String, Latch)>,
    // Iteration checks.
    is_first_iteration_seen: bool,
    /// max(ln C, first loss seen): the level divergence is measured against.
    reference_loss: Option<f32>,
    recent_losses: VecDeque<(u64, f32)>,
    has_diverged: bool,
    /// Layers whose ReLUs are mostly dead now: a stuck loss is then no sign of a low rate.
    dead_layers: Vec<String>,
    /// The iteration at which the current dead layers were first seen dead.
    first_dead_at: Option<u64>,
    /// Per layer over the threshold: how many layer checks in a row, and its peak fraction.
    dead_streaks: Vec<layers::DeadStreak>,
    /// Median update/weight ratio over the weight layers at the latest layer check.
    median_update_ratio: Option<f32>,
    /// Norm layers already noted as normalising nothing (and not dividing since).
    inert_norms: Vec<String>,
    /// Keeps the learning-rate advice from pointing both ways at one rate.
    arbiter: Arbiter,
    // Evaluation checks.
    history: VecDeque<EvalPoint>,
    /// Best validation loss and its iteration, by the plateau rule's minimum improvement.
    best_val: Option<(f32, u64)>,
    evals_since_best: usize,
    /// Best validation accuracy and its iteration (any rise counts, as for the best checkpoint).
    best_accuracy: Option<(f32, u64)>,
    evals_since_best_accuracy: usize,
    /// The iteration of the last evaluation the trainer marked best (its checkpoint).
    best_checkpoint: Option<u64>,
    /// The factor a training loop's own scheduler still applies to the rate, as it told at its
    /// latest evaluation (a PyTorch loop); it stands in for `cfg.lr_schedule`.
    told_schedule_left: Option<f32>,
}

impl Diagnostics {
    pub fn new(cfg: DiagnosticsConfig) -> Self {
        Self {
            cfg,
            evals_seen: 0,
            knobs: None,
            latches: Vec::new(),
            is_first_iteration_seen: false,
            reference_loss: None,
            recent_losses: VecDeque::new(),
            has_diverged: false,
            dead_layers: Vec::new(),
            first_dead_at: None,
            dead_streaks: Vec::new(),
            median_update_ratio: None,
            inert_norms: Vec::new(),
            arbiter: Arbiter::default(),
            history: VecDeque::new(),
            best_val: None,
            evals_since_best: 0,
            best_accuracy: None,
            evals_since_best_accuracy: 0,
            best_checkpoint: None,
            told_schedule_left: None,
        }
    }

    /// What a training loop's scheduler will still do to the rate: the factor from now to its
    /// end (0.1 = ten times lower), `None` when unknown (the rate is then judged as constant).
    pub fn note_schedule_left(&mut self, factor: Option<f32>) {
        self.told_schedule_left = factor.filter(|f| f.is_finite() && *f >= 0.0);
    }

    pub fn config(&self) -> &DiagnosticsConfig {
        &self.cfg
    }

    /// Divergence (non-finite or exploding loss) and the initial-loss sanity check.
    pub fn on_iteration(&mut self, s: &IterStats) -> Vec<Diagnostic> {
        self.knobs = Some(s.knobs);
        let mut out = Vec::new();
        out.extend(self.check_initial_loss(s));
        out.extend(self.check_divergence(s));
        self.arbitrate(out)
    }

    /// Overfitting, underfitting, a validation plateau and a learning rate too low.
    pub fn on_evaluation(&mut self, e: &EvalStats) -> Vec<Diagnostic> {
        self.evals_seen += 1;
        self.record_evaluation(e);
        let mut out = Vec::new();
        out.extend(self.check_overfitting(e.iteration));
        out.extend(self.check_underfitting(e.iteration));
        out.extend(self.check_learning_rate(e));
        out.extend(self.check_plateau(e.iteration));
        self.arbitrate(out)
    }

    /// Dead ReLUs and update/weight ratios far above ~1e-3.
    pub fn on_layer_stats(&mut self, iteration: u64, layers: &[LayerStats]) -> Vec<Diagnostic> {
        let mut ratios: Vec<f32> = layers
            .iter()
            .filter(|l| l.weight_norm.is_finite() && l.weight_norm > 0.0)
            .map(|l| l.update_ratio)
            .filter(|r| r.is_finite())
            .collect();
        ratios.sort_by(f32::total_cmp);
        self.median_update_ratio = ratios.get(ratios.len() / 2).copied();
        let out = layers
            .iter()
            .flat_map(|l| self.check_layer(iteration, l))
            .collect();
        self.arbitrate(out)
    }

    /// Drops learning-rate advice that contradicts advice already given at this rate, and any
    /// "raise" while ReLUs are dead or after a divergence (the arbiter of `advice.rs`).
    fn arbitrate(&mut self, out: Vec<Diagnostic>) -> Vec<Diagnostic> {
        let Some(lr) = self.learning_rate() else {
            return out;
        };
        let is_raise_barred = self.has_diverged || !self.dead_layers.is_empty();
        out.into_iter()
            .filter(|d| self.arbiter.admit(d, lr, is_raise_barred))
            .collect()
    }

    /// True when the last evaluation's training loss is near zero (see `NEAR_ZERO_LOSS_FRACTION`).
    fn is_train_loss_near_zero(&self) -> bool {
        let (Some(p), Some(chance)) = (self.history.back(), self.cfg.chance_loss()) else {
            return false;
        };
        p.train_loss < self.cfg.near_zero_loss_fraction * chance
    }

    /// Forgets the divergence state, the loss windows and the evaluation trends: the restored
    /// weights start new ones. The reference loss, the best validation loss and latches stay.
    pub fn reset_after_rollback(&mut self) {
        self.has_diverged = false;
        self.dead_layers.clear();
        self.first_dead_at = None;
        self.dead_streaks.clear();
        self.median_update_ratio = None;
        self.recent_losses.clear();
        self.history.clear();
        // The restored checkpoint is the best: patience starts again from it.
        self.evals_since_best = 0;
        self.evals_since_best_accuracy = 0;
    }

    /// True when the condition of `kind` about `subject` should be reported now.
    fn gate(&mut self, kind: DiagnosticKind, subject: &str, holds: bool) -> bool {
        let (evals, cooldown) = (self.evals_seen, self.cfg.cooldown_evals);
        let found = self
            .latches
            .iter_mut()
            .find(|(k, s, _)| *k == kind && s == subject);
        match found {
            Some((_, _, latch)) => latch.should_report(holds, evals, cooldown),
            None => {
                let mut latch = Latch::default();
                let report = latch.should_report(holds, evals, cooldown);
                self.latches.push((kind, subject.to_string(), latch));
                report
            }
        }
    }

    /// The learning rate of the latest iteration, if one was seen.
    fn learning_rate(&self) -> Option<f32> {
        self.knobs.map(|k| k.learning_rate)
    }

    /// The iteration of the best checkpoint, if one was made.
    fn best_iteration(&self) -> Option<u64> {
        self.best_checkpoint.or(self.best_val.map(|(_, it)| it))
    }

    /// "roll back to the best checkpoint (iteration N)", or without the iteration if none is known.
    fn rollback_hint(&self) -> String {
        match self.best_checkpoint.or(self.best_val.map(|(_, it)| it)) {
            Some(it) => format!("roll back to the best checkpoint (iteration {it})"),
            None => "roll back to the best checkpoint".to_string(),
        }
    }
}

/// True for a divergence: the trainer pauses itself on it.
pub fn is_diverged(d: &Diagnostic) -> bool {
    d.kind == DiagnosticKind::Divergence
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latch_reports_on_rise_then_after_cooldown_and_rearms_on_clear() {
        let mut l = Latch::default();
        assert!(l.should_report(true, 0, 5));
        assert!(!l.should_report(true, 4, 5));
        assert!(l.should_report(true, 5, 5));
        assert!(!l.should_report(false, 5, 5));
        assert!(l.should_report(true, 6, 5));
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(arrow_list([0.412, 0.455]), "0.412 → 0.455");
        assert_eq!(iteration_list([1500, 1800]), "1500, 1800");
        assert_eq!(sci(3e-4), "3.0e-4");
    }

    #[test]
    fn chance_loss_is_ln_c() {
        let c = DiagnosticsConfig::new(10).chance_loss().unwrap_or(0.0);
        assert!((c - std::f32::consts::LN_10).abs() < 1e-6);
        assert_eq!(DiagnosticsConfig::new(1).chance_loss(), None);
    }
}
