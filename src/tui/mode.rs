//! What has the keyboard: the dashboard itself, or one overlay or dialog on top of it. Add a
//! variant for a new overlay, its key table in `keymap`, and its drawing in `ui::render_mode`.

use super::keymap::{self, Binding};
use crate::train::Knob;

/// A knob value being typed after `Enter`, not yet sent.
#[derive(Debug, Clone, PartialEq)]
pub struct KnobEdit {
    pub knob: Knob,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Mode {
    #[default]
    Normal,
    /// The `?` overlay, scrolled down by `scroll` lines.
    Help {
        scroll: u16,
    },
    /// `q` or Ctrl-C while training: stop (with a checkpoint), or keep training.
    ConfirmQuit,
    /// `T`: open the test-set vault (recorded and counted)?
    ConfirmTest,
    EditKnob(KnobEdit),
    /// `i`: a vertical cursor on the charts at `iteration`, read out in the footer.
    Cursor {
        iteration: u64,
    },
    /// `o`: the runs table; the runs chosen in it are drawn behind the live run.
    Runs,
}

impl Mode {
    /// The keys that act in this mode; in a dialog, any other key does nothing.
    pub fn keymap(&self, is_attached: bool) -> &'static [Binding] {
        match self {
            Mode::Normal => keymap::DASHBOARD,
            Mode::Help { .. } => keymap::HELP,
            Mode::ConfirmQuit if is_attached => keymap::CONFIRM_QUIT_ATTACHED,
            Mode::ConfirmQuit => keymap::CONFIRM_QUIT,
            Mode::ConfirmTest => keymap::CONFIRM_TEST,
            Mode::EditKnob(_) => keymap::EDIT_KNOB,
            Mode::Cursor { .. } => keymap::CURSOR,
            Mode::Runs => keymap::RUNS,
        }
    }

    pub fn is_normal(&self) -> bool {
        *self == Mode::Normal
    }
}
