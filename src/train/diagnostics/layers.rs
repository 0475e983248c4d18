//! Checks on per-layer statistics: dead ReLUs, an update/weight ratio far too high, and a norm
//! layer that normalises nothing.

use super::{Diagnostics, diagnostic, fig, knob_action, sci, with_action};
use crate::nn::lrn::INERT_DIVISOR;
use crate::train::events::{
    Action, Diagnostic, DiagnosticKind, Knob, LayerStats, RollbackTarget, Severity,
};

/// The learning-rate step suggested when the ratio is far too high: one decade.
const UPDATE_RATIO_LR_STEP: f32 = 10.0;
/// A network killed outright (its loss at chance) restarts at a rate a decade lower: lr 0.2
/// and 0.5 kill every unit of `mnist` within 50 iterations, lr 0.05 trains it to 97.8%.
const DEAD_NETWORK_LR_STEP: f32 = 10.0;
/// A network with dead units that still learns loses less by a third of a decade.
const DEAD_RELU_LR_STEP: f32 = 3.0;
/// The loss is "at chance" above this fraction of the start: nothing is being learned.
const DEAD_LOSS_FRACTION: f32 = 0.9;
/// Layer checks in a row (50 iterations apart) a layer must be mostly off before it is called
/// dead. A deep plain net's first large steps switch most of a late layer off for a while, and it
/// comes back: vggish with dropout at lr 0.02 had relu6 73%, 62%, 47%, 42% off at iterations 50,
/// 100, 150, 200 while its loss fell from 2.28 to 1.81. A killed net stays off: `mnist` at lr 0.5
/// (relu2 100% from iteration 50 on) and `cifar` at lr 0.15 (relu3 85%, then 100% for good).
const DEAD_CHECKS: u32 = 3;
/// A layer whose dead fraction has fallen this far below its peak is coming back, not dead (one
/// channel of `mnist`'s 8 flickers by 0.125 from batch to batch).
const DEAD_RECOVERY: f32 = 0.15;
/// The divisor an inert norm's α is scaled towards. `cudaconvnet` on standardised CIFAR-10 did
/// best with α 0.1 (README, "Accuracy"), and at α 0.1 its norms divide by ÷1.20–1.28 over the
/// first epoch (÷1.5 by the end, as activations grow). Its published α 5e-5 reads ÷1.0001 at
/// iteration 100, so the advice is ×~3,000: α ≈ 0.15, between the measured 0.1 and 0.3.
const NORM_TARGET_DIVISOR: f32 = 1.2;

/// A layer over the dead threshold at consecutive layer checks.
#[derive(Debug, Clone)]
pub(super) struct DeadStreak {
    layer: String,
    checks: u32,
    peak: f32,
}

