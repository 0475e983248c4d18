//! The trainer thread: owns the run, reads `Command`s at every iteration boundary, sends `Event`s.
//! It never blocks on its viewer: iteration stats are coalesced while the channel is full.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ndarray::Array4;

use super::checkpoint::{Checkpoint, TrainerState};
use super::diagnostics::{Diagnostics, DiagnosticsConfig, is_diverged};
use super::error::TrainError;
use super::events::*;
use super::rundir::{BEST_CHECKPOINT, LAST_CHECKPOINT, METRICS_FILE, MetricsLog, Record};
use super::setup::Run;
use crate::nn::{ParamUpdate, SgdConfig};

/// Events waiting in the channel; past this the trainer coalesces instead of queueing.
const CHANNEL_CAPACITY: usize = 256;
/// Iteration stats are sent at most this often (they are batched in between).
const ITER_FLUSH: Duration = Duration::from_millis(50);
/// While the viewer lags, keep at most this many unsent iteration stats (older ones are thinned;
/// every one of them is in metrics.jsonl regardless).
const MAX_PENDING_ITERS: usize = 4096;
/// Layer health (norms, update ratios, dead ReLUs) is measured this often.
const LAYER_STATS_EVERY: u64 = 50;
/// Evaluation batch size: large batches are cheaper per image, and nothing is stored for backward.
const EVAL_BATCH: usize = 256;

/// The two ends a viewer holds, and the thread.
pub struct TrainerHandle {
    pub commands: mpsc::Sender<Command>,
    pub events: Receiver<Event>,
    pub thread: JoinHandle<Result<(), TrainError>>,
}

