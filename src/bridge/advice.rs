//! Advice for a foreign loop, as convtop's own trainer follows it: a diagnostic's action applied
//! from a viewer (`apply_advice`) or by the autopilot (`set_autopilot`, the same policy as
//! `train::autopilot`), handed to the loop in its next `Directive`. The weights live in the loop,
//! so a roll-back or a revert is a directive too: the loop keeps the starting weights and, when
//! told (`should_stash`), the weights from before an autopilot change.

use super::Bridge;
use super::steering::Directive;
use crate::train::advice::describe;
use crate::train::autopilot::{Decision, Pending};
use crate::train::rundir::{BEST_CHECKPOINT, Record};
use crate::train::{
    Action, Diagnostic, DiagnosticKind, Event, KnobSource, RollbackTarget, RunState, Severity,
};

/// Which weights the loop must load before its next iteration.
pub use crate::train::events::Restore;
use crate::train::events::Rollback;

impl Bridge {
    /// Switches the autopilot, as `convtop --autopilot` or the `A` key does for the native trainer.
    pub fn set_autopilot(&mut self, on: bool) {
        self.autopilot.is_on = on;
        self.record(&Record::Autopilot {
            iteration: self.iteration,
            on,
        });
        self.send(Event::Autopilot { on });
        // the native trainer's words (train/trainer/autopilot.rs)
        let text = if on {
            "autopilot on: advice is applied as it comes (one change per 2 evaluations)"
        } else {
            "autopilot off: advice is only shown"
        };
        self.send_message(Severity::Info, text);
    }

    /// Records weights put back, as the native trainer does (metrics.jsonl and the viewers).
    pub(super) fn note_rollback(&mut self, to: Restore, saved_at: Option<u64>) {
        let rollback = Rollback {
            iteration: self.iteration,
            to,
            saved_at,
        };
        self.record(&Record::Rollback(rollback));
        self.send(Event::RolledBack(rollback));
    }

    pub fn is_autopilot_on(&self) -> bool {
        self.autopilot.is_on
    }

    /// Applies `action` for `source` into `d`: the roll-back first, then the knob. False when the
    /// roll-back cannot be made (the knob is then left alone).
    pub(super) fn apply_action(
        &mut self,
        action: &Action,
        source: KnobSource,
        reason: Option<String>,
        d: &mut Directive,
    ) -> bool {
        match action.rollback {
            Some(RollbackTarget::Best) => {
                if !self.dir.file(BEST_CHECKPOINT).is_file() {
                    let text =
                        "no roll-back: there is no best checkpoint yet; evaluate (e) to make one";
                    self.send_message(Severity::Warn, text);
                    return false;
                }
                d.rollback = Some(Restore::Best);
            }
            Some(RollbackTarget::Start) => self.restore(Restore::Start, "the starting weights", d),
            None => {}
        }
        if let Some(k) = action.knob
            && let Some(v) = self.set_knob(k.knob, k.value, source, reason)
        {
            d.set(k.knob, v);
        }
        true
    }

    /// Tells the loop to load weights it keeps; the diagnostics start afresh from them.
    fn restore(&mut self, which: Restore, what: &str, d: &mut Directive) {
        d.rollback = Some(which);
        self.diagnostics.reset_after_rollback();
        self.note_rollback(which, None);
        self.send_message(Severity::Info, &format!("rolled back to {what}"));
        if self.state == RunState::Diverged {
            self.set_state(RunState::Paused);
        }
    }

    /// The autopilot's look at a diagnostic just reported; true when it changed something.
    pub(super) fn autopilot_on_diagnostic(&mut self, diag: &Diagnostic) -> bool {
        let lr = self.knobs.learning_rate;
        let mut d = std::mem::take(&mut self.directive);
        let is_changed = match self.autopilot.on_diagnostic(diag, lr) {
            Some(Decision::Apply { action, reason }) => {
                let is_rescue = matches!(
                    diag.kind,
                    DiagnosticKind::Divergence | DiagnosticKind::DeadRelu
                );
                let pending = (!is_rescue).then(|| Pending {
                    knob: action.knob.map(|k| (k.knob, self.knobs.get(k.knob))),
                    // the loop stashes its weights instead (`should_stash`)
                    weights: Vec::new(),
                    baseline: self.last_val_accuracy.unwrap_or(self.chance_accuracy()),
                    at_eval: self.autopilot.evals(),
                    reason: reason.clone(),
                });
                let text = format!("autopilot: {} ({reason})", describe(&action));
                d.should_stash |= pending.is_some();
                let is_applied =
                    self.apply_action(&action, KnobSource::Autopilot, Some(reason), &mut d);
                if is_applied {
                    self.autopilot.record_change(&action, lr, pending);
                    self.send_message(Severity::Info, &text);
                    self.resume_after_rescue();
                }
                is_applied
            }
            Some(Decision::Revert { pending, why }) => {
                self.revert(*pending, &why, &mut d);
                true
            }
            None => false,
        };
        self.directive = d;
        is_changed
    }

    /// The autopilot's look at an evaluation: a change that made validation worse is undone.
    pub(super) fn autopilot_on_evaluation(&mut self, val_accuracy: f32) {
        self.last_val_accuracy = Some(val_accuracy);
        let val_size = self.info.val_size;
        if let Some(Decision::Revert { pending, why }) =
            self.autopilot.on_evaluation(val_accuracy, val_size)
        {
            let mut d = std::mem::take(&mut self.directive);
            self.revert(*pending, &why, &mut d);
            self.directive = d;
        }
    }

    fn revert(&mut self, p: Pending, why: &str, d: &mut Directive) {
        let what = "the weights from before the autopilot's last change";
        self.restore(Restore::BeforeChange, what, d);
        if let Some((knob, old)) = p.knob {
            let reason = format!("revert of \"{}\": {why}", p.reason);
            if let Some(v) = self.set_knob(knob, old, KnobSource::Autopilot, Some(reason)) {
                d.set(knob, v);
            }
        }
        self.autopilot.record_revert();
        let text = format!("autopilot: reverted \"{}\": {why}", p.reason);
        self.send_message(Severity::Info, &text);
        self.resume_after_rescue();
    }

    /// The autopilot handled a divergence: training goes on (a person would press resume).
    fn resume_after_rescue(&mut self) {
        if self.autopilot.is_on && matches!(self.state, RunState::Paused | RunState::Diverged) {
            self.set_state(RunState::Running);
        }
    }

    fn chance_accuracy(&self) -> f32 {
        1.0 / self.info.classes.len().max(1) as f32
    }
}
