//! Key presses → `Action` → state change and, maybe, a `Command` for the trainer.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, KnobEdit, Tab};
use super::knob_values::{parse_knob_value, step_knob};
use crate::train::{Command, Knob, RunState, Severity};

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
    ToggleHelp,
    Quit,
    /// Write PNGs and metrics.csv of the run (`convtop export`).
    Export,
    /// Leave an attached training running (local sessions have nothing to detach from).
    Detach,
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
    Input(isize),
    ToggleGrads,
}

impl Action {
    pub fn from_key(key: KeyEvent, tab: Tab) -> Option<Action> {
        let is_shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let is_image_tab = matches!(tab, Tab::Filters | Tab::Activations);
        let action = match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
            KeyCode::Char(c @ '1'..='5') => {
                let index = c as usize - '1' as usize;
                Action::ShowTab(Tab::ALL[index])
            }
            KeyCode::Tab => Action::NextTab,
            KeyCode::BackTab => Action::PrevTab,
            KeyCode::Char(' ') => Action::TogglePause,
            KeyCode::Char('n') => Action::Step,
            KeyCode::Char('e') => Action::EvaluateNow,
            KeyCode::Char('T') => Action::EvaluateTest,
            KeyCode::Char('s') => Action::Save,
            KeyCode::Char('b') => Action::Rollback,
            KeyCode::Char('?') | KeyCode::F(1) => Action::ToggleHelp,
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('d') => Action::Detach,
            KeyCode::Char('x') => Action::Export,
            KeyCode::Char('l') => Action::ToggleLogScale,
            KeyCode::Char('z') => Action::ToggleZoom,
            KeyCode::Char('[') => Action::Smoothing(-1),
            KeyCode::Char(']') => Action::Smoothing(1),
            KeyCode::Char('g') => Action::ToggleGrads,
            KeyCode::Char('<') | KeyCode::PageUp => Action::Layer(-1),
            KeyCode::Char('>') | KeyCode::PageDown => Action::Layer(1),
            KeyCode::Char(',') => Action::Input(-1),
            KeyCode::Char('.') => Action::Input(1),
            KeyCode::Up if tab == Tab::Training => Action::SelectKnob(-1),
            KeyCode::Down if tab == Tab::Training => Action::SelectKnob(1),
            KeyCode::Left if tab == Tab::Training => Action::StepKnob {
                is_up: false,
                is_big: is_shift,
            },
            KeyCode::Right if tab == Tab::Training => Action::StepKnob {
                is_up: true,
                is_big: is_shift,
            },
            KeyCode::Left if is_image_tab => Action::Input(-1),
            KeyCode::Right if is_image_tab => Action::Input(1),
            KeyCode::Up if is_image_tab => Action::Layer(-1),
            KeyCode::Down if is_image_tab => Action::Layer(1),
            KeyCode::Enter if tab == Tab::Training => Action::EditKnob,
            _ => return None,
        };
        Some(action)
    }
}

