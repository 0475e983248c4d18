//! Key presses → `Action` (through `keymap`) → state change and, maybe, a `Command`.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Tab};
use super::keymap;
use super::knob_values::{parse_knob_value, step_knob};
use super::mode::{KnobEdit, Mode};
use crate::train::{Command, Knob, RunState, Severity};

/// The longest knob value one can type.
const MAX_TYPED: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ShowTab(Tab),
    NextTab,
    PrevTab,
    TogglePause,
    Step,
    EvaluateNow,
    /// Asks to confirm, then evaluates the test set (recorded and counted).
    EvaluateTest,
    Save,
    Rollback,
    OpenHelp,
    /// Asks while training, then stops the trainer (which writes a checkpoint).
    Quit,
    /// Write PNGs and metrics.csv of the run (`convtop export`).
    Export,
    /// Leave an attached training running (local sessions have nothing to detach from).
    Detach,
    ClearStatus,
    SelectKnob(isize),
    /// `is_big` is the shift step: ×10 instead of ×2.
    StepKnob {
        is_up: bool,
        is_big: bool,
    },
    EditKnob,
    ToggleLogScale,
    ToggleZoom,
    Smoothing(isize),
    Layer(isize),
    /// The network screen's layer table: rows down (negative: up).
    ScrollNetwork(isize),
    Input(isize),
    ToggleGrads,
    /// In the help overlay: lines down (negative: up).
    ScrollHelp(i16),
    /// The dialog's yes.
    Confirm,
    /// The dialog's no: close it, change nothing.
    Cancel,
    /// The attached viewer's quit dialog: quit the viewer, keep the training.
    Leave,
    /// Typing a knob value: delete the last character.
    DeleteChar,
    /// `i`: the charts' inspection cursor.
    Inspect,
    /// Moves the cursor this many steps (a step is about a chart column).
    MoveCursor(i16),
    /// Moves the cursor to the first (false) or last (true) iteration shown.
    CursorToEnd(bool),
    /// `r`: the charts' full y-range, or the fitted one.
    ToggleFullRange,
    /// Move the selection in the diagnostics panel.
    SelectAdvice(isize),
    /// The selected diagnostic's full text, or back to the list.
    ToggleAdviceDetail,
    /// Apply the selected diagnostic's action.
    ApplyAdvice,
    ToggleAutopilot,
    /// `o`: the runs table, to draw earlier runs behind this one.
    OpenRuns,
    /// In the runs table: rows down (negative: up).
    MoveRun(i16),
    /// Draw the highlighted run behind the live one, or stop drawing it.
    ToggleRun,
    /// Sort the runs table by the next column.
    SortRuns,
    ReverseSort,
    /// Stop drawing every earlier run.
    ClearOverlays,
    /// The charts' x axis: epochs or wall-clock time.
    ToggleTimeAxis,
}

