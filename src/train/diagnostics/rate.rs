//! The learning-rate verdict "too low", judged at evaluations once the first epoch has ended, on
//! three pieces of evidence together: the weights barely move, the loss is still high, and it is
//! not falling at a healthy pace.

use super::{Diagnostics, diagnostic, fig, knob_action, sci, with_action};
use crate::train::events::{Diagnostic, DiagnosticKind, EvalStats, Knob, Severity};

/// The healthy update/weight ratio of plain SGD (CS231n); momentum μ multiplies it by 1/(1 − μ).
const HEALTHY_UPDATE_RATIO: f32 = 1e-3;
/// The smallest raise worth suggesting: a third of a decade, the usual search grid.
const LR_MIN_RAISE: f32 = 3.0;
/// A raise aims at 3× the healthy ratio, the top of the band a good run shows (`mnist` at lr 5e-2:
/// 5e-3–3e-2), because the ratio grows slower than the rate: lr 1e-4 → 5e-2 (×500) moved it
/// 8e-5 → 8e-3 (×100). Aiming at 1e-2 itself left lr 1e-4 at 1e-2 and 95.7% (healthy: 97.8%).
const LR_RAISE_AIM: f32 = 3.0;

impl Diagnostics {
    /// 1e-3/(1 − μ): the ratio a well-set rate gives at the current momentum.
    pub(super) fn healthy_ratio(&self) -> f32 {
        let mu = self.knobs.map_or(0.0, |k| k.momentum).clamp(0.0, 0.99);
        HEALTHY_UPDATE_RATIO / (1.0 - mu)
    }

    pub(super) fn check_learning_rate(&mut self, e: &EvalStats) -> Option<Diagnostic> {
        let found = self.too_low_evidence(e);
        if !self.gate(DiagnosticKind::LearningRateTooLow, "", found.is_some()) {
            return None;
        }
        let (evidence, ratio) = found?;
        let lr = self.learning_rate()?;
        let healthy = self.healthy_ratio();
        let factor = (LR_RAISE_AIM * healthy / ratio).clamp(LR_MIN_RAISE, self.cfg.lr_max_raise);
        let target = round_1(lr * factor);
        Some(with_action(
            diagnostic(
                e.iteration,
                DiagnosticKind::LearningRateTooLow,
                Severity::Warn,
                "learning rate too low: the weights barely move".to_string(),
                evidence,
                format!(
                    "raise the learning rate ×{factor:.0} ({} → {}), near the rate that gives a \
                     ratio of ~{}",
                    sci(lr),
                    sci(target),
                    sci(LR_RAISE_AIM * healthy)
                ),
            ),
            knob_action(None, Knob::LearningRate, target),
        ))
    }

    /// The evidence and the ratio, when all of it holds.
    fn too_low_evidence(&self, e: &EvalStats) -> Option<(String, f32)> {
        let is_early = e.epoch < self.cfg.lr_low_min_epochs;
        if is_early || self.has_diverged || !self.dead_layers.is_empty() {
            return None;
        }
        let ratio = self.median_update_ratio?;
        let healthy = self.healthy_ratio();
        let bound = self.cfg.lr_low_ratio_fraction * healthy;
        if ratio.is_nan() || ratio >= bound {
            return None;
        }
        let reference = self.reference_loss?;
        let last = self.history.back().filter(|p| p.iteration == e.iteration)?;
        if last.train_loss <= self.cfg.lr_low_loss_fraction * reference {
            return None;
        }
        // The pace: against the evaluation at least an epoch earlier, or the start.
        let (then_loss, then_epoch) = self
            .history
            .iter()
            .rev()
            .find(|p| e.epoch - p.epoch >= 1.0)
            .map_or((reference, 0.0), |p| (p.train_loss, p.epoch));
        let epochs = (e.epoch - then_epoch).max(1e-6) as f32;
        let per_epoch = 1.0 - (last.train_loss / then_loss).powf(1.0 / epochs);
        if per_epoch >= self.cfg.lr_low_pace {
            return None;
        }
        let momentum = self.knobs.map_or(0.0, |k| k.momentum);
        Some((
            format!(
                "median update/weight ratio {} (healthy ~{} at momentum {momentum}, low bound {}); \
                 train loss {} at epoch {:.2} is {:.0}% of the start {} and falls \
                 {:.0}% an epoch",
                sci(ratio),
                sci(healthy),
                sci(bound),
                fig(last.train_loss),
                e.epoch,
                100.0 * last.train_loss / reference,
                fig(reference),
                100.0 * per_epoch
            ),
            ratio,
        ))
    }
}

/// A rate rounded to one significant figure (3.7e-3 → 4e-3), as a person would type it.
pub(super) fn round_1(v: f32) -> f32 {
    if !(v.is_finite() && v > 0.0) {
        return v;
    }
    let scale = 10f32.powf(v.log10().floor());
    (v / scale).round() * scale
}

#[cfg(test)]
mod tests {
    use super::round_1;

    #[test]
    fn rates_round_to_one_figure() {
        assert!((round_1(3.7e-3) - 4e-3).abs() < 1e-9);
        assert!((round_1(0.125) - 0.1).abs() < 1e-7);
        assert_eq!(round_1(0.0), 0.0);
    }
}
