//! Building a diagnostic, and the numbers and lists in its text.

use crate::train::events::{
    Action, Diagnostic, DiagnosticKind, Knob, KnobSetting, RollbackTarget, Severity,
};

pub(super) fn diagnostic(
    iteration: u64,
    kind: DiagnosticKind,
    severity: Severity,
    title: String,
    evidence: String,
    suggestion: String,
) -> Diagnostic {
    Diagnostic {
        iteration,
        kind,
        severity,
        title,
        evidence,
        suggestion,
        action: None,
    }
}

/// The same diagnostic with an action to apply.
pub(super) fn with_action(mut d: Diagnostic, action: Option<Action>) -> Diagnostic {
    d.action = action;
    d
}

/// Sets `knob` to `value`, with an optional roll-back first.
pub(super) fn knob_action(
    rollback: Option<RollbackTarget>,
    knob: Knob,
    value: f32,
) -> Option<Action> {
    Some(Action {
        rollback,
        knob: Some(KnobSetting {
            knob,
            value: f64::from(value),
        }),
    })
}

/// Losses as "0.412 → 0.455 → 0.498".
pub(super) fn arrow_list(values: impl IntoIterator<Item = f32>) -> String {
    values.into_iter().map(fig).collect::<Vec<_>>().join(" → ")
}

/// Iterations as "1500, 1800, 2100".
pub(super) fn iteration_list(values: impl IntoIterator<Item = u64>) -> String {
    values
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A rate or λ as "3.0e-4".
pub(super) fn sci(v: f32) -> String {
    format!("{v:.1e}")
}

/// A loss or norm in a message: three or four significant figures, exponent form when large
/// (`0.412`, `2.303`, `5.43e23`).
pub(super) fn fig(v: f32) -> String {
    crate::units::sig(f64::from(v))
}
