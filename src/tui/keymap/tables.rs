//! The binding tables, one for each mode a key acts in.

use super::*;

mod dashboard;
pub use dashboard::DASHBOARD;

/// The `?` overlay.
pub const HELP: &[Binding] = &[
    bind(
        &[
            (code(KeyCode::Up), Action::ScrollHelp(-1)),
            (code(KeyCode::Down), Action::ScrollHelp(1)),
            (ch('k'), Action::ScrollHelp(-1)),
            (ch('j'), Action::ScrollHelp(1)),
            (code(KeyCode::PageUp), Action::ScrollHelp(-10)),
            (code(KeyCode::PageDown), Action::ScrollHelp(10)),
            (code(KeyCode::Home), Action::ScrollHelp(i16::MIN)),
            (code(KeyCode::End), Action::ScrollHelp(i16::MAX)),
        ],
        "↑ ↓ j k PgUp PgDn",
        "scroll",
        Some("scroll"),
    ),
    bind(
        &[
            (code(KeyCode::Esc), Action::Cancel),
            (ch('?'), Action::Cancel),
            (ch('q'), Action::Cancel),
            (code(KeyCode::F(1)), Action::Cancel),
        ],
        "Esc ? q",
        "close",
        Some("close"),
    ),
    bind(&[(ctrl('c'), Action::Quit)], "^C", "quit (asks)", None),
];

/// The quit dialog of a local training.
pub const CONFIRM_QUIT: &[Binding] = &[
    bind(
        &[
            (ch('y'), Action::Confirm),
            (ch('Y'), Action::Confirm),
            (ctrl('c'), Action::Confirm),
        ],
        "y ^C",
        "quit (a checkpoint is written)",
        Some("quit"),
    ),
    bind(
        &[
            (ch('n'), Action::Cancel),
            (ch('N'), Action::Cancel),
            (code(KeyCode::Esc), Action::Cancel),
        ],
        "n Esc",
        "keep training",
        Some("keep training"),
    ),
];

/// The quit dialog of a viewer attached to a detached training.
pub const CONFIRM_QUIT_ATTACHED: &[Binding] = &[
    bind(
        &[(ch('y'), Action::Confirm), (ch('Y'), Action::Confirm)],
        "y",
        "stop the training (a checkpoint is written)",
        Some("stop"),
    ),
    bind(
        &[
            (ch('d'), Action::Leave),
            (ch('l'), Action::Leave),
            (ctrl('c'), Action::Leave),
        ],
        "d ^C",
        "leave it running (convtop attach comes back)",
        Some("leave"),
    ),
    bind(
        &[
            (ch('n'), Action::Cancel),
            (ch('N'), Action::Cancel),
            (code(KeyCode::Esc), Action::Cancel),
        ],
        "n Esc",
        "stay",
        Some("stay"),
    ),
];

/// The test-set dialog.
pub const CONFIRM_TEST: &[Binding] = &[
    bind(
        &[(ch('y'), Action::Confirm), (ch('Y'), Action::Confirm)],
        "y",
        "evaluate the test set (recorded)",
        Some("evaluate"),
    ),
    bind(
        &[
            (ch('n'), Action::Cancel),
            (ch('N'), Action::Cancel),
            (code(KeyCode::Esc), Action::Cancel),
        ],
        "n Esc",
        "leave the test set untouched",
        Some("leave it"),
    ),
    bind(&[(ctrl('c'), Action::Quit)], "^C", "quit (asks)", None),
];

/// Typing a knob value; other characters go into the value.
pub const EDIT_KNOB: &[Binding] = &[
    bind(
        &[(code(KeyCode::Enter), Action::Confirm)],
        "⏎",
        "set the typed value",
        Some("set"),
    ),
    bind(
        &[(code(KeyCode::Esc), Action::Cancel)],
        "Esc",
        "cancel",
        Some("cancel"),
    ),
    bind(
        &[(code(KeyCode::Backspace), Action::DeleteChar)],
        "⌫",
        "delete a character",
        None,
    ),
    bind(&[(ctrl('c'), Action::Quit)], "^C", "quit (asks)", None),
];

