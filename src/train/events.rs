//! The messages between the trainer thread and whoever watches it (the dashboard, the headless
//! logger, a socket viewer). Everything here is owned, serialisable data: a viewer never touches
//! the network.

use serde::{Deserialize, Serialize};

pub use crate::nn::LayerInfo;
pub use views::*;

mod views;

/// The knobs a person can turn while training runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Knob {
    LearningRate,
    Lambda,
    Momentum,
    BatchSize,
    AugmentCrop,
    AugmentFlip,
}

impl Knob {
    pub const ALL: [Knob; 6] = [
        Knob::LearningRate,
        Knob::Lambda,
        Knob::Momentum,
        Knob::BatchSize,
        Knob::AugmentCrop,
        Knob::AugmentFlip,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Knob::LearningRate => "learning rate",
            Knob::Lambda => "λ (L2)",
            Knob::Momentum => "momentum",
            Knob::BatchSize => "batch size",
            Knob::AugmentCrop => "random crops",
            Knob::AugmentFlip => "h-flips",
        }
    }

    /// Booleans are carried as 0.0 / 1.0 so every knob change has the same record shape.
    pub fn is_switch(self) -> bool {
        matches!(self, Knob::AugmentCrop | Knob::AugmentFlip)
    }
}

/// The knob values the trainer is actually using.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Knobs {
    #[serde(with = "crate::train::finite::f32s")]
    pub learning_rate: f32,
    #[serde(with = "crate::train::finite::f32s")]
    pub lambda: f32,
    #[serde(with = "crate::train::finite::f32s")]
    pub momentum: f32,
    pub is_nesterov: bool,
    pub batch_size: usize,
    pub augment_crop: bool,
    pub augment_flip: bool,
}

/// A knob's f32 as the f64 of its shortest decimal form: 0.02f32 reads 0.02, not
/// 0.019999999552965164, in records, on the wire and in a PyTorch optimiser's param groups.
pub fn widen(value: f32) -> f64 {
    if !value.is_finite() {
        return f64::from(value);
    }
    // Display gives the shortest decimal that reads back as the same f32
    value.to_string().parse().unwrap_or(f64::from(value))
}

impl Knobs {
    pub fn get(&self, knob: Knob) -> f64 {
        match knob {
            Knob::LearningRate => widen(self.learning_rate),
            Knob::Lambda => widen(self.lambda),
            Knob::Momentum => widen(self.momentum),
            Knob::BatchSize => self.batch_size as f64,
            Knob::AugmentCrop => f64::from(u8::from(self.augment_crop)),
            Knob::AugmentFlip => f64::from(u8::from(self.augment_flip)),
        }
    }
}

/// What a viewer asks of the trainer. Read at every iteration boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Set a knob; switches take 0.0 (off) or 1.0 (on). Invalid values are refused with an
    /// `Event::Message` of level `Warn`, the old value kept.
    SetKnob {
        knob: Knob,
        value: f64,
    },
    Pause,
    Resume,
    /// One iteration while paused.
    Step,
    EvaluateNow,
    SaveCheckpoint,
    RollbackToBest,
    /// Ask for filters, activation maps of validation image `input_index`, and per-layer statistics.
    RequestSnapshot {
        input_index: usize,
    },
    /// Ask for sample images with predictions, the mean image and an augmentation example.
    RequestDataView,
    /// Evaluate the test split (the vault) on the current weights, saved first as the last
    /// checkpoint; appended to `test-record.jsonl` and answered with `Event::TestResult`.
    EvaluateTest,
    /// Finish cleanly: a checkpoint is written, then `Event::State(Stopped)` and the thread ends.
    Stop,
    /// Apply a diagnostic's action (as a person's change, recorded with `reason`).
    ApplyAdvice {
        action: Action,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Switch the advice autopilot on or off; answered with `Event::Autopilot`.
    SetAutopilot {
        on: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Starting,
    Running,
    Paused,
    /// Paused by the trainer itself after a non-finite or exploding loss.
    Diverged,
    Finished,
    Stopped,
}

impl RunState {
    pub fn label(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Diverged => "diverged",
            RunState::Finished => "finished",
            RunState::Stopped => "stopped",
        }
    }
}

/// Sent once when the trainer starts, before any other event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub run_dir: String,
    pub data_name: String,
    /// The network spec as given (`mnist` or `conv8k5p2 relu pool2 ...`) and resolved.
    pub net_spec: String,
    pub net_resolved: String,
    pub classes: Vec<String>,
    /// Network input (c, h, w), after any crop.
    pub input_shape: [usize; 3],
    pub train_size: usize,
    pub val_size: usize,
    pub test_size: usize,
    pub iters_per_epoch: u64,
    pub total_epochs: u32,
    pub knobs: Knobs,
    pub preprocess: String,
    pub seed: u64,
    /// Per-layer structure known at build time (formula, shape, parameters, FLOPs).
    pub layers: Vec<LayerInfo>,
}