/// Starts the trainer thread on a built run.
pub fn spawn(run: Run) -> Result<TrainerHandle, TrainError> {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (ev_tx, ev_rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
    let metrics = MetricsLog::open(run.dir.file(METRICS_FILE))?;
    let thread = std::thread::Builder::new()
        .name("convtop-trainer".into())
        .spawn(move || Trainer::new(run, metrics, ev_tx, cmd_rx).run())
        .map_err(|e| TrainError::Thread(e.to_string()))?;
    Ok(TrainerHandle {
        commands: cmd_tx,
        events: ev_rx,
        thread,
    })
}

struct Trainer {
    run: Run,
    metrics: MetricsLog,
    is_metrics_broken: bool,
    events: SyncSender<Event>,
    commands: Receiver<Command>,
    outbox: VecDeque<Event>,
    pending_iters: Vec<IterStats>,
    last_flush: Instant,
    is_viewer_gone: bool,
    state: RunState,
    steps_requested: u32,
    should_stop: bool,
    diagnostics: Diagnostics,
    last_updates: Vec<ParamUpdate>,
    x: Array4<f32>,
    labels: Vec<usize>,
    last_iter: Instant,
}

impl Trainer {
    fn new(
        run: Run,
        metrics: MetricsLog,
        events: SyncSender<Event>,
        commands: Receiver<Command>,
    ) -> Trainer {
        let diagnostics = Diagnostics::new(DiagnosticsConfig::new(run.data.num_classes()));
        Trainer {
            run,
            metrics,
            is_metrics_broken: false,
            events,
            commands,
            outbox: VecDeque::new(),
            pending_iters: Vec::new(),
            last_flush: Instant::now(),
            is_viewer_gone: false,
            state: RunState::Starting,
            steps_requested: 0,
            should_stop: false,
            diagnostics,
            last_updates: Vec::new(),
            x: Array4::zeros((0, 0, 0, 0)),
            labels: Vec::new(),
            last_iter: Instant::now(),
        }
    }

    fn run(mut self) -> Result<(), TrainError> {
        self.send(Event::Started(Box::new(self.run.info.clone())));
        for w in self.run.warnings.clone() {
            self.send(Event::Message {
                level: Severity::Warn,
                text: w,
            });
        }
        if self.run.iteration > 0 {
            self.record(&Record::Resume {
                iteration: self.run.iteration,
            });
        }
        self.set_state(if self.run.is_start_paused {
            RunState::Paused
        } else {
            RunState::Running
        });
        while !self.should_stop {
            self.read_commands(None);
            if self.should_stop {
                break;
            }
            let is_paused = matches!(
                self.state,
                RunState::Paused | RunState::Diverged | RunState::Finished
            );
            if is_paused && self.steps_requested == 0 {
                self.flush_events(true);
                self.read_commands(Some(Duration::from_millis(100)));
                continue;
            }
            self.steps_requested = self.steps_requested.saturating_sub(1);
            self.iterate()?;
            if self.is_viewer_gone {
                self.send_message(
                    Severity::Warn,
                    "the viewer is gone: saving a checkpoint and stopping",
                );
                break;
            }
        }
        self.save_checkpoint(LAST_CHECKPOINT);
        self.set_state(RunState::Stopped);
        self.flush_events(true);
        let _ = self.metrics.flush();
        Ok(())
    }

    /// Reads every pending command; with `wait`, blocks up to that long for the first one.
    fn read_commands(&mut self, wait: Option<Duration>) {
        if let Some(timeout) = wait {
            match self.commands.recv_timeout(timeout) {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => {
                    self.should_stop = true;
                    return;
                }
            }
        }
        loop {
            match self.commands.try_recv() {
                Ok(cmd) => self.handle(cmd),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.should_stop = true;
                    break;
                }
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::SetKnob { knob, value } => self.set_knob(knob, value),
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
            Command::EvaluateNow => self.evaluate(),
            Command::SaveCheckpoint => self.save_checkpoint(LAST_CHECKPOINT),
            Command::RollbackToBest => self.rollback(),
            Command::RequestSnapshot { input_index } => {
                let snap =
                    super::snapshot::snapshot(&mut self.run, &self.last_updates, input_index);
                self.send(Event::Snapshot(Box::new(snap)));
            }
            Command::RequestDataView => {
                let view = super::snapshot::data_view(&mut self.run);
                self.send(Event::DataView(Box::new(view)));
            }
            Command::EvaluateTest => self.evaluate_test(),
            Command::Stop => self.should_stop = true,
        }
    }

    /// The vault: the weights are saved first so the record names a checkpoint that holds them.
    fn evaluate_test(&mut self) {
        self.save_checkpoint(LAST_CHECKPOINT);
        match super::vault::evaluate_and_record(&mut self.run, LAST_CHECKPOINT) {
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
                });
            }
            Err(e) => self.send_message(Severity::Error, &format!("test set not evaluated: {e}")),
        }
    }

    fn set_knob(&mut self, knob: Knob, value: f64) {
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
                    && value <= super::config::MAX_BATCH as f64
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
            };
            self.record(&Record::Knob(change));
            self.send(Event::KnobChanged(change));
        }
    }

    fn iterate(&mut self) -> Result<(), TrainError> {
        let run = &mut self.run;
        let knobs = run.knobs;
        run.batcher.next_batch(
            &run.data,
            &run.preprocess,
            &run.augment,
            knobs.batch_size,
            &mut self.x,
            &mut self.labels,
        );
        let loss = run.net.train_batch(&self.x, &self.labels, knobs.lambda)?;
        let n = self.labels.len();
        let is_finite = loss.data_loss.is_finite() && loss.reg_loss.is_finite();
        if is_finite {
            let cfg = SgdConfig {
                learning_rate: knobs.learning_rate,
                momentum: knobs.momentum,
                is_nesterov: knobs.is_nesterov,
                lambda: knobs.lambda,
            };
            self.last_updates = run.sgd.step(&mut run.net, &cfg);
        }
        run.iteration += 1;
        let now = Instant::now();
        let secs = now.duration_since(self.last_iter).as_secs_f32().max(1e-6);
        self.last_iter = now;
        let epoch_len = run.batcher.epoch_len().max(1);
        let stats = IterStats {
            iteration: run.iteration,
            epoch: run.batcher.epoch() as f64 + run.batcher.position() as f64 / epoch_len as f64,
            data_loss: loss.data_loss as f32,
            reg_loss: loss.reg_loss as f32,
            batch_accuracy: loss.correct as f32 / n.max(1) as f32,
            knobs,
            images_per_sec: n as f32 / secs,
        };
        let epoch_done = run.batcher.position() == 0;
        let eval_every = run.config.eval_every;
        let is_eval_due = if eval_every > 0 {
            run.iteration.is_multiple_of(eval_every)
        } else {
            epoch_done
        };
        let cap = run.config.max_iterations;
        let is_capped = cap > 0 && run.iteration >= cap;
        let is_eval_due = is_eval_due || is_capped;
        let is_finished =
            is_capped || (epoch_done && run.batcher.epoch() >= u64::from(run.config.epochs));
        let is_layer_check = run.iteration.is_multiple_of(LAYER_STATS_EVERY) && is_finite;
        let every = run.config.checkpoint_every;
        let is_checkpoint_due = every > 0 && run.iteration.is_multiple_of(every);
        self.record(&Record::Iter(stats));
        self.pending_iters.push(stats);
        let mut diags = self.diagnostics.on_iteration(&stats);
        if is_layer_check {
            let layers = super::snapshot::layer_stats(&self.run.net, &self.last_updates);
            diags.extend(self.diagnostics.on_layer_stats(stats.iteration, &layers));
        }
        self.report(diags);
        if is_eval_due && self.state != RunState::Diverged {
            self.evaluate();
        }
        if epoch_done && !is_finished {
            self.decay_learning_rate();
        }
        if is_checkpoint_due && !is_finished {
            self.save_checkpoint(LAST_CHECKPOINT);
        }
        if is_finished && self.state == RunState::Running {
            self.save_checkpoint(LAST_CHECKPOINT);
            self.set_state(RunState::Finished);
        }
        self.flush_events(false);
        Ok(())
    }

    /// The end-of-epoch step of the learning-rate schedule, recorded like a turned knob.
    fn decay_learning_rate(&mut self) {
        let factor = self.run.config.lr_decay_factor();
        if factor < 1.0 {
            let lr = f64::from(self.run.knobs.learning_rate) * f64::from(factor);
            self.set_knob(Knob::LearningRate, lr);
        }
    }

    fn report(&mut self, diags: Vec<Diagnostic>) {
        for d in diags {
            let diverged = is_diverged(&d);
            self.record(&Record::Diagnostic(d.clone()));
            self.send(Event::Diagnostic(d));
            if diverged && self.state != RunState::Diverged {
                self.set_state(RunState::Diverged);
            }
        }
    }

    fn evaluate(&mut self) {
        let run = &mut self.run;
        let classes = run.data.num_classes();
        let (val_loss, val_acc, confusion) =
            super::snapshot::evaluate_split(run, &run.split.val.clone(), EVAL_BATCH, classes);
        let probe = run.train_probe.clone();
        let (train_loss, train_acc, _) =
            super::snapshot::evaluate_split(run, &probe, EVAL_BATCH, classes);
        let is_best = run.best.is_none_or(|(acc, _)| val_acc > acc);
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
        if is_best && val_loss.is_finite() {
            run.best = Some((val_acc, run.iteration));
            self.save_checkpoint(BEST_CHECKPOINT);
        }
        self.record(&Record::Eval(stats.clone()));
        let diags = self.diagnostics.on_evaluation(&stats);
        self.send(Event::Evaluation(stats));
        self.report(diags);
        if let Err(e) = self.metrics.flush() {
            self.metrics_failed(&e);
        }
    }

    fn rollback(&mut self) {
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

    fn save_checkpoint(&mut self, name: &str) {
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

    fn set_state(&mut self, state: RunState) {
        self.state = state;
        self.record(&Record::State {
            iteration: self.run.iteration,
            state,
        });
        self.flush_iters();
        self.send(Event::State(state));
    }

    fn record(&mut self, r: &Record) {
        if self.is_metrics_broken {
            return;
        }
        if let Err(e) = self.metrics.write(r) {
            self.metrics_failed(&e);
        }
    }

    fn metrics_failed(&mut self, e: &TrainError) {
        if !self.is_metrics_broken {
            self.is_metrics_broken = true;
            let text = format!(
                "metrics.jsonl is no longer written ({e}); training goes on — free some space and save a checkpoint (s)"
            );
            self.send_message(Severity::Error, &text);
        }
    }

    fn send_message(&mut self, level: Severity, text: &str) {
        self.send(Event::Message {
            level,
            text: text.to_string(),
        });
    }

    /// Queues an event behind any that are waiting; never blocks.
    fn send(&mut self, ev: Event) {
        if let Event::Snapshot(_) | Event::DataView(_) = ev {
            // only the newest view of the network matters
            self.outbox
                .retain(|e| std::mem::discriminant(e) != std::mem::discriminant(&ev));
        }
        self.outbox.push_back(ev);
        self.drain_outbox();
    }

    fn drain_outbox(&mut self) {
        while let Some(ev) = self.outbox.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    self.outbox.push_front(ev);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.is_viewer_gone = true;
                    self.outbox.clear();
                    return;
                }
            }
        }
    }

    fn flush_iters(&mut self) {
        if self.pending_iters.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending_iters);
        self.outbox.push_back(Event::Iterations(batch));
        self.last_flush = Instant::now();
    }

    fn flush_events(&mut self, force: bool) {
        if force || self.last_flush.elapsed() >= ITER_FLUSH {
            if self.outbox.len() < CHANNEL_CAPACITY {
                self.flush_iters();
            } else if self.pending_iters.len() > MAX_PENDING_ITERS {
                // the viewer is far behind: keep every other point
                let thinned = self.pending_iters.iter().step_by(2).copied().collect();
                self.pending_iters = thinned;
            }
        }
        self.drain_outbox();
    }
}