/// The charts' cursor (`i`): its readout replaces the footer.
pub const CURSOR: &[Binding] = &[
    bind(
        &[
            (code(KeyCode::Left), Action::MoveCursor(-1)),
            (code(KeyCode::Right), Action::MoveCursor(1)),
            (shift(KeyCode::Left), Action::MoveCursor(-10)),
            (shift(KeyCode::Right), Action::MoveCursor(10)),
        ],
        "← →",
        "move the cursor (shift ×10)",
        Some("move"),
    ),
    bind(
        &[
            (code(KeyCode::Home), Action::CursorToEnd(false)),
            (code(KeyCode::End), Action::CursorToEnd(true)),
        ],
        "Home End",
        "first / last iteration shown",
        None,
    ),
    bind(
        &[(ch('l'), Action::ToggleLogScale)],
        "l",
        "log-scale loss",
        None,
    ),
    bind(
        &[(ch('z'), Action::ToggleZoom)],
        "z",
        "recent / whole run",
        None,
    ),
    bind(
        &[(ch('r'), Action::ToggleFullRange)],
        "r",
        "full range / ignore outliers",
        None,
    ),
    bind(
        &[(ch('w'), Action::ToggleTimeAxis)],
        "w",
        "x axis in epochs / wall-clock time",
        None,
    ),
    bind(
        &[
            (code(KeyCode::Esc), Action::Cancel),
            (ch('i'), Action::Cancel),
        ],
        "Esc i",
        "leave the cursor",
        Some("leave"),
    ),
    bind(&[(ctrl('c'), Action::Quit)], "^C", "quit (asks)", None),
];

/// The runs table (`o`): the runs chosen are drawn behind the live one as they are chosen.
pub const RUNS: &[Binding] = &[
    bind(
        &[
            (code(KeyCode::Up), Action::MoveRun(-1)),
            (code(KeyCode::Down), Action::MoveRun(1)),
            (ch('k'), Action::MoveRun(-1)),
            (ch('j'), Action::MoveRun(1)),
            (code(KeyCode::PageUp), Action::MoveRun(-10)),
            (code(KeyCode::PageDown), Action::MoveRun(10)),
            (code(KeyCode::Home), Action::MoveRun(i16::MIN)),
            (code(KeyCode::End), Action::MoveRun(i16::MAX)),
        ],
        "↑ ↓ j k PgUp PgDn",
        "choose a run",
        Some("move"),
    ),
    bind(
        &[
            (ch(' '), Action::ToggleRun),
            (code(KeyCode::Enter), Action::ToggleRun),
        ],
        "space ⏎",
        "draw the run behind this one / stop drawing it",
        Some("select"),
    ),
    bind(
        &[(ch('s'), Action::SortRuns)],
        "s",
        "sort by the next column",
        Some("sort"),
    ),
    bind(
        &[(ch('r'), Action::ReverseSort)],
        "r",
        "reverse the sort",
        Some("reverse"),
    ),
    bind(
        &[(ch('c'), Action::ClearOverlays)],
        "c",
        "stop drawing every earlier run",
        None,
    ),
    bind(
        &[
            (code(KeyCode::Esc), Action::Cancel),
            (ch('o'), Action::Cancel),
            (ch('q'), Action::Cancel),
        ],
        "Esc o q",
        "close the table",
        Some("close"),
    ),
    bind(&[(ctrl('c'), Action::Quit)], "^C", "quit (asks)", None),
];

/// Every table with its heading, in the order the help and the README list them.
pub const TABLES: &[(&str, &[Binding])] = &[
    ("dashboard", DASHBOARD),
    ("in this help", HELP),
    ("quit dialog", CONFIRM_QUIT),
    ("quit dialog of an attached viewer", CONFIRM_QUIT_ATTACHED),
    ("test-set dialog", CONFIRM_TEST),
    ("typing a knob value", EDIT_KNOB),
    ("the charts' cursor", CURSOR),
    ("the runs table", RUNS),
];
