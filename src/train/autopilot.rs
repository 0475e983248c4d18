//! The advice autopilot's policy: which diagnostic's action to apply and when, within a budget.
//! At most one change per `every` evaluations; never two opposite changes to a knob in a row; a
//! change is judged at the first evaluation after it and reverted (weights and old value back)
//! when validation accuracy fell by more than its sampling noise. A blown-up or killed network
//! (divergence, dead ReLUs) is acted on at once, by reverting a change still under judgement, or
//! else by the diagnostic's own action; such a rescue is never reverted (what it left was broken).

use super::advice::{Direction, lr_direction};
use super::events::{Action, Diagnostic, DiagnosticKind, Knob};

/// Evaluations between two changes: one to judge the change, one more to see it settle.
pub const DEFAULT_EVERY: u64 = 2;

/// A change waiting for its verdict, with what reverting it needs.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The knob it set and the value before, if it set one.
    pub knob: Option<(Knob, f64)>,
    /// The weights before the change.
    pub weights: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// Validation accuracy when it was made (chance before the first evaluation).
    pub baseline: f32,
    /// Evaluations seen when it was made.
    pub at_eval: u64,
    /// The diagnostic title that asked for it.
    pub reason: String,
}

/// What the trainer should do now.
#[derive(Debug, Clone)]
pub enum Decision {
    Apply { action: Action, reason: String },
    Revert { pending: Box<Pending>, why: String },
}

#[derive(Debug, Clone)]
pub struct Autopilot {
    pub is_on: bool,
    pub every: u64,
    evals: u64,
    last_change_eval: Option<u64>,
    /// The knob and direction of the last change it made.
    last_move: Option<(Knob, Option<Direction>)>,
    pending: Option<Pending>,
    /// A move that was reverted is not tried again: the learning rate in that direction, another
    /// knob at all.
    banned: Option<(Knob, Option<Direction>)>,
}

impl Autopilot {
    pub fn new(is_on: bool) -> Self {
        Self {
            is_on,
            every: DEFAULT_EVERY,
            evals: 0,
            last_change_eval: None,
            last_move: None,
            pending: None,
            banned: None,
        }
    }

    /// Evaluations seen so far.
    pub fn evals(&self) -> u64 {
        self.evals
    }

    /// What to do about `d`, at learning rate `lr`.
    pub fn on_diagnostic(&mut self, d: &Diagnostic, lr: f32) -> Option<Decision> {
        if !self.is_on {
            return None;
        }
        let is_rescue = matches!(
            d.kind,
            DiagnosticKind::Divergence | DiagnosticKind::DeadRelu
        );
        if is_rescue && let Some(p) = self.pending.take() {
            return Some(Decision::Revert {
                pending: Box::new(p),
                why: format!("{} after it", d.title),
            });
        }
        let action = d.action.clone()?;
        if !is_rescue {
            let is_too_soon = self
                .last_change_eval
                .is_some_and(|at| self.evals < at + self.every);
            if is_too_soon || self.pending.is_some() {
                return None;
            }
            let dir = lr_direction(&action, lr);
            if action
                .knob
                .is_some_and(|k| self.banned == Some((k.knob, dir)))
            {
                return None;
            }
            if let (Some(k), Some((last_k, last_dir))) = (action.knob, self.last_move)
                && k.knob == last_k
                && dir.is_some()
                && last_dir.is_some()
                && dir != last_dir
            {
                return None;
            }
        }
        Some(Decision::Apply {
            action,
            reason: d.title.clone(),
        })
    }

    /// Records a change just made; `pending` is `None` for a rescue (never reverted).
    pub fn record_change(&mut self, action: &Action, lr: f32, pending: Option<Pending>) {
        self.last_change_eval = Some(self.evals);
        self.last_move = action.knob.map(|k| (k.knob, lr_direction(action, lr)));
        self.pending = pending;
    }

