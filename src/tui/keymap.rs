//! Every key, once. The same tables drive key handling, the help overlay, the footer and the
//! README's key list (a test compares them), so the four cannot drift apart. Add a key by adding
//! a `Binding` to the table of the mode it acts in.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::Tab;
use super::keys::Action;

/// One key press: a code and the modifiers that must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn ch(c: char) -> Key {
    code(KeyCode::Char(c))
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn shift(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::SHIFT,
    }
}

impl Key {
    /// Shift is part of a character (`T`, `?`) and of `BackTab`, so it only counts on the
    /// arrows; Control and Alt always count.
    pub fn matches(self, event: &KeyEvent) -> bool {
        if self.code != event.code {
            return false;
        }
        let mut relevant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        if matches!(
            event.code,
            KeyCode::Left | KeyCode::Right | KeyCode::Up | KeyCode::Down
        ) {
            relevant |= KeyModifiers::SHIFT;
        }
        event.modifiers & relevant == self.mods & relevant
    }
}

/// Where a dashboard binding acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    On(&'static [Tab]),
}

impl Scope {
    pub fn includes(self, tab: Tab) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::On(tabs) => tabs.contains(&tab),
        }
    }

    pub fn heading(self) -> String {
        match self {
            Scope::Everywhere => "everywhere".into(),
            Scope::On(tabs) => {
                let names: Vec<String> = tabs.iter().map(|t| t.title().to_lowercase()).collect();
                format!(
                    "{} screen{}",
                    names.join(" · "),
                    if tabs.len() > 1 { "s" } else { "" }
                )
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Binding {
    /// Each key with the action it triggers.
    pub keys: &'static [(Key, Action)],
    /// The keys as the help, the footer and the README show them.
    pub shown: &'static str,
    pub what: &'static str,
    /// The footer's word for it; `None` keeps it out of the footer.
    pub hint: Option<&'static str>,
    pub scope: Scope,
}

const fn bind(
    keys: &'static [(Key, Action)],
    shown: &'static str,
    what: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        shown,
        what,
        hint,
        scope: Scope::Everywhere,
    }
}

const fn on(tabs: &'static [Tab], binding: Binding) -> Binding {
    Binding {
        scope: Scope::On(tabs),
        ..binding
    }
}

const TRAINING: &[Tab] = &[Tab::Training];
const IMAGES: &[Tab] = &[Tab::Filters, Tab::Activations];
const ACTIVATIONS: &[Tab] = &[Tab::Activations];
const FILTERS: &[Tab] = &[Tab::Filters];

/// The dashboard with no overlay open.
pub const DASHBOARD: &[Binding] = &[
    bind(
        &[
            (ch('1'), Action::ShowTab(Tab::Training)),
            (ch('2'), Action::ShowTab(Tab::Filters)),
            (ch('3'), Action::ShowTab(Tab::Activations)),
            (ch('4'), Action::ShowTab(Tab::Network)),
            (ch('5'), Action::ShowTab(Tab::Data)),
            (code(KeyCode::Tab), Action::NextTab),
            (code(KeyCode::BackTab), Action::PrevTab),
        ],
        "1-5 Tab",
        "switch screen",
        None,
    ),
    bind(
        &[(ch(' '), Action::TogglePause)],
        "space",
        "pause / resume",
        Some("pause"),
    ),
    bind(
        &[(ch('n'), Action::Step)],
        "n",
        "one step (while paused)",
        Some("step"),
    ),
    bind(
        &[(ch('e'), Action::EvaluateNow)],
        "e",
        "evaluate now",
        Some("eval"),
    ),
    bind(
        &[(ch('T'), Action::EvaluateTest)],
        "T",
        "TEST set (asks; recorded)",
        None,
    ),
    bind(
        &[(ch('s'), Action::Save)],
        "s",
        "save a checkpoint",
        Some("save"),
    ),
    bind(
        &[(ch('b'), Action::Rollback)],
        "b",
        "back to the best checkpoint",
        Some("best"),
    ),
    bind(
        &[(ch('x'), Action::Export)],
        "x",
        "export PNGs and metrics.csv",
        None,
    ),
    bind(
        &[(ch('d'), Action::Detach)],
        "d",
        "detach: leave an attached training running",
        None,
    ),
    bind(
        &[(ch('q'), Action::Quit), (ctrl('c'), Action::Quit)],
        "q ^C",
        "quit (asks while training; checkpoint)",
        Some("quit"),
    ),
    bind(
        &[
            (ch('?'), Action::OpenHelp),
            (code(KeyCode::F(1)), Action::OpenHelp),
        ],
        "? F1",
        "all keys",
        Some("keys"),
    ),
    bind(
        &[(code(KeyCode::Esc), Action::ClearStatus)],
        "Esc",
        "clear the message",
        None,
    ),
    on(
        TRAINING,
        bind(
            &[
                (code(KeyCode::Up), Action::SelectKnob(-1)),
                (code(KeyCode::Down), Action::SelectKnob(1)),
            ],
            "↑ ↓",
            "choose a knob",
            Some("knob"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[
                (
                    code(KeyCode::Left),
                    Action::StepKnob {
                        is_up: false,
                        is_big: false,
                    },
                ),
                (
                    code(KeyCode::Right),
                    Action::StepKnob {
                        is_up: true,
                        is_big: false,
                    },
                ),
                (
                    shift(KeyCode::Left),
                    Action::StepKnob {
                        is_up: false,
                        is_big: true,
                    },
                ),
                (
                    shift(KeyCode::Right),
                    Action::StepKnob {
                        is_up: true,
                        is_big: true,
                    },
                ),
            ],
            "← →",
            "÷2 ×2 the knob (shift ÷10 ×10)",
            Some("change"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(code(KeyCode::Enter), Action::EditKnob)],
            "⏎",
            "type a knob value",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('l'), Action::ToggleLogScale)],
            "l",
            "log-scale loss",
            Some("log"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('z'), Action::ToggleZoom)],
            "z",
            "recent / whole run",
            Some("zoom"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[
                (ch('['), Action::Smoothing(-1)),
                (ch(']'), Action::Smoothing(1)),
            ],
            "[ ]",
            "less / more smoothing",
            Some("smooth"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('i'), Action::Inspect)],
            "i",
            "inspect: a cursor on the charts",
            Some("inspect"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('r'), Action::ToggleFullRange)],
            "r",
            "charts: full range / ignore outliers",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('w'), Action::ToggleTimeAxis)],
            "w",
            "charts: x axis in epochs / wall-clock time",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('o'), Action::OpenRuns)],
            "o",
            "runs table: draw earlier runs behind this one",
            Some("runs"),
        ),
    ),
    on(
        TRAINING,
        bind(
            &[
                (ch('j'), Action::SelectAdvice(1)),
                (ch('k'), Action::SelectAdvice(-1)),
            ],
            "j k",
            "choose a diagnostic",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('v'), Action::ToggleAdviceDetail)],
            "v",
            "the diagnostic's full text / the list",
            None,
        ),
    ),
    on(
        TRAINING,
        bind(
            &[(ch('a'), Action::ApplyAdvice)],
            "a",
            "apply the diagnostic's advice",
            None,
        ),
    ),
    bind(
        &[(ch('A'), Action::ToggleAutopilot)],
        "A",
        "autopilot on / off (applies advice itself)",
        None,
    ),
    on(
        IMAGES,
        bind(
            &[
                (code(KeyCode::Up), Action::Layer(-1)),
                (code(KeyCode::Down), Action::Layer(1)),
                (ch('<'), Action::Layer(-1)),
                (ch('>'), Action::Layer(1)),
                (code(KeyCode::PageUp), Action::Layer(-1)),
                (code(KeyCode::PageDown), Action::Layer(1)),
            ],
            "↑ ↓ < > PgUp PgDn",
            "choose the layer",
            Some("layer"),
        ),
    ),
    on(
        ACTIVATIONS,
        bind(
            &[
                (code(KeyCode::Left), Action::Input(-1)),
                (code(KeyCode::Right), Action::Input(1)),
                (ch(','), Action::Input(-1)),
                (ch('.'), Action::Input(1)),
            ],
            "← → , .",
            "choose the input image",
            Some("image"),
        ),
    ),
    on(
        FILTERS,
        bind(
            &[(ch('g'), Action::ToggleGrads)],
            "g",
            "gradients beside filters",
            Some("gradients"),
        ),
    ),
];

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