impl Diagnostics {
    pub(super) fn check_layer(&mut self, iteration: u64, l: &LayerStats) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if let Some(dead) = l.dead_fraction {
            let is_over = dead.is_finite() && dead > self.cfg.dead_relu_fraction;
            self.dead_layers.retain(|name| *name != l.name);
            if is_over {
                self.dead_layers.push(l.name.clone());
                self.first_dead_at.get_or_insert(iteration);
            } else if self.dead_layers.is_empty() {
                self.first_dead_at = None;
            }
            let holds = if is_over {
                self.is_staying_dead(&l.name, dead)
            } else {
                self.dead_streaks.retain(|s| s.layer != l.name);
                false
            };
            if self.gate(DiagnosticKind::DeadRelu, &l.name, holds) {
                out.push(self.dead_relu(iteration, &l.name, dead));
            }
        }
        // Layers without weights (ReLU, pooling) report a zero norm and have no ratio to judge;
        // near zero loss the gradients are small by right, and the ratio says nothing.
        let has_weights = l.weight_norm.is_finite() && l.weight_norm > 0.0;
        let is_judged = has_weights
            && l.update_ratio.is_finite()
            && iteration >= self.cfg.update_ratio_warmup
            && !self.is_train_loss_near_zero();
        if is_judged {
            let holds = l.update_ratio > self.cfg.update_ratio_high;
            if self.gate(DiagnosticKind::UpdateRatio, &l.name, holds) {
                out.push(self.update_ratio(iteration, l));
            }
        }
        if let Some(divisor) = l.norm_divisor {
            // At the first steps activations are still at their initial scale.
            let holds = divisor.is_finite()
                && divisor < INERT_DIVISOR
                && iteration >= self.cfg.update_ratio_warmup;
            // Said once: α cannot change mid-run, so a reminder every few evaluations would only
            // repeat it. A layer that starts to divide and then stops again is noted again.
            let was_noted = self.inert_norms.contains(&l.name);
            if !holds {
                self.inert_norms.retain(|name| *name != l.name);
            } else if !was_noted {
                self.inert_norms.push(l.name.clone());
                out.push(inert_norm(iteration, &l.name, divisor));
            }
        }
        out
    }

    /// Counts `layer`'s streak over the threshold (the caller saw it over): true once it has
    /// lasted `DEAD_CHECKS` checks without coming back from its peak.
    fn is_staying_dead(&mut self, layer: &str, dead: f32) -> bool {
        let streak = match self.dead_streaks.iter_mut().find(|s| s.layer == layer) {
            Some(s) => {
                s.checks += 1;
                s.peak = s.peak.max(dead);
                s
            }
            None => {
                self.dead_streaks.push(DeadStreak {
                    layer: layer.to_string(),
                    checks: 1,
                    peak: dead,
                });
                self.dead_streaks.last_mut().expect("just pushed")
            }
        };
        streak.checks >= DEAD_CHECKS && dead >= streak.peak - DEAD_RECOVERY
    }

    /// True when the recent losses sit near the start: the network learns nothing.
    fn is_loss_at_chance(&self) -> bool {
        let (Some(reference), Some((_, loss))) = (self.reference_loss, self.recent_losses.back())
        else {
            return false;
        };
        *loss > DEAD_LOSS_FRACTION * reference
    }

    fn dead_relu(&self, iteration: u64, name: &str, dead: f32) -> Diagnostic {
        let lr = self.learning_rate();
        let (action, advice) = if self.is_loss_at_chance() {
            // Dead units get no gradient: a lower rate alone never revives them; weights from
            // before they died do.
            let died = self.first_dead_at.unwrap_or(iteration);
            let (target, from) = match self.best_iteration() {
                Some(it) if it < died => (
                    RollbackTarget::Best,
                    format!("the best checkpoint (iteration {it})"),
                ),
                _ => (RollbackTarget::Start, "the starting weights".to_string()),
            };
            let action = match lr {
                Some(lr) => {
                    knob_action(Some(target), Knob::LearningRate, lr / DEAD_NETWORK_LR_STEP)
                }
                None => Some(Action {
                    rollback: Some(target),
                    knob: None,
                }),
            };
            let text = match lr {
                Some(lr) => format!(
                    "the loss is at chance: roll back to {from} and lower the learning rate \
                     ÷{DEAD_NETWORK_LR_STEP} ({} → {}); dead units get no gradient, so a lower \
                     rate alone does not revive them",
                    sci(lr),
                    sci(lr / DEAD_NETWORK_LR_STEP)
                ),
                None => format!("roll back to {from} and lower the learning rate"),
            };
            (action, text)
        } else {
            let action =
                lr.and_then(|lr| knob_action(None, Knob::LearningRate, lr / DEAD_RELU_LR_STEP));
            let text = match lr {
                Some(lr) => format!(
                    "lower the learning rate ÷{DEAD_RELU_LR_STEP} ({} → {}) so large steps stop \
                     killing filters; if the loss stalls, roll back to a checkpoint from before \
                     they died",
                    sci(lr),
                    sci(lr / DEAD_RELU_LR_STEP)
                ),
                None => format!("lower the learning rate ÷{DEAD_RELU_LR_STEP}"),
            };
            (action, text)
        };
        with_action(
            diagnostic(
                iteration,
                DiagnosticKind::DeadRelu,
                Severity::Warn,
                format!("{name}: most ReLUs are dead"),
                format!(
                    "{:.0}% of {name}'s channels were zero everywhere for every input of the batch \
                     at iteration {iteration} (threshold {:.0}%)",
                    100.0 * dead,
                    100.0 * self.cfg.dead_relu_fraction
                ),
                advice,
            ),
            action,
        )
    }

    fn update_ratio(&self, iteration: u64, l: &LayerStats) -> Diagnostic {
        let r = l.update_ratio;
        let lr = self.learning_rate();
        let suggestion = match lr {
            Some(lr) => format!(
                "lower the learning rate ÷{UPDATE_RATIO_LR_STEP} ({} → {}) and check again",
                sci(lr),
                sci(lr / UPDATE_RATIO_LR_STEP)
            ),
            None => "lower the learning rate".to_string(),
        };
        with_action(
            diagnostic(
                iteration,
                DiagnosticKind::UpdateRatio,
                Severity::Warn,
                format!("{}: update/weight ratio far too high", l.name),
                format!(
                    "‖update‖/‖W‖ = {} for {} at iteration {iteration} (‖W‖ = {}); healthy is \
                     ~{}, high bound {}",
                    sci(r),
                    l.name,
                    fig(l.weight_norm),
                    sci(self.healthy_ratio()),
                    sci(self.cfg.update_ratio_high)
                ),
                suggestion,
            ),
            lr.and_then(|lr| knob_action(None, Knob::LearningRate, lr / UPDATE_RATIO_LR_STEP)),
        )
    }
}

/// A norm layer whose divisor stays at its constant: its α suits activations of another scale.
fn inert_norm(iteration: u64, name: &str, divisor: f32) -> Diagnostic {
    // While s = k + α/n·Σx² stays near k, the divisor's excess over 1 grows in proportion to α.
    let excess = f64::from(divisor) - 1.0;
    let wanted = f64::from(NORM_TARGET_DIVISOR) - 1.0;
    let scale = if excess > 1e-7 {
        format!("about ×{}", crate::units::one_figure(wanted / excess))
    } else {
        "by several decades".to_string()
    };
    diagnostic(
        iteration,
        DiagnosticKind::InertNorm,
        // nothing goes wrong with the training itself: a note, not a warning
        Severity::Info,
        format!("{name}: the norm layer normalises nothing"),
        format!(
            "{name}'s divisor beyond its constant k^β was ÷{divisor:.4} on the batch at iteration \
             {iteration}; under ÷{INERT_DIVISOR} the layer is a fixed scale. Its α is too small \
             for activations of this size: the published values assume 0–255 pixels"
        ),
        format!(
            "it costs time and normalises nothing: drop it from --net, or to make it act, restart \
             with its α {scale} larger, for a divisor near ÷{NORM_TARGET_DIVISOR} (α cannot \
             change mid-run)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inert_norm_is_told_how_far_to_scale_alpha() {
        // ÷1.001: an excess of 0.001 against the wanted 0.2, so α ×200.
        let d = inert_norm(300, "norm1", 1.001);
        assert_eq!(d.kind, DiagnosticKind::InertNorm);
        assert!(d.suggestion.contains("about ×200"), "{}", d.suggestion);
        assert!(d.evidence.contains("÷1.0010"), "{}", d.evidence);
        assert!(d.action.is_none());
        let flat = inert_norm(300, "norm1", 1.0);
        assert!(
            flat.suggestion.contains("several decades"),
            "{}",
            flat.suggestion
        );
    }
}