impl App {
    /// Applies one key press; returns the command it sends to the trainer, if any.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Command> {
        self.mark_dirty();
        if self.is_confirming_quit {
            self.is_confirming_quit = false;
            return match key.code {
                KeyCode::Char('y' | 'Y' | 'q') | KeyCode::Enter => self.quit_now(),
                KeyCode::Char('d' | 'l') if self.is_attached => self.leave(),
                _ => None,
            };
        }
        if self.is_confirming_test {
            self.is_confirming_test = false;
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                return self.if_alive(Command::EvaluateTest);
            }
            self.set_status(Severity::Info, "test set left untouched".into());
            return None;
        }
        if self.edit.is_some() {
            return self.handle_edit_key(key);
        }
        if self.is_showing_help {
            self.is_showing_help = false;
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?')) {
                return None;
            }
        }
        if key.code == KeyCode::Esc {
            self.status = None;
            return None;
        }
        let action = Action::from_key(key, self.tab)?;
        self.apply(action)
    }

    pub fn apply(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::ShowTab(tab) => self.show_tab(tab),
            Action::NextTab => self.show_tab(Tab::ALL[(self.tab.index() + 1) % Tab::ALL.len()]),
            Action::PrevTab => {
                self.show_tab(Tab::ALL[(self.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()])
            }
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
            Action::EvaluateTest => self.is_confirming_test = !self.is_trainer_gone,
            Action::Save => return self.if_alive(Command::SaveCheckpoint),
            Action::Rollback => return self.if_alive(Command::RollbackToBest),
            Action::ToggleHelp => self.is_showing_help = !self.is_showing_help,
            Action::Quit => {
                let is_training = !self.is_trainer_gone
                    && !matches!(self.state, RunState::Finished | RunState::Stopped);
                if is_training {
                    self.is_confirming_quit = true;
                } else {
                    return self.quit_now();
                }
            }
            Action::Export => return self.start_export(),
            Action::Detach if self.is_attached => return self.leave(),
            Action::Detach => self.set_status(
                Severity::Info,
                "d detaches a viewer of `convtop train --detach`; this session is local".into(),
            ),
            Action::SelectKnob(delta) => {
                let n = Knob::ALL.len() as isize;
                self.selected_knob = (self.selected_knob as isize + delta).rem_euclid(n) as usize;
            }
            Action::StepKnob { is_up, is_big } => {
                let knob = Knob::ALL[self.selected_knob];
                let current = self.pending_value(knob).or(self.knob_value(knob))?;
                let value = step_knob(knob, current, is_up, is_big);
                return self.send_knob(knob, value);
            }
            Action::EditKnob => {
                self.edit = Some(KnobEdit {
                    knob: Knob::ALL[self.selected_knob],
                    text: String::new(),
                });
            }
            Action::ToggleLogScale => self.is_log_scale = !self.is_log_scale,
            Action::ToggleZoom => self.is_whole_run = !self.is_whole_run,
            Action::Smoothing(delta) => {
                self.smoothing = (self.smoothing + 0.1 * delta as f64).clamp(0.0, 0.99);
                self.smoothing = (self.smoothing * 100.0).round() / 100.0;
            }
            Action::Layer(delta) => {
                let count = self.snapshot.as_ref().map_or(0, |s| match self.tab {
                    Tab::Filters => s.filters.len(),
                    _ => s.activations.len(),
                });
                let layer = match self.tab {
                    Tab::Filters => &mut self.filter_layer,
                    _ => &mut self.activation_layer,
                };
                if count > 0 {
                    *layer = (*layer as isize + delta).rem_euclid(count as isize) as usize;
                }
            }
            Action::Input(delta) => {
                let count = self.info.as_ref().map_or(1, |i| i.val_size.max(1));
                self.input_index =
                    (self.input_index as isize + delta).rem_euclid(count as isize) as usize;
                self.is_input_chosen = true;
                self.request_soon();
                return self.if_alive(self.snapshot_request());
            }
            Action::ToggleGrads => self.is_showing_grads = !self.is_showing_grads,
        }
        None
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
        Some(Command::Stop)
    }

    /// Quits the viewer and leaves the trainer as it is.
    fn leave(&mut self) -> Option<Command> {
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

    fn if_alive(&mut self, command: Command) -> Option<Command> {
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

    fn handle_edit_key(&mut self, key: KeyEvent) -> Option<Command> {
        let edit = self.edit.as_mut()?;
        match key.code {
            KeyCode::Esc => self.edit = None,
            KeyCode::Backspace => {
                edit.text.pop();
            }
            KeyCode::Char(c) if edit.text.len() < 24 => edit.text.push(c),
            KeyCode::Enter => {
                let knob = edit.knob;
                let text = std::mem::take(&mut edit.text);
                self.edit = None;
                return match parse_knob_value(knob, &text) {
                    Ok(value) => self.send_knob(knob, value),
                    Err(message) => {
                        self.set_status(Severity::Error, message);
                        None
                    }
                };
            }
            _ => {}
        }
        None
    }
}
