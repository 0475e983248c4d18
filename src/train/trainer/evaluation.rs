//! The trainer's evaluations: the validation split and a training probe after each epoch (or
//! every `--eval-every` iterations), and the test set's vault on request.

use super::*;

impl Trainer {
    /// The vault: the weights are saved first so the record names a checkpoint that holds them.
    pub(super) fn evaluate_test(&mut self) {
        if !self.save_checkpoint(LAST_CHECKPOINT) {
            self.send_message(
                Severity::Error,
                "test set not evaluated: its record must name a checkpoint on disk",
            );
            return;
        }
        match crate::train::vault::evaluate_and_record(&mut self.run, LAST_CHECKPOINT) {
            Ok(r) => {
                if let Some(w) = r.warning() {
                    self.send_message(Severity::Warn, &w);
                }
                self.send(Event::TestResult {
                    accuracy: r.accuracy,
                    loss: r.loss,
                    count: r.count,
                    checkpoint: r.checkpoint,
                    iteration: r.iteration,
                    mirrored_accuracy: r.flipped.map(|f| f.accuracy),
                });
            }
            Err(e) => self.send_message(Severity::Error, &format!("test set not evaluated: {e}")),
        }
    }

    /// Validation and the training probe: the best checkpoint, diagnostics and the autopilot's
    /// judgement follow from them.
    pub(super) fn evaluate(&mut self) {
        let run = &mut self.run;
        let classes = run.data.num_classes();
        let (val_loss, val_acc, confusion) = crate::train::snapshot::evaluate_split(
            run,
            &run.split.val.clone(),
            EVAL_BATCH,
            classes,
        );
        let probe = run.train_probe.clone();
        let (train_loss, train_acc, _) =
            crate::train::snapshot::evaluate_split(run, &probe, EVAL_BATCH, classes);
        let mut is_best = run.best.is_none_or(|(acc, _)| val_acc > acc) && val_loss.is_finite();
        if is_best {
            let previous = run.best;
            run.best = Some((val_acc, run.iteration));
            // a best that is not on disk is not claimed anywhere
            if !self.save_checkpoint(BEST_CHECKPOINT) {
                self.run.best = previous;
                is_best = false;
            }
        }
        let run = &mut self.run;
        let stats = EvalStats {
            iteration: run.iteration,
            epoch: run.batcher.epoch() as f64
                + run.batcher.position() as f64 / run.batcher.epoch_len().max(1) as f64,
            train_loss,
            train_accuracy: train_acc,
            val_loss,
            val_accuracy: val_acc,
            confusion,
            is_best,
        };
        self.record(&Record::Eval(stats.clone()));
        let diags = self.diagnostics.on_evaluation(&stats);
        self.autopilot_on_evaluation(&stats);
        self.send(Event::Evaluation(stats));
        self.report(diags);
        if let Err(e) = self.metrics.flush() {
            self.metrics_failed(&e);
        }
    }
}
