//! The trainer side of convtop for a training loop that is not convtop's own (a PyTorch loop,
//! through the `python/` package): the run directory, metrics.jsonl, diagnostics, checkpoints
//! and the control socket, fed with the same `Event`s the native trainer sends. The foreign loop
//! calls `step` once an iteration and gets back a `Directive`: the knob values to apply, and what
//! a viewer asked for (evaluate, save, roll back, a snapshot, stop).

mod advice;
mod outbox;
mod replay;
mod steering;
mod weights;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::remote::SOCKET_FILE;
use crate::train::autopilot::Autopilot;
use crate::train::diagnostics::{Diagnostics, DiagnosticsConfig};
use crate::train::rundir::{CONFIG_FILE, METRICS_FILE, MetricsLog, Record, RunDir, atomic_write};
use crate::train::{
    Command, Event, Knob, Knobs, LayerInfo, RunInfo, RunState, Severity, TrainConfig, TrainError,
    TrainerHandle,
};
use outbox::Outbox;

pub use advice::Restore;
pub use replay::{checkpoint_filters, is_foreign, read_run_info, replay_snapshot};
pub use steering::{Directive, EvalInput, StepInput};
pub use weights::{RawTensor, SnapshotInput, read_checkpoint};

/// Beside config.toml: what the foreign trainer said about itself (free-form JSON), and the
/// `RunInfo` a replay shows in its header.
pub const TRAINER_FILE: &str = "trainer.json";
pub const RUN_INFO_FILE: &str = "run-info.json";
/// A Unix socket's path must fit `sockaddr_un.sun_path` (108 bytes on Linux, with its NUL).
const MAX_SOCKET_PATH: usize = 108;

/// What the foreign loop tells the bridge when it starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BridgeSpec {
    /// Where run directories go (`runs`).
    pub run_dir: PathBuf,
    /// `pytorch`: written as `data = "pytorch:<data_name>"` in config.toml.
    pub trainer: String,
    pub data_name: String,
    /// The model's name (its class), shown as the network.
    pub net_spec: String,
    /// A one-line description of its layers.
    pub net_resolved: String,
    pub classes: Vec<String>,
    pub input_shape: [usize; 3],
    pub train_size: usize,
    pub val_size: usize,
    /// 0 when unknown: epochs are then not counted.
    pub iters_per_epoch: u64,
    pub total_epochs: u32,
    pub knobs: Knobs,
    /// The knobs the foreign optimiser has; any other is refused with a message.
    pub supported: Vec<Knob>,
    pub seed: u64,
    pub layers: Vec<LayerInfo>,
    /// Apply the diagnostics' advice from the start (`convtop --autopilot`).
    pub autopilot: bool,
    /// A divergence is reported but does not pause the run (the loop chose to go on).
    pub should_ignore_divergence: bool,
    /// Anything else worth keeping with the run (versions, the optimiser, the user's config).
    pub details: serde_json::Value,
}

pub struct Bridge {
    dir: RunDir,
    info: RunInfo,
    supported: Vec<Knob>,
    metrics: MetricsLog,
    is_metrics_broken: bool,
    last_metrics_flush: Instant,
    outbox: Option<Outbox>,
    commands: Receiver<Command>,
    server: Option<JoinHandle<Result<(), TrainError>>>,
    diagnostics: Diagnostics,
    knobs: Knobs,
    iteration: u64,
    state: RunState,
    steps_requested: u32,
    best: Option<(f32, u64)>,
    /// The iteration of the last hand change of each knob, to tell a scheduler that overrides it.
    hand_changes: Vec<(Knob, u64)>,
    last_step: Instant,
    is_data_view_answered: bool,
    autopilot: Autopilot,
    /// What the autopilot decided outside a poll (at an evaluation), for the next directive.
    directive: Directive,
    last_val_accuracy: Option<f32>,
    should_ignore_divergence: bool,
    /// Sums of the finite step losses and accuracies since the last evaluation, and their
    /// count: an evaluation without training figures takes their means.
    since_eval: (f64, f64, u32),
}

