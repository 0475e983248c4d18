//! Checks on each training iteration: initial loss, divergence, a learning rate too low.

use super::{Diagnostics, INITIAL_ITERATION_MAX, diagnostic, sci};
use crate::train::events::{Diagnostic, DiagnosticKind, IterStats, Severity};

/// The step the divergence suggestion takes on the learning rate.
const DIVERGENCE_LR_DIVISOR: f32 = 10.0;
/// The step the too-low suggestion takes: a third of a decade, the usual search grid.
const LR_RAISE_FACTOR: f32 = 3.0;

impl Diagnostics {
    /// Judges the first iteration of a fresh run against ln C.
    pub(super) fn check_initial_loss(&mut self, s: &IterStats) -> Option<Diagnostic> {
        if self.is_first_iteration_seen {
            return None;
        }
        self.is_first_iteration_seen = true;
        let loss = s.data_loss;
        let first = loss.is_finite().then_some(loss);
        self.reference_loss = match (self.cfg.chance_loss(), first) {
            (Some(c), Some(l)) => Some(c.max(l)),
            (c, l) => c.or(l),
        };
        let chance = self.cfg.chance_loss()?;
        if s.iteration > INITIAL_ITERATION_MAX || !loss.is_finite() {
            return None;
        }
        let deviation = loss - chance;
        let tolerance = self.cfg.initial_loss_tolerance;
        if deviation.abs() <= tolerance {
            return None;
        }
        let severity = if deviation.abs() > 2.0 * tolerance {
            Severity::Warn
        } else {
            Severity::Info
        };
        let c = self.cfg.num_classes;
        let (direction, suggestion) = if deviation > 0.0 {
            (
                "above",
                "scale the initial weights down (He: std √(2/fan_in)), keep the last layer's \
                 initial logits small, and check that the loss averages over the batch"
                    .to_string(),
            )
        } else {
            (
                "below",
                "check for labels leaking into the inputs, a loss divided twice, or weights \
                 already trained (a resumed checkpoint)"
                    .to_string(),
            )
        };
        Some(diagnostic(
            s.iteration,
            DiagnosticKind::InitialLoss,
            severity,
            format!("initial loss {loss:.3} is far from ln {c} = {chance:.3}"),
            format!(
                "data loss {loss:.3} at iteration {} is {:.3} {direction} ln {c} = {chance:.3} \
                 (tolerance ±{tolerance:.1})",
                s.iteration,
                deviation.abs()
            ),
            suggestion,
        ))
    }

    /// A non-finite loss at once; or the median of the last few losses far above the reference.
    pub(super) fn check_divergence(&mut self, s: &IterStats) -> Option<Diagnostic> {
        let loss = s.data_loss;
        let lr = s.knobs.learning_rate;
        let action = format!(
            "roll back to the last good checkpoint and divide the learning rate by {}: {} → {}",
            DIVERGENCE_LR_DIVISOR,
            sci(lr),
            sci(lr / DIVERGENCE_LR_DIVISOR)
        );
        if !loss.is_finite() || !s.reg_loss.is_finite() {
            if self.has_diverged {
                return None;
            }
            self.has_diverged = true;
            let last = match self.recent_losses.back() {
                Some((it, l)) => format!("; last finite loss {l:.3} at iteration {it}"),
                None => String::new(),
            };
            return Some(diagnostic(
                s.iteration,
                DiagnosticKind::Divergence,
                Severity::Error,
                "loss is not a number: training diverged".to_string(),
                format!(
                    "data loss {loss} and reg loss {} at iteration {}{last}",
                    s.reg_loss, s.iteration
                ),
                action,
            ));
        }
        let previous = self.recent_losses.back().copied();
        self.recent_losses.push_back((s.iteration, loss));
        while self.recent_losses.len() > self.cfg.divergence_window {
            self.recent_losses.pop_front();
        }
        let reference = self.reference_loss?;
        if self.has_diverged {
            return None;
        }
        let spike_limit = self.cfg.divergence_spike_factor * reference;
        if loss > spike_limit {
            self.has_diverged = true;
            let last = match previous {
                Some((it, l)) => format!(" (iteration {it}: {l:.3})"),
                None => String::new(),
            };
            return Some(diagnostic(
                s.iteration,
                DiagnosticKind::Divergence,
                Severity::Error,
                "loss exploded in one step: training diverged".to_string(),
                format!(
                    "data loss {loss:.3} at iteration {}{last} is above {} × the start \
                     {reference:.3} = {spike_limit:.3}",
                    s.iteration, self.cfg.divergence_spike_factor
                ),
                action,
            ));
        }
        if self.recent_losses.len() < self.cfg.divergence_window {
            return None;
        }
        let smoothed = median(self.recent_losses.iter().map(|(_, l)| *l))?;
        let limit = self.cfg.divergence_factor * reference;
        if smoothed <= limit {
            return None;
        }
        self.has_diverged = true;
        let (first, _) = self
            .recent_losses
            .front()
            .copied()
            .unwrap_or((s.iteration, loss));
        Some(diagnostic(
            s.iteration,
            DiagnosticKind::Divergence,
            Severity::Error,
            "loss is exploding: training diverged".to_string(),
            format!(
                "median data loss {smoothed:.3} over iterations {first}–{} is above {} × the \
                 start {reference:.3} = {limit:.3}",
                s.iteration, self.cfg.divergence_factor
            ),
            action,
        ))
    }

