//! Training diagnostics: pure, deterministic checks over the metric stream. Each `Diagnostic` names
//! what looks wrong, the numbers and iterations that show it, and a concrete knob change.
//!
//! Re-report rule: a condition (per kind, and per layer for the layer checks) is reported when it
//! is first seen to hold. While it keeps holding it stays silent, except for one reminder each time
//! `cooldown_evals` evaluations have passed since its last report. A check that finds the
//! condition false re-arms it, so it is reported at once when it comes back. Divergence is the
//! exception: it stays latched until `reset_after_rollback`, because the trainer pauses on it.

mod evaluation;
mod inputs;
mod iteration;
mod layers;
mod rate;
mod schedule;
mod text;

pub use inputs::channel_stats;
pub use schedule::{ReduceOnPlateau, ScheduleError};
use text::{arrow_list, diagnostic, fig, iteration_list, knob_action, sci, with_action};

use std::collections::VecDeque;

use super::advice::Arbiter;
use super::events::{Diagnostic, DiagnosticKind, EvalStats, IterStats, Knobs, LayerStats};

/// Allowed |initial loss − ln C| in nats: small-init logits of std σ add about σ²/2 to ln C, so
/// 0.5 nats means logits of std ≈ 1, already a large init; twice this is a Warn, less is Info.
const INITIAL_LOSS_TOLERANCE: f32 = 0.5;
/// The first seen iteration is judged only if it is at most this: a resumed run starts mid-way.
const INITIAL_ITERATION_MAX: u64 = 1;
/// A smoothed loss above 3× the reference (max of ln C and the first loss) is far worse than
/// chance: no healthy run gets there, even with a noisy batch.
const DIVERGENCE_FACTOR: f32 = 3.0;
/// The median of the last 5 iterations smooths the loss: one odd batch cannot trigger it, three can.
const DIVERGENCE_WINDOW: usize = 5;
/// One loss above 10× the reference is divergence at once: 23 nats averaged over a batch (ten
/// classes) means the right classes get e⁻²³ on average, so the logits themselves blew up. An odd
/// batch of a healthy run stays within a few × ln C; the step that produced this one usually
/// leaves dead ReLUs behind, after which the median never climbs (measured: lr 5.0 on `mnist`).
const DIVERGENCE_SPIKE_FACTOR: f32 = 10.0;
/// "Too low" needs the median update/weight ratio of the weight layers below 1% of the healthy
/// ratio 1e-3/(1 − momentum) (with momentum 0.9 the velocity makes steps 10× a plain SGD step).
/// Measured on the embedded MNIST (`tests/advice_corpus.rs`): lr 5e-2 gives 5e-3–3e-2 (target
/// 1e-2), its decayed 5e-3 gives 3e-4–1e-3, lr 1e-4 gives 1e-5–8e-5: 1% = 1e-4 splits them.
const LR_LOW_RATIO_FRACTION: f32 = 0.01;
/// ...and a training loss still above half the start: a low loss moving slowly is convergence.
const LR_LOW_LOSS_FRACTION: f32 = 0.5;
/// ...and a loss falling less than this fraction an epoch. A healthy MNIST epoch takes it from
/// 2.30 to 0.08 (−97%); lr 1e-4 to 1.81 (−21%). CIFAR's default falls −28% in its first epoch,
/// which is why the ratio, not the pace alone, decides.
const LR_LOW_PACE: f32 = 0.5;
/// No rate verdict before the first epoch has ended (the loss of CIFAR's default stays near 1.78
/// from iteration 200 to 800 before it falls again: an early stall is not a low rate).
const LR_LOW_MIN_EPOCHS: f64 = 1.0;
/// The suggested raise is at most ×1000 (lr 1e-4 is 500× below `mnist`'s 5e-2); a raise that
/// blows up is reverted by the autopilot, and a person sees the numbers before pressing `a`.
const LR_MAX_RAISE: f32 = 1000.0;
/// A training loss under 5% of ln C (0.115 nats for ten classes, the right class at ~89%) is
/// near zero: small gradients then mean convergence, and no update-ratio verdict is given.
const NEAR_ZERO_LOSS_FRACTION: f32 = 0.05;
/// Three consecutive rises of the full-split validation loss are a trend, not noise.
const OVERFIT_RISES: usize = 3;
/// ...and together they must add at least 5%, so a flat, jittering curve is not called a trend.
const OVERFIT_MIN_RISE: f32 = 0.05;
/// A train–val accuracy gap above 10 points is more than sampling noise on a validation split.
const OVERFIT_GAP: f32 = 0.10;
/// ...and it must have widened by 2 points over the last `OVERFIT_RISES` evaluations.
const OVERFIT_GAP_GROWTH: f32 = 0.02;
/// Evaluations over which the training loss must be flat before underfitting is judged.
const UNDERFIT_WINDOW: usize = 3;
/// Less than a 2% drop in the training loss over that window counts as flat.
const UNDERFIT_FLAT_RELATIVE: f32 = 0.02;
/// Below 60% of the way from chance (1/C) to 100% on its own training data, the model cannot fit.
const UNDERFIT_SKILL: f32 = 0.6;
/// A gap under 5 points means validation is as poor as training: no overfitting to blame.
const UNDERFIT_MAX_GAP: f32 = 0.05;
/// Evaluations without improvement before a plateau is reported (one a epoch by default).
const PLATEAU_PATIENCE: usize = 5;
/// A new best must beat the old one by 0.1%; less is noise on the validation loss.
const PLATEAU_MIN_RELATIVE_DELTA: f32 = 1e-3;
/// "Most" units dead: at init a ReLU is dead on a whole batch of 32 with odds of about 0.5^32.
const DEAD_RELU_FRACTION: f32 = 0.5;
/// The first updates (momentum build-up, large early gradients) say nothing about the steady ratio.
const UPDATE_RATIO_WARMUP: u64 = 100;
/// Two decades above: 10% of the weights rewritten every step, which soon blows up.
const UPDATE_RATIO_HIGH: f32 = 1e-1;
/// A standing condition is repeated every 5 evaluations (epochs by default): seen, not spammy.
const COOLDOWN_EVALS: u64 = 5;
/// Evaluations kept: more than any window above needs.
const MAX_HISTORY: usize = 64;

