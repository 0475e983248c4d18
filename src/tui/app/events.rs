//! How the dashboard state follows the trainer: its events, and its thread going away.

use super::App;
use crate::train::{Event, Knob, Knobs, Severity};
use crate::tui::theme;

/// Diagnostics kept for the panel (collapsed there); the run directory keeps them all.
const MAX_DIAGNOSTICS: usize = 256;
/// Images/s readings kept for the resource pane's sparkline (one a second: two minutes).
const IPS_TRAIL: usize = 120;

impl App {
    pub fn on_event(&mut self, event: Event) {
        self.is_data_dirty = true;
        match event {
            Event::Started(info) => {
                self.knobs = Some(info.knobs);
                self.info = Some(*info);
                self.is_dirty = true;
            }
            Event::Iterations(batch) => {
                if let Some(last) = batch.last() {
                    self.knobs = Some(last.knobs);
                }
                self.history.push_event(&Event::Iterations(batch));
                self.settle_pending();
            }
            Event::Evaluation(stats) => {
                self.history.push_eval(&stats);
                self.confusion = Some(stats.confusion);
            }
            Event::KnobChanged(change) => {
                if let Some(knobs) = self.knobs.as_mut() {
                    set_knob(knobs, change.knob, change.new);
                }
                self.pending.remove(&change.knob);
                self.history.push_knob_change(&change);
            }
            Event::State(state) => {
                if state != self.state {
                    // a message about the old state ("learning rate 0 refused") is stale now
                    self.status = None;
                }
                self.state = state;
                self.is_dirty = true;
            }
            Event::Diagnostic(diagnostic) => {
                self.history.push_diagnostic(&diagnostic);
                self.diagnostics.push(diagnostic);
                if self.diagnostics.len() > MAX_DIAGNOSTICS {
                    self.diagnostics.remove(0);
                }
            }
            Event::Snapshot(snapshot) => {
                // Until the person picks an image, follow the trainer's choice.
                if !self.activations.is_input_chosen {
                    self.activations.input_index = snapshot.input_index;
                }
                self.snapshot = Some(*snapshot);
                self.clamp_layers();
            }
            Event::DataView(view) => self.data_view = Some(*view),
            Event::Autopilot { on } => self.advice.is_autopilot_on = on,
            // the trainer's message says so; the charts mark where
            Event::RolledBack(rollback) => {
                self.history.push_rollback(rollback);
            }
            Event::Resources(report) => {
                // the images/s trail moves with time: a pause shows as a drop to 0
                let ips = match (self.state, self.history.last) {
                    (crate::train::RunState::Running, Some(last)) => last.images_per_sec,
                    _ => 0.0,
                };
                if self.ips_trail.len() >= IPS_TRAIL {
                    self.ips_trail.pop_front();
                }
                self.ips_trail.push_back(ips);
                self.resources = Some(*report);
            }
            Event::CheckpointSaved { iteration, path } => {
                self.last_checkpoint = Some(iteration);
                self.export_after_save();
                let text = format!(
                    "checkpoint saved at iteration {}: {path}",
                    theme::count(iteration)
                );
                self.set_status(Severity::Info, text);
            }
            // the trainer has paused itself; the message says why and what to do
            Event::CheckpointFailed { problem, .. } => {
                // an export waiting for this save takes what is on disk
                self.export_after_save();
                let text = format!("{problem} — paused: fix it, then s saves, space resumes");
                self.set_status(Severity::Error, text);
            }
            Event::Message { level, text } => {
                if level >= Severity::Warn {
                    // The trainer refuses a bad knob value with a warning and keeps the old one.
                    self.pending.clear();
                }
                self.set_status(level, text);
            }
            Event::TestResult {
                accuracy,
                loss,
                count,
                checkpoint,
                iteration,
                mirrored_accuracy,
            } => {
                self.test_result = Some((accuracy, loss, count, iteration));
                let mirrored = mirrored_accuracy
                    .map(|m| format!(", {:.2}% with mirrors", 100.0 * m))
                    .unwrap_or_default();
                let level = if count > 1 {
                    Severity::Warn
                } else {
                    Severity::Info
                };
                let text = format!(
                    "TEST accuracy {:.2}%{mirrored}, loss {loss:.4} ({checkpoint}, iteration {}; test set looked at {count}×{})",
                    100.0 * accuracy,
                    theme::count(iteration),
                    if count > 1 { ": optimistic now" } else { "" }
                );
                self.set_status(level, text);
            }
        }
    }

    /// Starts from a run's past (attach, replay, resume): its curves, last knobs, diagnostics.
    pub fn load_history(&mut self, mut history: crate::train::history::RunHistory) {
        history.set_smoothing(self.training.smoothing);
        if let Some(last) = history.last {
            self.knobs = Some(last.knobs);
        }
        let skip = history.diagnostics.len().saturating_sub(MAX_DIAGNOSTICS);
        self.diagnostics = history.diagnostics[skip..].to_vec();
        self.history = history;
        self.is_dirty = true;
    }

    /// The trainer's thread ended (or dropped its sender): keep showing the final state.
    pub fn on_disconnect(&mut self) {
        self.export_after_save();
        if !self.is_trainer_gone {
            self.is_trainer_gone = true;
            self.pending.clear();
            self.is_dirty = true;
        }
    }

    fn settle_pending(&mut self) {
        let Some(knobs) = self.knobs else { return };
        self.pending.retain(|knob, value| {
            let actual = knobs.get(*knob);
            (actual - *value).abs() > 1e-6 * value.abs().max(1e-12)
        });
    }

    fn clamp_layers(&mut self) {
        if let Some(snapshot) = &self.snapshot {
            let filters = &mut self.filters.layer;
            *filters = (*filters).min(snapshot.filters.len().saturating_sub(1));
            let activations = &mut self.activations.layer;
            *activations = (*activations).min(snapshot.activations.len().saturating_sub(1));
        }
    }
}

fn set_knob(knobs: &mut Knobs, knob: Knob, value: f64) {
    match knob {
        Knob::LearningRate => knobs.learning_rate = value as f32,
        Knob::Lambda => knobs.lambda = value as f32,
        Knob::Momentum => knobs.momentum = value as f32,
        Knob::BatchSize => knobs.batch_size = value.max(1.0).round() as usize,
        Knob::AugmentCrop => knobs.augment_crop = value >= 0.5,
        Knob::AugmentFlip => knobs.augment_flip = value >= 0.5,
    }
}
