//! Checks on per-layer statistics: dead ReLUs and the update/weight ratio.

use super::{Diagnostics, diagnostic, sci};
use crate::train::events::{Diagnostic, DiagnosticKind, LayerStats, Severity};

/// The healthy update/weight ratio (CS231n): the target the suggestions aim for.
const HEALTHY_UPDATE_RATIO: f32 = 1e-3;
/// The learning-rate step suggested when the ratio is far off: one decade, since it is two off.
const UPDATE_RATIO_LR_STEP: f32 = 10.0;
/// A learning-rate step that revives ReLUs without throwing away progress.
const DEAD_RELU_LR_STEP: f32 = 3.0;

impl Diagnostics {
    pub(super) fn check_layer(&mut self, iteration: u64, l: &LayerStats) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if let Some(dead) = l.dead_fraction {
            let holds = dead.is_finite() && dead > self.cfg.dead_relu_fraction;
            self.dead_layers.retain(|name| *name != l.name);
            if holds {
                self.dead_layers.push(l.name.clone());
            }
            if self.gate(DiagnosticKind::DeadRelu, &l.name, holds) {
                out.push(self.dead_relu(iteration, &l.name, dead));
            }
        }
        // Layers without weights (ReLU, pooling) report a zero norm and have no ratio to judge.
        let has_weights = l.weight_norm.is_finite() && l.weight_norm > 0.0;
        if has_weights && l.update_ratio.is_finite() && iteration >= self.cfg.update_ratio_warmup {
            let r = l.update_ratio;
            let holds = r < self.cfg.update_ratio_low || r > self.cfg.update_ratio_high;
            if self.gate(DiagnosticKind::UpdateRatio, &l.name, holds) {
                out.push(self.update_ratio(iteration, l));
            }
        }
        out
    }

    fn dead_relu(&self, iteration: u64, name: &str, dead: f32) -> Diagnostic {
        let lr_part = match self.learning_rate() {
            Some(lr) => format!(
                "lower the learning rate ÷{DEAD_RELU_LR_STEP} ({} → {}) so large steps stop \
                 killing filters",
                sci(lr),
                sci(lr / DEAD_RELU_LR_STEP)
            ),
            None => format!("lower the learning rate ÷{DEAD_RELU_LR_STEP}"),
        };
        diagnostic(
            iteration,
            DiagnosticKind::DeadRelu,
            Severity::Warn,
            format!("{name}: most ReLUs are dead"),
            format!(
                "{:.0}% of {name}'s channels were zero everywhere for every input of the batch at iteration \
                 {iteration} (threshold {:.0}%)",
                100.0 * dead,
                100.0 * self.cfg.dead_relu_fraction
            ),
            format!(
                "{lr_part}; check the initialisation (He: std √(2/fan_in)) and the input \
                 preprocessing; or roll back to a checkpoint from before they died"
            ),
        )
    }

    fn update_ratio(&self, iteration: u64, l: &LayerStats) -> Diagnostic {
        let r = l.update_ratio;
        let is_low = r < self.cfg.update_ratio_low;
        let (word, bound) = if is_low {
            ("low", self.cfg.update_ratio_low)
        } else {
            ("high", self.cfg.update_ratio_high)
        };
        let suggestion = match self.learning_rate() {
            Some(lr) => {
                // The ratio scales with the rate under plain SGD: this rate would give ~1e-3.
                let target = lr * HEALTHY_UPDATE_RATIO / r;
                let step = if is_low {
                    UPDATE_RATIO_LR_STEP
                } else {
                    1.0 / UPDATE_RATIO_LR_STEP
                };
                format!(
                    "{} the learning rate ×{} ({} → {}) and check again; a ratio of ~1e-3 would \
                     need about {}",
                    if is_low { "raise" } else { "lower" },
                    if is_low { "10" } else { "0.1" },
                    sci(lr),
                    sci(lr * step),
                    sci(target)
                )
            }
            None => format!(
                "{} the learning rate",
                if is_low { "raise" } else { "lower" }
            ),
        };
        diagnostic(
            iteration,
            DiagnosticKind::UpdateRatio,
            Severity::Warn,
            format!("{}: update/weight ratio far too {word}", l.name),
            format!(
                "‖update‖/‖W‖ = {} for {} at iteration {iteration} (‖W‖ = {:.3}); healthy is \
                 ~1e-3, {word} bound {}",
                sci(r),
                l.name,
                l.weight_norm,
                sci(bound)
            ),
            suggestion,
        )
    }
}
