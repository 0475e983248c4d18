//! One iteration of the foreign loop: its stats recorded and diagnosed, the viewers' commands
//! turned into a `Directive`, knob values validated, pauses held; and its evaluations.

use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Bridge;
use super::advice::Restore;
use crate::train::diagnostics::is_diverged;
use crate::train::knobs;
use crate::train::rundir::Record;
use crate::train::{
    Command, Diagnostic, EvalStats, Event, IterStats, Knob, KnobChange, KnobSource, Knobs,
    RunState, Severity,
};

/// metrics.jsonl is flushed at least this often, so `attach` and `ls` see recent iterations.
const METRICS_FLUSH: Duration = Duration::from_secs(1);

/// What the loop measured in one iteration, and the knob values it actually used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInput {
    pub loss: f32,
    /// Accuracy on the iteration's batch, 0..1; 0 when the loop does not say.
    pub accuracy: f32,
    pub batch_size: usize,
    /// The optimiser's values during this iteration (read from it, so a scheduler's steps show).
    pub learning_rate: f32,
    pub lambda: f32,
    pub momentum: f32,
}

/// What the loop must do before its next iteration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Directive {
    /// Knob values to apply to the optimiser, already validated and recorded.
    pub knobs: Vec<(Knob, f64)>,
    pub should_evaluate: bool,
    pub should_save: bool,
    /// Weights to load (after stashing, before the knobs).
    pub rollback: Option<Restore>,
    /// Keep a copy of the current weights: the autopilot may revert the change it just made.
    pub should_stash: bool,
    /// A viewer asked for filters and activations (of this probe input).
    pub snapshot: Option<usize>,
    pub should_stop: bool,
    /// The run is paused: call `wait` (which blocks briefly) until this is false.
    pub is_paused: bool,
}

impl Directive {
    pub fn is_empty(&self) -> bool {
        *self == Directive::default()
    }

    /// Sets `knob` to `value`, replacing an earlier value of it in this directive.
    pub fn set(&mut self, knob: Knob, value: f64) {
        self.knobs.retain(|(k, _)| *k != knob);
        self.knobs.push((knob, value));
    }
}

/// One evaluation by the foreign loop. The training figures are optional: when absent, the means
/// of the steps' losses and accuracies since the previous evaluation stand in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalInput {
    pub val_loss: f32,
    pub val_accuracy: f32,
    pub train_loss: Option<f32>,
    pub train_accuracy: Option<f32>,
    pub confusion: Vec<Vec<u32>>,
    /// The factor the loop's scheduler still applies to the rate before its end (the Python
    /// side computes it for the schedulers it knows); `None` when unknown.
    pub schedule_left: Option<f32>,
}

impl Bridge {
    /// Records iteration `iteration + 1` and returns what the viewers asked for since the last.
    pub fn step(&mut self, input: &StepInput) -> Directive {
        self.observe_knobs(input);
        self.iteration += 1;
        let now = Instant::now();
        let secs = now.duration_since(self.last_step).as_secs_f32().max(1e-6);
        self.last_step = now;
        let per_epoch = self.info.iters_per_epoch;
        let stats = IterStats {
            iteration: self.iteration,
            epoch: if per_epoch > 0 {
                self.iteration as f64 / per_epoch as f64
            } else {
                0.0
            },
            data_loss: input.loss,
            reg_loss: 0.0,
            batch_accuracy: input.accuracy,
            knobs: self.knobs,
            images_per_sec: input.batch_size as f32 / secs,
        };
        self.record(&Record::Iter(stats));
        if input.loss.is_finite() && input.accuracy.is_finite() {
            let (loss, acc, n) = self.since_eval;
            self.since_eval = (loss + input.loss as f64, acc + input.accuracy as f64, n + 1);
        }
        if let Some(o) = self.outbox.as_mut() {
            o.push_iteration(stats);
        }
        let diags = self.diagnostics.on_iteration(&stats);
        self.report(diags);
        if self.last_metrics_flush.elapsed() >= METRICS_FLUSH {
            self.flush_metrics();
        }
        self.poll(None)
    }

    /// While paused: waits up to `timeout` for a viewer's command, then says what to do.
    pub fn wait(&mut self, timeout: Duration) -> Directive {
        if let Some(o) = self.outbox.as_mut() {
            o.flush();
        }
        self.poll(Some(timeout))
    }