    /// Over non-overlapping windows of iterations at one learning rate: a loss that is still high
    /// and whose second half is barely below its first.
    pub(super) fn check_learning_rate(&mut self, s: &IterStats) -> Option<Diagnostic> {
        let lr = s.knobs.learning_rate;
        if self.lr_window_rate != Some(lr) {
            // A new rate starts a new experiment: neither the window nor the old verdict applies.
            self.lr_window.clear();
            self.lr_window_rate = Some(lr);
            self.gate(DiagnosticKind::LearningRateTooLow, "", false);
        }
        // A diverged or dead network is stuck for another reason: more rate would be wrong advice.
        if !s.data_loss.is_finite() || self.has_diverged || !self.dead_layers.is_empty() {
            self.lr_window.clear();
            return None;
        }
        self.lr_window.push((s.iteration, s.data_loss));
        if self.lr_window.len() < self.cfg.lr_window.max(2) {
            return None;
        }
        let window = std::mem::take(&mut self.lr_window);
        let reference = self.reference_loss?;
        let (early, late) = window.split_at(window.len() / 2);
        let mean = |xs: &[(u64, f32)]| xs.iter().map(|(_, l)| l).sum::<f32>() / xs.len() as f32;
        let (a, b) = (mean(early), mean(late));
        let drop = (a - b) / a;
        let high_level = self.cfg.lr_high_level_fraction * reference;
        let holds = drop.abs() < self.cfg.lr_min_relative_drop && b > high_level;
        if !self.gate(DiagnosticKind::LearningRateTooLow, "", holds) {
            return None;
        }
        let (from, to) = (window[0].0, s.iteration);
        Some(diagnostic(
            s.iteration,
            DiagnosticKind::LearningRateTooLow,
            Severity::Warn,
            "the loss is barely moving: learning rate too low".to_string(),
            format!(
                "mean data loss {a:.3} → {b:.3} ({:+.1}%) between the halves of iterations \
                 {from}–{to} at learning rate {}, still {:.0}% of the start {reference:.3}",
                -100.0 * drop,
                sci(lr),
                100.0 * b / reference
            ),
            format!(
                "raise the learning rate ×{LR_RAISE_FACTOR} ({} → {}); if it still stalls, ×10 ({})",
                sci(lr),
                sci(lr * LR_RAISE_FACTOR),
                sci(lr * 10.0)
            ),
        ))
    }
}

/// The median of finite values; `None` if empty.
fn median(values: impl Iterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        0.5 * (v[mid - 1] + v[mid])
    })
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_ignores_one_spike() {
        assert_eq!(median([2.0, 2.1, 90.0, 2.2, 2.3].into_iter()), Some(2.2));
        assert_eq!(median([1.0, 3.0].into_iter()), Some(2.0));
        assert_eq!(median(std::iter::empty()), None);
    }
}
