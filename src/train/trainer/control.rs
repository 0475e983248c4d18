//! Knob changes, the learning-rate schedule, checkpoints and roll-back.

use super::*;
use crate::train::knobs;

impl Trainer {
    pub(super) fn set_knob(&mut self, knob: Knob, value: f64) {
        self.set_knob_from(knob, value, KnobSource::Hand, None);
    }

    /// Sets a knob on behalf of `source`; the change is recorded with it (and its reason).
    pub(super) fn set_knob_from(
        &mut self,
        knob: Knob,
        value: f64,
        source: KnobSource,
        reason: Option<String>,
    ) {
        let old = self.run.knobs.get(knob);
        if let Err(e) = knobs::set(&mut self.run.knobs, knob, value) {
            let kept = knobs::format_value(old);
            self.send_message(Severity::Warn, &format!("{e}; kept {kept}"));
            return;
        }
        self.run.augment.is_crop_on = self.run.knobs.augment_crop;
        self.run.augment.is_flip_on = self.run.knobs.augment_flip;
        if old != self.run.knobs.get(knob) {
            let change = KnobChange {
                iteration: self.run.iteration,
                knob,
                old,
                new: self.run.knobs.get(knob),
                source,
                reason,
            };
            self.record(&Record::Knob(change.clone()));
            self.send(Event::KnobChanged(change));
        }
    }

    /// The end-of-epoch step of the learning-rate schedule, recorded like a turned knob.
    pub(super) fn decay_learning_rate(&mut self) {
        let factor = self.run.config.lr_decay_factor();
        if factor < 1.0 {
            // a long schedule stops at the authority's floor instead of being refused
            let lr = (f64::from(self.run.knobs.learning_rate) * f64::from(factor))
                .max(knobs::MIN_LEARNING_RATE);
            self.set_knob_from(Knob::LearningRate, lr, KnobSource::Schedule, None);
        }
    }

    pub(super) fn rollback(&mut self) {
        let path = self.run.dir.file(BEST_CHECKPOINT);
        let loaded = Checkpoint::load(&path).and_then(|ck| {
            self.run.net.load_tensors(|name| ck.find(name))?;
            Ok(ck.state.iteration)
        });
        match loaded {
            Ok(at) => {
                // the velocity belongs to the bad trajectory: start the momentum afresh
                self.run.sgd.velocity.clear();
                self.diagnostics.reset_after_rollback();
                self.send_message(
                    Severity::Info,
                    &format!("rolled back to the best checkpoint (iteration {at})"),
                );
                if self.state == RunState::Diverged {
                    self.set_state(RunState::Paused);
                }
            }
            Err(e) => self.send_message(
                Severity::Warn,
                &format!("no roll-back: {e}; evaluate (e) to make a best checkpoint"),
            ),
        }
    }

    pub(super) fn save_checkpoint(&mut self, name: &str) {
        let run = &mut self.run;
        let names: Vec<(String, Vec<usize>)> = run
            .net
            .params_mut()
            .into_iter()
            .map(|p| (p.name, p.shape))
            .collect();
        let velocity = if run.sgd.velocity.len() == names.len() {
            names
                .iter()
                .zip(&run.sgd.velocity)
                .map(|((n, s), v)| (n.clone(), s.clone(), v.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let ckpt = Checkpoint {
            state: TrainerState {
                iteration: run.iteration,
                knobs: run.knobs,
                batcher: run.batcher.rng_state(),
                best_val_accuracy: run.best.map(|b| b.0),
                best_iteration: run.best.map(|b| b.1),
                net_spec: run.net.spec.clone(),
                input_shape: run.net.input_shape(),
            },
            net: run.net.tensors(),
            velocity,
            preprocess: run.preprocess.tensors(),
        };
        let path = run.dir.file(name);
        match ckpt.save(&path) {
            Ok(()) => {
                let iteration = run.iteration;
                let path = path.display().to_string();
                self.record(&Record::Checkpoint { iteration, path: path.clone() });
                self.send(Event::CheckpointSaved { iteration, path });
            }
            Err(e) => self.send_message(
                Severity::Error,
                &format!("checkpoint not written: {e}; training goes on and the previous checkpoint is intact — free some space"),
            ),
        }
    }
}
