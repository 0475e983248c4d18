//! The thresholds of the diagnostics, each with the reason for its value, and the configuration
//! that carries them.

/// Allowed |initial loss − ln C| in nats: small-init logits of std σ add about σ²/2 to ln C, so
/// 0.5 nats means logits of std ≈ 1, already a large init; twice this is a Warn, less is Info.
const INITIAL_LOSS_TOLERANCE: f32 = 0.5;
/// The first seen iteration is judged only if it is at most this: a resumed run starts mid-way.
pub(super) const INITIAL_ITERATION_MAX: u64 = 1;
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
/// No plateau is called while the run's schedule will still lower the rate more than 3× (a third
/// of a decade, the knob step) before it ends: SGD at one rate settles on a noise floor that the
/// lower rates go below, so a stall half-way through a decay is the schedule's business. Measured
/// on two healthy CIFAR-10 runs. `cudaconvnet` (110 epochs, ×0.959 an epoch): val loss stalled
/// from epoch 25, and the first call (epoch 30, "stop and roll back" to 76.98%) came 2.3 points
/// below the best, 79.32% at epoch 79. `vggish` with dropout (120 epochs, ×0.962): val loss and
/// accuracy both stalled at epoch 75, ×0.18 of the schedule still to come; its best, 84.25%, came
/// at epoch 80.
pub(super) const PLATEAU_SCHEDULE_LEFT: f32 = 3.0;
/// "Most" units dead: at init a ReLU is dead on a whole batch of 32 with odds of about 0.5^32.
const DEAD_RELU_FRACTION: f32 = 0.5;
/// The first updates (momentum build-up, large early gradients) say nothing about the steady ratio.
const UPDATE_RATIO_WARMUP: u64 = 100;
/// Two decades above: 10% of the weights rewritten every step, which soon blows up.
const UPDATE_RATIO_HIGH: f32 = 1e-1;
/// A standing condition is repeated every 5 evaluations (epochs by default): seen, not spammy.
const COOLDOWN_EVALS: u64 = 5;
/// Evaluations kept: more than any window above needs.
pub(super) const MAX_HISTORY: usize = 64;

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
    /// The run's per-epoch learning-rate decay, when it has one (the trainer's always does unless
    /// `--lr-decay 1`); `None` for a constant rate or an unknown schedule (a PyTorch loop).
    pub lr_schedule: Option<DecaySchedule>,
    /// Natural images, whose mirror images keep their class (flips are on by default for them);
    /// digits and other grey data are not offered flips as a cure for overfitting.
    pub are_mirrors_alike: bool,
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
            lr_schedule: None,
            are_mirrors_alike: true,
        }
    }

    /// ln C, the loss of a uniform softmax; `None` for fewer than two classes.
    pub fn chance_loss(&self) -> Option<f32> {
        (self.num_classes >= 2).then(|| (self.num_classes as f32).ln())
    }

    /// 1/C, the accuracy of guessing.
    pub(super) fn chance_accuracy(&self) -> f32 {
        1.0 / self.num_classes.max(1) as f32
    }
}

/// A learning rate multiplied by `per_epoch` at each epoch end until the run ends at `end_epoch`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecaySchedule {
    pub per_epoch: f32,
    pub end_epoch: f64,
}

impl DecaySchedule {
    /// The factor the schedule still applies to the rate after `epoch` (1 when it is over).
    pub fn remaining(&self, epoch: f64) -> f32 {
        let epochs_left = (self.end_epoch - epoch).max(0.0).floor();
        if self.per_epoch >= 1.0 || epochs_left == 0.0 {
            return 1.0;
        }
        (f64::from(self.per_epoch).powf(epochs_left)) as f32
    }
}

impl Default for DiagnosticsConfig {
    /// Ten classes: MNIST, CIFAR-10 and the embedded default data.
    fn default() -> Self {
        Self::new(10)
    }
}