/// Thresholds of every check; `new(num_classes)` fills in the defaults justified above.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticsConfig {
    pub num_classes: usize,
    pub initial_loss_tolerance: f32,
    pub divergence_factor: f32,
    pub divergence_window: usize,
    pub divergence_spike_factor: f32,
    pub lr_low_ratio_fraction: f32,
    pub lr_low_loss_fraction: f32,
    pub lr_low_pace: f32,
    pub lr_low_min_epochs: f64,
    pub lr_max_raise: f32,
    pub near_zero_loss_fraction: f32,
    pub overfit_rises: usize,
    pub overfit_min_rise: f32,
    pub overfit_gap: f32,
    pub overfit_gap_growth: f32,
    pub underfit_window: usize,
    pub underfit_flat_relative: f32,
    pub underfit_skill: f32,
    pub underfit_max_gap: f32,
    pub plateau_patience: usize,
    pub plateau_min_relative_delta: f32,
    pub dead_relu_fraction: f32,
    pub update_ratio_warmup: u64,
    pub update_ratio_high: f32,
    pub cooldown_evals: u64,
}

impl DiagnosticsConfig {
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            initial_loss_tolerance: INITIAL_LOSS_TOLERANCE,
            divergence_factor: DIVERGENCE_FACTOR,
            divergence_window: DIVERGENCE_WINDOW,
            divergence_spike_factor: DIVERGENCE_SPIKE_FACTOR,
            lr_low_ratio_fraction: LR_LOW_RATIO_FRACTION,
            lr_low_loss_fraction: LR_LOW_LOSS_FRACTION,
            lr_low_pace: LR_LOW_PACE,
            lr_low_min_epochs: LR_LOW_MIN_EPOCHS,
            lr_max_raise: LR_MAX_RAISE,
            near_zero_loss_fraction: NEAR_ZERO_LOSS_FRACTION,
            overfit_rises: OVERFIT_RISES,
            overfit_min_rise: OVERFIT_MIN_RISE,
            overfit_gap: OVERFIT_GAP,
            overfit_gap_growth: OVERFIT_GAP_GROWTH,
            underfit_window: UNDERFIT_WINDOW,
            underfit_flat_relative: UNDERFIT_FLAT_RELATIVE,
            underfit_skill: UNDERFIT_SKILL,
            underfit_max_gap: UNDERFIT_MAX_GAP,
            plateau_patience: PLATEAU_PATIENCE,
            plateau_min_relative_delta: PLATEAU_MIN_RELATIVE_DELTA,
            dead_relu_fraction: DEAD_RELU_FRACTION,
            update_ratio_warmup: UPDATE_RATIO_WARMUP,
            update_ratio_high: UPDATE_RATIO_HIGH,
            cooldown_evals: COOLDOWN_EVALS,
        }
    }

    /// ln C, the loss of a uniform softmax; `None` for fewer than two classes.
    pub fn chance_loss(&self) -> Option<f32> {
        (self.num_classes >= 2).then(|| (self.num_classes as f32).ln())
    }

    /// 1/C, the accuracy of guessing.
    fn chance_accuracy(&self) -> f32 {
        1.0 / self.num_classes.max(1) as f32
    }
}

impl Default for DiagnosticsConfig {
    /// Ten classes: MNIST, CIFAR-10 and the embedded default data.
    fn default() -> Self {
        Self::new(10)
    }
}

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
    /// Keeps the learning-rate advice from pointing both ways at one rate.
    arbiter: Arbiter,
    // Evaluation checks.
    history: VecDeque<EvalPoint>,
    /// Best validation loss and its iteration, by the plateau rule's minimum improvement.
    best_val: Option<(f32, u64)>,
    evals_since_best: usize,
    /// The iteration of the last evaluation the trainer marked best (its checkpoint).
    best_checkpoint: Option<u64>,
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
            arbiter: Arbiter::default(),
            history: VecDeque::new(),
            best_val: None,
            evals_since_best: 0,
            best_checkpoint: None,
        }
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
