//! All dashboard state, updated from trainer events and key presses; drawing only reads it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::UiOptions;
use super::mode::Mode;
use super::theme::Theme;
use crate::train::history::RunHistory;
use crate::train::{
    Command, DataView, Diagnostic, Knob, Knobs, RunInfo, RunState, Severity, Snapshot,
};

mod events;
mod views;

pub use views::{ActivationsView, FiltersView, NetworkView, Tab, TrainingView};

/// How often an image tab asks the trainer for fresh filters, activations or samples.
const SNAPSHOT_PERIOD: Duration = Duration::from_secs(1);
/// How long a status message stays in the footer.
const STATUS_LIFETIME: Duration = Duration::from_secs(6);

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub level: Severity,
    pub text: String,
    pub since: Option<Instant>,
}

#[derive(Debug)]
pub struct App {
    pub(super) opts: UiOptions,
    pub(super) theme: Theme,
    pub(super) tab: Tab,
    pub(super) info: Option<RunInfo>,
    pub(super) state: RunState,
    pub(super) history: RunHistory,
    /// What the trainer reports it uses, from the latest `IterStats` or `KnobChanged`.
    pub(super) knobs: Option<Knobs>,
    /// Sent but not yet seen in use.
    pub(super) pending: HashMap<Knob, f64>,
    pub(super) status: Option<Status>,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// The diagnostics panel: selection, detail view, the autopilot's state.
    pub(super) advice: super::diagnostics::AdvicePanel,
    pub(super) confusion: Option<Vec<Vec<u32>>>,
    pub(super) snapshot: Option<Snapshot>,
    pub(super) data_view: Option<DataView>,
    pub(super) last_checkpoint: Option<u64>,
    /// The overlay or dialog that has the keyboard, if any.
    pub(super) mode: Mode,
    pub(super) training: TrainingView,
    pub(super) filters: FiltersView,
    pub(super) activations: ActivationsView,
    pub(super) network: NetworkView,
    /// The latest test-set look: (accuracy, loss, how many looks so far, iteration).
    pub(super) test_result: Option<(f32, f32, u32, u64)>,
    /// The trainer's latest CPU, memory and threads report, and images/s once a second.
    pub(super) resources: Option<crate::resources::Resources>,
    pub(super) ips_trail: std::collections::VecDeque<f32>,
    pub(super) should_quit: bool,
    pub(super) is_trainer_gone: bool,
    /// Watching a detached training over its socket (`d` leaves, `q` asks stop-or-leave).
    pub(super) is_attached: bool,
    /// Quitting without stopping the trainer: no waiting for its final state.
    pub(super) is_leaving: bool,
    /// This viewer sent the trainer its `Stop`.
    pub(super) has_stopped_trainer: bool,
    /// The runs table (`o`) and the earlier runs drawn behind this one.
    pub(super) runs: super::runs::RunsPicker,
    pub(super) overlays: Vec<super::runs::Overlay>,
    /// The outcome of a running `x` export, as a status line.
    export: Option<std::sync::mpsc::Receiver<(Severity, String)>>,
    /// `x` asked the trainer for a checkpoint; the export starts when it is saved.
    export_waiting: Option<std::path::PathBuf>,
    is_dirty: bool,
    is_data_dirty: bool,
    last_request: Option<Instant>,
}

impl App {
    pub fn new(opts: UiOptions) -> App {
        App {
            opts,
            theme: Theme {
                color: opts.color,
                is_ascii: opts.is_ascii,
            },
            tab: Tab::Training,
            info: None,
            state: RunState::Starting,
            history: RunHistory::default(),
            knobs: None,
            pending: HashMap::new(),
            status: None,
            diagnostics: Vec::new(),
            advice: Default::default(),
            confusion: None,
            snapshot: None,
            data_view: None,
            last_checkpoint: None,
            mode: Mode::Normal,
            training: TrainingView::default(),
            filters: FiltersView::default(),
            activations: ActivationsView::default(),
            network: NetworkView::default(),
            test_result: None,
            resources: None,
            ips_trail: Default::default(),
            should_quit: false,
            is_trainer_gone: false,
            is_attached: false,
            is_leaving: false,
            has_stopped_trainer: false,
            runs: Default::default(),
            overlays: Vec::new(),
            export: None,
            export_waiting: None,
            is_dirty: true,
            is_data_dirty: false,
            last_request: None,
        }
    }