/// The action `event` triggers on `tab` in `table`, if any.
pub fn lookup(table: &[Binding], tab: Tab, event: &KeyEvent) -> Option<Action> {
    table
        .iter()
        .filter(|b| b.scope.includes(tab))
        .flat_map(|b| b.keys.iter())
        .find(|(key, _)| key.matches(event))
        .map(|(_, action)| *action)
}

/// The footer's hints on `tab`: (keys, word), this screen's own first, the help key last.
pub fn hints(table: &[Binding], tab: Tab) -> Vec<(String, &'static str)> {
    let mut hints: Vec<(u8, String, &'static str)> = table
        .iter()
        .filter(|b| b.scope.includes(tab))
        .filter_map(|b| {
            let rank = match b.scope {
                _ if b.keys.iter().any(|(_, a)| *a == Action::OpenHelp) => 2,
                Scope::On(_) => 0,
                Scope::Everywhere => 1,
            };
            b.hint.map(|h| (rank, footer_keys(b.shown), h))
        })
        .collect();
    hints.sort_by_key(|h| h.0);
    hints.into_iter().map(|(_, k, h)| (k, h)).collect()
}

/// The keys as the footer shows them: a pair of one-character keys (`↑ ↓`, `[ ]`) together,
/// otherwise the first key.
fn footer_keys(shown: &str) -> String {
    let mut keys = shown.split(' ');
    let first = keys.next().unwrap_or(shown);
    match keys.next() {
        Some(second) if first.chars().count() == 1 && second.chars().count() == 1 => {
            format!("{first}{second}")
        }
        _ => first.to_string(),
    }
}

/// Sections of the help overlay and the README: a heading and its bindings.
pub fn sections() -> Vec<(String, Vec<&'static Binding>)> {
    let mut out: Vec<(String, Vec<&'static Binding>)> = Vec::new();
    for (heading, table) in TABLES {
        for binding in table.iter() {
            let title = if *heading == "dashboard" {
                binding.scope.heading()
            } else {
                heading.to_string()
            };
            match out.iter_mut().find(|(h, _)| *h == title) {
                Some((_, list)) => list.push(binding),
                None => out.push((title, vec![binding])),
            }
        }
    }
    out
}

/// The README's key list, generated from the tables.
pub fn markdown() -> String {
    let mut out = String::from("| where | keys | what |\n|---|---|---|\n");
    for (heading, bindings) in sections() {
        for (i, b) in bindings.iter().enumerate() {
            let keys: Vec<String> = b.shown.split(' ').map(|k| format!("`{k}`")).collect();
            let heading = if i == 0 { heading.as_str() } else { "" };
            out.push_str(&format!(
                "| {heading} | {} | {} |\n",
                keys.join(" "),
                b.what
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_counts_on_arrows_only() {
        let shifted_t = KeyEvent::new(KeyCode::Char('T'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(DASHBOARD, Tab::Training, &shifted_t),
            Some(Action::EvaluateTest)
        );
        let shifted_right = KeyEvent::new(KeyCode::Right, KeyModifiers::SHIFT);
        assert_eq!(
            lookup(DASHBOARD, Tab::Training, &shifted_right),
            Some(Action::StepKnob {
                is_up: true,
                is_big: true
            })
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(DASHBOARD, Tab::Data, &ctrl_c), Some(Action::Quit));
        let plain_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(lookup(DASHBOARD, Tab::Data, &plain_c), None);
    }

    #[test]
    fn no_key_means_two_things_in_one_place() {
        for (heading, table) in TABLES {
            for tab in Tab::ALL {
                let keys: Vec<Key> = table
                    .iter()
                    .filter(|b| b.scope.includes(tab))
                    .flat_map(|b| b.keys.iter().map(|(k, _)| *k))
                    .collect();
                for (i, k) in keys.iter().enumerate() {
                    assert!(
                        !keys[i + 1..].contains(k),
                        "{k:?} is bound twice in {heading} on {tab:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_readme_lists_every_key() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).expect("README.md");
        let table = markdown();
        assert!(
            readme.contains(&table),
            "README.md's key table differs from tui/keymap.rs; paste this in:\n{table}"
        );
    }
}
