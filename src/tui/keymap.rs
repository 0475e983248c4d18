//! Every key, once. The same tables drive key handling, the help overlay, the footer and the
//! README's key list (a test compares them), so the four cannot drift apart. Add a key by adding
//! a `Binding` to the table of the mode it acts in.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::Tab;
use super::keys::Action;

mod tables;
pub use tables::{
    CONFIRM_QUIT, CONFIRM_QUIT_ATTACHED, CONFIRM_TEST, CURSOR, DASHBOARD, EDIT_KNOB, HELP, RUNS,
    TABLES,
};

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
/// A binding `is_live` rejects (its keys would do nothing now) gets no hint.
pub fn hints(
    table: &[Binding],
    tab: Tab,
    is_live: impl Fn(&Binding) -> bool,
) -> Vec<(String, &'static str)> {
    let mut hints: Vec<(u8, String, &'static str)> = table
        .iter()
        .filter(|b| b.scope.includes(tab) && is_live(b))
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