/// One training iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IterStats {
    pub iteration: u64,
    /// Fractional epoch: iteration / iters_per_epoch.
    #[serde(with = "crate::train::finite::f64s")]
    pub epoch: f64,
    #[serde(with = "crate::train::finite::f32s")]
    pub data_loss: f32,
    #[serde(with = "crate::train::finite::f32s")]
    pub reg_loss: f32,
    /// Accuracy on this iteration's batch.
    #[serde(with = "crate::train::finite::f32s")]
    pub batch_accuracy: f32,
    pub knobs: Knobs,
    #[serde(with = "crate::train::finite::f32s")]
    pub images_per_sec: f32,
}

/// One evaluation: the full validation split and a same-size sample of training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    pub iteration: u64,
    #[serde(with = "crate::train::finite::f64s")]
    pub epoch: f64,
    #[serde(with = "crate::train::finite::f32s")]
    pub train_loss: f32,
    #[serde(with = "crate::train::finite::f32s")]
    pub train_accuracy: f32,
    #[serde(with = "crate::train::finite::f32s")]
    pub val_loss: f32,
    #[serde(with = "crate::train::finite::f32s")]
    pub val_accuracy: f32,
    /// confusion[true][predicted] on the validation split.
    pub confusion: Vec<Vec<u32>>,
    pub is_best: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnobChange {
    pub iteration: u64,
    pub knob: Knob,
    #[serde(with = "crate::train::finite::f64s")]
    pub old: f64,
    #[serde(with = "crate::train::finite::f64s")]
    pub new: f64,
    /// Who turned it: a person, the learning-rate schedule, or the advice autopilot.
    #[serde(default)]
    pub source: KnobSource,
    /// Why, when a diagnostic asked for it (the autopilot's reason, or advice applied by a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Who made a knob change; charts label hand and autopilot changes and draw schedule steps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnobSource {
    /// A person: a key in the dashboard, a viewer over the socket, a config file.
    #[default]
    Hand,
    /// The end-of-epoch learning-rate decay.
    Schedule,
    /// The advice autopilot (`--autopilot`).
    Autopilot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    Overfitting,
    Underfitting,
    Divergence,
    Plateau,
    LearningRateTooLow,
    InitialLoss,
    DeadRelu,
    UpdateRatio,
    /// Inputs not zero-centred or badly scaled (judged on the first batch).
    Preprocessing,
    /// A `norm` layer whose α is too small for its activations: it divides by a constant.
    InertNorm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub iteration: u64,
    pub kind: DiagnosticKind,
    pub severity: Severity,
    /// One line: what is wrong.
    pub title: String,
    /// The numbers and iterations it saw.
    pub evidence: String,
    /// The knob change it suggests.
    pub suggestion: String,
    /// The suggestion as something the app can do (by a key, or the autopilot); `None` when no
    /// knob or roll-back helps (a network too small, a bad initialisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

/// A diagnostic's advice as data: roll back first (if asked), then set the knob (if any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knob: Option<KnobSetting>,
}

/// Which weights a roll-back restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackTarget {
    /// The best checkpoint (best validation accuracy so far).
    Best,
    /// The weights the run started from (a network killed before its first evaluation).
    Start,
}

/// Which weights a roll-back put back (the PyTorch bridge's loop also keeps those from before
/// the autopilot's last change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restore {
    /// The best checkpoint.
    Best,
    /// The weights the run (or its resumed session) started with.
    Start,
    /// The weights stashed before the autopilot's last change (the bridge's revert).
    BeforeChange,
}

/// Weights put back mid-run, by `rollback_to_best`, applied advice or the autopilot: the curves
/// after it go on from other weights than the ones before it, so the history keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// The iteration at which the weights were put back.
    pub iteration: u64,
    pub to: Restore,
    /// The iteration those weights come from, when known (the best checkpoint's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_at: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KnobSetting {
    pub knob: Knob,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Started(Box<RunInfo>),
    /// One or more iterations; several are coalesced into one event when the viewer lags.
    Iterations(Vec<IterStats>),
    Evaluation(EvalStats),
    KnobChanged(KnobChange),
    /// Weights were put back (recorded in metrics.jsonl as a `rollback` record).
    RolledBack(Rollback),
    State(RunState),
    Diagnostic(Diagnostic),
    Snapshot(Box<Snapshot>),
    DataView(Box<DataView>),
    CheckpointSaved {
        iteration: u64,
        path: String,
    },
    /// A checkpoint could not be written; the trainer has paused (a headless driver stops).
    /// `problem` names the cause and what to do; `on_disk` is the last checkpoint still there.
    CheckpointFailed {
        iteration: u64,
        path: String,
        problem: String,
        on_disk: Option<u64>,
    },
    Message {
        level: Severity,
        text: String,
    },
    /// The training process's CPU, memory and threads, and how long it has run (about once a
    /// second; a viewer keeps only the newest).
    Resources(Box<crate::resources::Resources>),
    /// The advice autopilot was switched on or off (also sent once after `Started`).
    Autopilot {
        on: bool,
    },
    /// A test-set evaluation; `count` is how many times this run's test set has now been looked at.
    TestResult {
        #[serde(with = "crate::train::finite::f32s")]
        accuracy: f32,
        #[serde(with = "crate::train::finite::f32s")]
        loss: f32,
        count: u32,
        checkpoint: String,
        iteration: u64,
        /// For a run trained with flips: the accuracy with each image averaged with its mirror,
        /// measured in the same look.
        #[serde(default)]
        mirrored_accuracy: Option<f32>,
    },
}