impl Bridge {
    /// Creates the run directory, writes its configuration, binds the control socket and starts
    /// serving viewers on a thread of its own.
    pub fn start(spec: BridgeSpec) -> Result<Bridge, TrainError> {
        let trainer = if spec.trainer.is_empty() {
            "external"
        } else {
            &spec.trainer
        };
        let label = format!("{trainer}-{}", spec.net_spec);
        let dir = RunDir::create(&spec.run_dir, &label)?;
        let config = TrainConfig {
            data: format!("{trainer}:{}", spec.data_name),
            net: format!("{trainer}:{}", spec.net_spec),
            epochs: spec.total_epochs.max(1),
            lr: spec.knobs.learning_rate,
            lambda: spec.knobs.lambda,
            momentum: spec.knobs.momentum,
            nesterov: spec.knobs.is_nesterov,
            batch: spec.knobs.batch_size,
            seed: spec.seed,
            run_dir: spec.run_dir.clone(),
            lr_decay: Some(1.0),
            ..TrainConfig::default()
        };
        atomic_write(&dir.file(CONFIG_FILE), config.to_toml().as_bytes())?;
        let info = RunInfo {
            run_id: dir.id.clone(),
            run_dir: dir.path.display().to_string(),
            data_name: config.data.clone(),
            net_spec: config.net.clone(),
            net_resolved: spec.net_resolved.clone(),
            classes: spec.classes.clone(),
            input_shape: spec.input_shape,
            train_size: spec.train_size,
            val_size: spec.val_size,
            test_size: 0,
            iters_per_epoch: spec.iters_per_epoch,
            total_epochs: spec.total_epochs,
            knobs: spec.knobs,
            preprocess: "as the training script does it".into(),
            seed: spec.seed,
            layers: spec.layers.clone(),
        };
        write_json(&dir.file(RUN_INFO_FILE), &info)?;
        let details = serde_json::json!({ "trainer": trainer, "details": spec.details });
        write_json(&dir.file(TRAINER_FILE), &details)?;
        let metrics = MetricsLog::open(dir.file(METRICS_FILE))?;
        let socket = dir.file(SOCKET_FILE);
        let socket_len = socket.as_os_str().len();
        if socket_len >= MAX_SOCKET_PATH {
            return Err(TrainError::Config {
                problem: format!(
                    "the control socket {} would be {socket_len} bytes long, over the system's \
                     limit of {MAX_SOCKET_PATH}: choose a shorter run_dir (a relative one helps)",
                    socket.display()
                ),
            });
        }
        let listener = crate::remote::server::bind(&socket)?;
        let (outbox, events) = Outbox::new();
        let (cmd_tx, commands) = mpsc::channel();
        // `serve` joins a trainer thread once the events end; here the trainer is the caller's
        // loop, so the stand-in thread has nothing to do
        let stand_in = std::thread::Builder::new()
            .name("convtop-bridge-loop".into())
            .spawn(|| Ok(()))
            .map_err(|e| TrainError::Thread(e.to_string()))?;
        let handle = TrainerHandle {
            commands: cmd_tx,
            events,
            thread: stand_in,
        };
        let server = std::thread::Builder::new()
            .name("convtop-bridge-server".into())
            .spawn(move || crate::remote::server::serve(handle, listener, socket))
            .map_err(|e| TrainError::Thread(e.to_string()))?;
        let classes = spec.classes.len().max(2);
        let mut bridge = Bridge {
            dir,
            info: info.clone(),
            supported: spec.supported,
            metrics,
            is_metrics_broken: false,
            last_metrics_flush: Instant::now(),
            outbox: Some(outbox),
            commands,
            server: Some(server),
            diagnostics: Diagnostics::new(DiagnosticsConfig::new(classes)),
            knobs: spec.knobs,
            iteration: 0,
            state: RunState::Starting,
            steps_requested: 0,
            best: None,
            hand_changes: Vec::new(),
            last_step: Instant::now(),
            is_data_view_answered: false,
            autopilot: Autopilot::new(spec.autopilot),
            directive: Directive::default(),
            last_val_accuracy: None,
            should_ignore_divergence: spec.should_ignore_divergence,
            since_eval: (0.0, 0.0, 0),
        };
        bridge.send(Event::Started(Box::new(info)));
        if spec.autopilot {
            bridge.record(&Record::Autopilot {
                iteration: 0,
                on: true,
            });
            bridge.send(Event::Autopilot { on: true });
        }
        bridge.set_state(RunState::Running);
        Ok(bridge)
    }

    pub fn run_dir(&self) -> &Path {
        &self.dir.path
    }

    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    pub fn state(&self) -> RunState {
        self.state
    }

    pub fn knobs(&self) -> Knobs {
        self.knobs
    }

    /// Ends the run: the final state is recorded, metrics.jsonl fsynced, the socket removed and
    /// every viewer told. `is_finished`: the loop ran to its end (not stopped early).
    pub fn close(&mut self, is_finished: bool) -> Result<(), TrainError> {
        if self.outbox.is_none() {
            return Ok(());
        }
        if is_finished && self.state == RunState::Running {
            self.set_state(RunState::Finished);
        }
        self.set_state(RunState::Stopped);
        if let Some(o) = self.outbox.as_mut() {
            o.flush();
        }
        // dropping the sender ends the server's event loop; it removes the socket
        self.outbox = None;
        let flushed = self.metrics.flush();
        let served = match self.server.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(TrainError::Thread("the socket server panicked".into())),
            None => Ok(()),
        };
        flushed.and(served)
    }

    fn send(&mut self, event: Event) {
        if let Some(o) = self.outbox.as_mut() {
            o.send(event);
        }
    }

    fn send_message(&mut self, level: Severity, text: &str) {
        self.send(Event::Message {
            level,
            text: text.to_string(),
        });
    }

    /// A message from the foreign loop for the viewers (a refused knob, a missing callback).
    pub fn message(&mut self, level: Severity, text: &str) {
        self.send_message(level, text);
    }

    fn set_state(&mut self, state: RunState) {
        self.state = state;
        self.record(&Record::State {
            iteration: self.iteration,
            state,
        });
        self.send(Event::State(state));
    }

    fn record(&mut self, r: &Record) {
        if self.is_metrics_broken {
            return;
        }
        if let Err(e) = self.metrics.write(r) {
            self.is_metrics_broken = true;
            let text = format!(
                "metrics.jsonl is no longer written ({e}); training goes on — free some space"
            );
            self.send_message(Severity::Error, &text);
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // a loop that ended without close() (an exception): record that it stopped
        let _ = self.close(false);
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Config {
        problem: format!("{}: {e}", path.display()),
    })?;
    atomic_write(path, text.as_bytes())
}
