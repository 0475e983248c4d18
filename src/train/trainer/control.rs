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
            // 3–4 significant figures: the stored f32 read as f64 has 17 digits of noise
            let kept = crate::units::sig(old);
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
            let lr = (crate::train::events::widen(self.run.knobs.learning_rate)
                * f64::from(factor))
            .max(knobs::MIN_LEARNING_RATE);
            self.set_knob_from(Knob::LearningRate, lr, KnobSource::Schedule, None);
        }
    }

    /// Loads the best checkpoint; true when it did.
    pub(super) fn rollback(&mut self) -> bool {
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
                self.note_rollback(Restore::Best, Some(at));
                self.send_message(
                    Severity::Info,
                    &format!("rolled back to the best checkpoint (iteration {at})"),
                );
                if self.state == RunState::Diverged {
                    self.set_state(RunState::Paused);
                }
                true
            }
            Err(e) => {
                self.send_message(
                    Severity::Warn,
                    &format!("no roll-back: {e}; evaluate (e) to make a best checkpoint"),
                );
                false
            }
        }
    }

    /// Records weights put back (metrics.jsonl and the viewers): the curves after it go on from
    /// other weights than the ones before it.
    pub(super) fn note_rollback(&mut self, to: Restore, saved_at: Option<u64>) {
        let rollback = Rollback {
            iteration: self.run.iteration,
            to,
            saved_at,
        };
        self.record(&Record::Rollback(rollback));
        self.send(Event::RolledBack(rollback));
    }

    /// Writes checkpoint `name`; on failure the run pauses, and `Event::CheckpointFailed` names
    /// the cause (a full disk, a permission, a read-only file system) and what is still on disk.
    pub(super) fn save_checkpoint(&mut self, name: &str) -> bool {
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
                config_hash: Some(run.config.hash()),
            },
            is_verified: true,
            net: run.net.tensors(),
            velocity,
            preprocess: run.preprocess.tensors(),
        };
        let path = run.dir.file(name);
        let iteration = run.iteration;
        // metrics.jsonl is never behind a checkpoint: resume cuts it back to one
        match self.sync_metrics().and_then(|()| ckpt.save(&path)) {
            Ok(()) => {
                let path = path.display().to_string();
                self.saved_at.insert(name.to_string(), iteration);
                self.record(&Record::Checkpoint {
                    iteration,
                    path: path.clone(),
                });
                self.send(Event::CheckpointSaved { iteration, path });
                true
            }
            Err(e) => {
                let on_disk = self.saved_at.get(name).copied();
                let kept = match on_disk {
                    Some(at) => format!("the {name} on disk is from iteration {at}"),
                    None => format!("there is no {name} on disk"),
                };
                let problem = format!(
                    "checkpoint not written at iteration {iteration}: {e} — {}; {kept}",
                    e.write_advice()
                );
                self.send(Event::CheckpointFailed {
                    iteration,
                    path: path.display().to_string(),
                    problem,
                    on_disk,
                });
                if self.state == RunState::Running {
                    self.set_state(RunState::Paused);
                }
                false
            }
        }
    }
}