impl App {
    /// Applies one key press; returns the command it sends to the trainer, if any.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Command> {
        self.mark_dirty();
        let table = self.mode.keymap(self.is_attached);
        if let Some(action) = keymap::lookup(table, self.tab, &key) {
            return self.apply(action);
        }
        if let Mode::EditKnob(edit) = &mut self.mode
            && let KeyCode::Char(c) = key.code
            && !key.modifiers.contains(KeyModifiers::CONTROL)
            && edit.text.chars().count() < MAX_TYPED
        {
            edit.text.push(c);
        }
        None
    }

    pub fn apply(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Confirm => return self.confirm(),
            Action::Cancel => self.cancel(),
            Action::Leave => return self.leave(),
            Action::DeleteChar => {
                if let Mode::EditKnob(edit) = &mut self.mode {
                    edit.text.pop();
                }
            }
            Action::ScrollHelp(delta) => {
                if let Mode::Help { scroll } = &mut self.mode {
                    let last = super::help::line_count().saturating_sub(1) as i32;
                    *scroll = (i32::from(*scroll) + i32::from(delta)).clamp(0, last) as u16;
                }
            }
            Action::OpenHelp => self.mode = Mode::Help { scroll: 0 },
            Action::Quit => {
                let is_training = !self.is_trainer_gone
                    && !matches!(self.state, RunState::Finished | RunState::Stopped);
                if is_training {
                    self.mode = Mode::ConfirmQuit;
                } else {
                    return self.quit_now();
                }
            }
            Action::ShowTab(tab) => self.show_tab(tab),
            Action::NextTab => self.show_tab(self.tab.cycle(1)),
            Action::PrevTab => self.show_tab(self.tab.cycle(-1)),
            Action::TogglePause => {
                return self.if_alive(match self.state {
                    RunState::Paused | RunState::Diverged => Command::Resume,
                    _ => Command::Pause,
                });
            }
            Action::Step => {
                if matches!(self.state, RunState::Paused | RunState::Diverged) {
                    return self.if_alive(Command::Step);
                }
                self.set_status(
                    Severity::Info,
                    "n steps once while paused (space pauses)".into(),
                );
            }
            Action::EvaluateNow => return self.if_alive(Command::EvaluateNow),
            Action::EvaluateTest => {
                if self.is_trainer_gone {
                    self.set_status(
                        Severity::Info,
                        "the trainer has ended: convtop test evaluates a run's test set".into(),
                    );
                } else {
                    self.mode = Mode::ConfirmTest;
                }
            }
            Action::Save => return self.if_alive(Command::SaveCheckpoint),
            Action::Rollback => return self.if_alive(Command::RollbackToBest),
            Action::Export => return self.start_export(),
            Action::Detach if self.is_attached => return self.leave(),
            Action::Detach => self.set_status(
                Severity::Info,
                "d detaches a viewer of `convtop train --detach`; this session is local".into(),
            ),
            Action::ClearStatus => self.status = None,
            Action::SelectAdvice(delta) => self.select_advice(delta),
            Action::ToggleAdviceDetail => {
                self.advice.is_detail = !self.advice.is_detail;
                self.advice.detail_scroll = 0;
            }
            Action::ApplyAdvice => return self.apply_selected_advice(),
            Action::ToggleAutopilot => return self.toggle_autopilot(),
            Action::SelectKnob(delta) => {
                let n = Knob::ALL.len() as isize;
                let view = &mut self.training;
                view.selected_knob = (view.selected_knob as isize + delta).rem_euclid(n) as usize;
            }
            Action::StepKnob { is_up, is_big } => {
                let knob = self.selected_knob();
                let current = self.pending_value(knob).or(self.knob_value(knob))?;
                let value = step_knob(knob, current, is_up, is_big);
                return self.send_knob(knob, value);
            }
            Action::EditKnob => {
                self.mode = Mode::EditKnob(KnobEdit {
                    knob: self.selected_knob(),
                    text: String::new(),
                });
            }
            Action::ToggleLogScale => self.training.is_log_scale ^= true,
            Action::ToggleZoom => self.training.is_whole_run ^= true,
            Action::Smoothing(delta) => {
                let s = (self.training.smoothing + 0.1 * delta as f64).clamp(0.0, 0.99);
                self.training.smoothing = (s * 100.0).round() / 100.0;
                self.history.set_smoothing(self.training.smoothing);
            }
            Action::Inspect | Action::MoveCursor(_) | Action::CursorToEnd(_) => {
                self.move_cursor(action);
            }
            Action::ToggleFullRange => self.training.is_full_range ^= true,
            Action::OpenRuns => self.open_runs(),
            Action::MoveRun(_)
            | Action::ToggleRun
            | Action::SortRuns
            | Action::ReverseSort
            | Action::ClearOverlays => self.runs_action(action),
            Action::ToggleTimeAxis => self.training.is_time_axis ^= true,
            Action::Layer(delta) => self.step_layer(delta),
            Action::ScrollNetwork(delta) => {
                let max = self.network.max_scroll.get() as isize;
                self.network.scroll = (self.network.scroll as isize + delta).clamp(0, max) as usize;
            }
            Action::Input(delta) => {
                let count = self.info.as_ref().map_or(1, |i| i.val_size.max(1));
                let view = &mut self.activations;
                view.input_index =
                    (view.input_index as isize + delta).rem_euclid(count as isize) as usize;
                view.is_input_chosen = true;
                self.request_soon();
                return self.if_alive(self.snapshot_request());
            }
            Action::ToggleGrads => self.filters.is_showing_grads ^= true,
        }
        None
    }

    fn selected_knob(&self) -> Knob {
        Knob::ALL[self.training.selected_knob % Knob::ALL.len()]
    }

    fn step_layer(&mut self, delta: isize) {
        let count = self.snapshot.as_ref().map_or(0, |s| match self.tab {
            Tab::Filters => s.filters.len(),
            _ => s.activations.len(),
        });
        let layer = match self.tab {
            Tab::Filters => &mut self.filters.layer,
            _ => &mut self.activations.layer,
        };
        if count > 0 {
            *layer = (*layer as isize + delta).rem_euclid(count as isize) as usize;
        }
    }

    /// The open dialog's yes.
    fn confirm(&mut self) -> Option<Command> {
        match std::mem::take(&mut self.mode) {
            Mode::ConfirmQuit => self.quit_now(),
            Mode::ConfirmTest => self.if_alive(Command::EvaluateTest),
            Mode::EditKnob(edit) => match parse_knob_value(edit.knob, &edit.text) {
                Ok(value) => self.send_knob(edit.knob, value),
                Err(message) => {
                    self.set_status(Severity::Error, message);
                    None
                }
            },
            other => {
                self.mode = other;
                None
            }
        }
    }

    /// The open overlay's no: close it, change nothing.
    fn cancel(&mut self) {
        if std::mem::take(&mut self.mode) == Mode::ConfirmTest {
            self.set_status(Severity::Info, "test set left untouched".into());
        }
    }

    fn show_tab(&mut self, tab: Tab) {
        if self.tab != tab {
            self.tab = tab;
            self.request_soon();
        }
    }

    fn quit_now(&mut self) -> Option<Command> {
        self.should_quit = true;
        if self.is_trainer_gone {
            return None;
        }
        self.set_status(
            Severity::Info,
            "stopping: the trainer writes a checkpoint…".into(),
        );
        self.has_stopped_trainer = true;
        Some(Command::Stop)
    }

    /// Quits the viewer and leaves the trainer as it is.
    fn leave(&mut self) -> Option<Command> {
        self.mode = Mode::Normal;
        self.should_quit = true;
        self.is_leaving = true;
        None
    }

    /// The terminal hung up: a local session stops its trainer (which writes a checkpoint), an
    /// attached viewer only lets go.
    pub fn hang_up(&mut self) -> Option<Command> {
        if self.is_attached {
            self.leave()
        } else {
            self.quit_now()
        }
    }

    pub(super) fn if_alive(&mut self, command: Command) -> Option<Command> {
        if self.is_trainer_gone {
            self.set_status(
                Severity::Warn,
                "the trainer has ended; nothing to control".into(),
            );
            None
        } else {
            Some(command)
        }
    }

    fn send_knob(&mut self, knob: Knob, value: f64) -> Option<Command> {
        let command = self.if_alive(Command::SetKnob { knob, value })?;
        self.set_pending(knob, value);
        Some(command)
    }
}