    fn poll(&mut self, wait: Option<Duration>) -> Directive {
        // what the autopilot decided since the last poll comes first
        let mut d = std::mem::take(&mut self.directive);
        if let Some(timeout) = wait {
            match self.commands.recv_timeout(timeout) {
                Ok(cmd) => self.handle(cmd, &mut d),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => d.should_stop = true,
            }
        }
        loop {
            match self.commands.try_recv() {
                Ok(cmd) => self.handle(cmd, &mut d),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    d.should_stop = true;
                    break;
                }
            }
        }
        let is_held = matches!(self.state, RunState::Paused | RunState::Diverged);
        if is_held && !d.should_stop {
            if self.steps_requested > 0 {
                self.steps_requested -= 1;
            } else {
                d.is_paused = true;
            }
        }
        d
    }

    fn handle(&mut self, cmd: Command, d: &mut Directive) {
        match cmd {
            Command::SetKnob { knob, value } => {
                if let Some(v) = self.set_knob(knob, value, KnobSource::Hand, None) {
                    d.set(knob, v);
                }
            }
            Command::Pause => {
                if self.state == RunState::Running {
                    self.set_state(RunState::Paused);
                }
            }
            Command::Resume => {
                if matches!(self.state, RunState::Paused | RunState::Diverged) {
                    self.set_state(RunState::Running);
                }
            }
            Command::Step => {
                if matches!(self.state, RunState::Paused | RunState::Diverged) {
                    self.steps_requested += 1;
                }
            }
            Command::EvaluateNow => d.should_evaluate = true,
            Command::SaveCheckpoint => d.should_save = true,
            Command::RollbackToBest => d.rollback = Some(Restore::Best),
            Command::RequestSnapshot { input_index } => d.snapshot = Some(input_index),
            Command::RequestDataView => {
                if !self.is_data_view_answered {
                    self.is_data_view_answered = true;
                    self.send_message(
                        Severity::Info,
                        "the data tab needs convtop's own data pipeline: a PyTorch run has none",
                    );
                }
            }
            Command::EvaluateTest => self.send_message(
                Severity::Warn,
                "the test set of this run belongs to the training script: evaluate it there, once",
            ),
            Command::Stop => d.should_stop = true,
            Command::ApplyAdvice { action, reason } => {
                self.apply_action(&action, KnobSource::Hand, reason, d);
            }
            Command::SetAutopilot { on } => self.set_autopilot(on),
        }
    }

    /// Validates and records a knob change; the value to apply, or None when refused or unchanged.
    pub fn set_knob(
        &mut self,
        knob: Knob,
        value: f64,
        source: KnobSource,
        reason: Option<String>,
    ) -> Option<f64> {
        if !self.supported.contains(&knob) {
            let owner = match knob {
                Knob::BatchSize | Knob::AugmentCrop | Knob::AugmentFlip => {
                    "the training script's data loader owns it"
                }
                _ => "the optimiser of this run has no such setting",
            };
            let text = format!("{} refused: {owner}", knob.label());
            self.send_message(Severity::Warn, &text);
            return None;
        }
        let old = self.knobs.get(knob);
        let mut knobs = self.knobs;
        if source == KnobSource::Schedule {
            // what the script's own scheduler already did is a fact to record, not a request
            observe(&mut knobs, knob, value);
        } else if let Err(e) = knobs::set(&mut knobs, knob, value) {
            self.send_message(Severity::Warn, &format!("{e}; kept {old}"));
            return None;
        }
        let new = knobs.get(knob);
        if new == old {
            return None;
        }
        self.knobs = knobs;
        if source == KnobSource::Hand {
            self.hand_changes.retain(|(k, _)| *k != knob);
            self.hand_changes.push((knob, self.iteration));
        }
        let change = KnobChange {
            iteration: self.iteration,
            knob,
            old,
            new,
            source,
            reason,
        };
        self.record(&Record::Knob(change.clone()));
        self.send(Event::KnobChanged(change));
        Some(new)
    }

    /// The loop's own changes (an lr_scheduler) are recorded as schedule steps; one that undoes a
    /// hand change is reported, so the two do not fight silently.
    fn observe_knobs(&mut self, input: &StepInput) {
        let seen = [
            (Knob::LearningRate, input.learning_rate),
            (Knob::Lambda, input.lambda),
            (Knob::Momentum, input.momentum),
        ];
        for (knob, value) in seen {
            // read as the knobs are (an f32 a step), so an unchanged value compares equal
            let value = crate::train::events::widen(value);
            // a value decided since the last poll (by the autopilot) has not reached the loop yet
            let is_pending = self.directive.knobs.iter().any(|(k, _)| *k == knob);
            if !self.supported.contains(&knob) || is_pending || value == self.knobs.get(knob) {
                continue;
            }
            let old = self.knobs.get(knob);
            let reason = Some("set by the training script (its scheduler)".to_string());
            if self
                .set_knob(knob, value, KnobSource::Schedule, reason)
                .is_some()
                && let Some(&(_, at)) = self.hand_changes.iter().find(|(k, _)| *k == knob)
            {
                let text = format!(
                    "the training script moved {} from {old} (set by hand at iteration {at}) to \
                     {value}: its scheduler now rules it (pass scheduler= to the Monitor to rescale \
                     the schedule instead)",
                    knob.label()
                );
                self.hand_changes.retain(|(k, _)| *k != knob);
                self.send_message(Severity::Warn, &text);
            }
        }
        self.knobs.batch_size = input.batch_size;
    }

    /// Records an evaluation; true when it is the best so far (the loop then saves the best
    /// checkpoint).
    pub fn evaluate(&mut self, input: &EvalInput) -> bool {
        let is_best =
            input.val_loss.is_finite() && self.best.is_none_or(|(acc, _)| input.val_accuracy > acc);
        let per_epoch = self.info.iters_per_epoch;
        // without the loop's own training figures, those of its steps since the last evaluation
        // (their mean: what a PyTorch loop logs as its training loss)
        let (loss_sum, acc_sum, n) = std::mem::take(&mut self.since_eval);
        let mean = |sum: f64| if n > 0 { (sum / n as f64) as f32 } else { 0.0 };
        let (train_loss, train_accuracy) = (mean(loss_sum), mean(acc_sum));
        let stats = EvalStats {
            iteration: self.iteration,
            epoch: if per_epoch > 0 {
                self.iteration as f64 / per_epoch as f64
            } else {
                0.0
            },
            train_loss: input.train_loss.unwrap_or(train_loss),
            train_accuracy: input.train_accuracy.unwrap_or(train_accuracy),
            val_loss: input.val_loss,
            val_accuracy: input.val_accuracy,
            confusion: input.confusion.clone(),
            is_best,
        };
        if is_best {
            self.best = Some((input.val_accuracy, self.iteration));
        }
        self.record(&Record::Eval(stats.clone()));
        self.diagnostics.note_schedule_left(input.schedule_left);
        let diags = self.diagnostics.on_evaluation(&stats);
        self.autopilot_on_evaluation(stats.val_accuracy);
        self.send(Event::Evaluation(stats));
        self.report(diags);
        self.flush_metrics();
        is_best
    }

    fn report(&mut self, diags: Vec<Diagnostic>) {
        for d in diags {
            let is_divergence = is_diverged(&d);
            self.record(&Record::Diagnostic(d.clone()));
            self.send(Event::Diagnostic(d.clone()));
            // the autopilot may rescue a divergence at once; otherwise the run pauses
            let is_rescued = self.autopilot.is_on && self.autopilot_on_diagnostic(&d);
            let should_hold = !is_rescued && !self.should_ignore_divergence;
            if is_divergence && should_hold && self.state == RunState::Running {
                self.set_state(RunState::Diverged);
            }
        }
    }

    fn flush_metrics(&mut self) {
        self.last_metrics_flush = Instant::now();
        if !self.is_metrics_broken && self.metrics.flush().is_err() {
            self.is_metrics_broken = true;
            self.send_message(Severity::Error, "metrics.jsonl is no longer written");
        }
    }
}

/// Stores a value the loop reports having used, as the authority would store it (f32).
fn observe(knobs: &mut Knobs, knob: Knob, value: f64) {
    match knob {
        Knob::LearningRate => knobs.learning_rate = value as f32,
        Knob::Lambda => knobs.lambda = value as f32,
        Knob::Momentum => knobs.momentum = value as f32,
        Knob::BatchSize | Knob::AugmentCrop | Knob::AugmentFlip => {}
    }
}