    /// Judges the change under way at an evaluation; `Some` when it must be reverted.
    pub fn on_evaluation(&mut self, val_accuracy: f32, val_size: usize) -> Option<Decision> {
        self.evals += 1;
        let p = self.pending.take_if(|p| self.evals > p.at_eval)?;
        if !self.is_on {
            return None;
        }
        // One standard error of the baseline accuracy on this many images: less is noise.
        let b = p.baseline.clamp(0.0, 1.0);
        let noise = (b * (1.0 - b) / val_size.max(1) as f32).sqrt();
        if val_accuracy + noise < p.baseline {
            let why = format!(
                "validation accuracy {:.2}% fell below {:.2}% (when it was made) by more than \
                 its noise {:.2}",
                100.0 * val_accuracy,
                100.0 * p.baseline,
                100.0 * noise
            );
            return Some(Decision::Revert {
                pending: Box::new(p),
                why,
            });
        }
        None
    }

    /// A revert is itself a change: the budget starts again and the reverted move is not repeated.
    pub fn record_revert(&mut self) {
        self.last_change_eval = Some(self.evals);
        self.pending = None;
        self.banned = self.last_move;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::events::{KnobSetting, Severity};

    fn lr_advice(kind: DiagnosticKind, value: f64) -> Diagnostic {
        Diagnostic {
            iteration: 1,
            kind,
            severity: Severity::Warn,
            title: format!("{kind:?}"),
            evidence: String::new(),
            suggestion: String::new(),
            action: Some(Action {
                rollback: None,
                knob: Some(KnobSetting {
                    knob: Knob::LearningRate,
                    value,
                }),
            }),
        }
    }

    fn pending(baseline: f32, at_eval: u64) -> Pending {
        Pending {
            knob: Some((Knob::LearningRate, 0.1)),
            weights: Vec::new(),
            baseline,
            at_eval,
            reason: String::new(),
        }
    }

    #[test]
    fn off_does_nothing() {
        let mut a = Autopilot::new(false);
        assert!(
            a.on_diagnostic(&lr_advice(DiagnosticKind::Plateau, 0.01), 0.1)
                .is_none()
        );
    }

    #[test]
    fn one_change_per_budget_and_no_reversal_in_a_row() {
        let mut a = Autopilot::new(true);
        let raise = lr_advice(DiagnosticKind::LearningRateTooLow, 1.0);
        let Some(Decision::Apply { action, .. }) = a.on_diagnostic(&raise, 0.1) else {
            panic!("the first change is applied");
        };
        a.record_change(&action, 0.1, None);
        let lower = lr_advice(DiagnosticKind::Plateau, 0.1);
        assert!(a.on_diagnostic(&lower, 1.0).is_none(), "within the budget");
        a.on_evaluation(0.9, 1000);
        a.on_evaluation(0.9, 1000);
        assert!(
            a.on_diagnostic(&lower, 1.0).is_none(),
            "the opposite move in a row"
        );
        assert!(a.on_diagnostic(&raise, 1.0).is_some());
    }

    #[test]
    fn a_change_that_hurts_validation_is_reverted() {
        let mut a = Autopilot::new(true);
        let d = lr_advice(DiagnosticKind::Plateau, 0.01);
        let action = d.action.clone().unwrap_or(Action {
            rollback: None,
            knob: None,
        });
        a.record_change(&action, 0.1, Some(pending(0.90, 0)));
        // 1,000 images at 90%: noise √(0.9·0.1/1000) ≈ 0.95 points; 89.5% is within it.
        assert!(a.on_evaluation(0.895, 1000).is_none());
        a.record_change(&action, 0.1, Some(pending(0.90, 1)));
        assert!(matches!(
            a.on_evaluation(0.85, 1000),
            Some(Decision::Revert { .. })
        ));
    }

    #[test]
    fn a_rescue_reverts_the_change_under_judgement() {
        let mut a = Autopilot::new(true);
        let d = lr_advice(DiagnosticKind::LearningRateTooLow, 1.0);
        let action = d.action.clone().unwrap_or(Action {
            rollback: None,
            knob: None,
        });
        a.record_change(&action, 0.1, Some(pending(0.5, 0)));
        let dead = lr_advice(DiagnosticKind::DeadRelu, 0.1);
        assert!(matches!(
            a.on_diagnostic(&dead, 1.0),
            Some(Decision::Revert { .. })
        ));
        // With nothing to revert, the rescue's own action goes through at once.
        assert!(matches!(
            a.on_diagnostic(&dead, 1.0),
            Some(Decision::Apply { .. })
        ));
    }
}
