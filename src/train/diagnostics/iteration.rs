//! Checks on each training iteration: initial loss, divergence.

use super::{Diagnostics, INITIAL_ITERATION_MAX, diagnostic, fig, knob_action, sci, with_action};
use crate::train::events::{Diagnostic, DiagnosticKind, IterStats, Knob, RollbackTarget, Severity};

/// The step the divergence suggestion takes on the learning rate.
const DIVERGENCE_LR_DIVISOR: f32 = 10.0;

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
            format!(
                "initial loss {} is far from ln {c} = {}",
                fig(loss),
                fig(chance)
            ),
            format!(
                "data loss {} at iteration {} is {} {direction} ln {c} = {} \
                 (tolerance ±{tolerance:.1})",
                fig(loss),
                s.iteration,
                fig(deviation.abs()),
                fig(chance)
            ),
            suggestion,
        ))
    }

    /// A non-finite loss at once; or the median of the last few losses far above the reference.
    pub(super) fn check_divergence(&mut self, s: &IterStats) -> Option<Diagnostic> {
        let loss = s.data_loss;
        let lr = s.knobs.learning_rate;
        let target = match self.best_iteration() {
            Some(_) => RollbackTarget::Best,
            None => RollbackTarget::Start,
        };
        let from = match self.best_iteration() {
            Some(it) => format!("the best checkpoint (iteration {it})"),
            None => "the starting weights".to_string(),
        };
        let action = format!(
            "roll back to {from} and divide the learning rate by {}: {} → {}",
            DIVERGENCE_LR_DIVISOR,
            sci(lr),
            sci(lr / DIVERGENCE_LR_DIVISOR)
        );
        let act = knob_action(Some(target), Knob::LearningRate, lr / DIVERGENCE_LR_DIVISOR);
        if !loss.is_finite() || !s.reg_loss.is_finite() {
            if self.has_diverged {
                return None;
            }
            self.has_diverged = true;
            let last = match self.recent_losses.back() {
                Some((it, l)) => format!("; last finite loss {} at iteration {it}", fig(*l)),
                None => String::new(),
            };
            return Some(with_action(
                diagnostic(
                    s.iteration,
                    DiagnosticKind::Divergence,
                    Severity::Error,
                    "loss is not a number: training diverged".to_string(),
                    format!(
                        "data loss {} and reg loss {} at iteration {}{last}",
                        fig(loss),
                        fig(s.reg_loss),
                        s.iteration
                    ),
                    action,
                ),
                act,
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
                Some((it, l)) => format!(" (iteration {it}: {})", fig(l)),
                None => String::new(),
            };
            return Some(with_action(
                diagnostic(
                    s.iteration,
                    DiagnosticKind::Divergence,
                    Severity::Error,
                    "loss exploded in one step: training diverged".to_string(),
                    format!(
                        "data loss {loss} at iteration {}{last} is above {} × the start \
                     {reference} = {spike_limit}",
                        s.iteration,
                        self.cfg.divergence_spike_factor,
                        loss = fig(loss),
                        reference = fig(reference),
                        spike_limit = fig(spike_limit)
                    ),
                    action,
                ),
                act,
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
        Some(with_action(
            diagnostic(
                s.iteration,
                DiagnosticKind::Divergence,
                Severity::Error,
                "loss is exploding: training diverged".to_string(),
                format!(
                    "median data loss {smoothed} over iterations {first}–{} is above {} × the \
                 start {reference} = {limit}",
                    s.iteration,
                    self.cfg.divergence_factor,
                    smoothed = fig(smoothed),
                    reference = fig(reference),
                    limit = fig(limit)
                ),
                action,
            ),
            act,
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
