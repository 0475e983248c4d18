//! The one arbiter of advice: what a diagnostic's action does to the learning rate, and a rule that
//! keeps two diagnostics from pushing it both ways at one rate.

use super::events::{Action, Diagnostic, DiagnosticKind, Knob, RollbackTarget};

/// Which way an action moves the learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Raise,
    Lower,
}

/// The learning-rate direction of `action` from the rate `lr`, if it sets the rate.
pub fn lr_direction(action: &Action, lr: f32) -> Option<Direction> {
    let k = action.knob?;
    if k.knob != Knob::LearningRate {
        return None;
    }
    if k.value > f64::from(lr) {
        Some(Direction::Raise)
    } else if k.value < f64::from(lr) {
        Some(Direction::Lower)
    } else {
        None
    }
}

/// The kinds whose advice overrides an earlier verdict: a blown-up or killed network.
fn is_emergency(kind: DiagnosticKind) -> bool {
    matches!(kind, DiagnosticKind::Divergence | DiagnosticKind::DeadRelu)
}

/// Remembers the learning-rate verdict given at the current rate.
#[derive(Debug, Clone, Default)]
pub struct Arbiter {
    /// (rate, direction) of the last learning-rate advice let through.
    verdict: Option<(f32, Direction)>,
}

impl Arbiter {
    /// True when `d` may be reported at rate `lr`. A "raise" is refused while `is_raise_barred`
    /// (dead ReLUs, a divergence) and after a "lower" at the same rate; a "lower" after a "raise"
    /// at the same rate only for an emergency (divergence, dead ReLUs), which then stands.
    pub fn admit(&mut self, d: &Diagnostic, lr: f32, is_raise_barred: bool) -> bool {
        let Some(dir) = d.action.as_ref().and_then(|a| lr_direction(a, lr)) else {
            return true;
        };
        if dir == Direction::Raise && is_raise_barred {
            return false;
        }
        match self.verdict {
            Some((at, was)) if at == lr && was != dir && !is_emergency(d.kind) => false,
            _ => {
                self.verdict = Some((lr, dir));
                true
            }
        }
    }
}

/// The action in a few words: "roll back to the best checkpoint, then learning rate → 5e-3".
pub fn describe(action: &Action) -> String {
    let mut parts = Vec::new();
    match action.rollback {
        Some(RollbackTarget::Best) => parts.push("roll back to the best checkpoint".to_string()),
        Some(RollbackTarget::Start) => parts.push("roll back to the starting weights".to_string()),
        None => {}
    }
    if let Some(k) = action.knob {
        let value = if k.knob.is_switch() {
            if k.value == 0.0 { "off" } else { "on" }.to_string()
        } else {
            short(k.value)
        };
        parts.push(format!("{} → {value}", k.knob.label()));
    }
    parts.join(", then ")
}

/// A knob value in at most 3 significant figures: 0.005, 0.15, 1e-4 (scientific below 1e-3).
pub fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        let text = format!("{v:.2e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exp}");
    }
    let text = format!("{v:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::events::{KnobSetting, Severity};

    fn advice(kind: DiagnosticKind, lr: f64) -> Diagnostic {
        Diagnostic {
            iteration: 1,
            kind,
            severity: Severity::Warn,
            title: String::new(),
            evidence: String::new(),
            suggestion: String::new(),
            action: Some(Action {
                rollback: None,
                knob: Some(KnobSetting {
                    knob: Knob::LearningRate,
                    value: lr,
                }),
            }),
        }
    }

    #[test]
    fn no_raise_after_a_lower_at_the_same_rate() {
        let mut a = Arbiter::default();
        assert!(a.admit(&advice(DiagnosticKind::DeadRelu, 0.05), 0.15, false));
        assert!(!a.admit(&advice(DiagnosticKind::Plateau, 0.45), 0.15, false));
        // A new rate is a new experiment.
        assert!(a.admit(
            &advice(DiagnosticKind::LearningRateTooLow, 0.5),
            0.05,
            false
        ));
    }

    #[test]
    fn emergencies_override_and_raises_wait_while_barred() {
        let mut a = Arbiter::default();
        assert!(!a.admit(&advice(DiagnosticKind::LearningRateTooLow, 1.0), 0.1, true));
        assert!(a.admit(&advice(DiagnosticKind::LearningRateTooLow, 1.0), 0.1, false));
        assert!(!a.admit(&advice(DiagnosticKind::Plateau, 0.01), 0.1, false));
        assert!(a.admit(&advice(DiagnosticKind::Divergence, 0.01), 0.1, false));
    }

    #[test]
    fn short_values() {
        assert_eq!(short(0.005), "0.005");
        assert_eq!(short(1e-4), "1e-4");
        assert_eq!(short(1.5e-5), "1.5e-5");
        assert_eq!(short(64.0), "64");
    }

    #[test]
    fn describes_rollback_and_knob() {
        let mut d = advice(DiagnosticKind::Divergence, 0.005);
        if let Some(a) = d.action.as_mut() {
            a.rollback = Some(RollbackTarget::Best);
        }
        let text = d.action.as_ref().map(describe).unwrap_or_default();
        assert_eq!(
            text,
            "roll back to the best checkpoint, then learning rate → 0.005"
        );
    }
}
