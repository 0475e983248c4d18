//! The trainer thread: owns the run, reads `Command`s at every iteration boundary, sends `Event`s.
//! It never blocks on its viewer: iteration stats are coalesced while the channel is full.

mod autopilot;
mod control;
mod evaluation;
mod output;

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ndarray::Array4;

use super::checkpoint::{Checkpoint, TrainerState};
use super::diagnostics::{Diagnostics, DiagnosticsConfig, is_diverged};
use super::error::TrainError;
use super::events::*;
use super::rundir::{
    BEST_CHECKPOINT, DIVERGED_CHECKPOINT, LAST_CHECKPOINT, METRICS_FILE, MetricsLog, Record,
};
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
/// Evaluation batch size. Evaluation passes keep nothing for backward, so its memory is about two
/// layers' outputs for this many images (vggish's first layers: 4 MB an image-batch of 32 at
/// 32×32); convolutions run image by image, so a larger batch buys little speed.
const EVAL_BATCH: usize = 64;

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
    let metrics = MetricsLog::resume(run.dir.file(METRICS_FILE), run.iteration)?;
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
    /// The iteration each checkpoint file on disk holds, as far as this trainer knows.
    saved_at: HashMap<String, u64>,
    autopilot: crate::train::autopilot::Autopilot,
    /// The weights the run started from: the roll-back target of a network killed early.
    start_weights: autopilot::Weights,
    last_val_accuracy: Option<f32>,
    resources: output::ResourceWatch,
}

impl Trainer {
    fn new(
        run: Run,
        metrics: MetricsLog,
        events: SyncSender<Event>,
        commands: Receiver<Command>,
    ) -> Trainer {
        let diagnostics = Diagnostics::new(DiagnosticsConfig {
            lr_schedule: run.config.decay_schedule(run.iters_per_epoch()),
            are_mirrors_alike: run.data.is_natural_images(),
            ..DiagnosticsConfig::new(run.data.num_classes())
        });
        let mut saved_at = HashMap::new();
        if run.iteration > 0 {
            saved_at.insert(LAST_CHECKPOINT.to_string(), run.iteration);
        }
        if let Some((_, at)) = run.best {
            saved_at.insert(BEST_CHECKPOINT.to_string(), at);
        }
        let autopilot = crate::train::autopilot::Autopilot::new(run.config.autopilot);
        let start_weights = run.net.tensors();
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
            saved_at,
            autopilot,
            start_weights,
            last_val_accuracy: None,
            resources: output::ResourceWatch::new(),
        }
    }

    fn run(mut self) -> Result<(), TrainError> {
        self.send(Event::Started(Box::new(self.run.info.clone())));
        if self.autopilot.is_on {
            self.send(Event::Autopilot { on: true });
        }
        for note in self.run.data.notes.clone() {
            self.send_message(Severity::Info, &note);
        }
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
        if self.autopilot.is_on {
            self.record(&Record::Autopilot {
                iteration: self.run.iteration,
                on: true,
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
        if self.state == RunState::Diverged {
            // Blown-up weights must not replace the last good checkpoint that --resume reads.
            let _ = self.save_checkpoint(DIVERGED_CHECKPOINT);
            self.send_message(
                Severity::Warn,
                &format!(
                    "stopped while diverged: the weights went to {DIVERGED_CHECKPOINT}; \
                     {LAST_CHECKPOINT} and {BEST_CHECKPOINT}, if any, are untouched"
                ),
            );
        } else {
            let _ = self.save_checkpoint(LAST_CHECKPOINT);
        }
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
            Command::SaveCheckpoint => {
                let _ = self.save_checkpoint(LAST_CHECKPOINT);
            }
            Command::RollbackToBest => {
                self.rollback();
            }
            Command::ApplyAdvice { action, reason } => {
                self.apply_action(&action, KnobSource::Hand, reason);
            }
            Command::SetAutopilot { on } => self.set_autopilot(on),
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
        // dropout masks from (seed, iteration): checkpointed, so a resumed run draws the same
        run.net.set_step(run.batcher.seed(), run.iteration);
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
        // the last checkpoint is written at every epoch end, and every `every` iterations too
        let is_checkpoint_due = epoch_done || (every > 0 && run.iteration.is_multiple_of(every));
        self.record(&Record::Iter(stats));
        self.pending_iters.push(stats);
        let mut diags = self.diagnostics.on_iteration(&stats);
        if stats.iteration == 1 {
            let preprocess = self.run.config.preprocess.clone();
            diags.extend(self.diagnostics.on_first_batch(1, &self.x, &preprocess));
        }
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
        if is_checkpoint_due && !is_finished && self.state != RunState::Diverged {
            let _ = self.save_checkpoint(LAST_CHECKPOINT);
        }
        // a failed final save pauses the run instead: "finished" means it is on disk
        if is_finished && self.state == RunState::Running && self.save_checkpoint(LAST_CHECKPOINT) {
            self.set_state(RunState::Finished);
        }
        self.flush_events(false);
        Ok(())
    }

    fn report(&mut self, diags: Vec<Diagnostic>) {
        for d in diags {
            let diverged = is_diverged(&d);
            self.record(&Record::Diagnostic(d.clone()));
            self.send(Event::Diagnostic(d.clone()));
            // The autopilot may rescue a divergence at once; otherwise the trainer pauses.
            let is_rescued = self.autopilot.is_on && self.autopilot_on_diagnostic(&d);
            if diverged && !is_rescued && self.state != RunState::Diverged {
                self.set_state(RunState::Diverged);
            }
        }
    }
}
