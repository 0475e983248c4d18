//! The trainer's side of advice: applying a diagnostic's action (from a key, a viewer or the
//! autopilot), rolling back to the starting weights, and the autopilot's hooks.

use super::*;
use crate::train::advice::describe;
use crate::train::autopilot::{Decision, Pending};

/// A network's parameters as `Network::tensors` gives them: (name, shape, values).
pub(super) type Weights = Vec<(String, Vec<usize>, Vec<f32>)>;

impl Trainer {
    /// Applies `action` on behalf of `source`: the roll-back first, then the knob. False when
    /// the roll-back failed (then the knob is left alone).
    pub(super) fn apply_action(
        &mut self,
        action: &Action,
        source: KnobSource,
        reason: Option<String>,
    ) -> bool {
        let is_rolled_back = match action.rollback {
            Some(RollbackTarget::Best) => self.rollback(),
            Some(RollbackTarget::Start) => {
                let weights = self.start_weights.clone();
                self.restore_weights(&weights, Restore::Start, "the starting weights")
            }
            None => true,
        };
        if !is_rolled_back {
            return false;
        }
        if let Some(k) = action.knob {
            self.set_knob_from(k.knob, k.value, source, reason);
        }
        true
    }

    /// Loads `weights` into the network and starts the momentum and the diagnostics' trends anew.
    fn restore_weights(&mut self, weights: &Weights, to: Restore, what: &str) -> bool {
        let loaded = self.run.net.load_tensors(|name| {
            weights
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, shape, values)| (shape.clone(), values.clone()))
        });
        match loaded {
            Ok(()) => {
                self.run.sgd.velocity.clear();
                self.diagnostics.reset_after_rollback();
                self.note_rollback(to, None);
                self.send_message(Severity::Info, &format!("rolled back to {what}"));
                if self.state == RunState::Diverged {
                    self.set_state(RunState::Paused);
                }
                true
            }
            Err(e) => {
                self.send_message(Severity::Warn, &format!("no roll-back to {what}: {e}"));
                false
            }
        }
    }

    pub(super) fn set_autopilot(&mut self, on: bool) {
        self.autopilot.is_on = on;
        self.record(&Record::Autopilot {
            iteration: self.run.iteration,
            on,
        });
        self.send(Event::Autopilot { on });
        let text = if on {
            "autopilot on: advice is applied as it comes (one change per 2 evaluations)"
        } else {
            "autopilot off: advice is only shown"
        };
        self.send_message(Severity::Info, text);
    }

    /// The autopilot's look at a diagnostic just reported; true when it changed something.
    pub(super) fn autopilot_on_diagnostic(&mut self, d: &Diagnostic) -> bool {
        let lr = self.run.knobs.learning_rate;
        match self.autopilot.on_diagnostic(d, lr) {
            Some(Decision::Apply { action, reason }) => {
                let is_rescue = matches!(
                    d.kind,
                    DiagnosticKind::Divergence | DiagnosticKind::DeadRelu
                );
                let pending = (!is_rescue).then(|| Pending {
                    knob: action.knob.map(|k| (k.knob, self.run.knobs.get(k.knob))),
                    weights: self.run.net.tensors(),
                    baseline: self.last_val_accuracy.unwrap_or(self.chance_accuracy()),
                    at_eval: self.autopilot.evals(),
                    reason: reason.clone(),
                });
                let text = format!("autopilot: {} ({reason})", describe(&action));
                if !self.apply_action(&action, KnobSource::Autopilot, Some(reason)) {
                    return false;
                }
                self.autopilot.record_change(&action, lr, pending);
                self.send_message(Severity::Info, &text);
                self.resume_after_rescue();
                true
            }
            Some(Decision::Revert { pending, why }) => {
                self.revert(*pending, &why);
                true
            }
            None => false,
        }
    }

    /// The autopilot's look at an evaluation: a change that made validation worse is undone.
    pub(super) fn autopilot_on_evaluation(&mut self, e: &EvalStats) {
        self.last_val_accuracy = Some(e.val_accuracy);
        let val_size = self.run.split.val.len();
        if let Some(Decision::Revert { pending, why }) =
            self.autopilot.on_evaluation(e.val_accuracy, val_size)
        {
            self.revert(*pending, &why);
        }
    }

    fn revert(&mut self, p: Pending, why: &str) {
        self.restore_weights(
            &p.weights,
            Restore::BeforeChange,
            "the weights from before the autopilot's last change",
        );
        if let Some((knob, old)) = p.knob {
            let reason = format!("revert of \"{}\": {why}", p.reason);
            self.set_knob_from(knob, old, KnobSource::Autopilot, Some(reason));
        }
        self.autopilot.record_revert();
        self.send_message(
            Severity::Info,
            &format!("autopilot: reverted \"{}\": {why}", p.reason),
        );
        self.resume_after_rescue();
    }

    /// The autopilot handled a divergence: training goes on (a person would press resume).
    fn resume_after_rescue(&mut self) {
        if self.autopilot.is_on && matches!(self.state, RunState::Paused | RunState::Diverged) {
            self.set_state(RunState::Running);
        }
    }

    fn chance_accuracy(&self) -> f32 {
        1.0 / self.run.data.num_classes().max(1) as f32
    }
}
