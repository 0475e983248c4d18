//! Knob changes, the learning-rate schedule, checkpoints and roll-back.

use super::*;

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
        let k = &mut self.run.knobs;
        let old = k.get(knob);
        let problem = match knob {
            Knob::LearningRate if value.is_finite() && value > 0.0 => {
                k.learning_rate = value as f32;
                None
            }
            Knob::LearningRate => Some("the learning rate must be a positive number"),
            Knob::Lambda if value.is_finite() && value >= 0.0 => {
                k.lambda = value as f32;
                None
            }
            Knob::Lambda => Some("λ must be zero or positive"),
            Knob::Momentum if (0.0..1.0).contains(&value) => {
                k.momentum = value as f32;
                None
            }
            Knob::Momentum => Some("momentum must be in [0, 1)"),
            Knob::BatchSize
                if value >= 1.0
                    && value <= crate::train::config::MAX_BATCH as f64
                    && value.fract() == 0.0 =>
            {
                k.batch_size = value as usize;
                None
            }
            Knob::BatchSize => Some("the batch size must be a whole number from 1 to 4096"),
            Knob::AugmentCrop | Knob::AugmentFlip if value == 0.0 || value == 1.0 => {
                let on = value == 1.0;
                if knob == Knob::AugmentCrop {
                    k.augment_crop = on;
                    self.run.augment.is_crop_on = on;
                } else {
                    k.augment_flip = on;
                    self.run.augment.is_flip_on = on;
                }
                None
            }
            Knob::AugmentCrop | Knob::AugmentFlip => Some("a switch is 0 (off) or 1 (on)"),
        };
        if let Some(p) = problem {
            self.send_message(
                Severity::Warn,
                &format!("{} {value} refused: {p}; kept {old}", knob.label()),
            );
            return;
        }
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
            let lr = f64::from(self.run.knobs.learning_rate) * f64::from(factor);
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