    /// Periodic work: asks for fresh images about once a second on the tabs that show them, and
    /// retires old status messages.
    pub fn tick(&mut self) -> Option<Command> {
        let now = Instant::now();
        if let Some(done) = self.export.as_ref().and_then(|rx| rx.try_recv().ok()) {
            self.export = None;
            self.set_status(done.0, done.1);
        }
        if let Some(status) = &self.status
            && status
                .since
                .is_some_and(|t| now.duration_since(t) > STATUS_LIFETIME)
        {
            self.status = None;
            self.is_dirty = true;
        }
        self.poll_runs();
        if self.is_trainer_gone || self.tab == Tab::Training {
            return None;
        }
        if self
            .last_request
            .is_some_and(|t| now.duration_since(t) < SNAPSHOT_PERIOD)
        {
            return None;
        }
        self.last_request = Some(now);
        Some(self.snapshot_request())
    }

    pub(super) fn snapshot_request(&self) -> Command {
        match self.tab {
            Tab::Data => Command::RequestDataView,
            _ => Command::RequestSnapshot {
                input_index: self.activations.input_index,
            },
        }
    }

    /// Makes the next `tick` ask at once, after the person changed what the images should show.
    pub(super) fn request_soon(&mut self) {
        self.last_request = None;
    }

    pub fn state(&self) -> RunState {
        self.state
    }

    pub fn tab(&self) -> Tab {
        self.tab
    }

    pub fn should_quit(&self) -> bool {
        self.should_quit
    }

    pub fn is_trainer_gone(&self) -> bool {
        self.is_trainer_gone
    }

    pub fn is_confirming_quit(&self) -> bool {
        self.mode == Mode::ConfirmQuit
    }

    /// The overlay or dialog that has the keyboard.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// How the dashboard ended: the trainer stopped by this viewer, only left, or neither.
    pub fn ending(&self) -> super::Ending {
        if self.is_leaving {
            super::Ending::Left
        } else if self.has_stopped_trainer {
            super::Ending::Stopped
        } else {
            super::Ending::TrainerEnded
        }
    }

    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// The knob value the trainer reports using.
    pub fn knob_value(&self, knob: Knob) -> Option<f64> {
        self.knobs.map(|k| k.get(knob))
    }

    pub fn pending_value(&self, knob: Knob) -> Option<f64> {
        self.pending.get(&knob).copied()
    }

    pub fn fps(&self) -> u32 {
        self.opts.fps.max(1)
    }

    pub fn mark_dirty(&mut self) {
        self.is_dirty = true;
    }

    /// Key presses redraw at the frame rate; new training data at most every `data_refresh`.
    pub fn needs_redraw(
        &self,
        since_draw: Duration,
        frame: Duration,
        data_refresh: Duration,
    ) -> bool {
        (self.is_dirty && since_draw >= frame)
            || (self.is_data_dirty && since_draw >= data_refresh.max(frame))
    }

    pub fn mark_drawn(&mut self) {
        self.is_dirty = false;
        self.is_data_dirty = false;
    }

    pub(super) fn set_status(&mut self, level: Severity, text: String) {
        self.status = Some(Status {
            level,
            text,
            since: Some(Instant::now()),
        });
        self.is_dirty = true;
    }

    pub(super) fn set_pending(&mut self, knob: Knob, value: f64) {
        self.pending.insert(knob, value);
    }

    /// `x`: asks for a fresh checkpoint and exports once the trainer reports it saved (a
    /// finished run's files are exported at once), on a thread of its own: it reads files only.
    pub(super) fn start_export(&mut self) -> Option<Command> {
        let Some(info) = &self.info else {
            self.set_status(Severity::Warn, "no run yet: nothing to export".into());
            return None;
        };
        if self.export.is_some() || self.export_waiting.is_some() {
            return None;
        }
        let dir = std::path::PathBuf::from(&info.run_dir);
        self.set_status(Severity::Info, "exporting PNGs and metrics.csv…".into());
        if self.is_trainer_gone {
            self.spawn_export(dir);
            None
        } else {
            self.export_waiting = Some(dir);
            Some(Command::SaveCheckpoint)
        }
    }

    /// The checkpoint asked for by `x` is on disk (or will not come): export now.
    pub(super) fn export_after_save(&mut self) {
        if let Some(dir) = self.export_waiting.take() {
            self.spawn_export(dir);
        }
    }

    fn spawn_export(&mut self, dir: std::path::PathBuf) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let out = dir.join(crate::export::EXPORT_DIR);
            let done = match crate::export::export_run(&dir, &out) {
                Ok(e) => (
                    Severity::Info,
                    format!("exported {} files to {}", e.files.len(), out.display()),
                ),
                Err(e) => (Severity::Error, format!("export failed: {e}")),
            };
            let _ = tx.send(done);
        });
        self.export = Some(rx);
    }

    /// Total iterations the run is planned for.
    pub(super) fn total_iterations(&self) -> Option<u64> {
        self.info
            .as_ref()
            .map(|i| i.iters_per_epoch * u64::from(i.total_epochs))
    }
}
