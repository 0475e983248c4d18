//! Colours, glyphs and number formats shared by every widget, in colour or plain ASCII.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::ColorMode;
use crate::train::{RunState, Severity};

pub const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// Unicode text and its ASCII stand-in, replaced before layout so widths stay honest.
const ASCII_SUBSTITUTES: [(&str, &str); 40] = [
    ("↑↓", "up/dn"),
    ("←→", "<-/->"),
    ("━", "*"),
    ("┊", ":"),
    ("…", "..."),
    ("→", "->"),
    ("←", "<-"),
    ("↑", "up"),
    ("↓", "dn"),
    ("×", "x"),
    ("÷", "/"),
    ("λ", "lambda"),
    ("α", "alpha"),
    ("–", "-"),
    ("‖", "|"),
    ("∇", "d"),
    (" · ", " - "),
    ("·", "*"),
    ("−", "-"),
    ("✓", "ok"),
    ("✗", "X"),
    ("▸", ">"),
    ("●", "O"),
    ("▲", "!"),
    ("⌊", "floor("),
    ("⌋", ")"),
    ("⌈", "ceil("),
    ("⌉", ")"),
    ("Σ", "sum"),
    ("²", "^2"),
    ("β", "beta"),
    ("γ", "gamma"),
    ("μ", "mu"),
    ("σ", "sigma"),
    ("√", "sqrt"),
    ("⏎", "Enter"),
    ("⌫", "Bksp"),
    ("│", "|"),
    ("±", "+-"),
    ("↶", "<<"),
];

/// The series a chart draws; each gets its own colour and, in ASCII, its own character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    TrainRaw,
    Train,
    Val,
    Mark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: ColorMode,
    pub is_ascii: bool,
}

impl Theme {
    pub fn is_mono(&self) -> bool {
        self.color == ColorMode::Mono
    }

    fn fg(&self, color: Color) -> Style {
        if self.is_mono() {
            Style::new()
        } else {
            Style::new().fg(color)
        }
    }

    pub fn train(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn val(&self) -> Style {
        self.fg(Color::Yellow)
    }

    /// An earlier run drawn behind the live one: a colour of its own (neither train's cyan nor
    /// val's yellow), dimmed.
    pub fn overlay(&self, slot: usize) -> Style {
        const COLORS: [Color; 6] = [
            Color::Magenta,
            Color::LightBlue,
            Color::Green,
            Color::LightRed,
            Color::White,
            Color::LightMagenta,
        ];
        self.fg(COLORS[slot % COLORS.len()])
            .add_modifier(Modifier::DIM)
    }

    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// The terminal's own foreground: readable on dark and light backgrounds alike.
    pub fn label(&self) -> Style {
        Style::new()
    }

    pub fn value(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        if self.is_mono() {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        }
    }

    pub fn series(&self, kind: SeriesKind) -> Style {
        match kind {
            SeriesKind::TrainRaw | SeriesKind::Mark => self.dim(),
            SeriesKind::Train => self.train(),
            SeriesKind::Val => self.val().add_modifier(Modifier::BOLD),
        }
    }

    pub fn severity(&self, severity: Severity) -> Style {
        match severity {
            // ANSI blue is hard to read on a dark background, and cyan on a light one
            Severity::Info => Style::new(),
            Severity::Warn => self.warn().add_modifier(Modifier::BOLD),
            Severity::Error => self.bad(),
        }
    }

    pub fn state(&self, state: RunState) -> Style {
        let style = match state {
            RunState::Running => self.good(),
            RunState::Starting => self.fg(Color::Magenta),
            RunState::Paused => self.warn(),
            RunState::Diverged => self.bad(),
            RunState::Finished => self.fg(Color::LightGreen),
            RunState::Stopped => self.dim(),
        };
        style.add_modifier(Modifier::BOLD)
    }

    /// A bordered panel with a title; rounded corners in Unicode, `+-|` in ASCII.
    pub fn block(&self, title: &str) -> Block<'static> {
        self.block_line(Line::from(Span::styled(
            format!(" {} ", self.t(title)),
            self.title(),
        )))
    }

    pub fn block_line(&self, title: Line<'static>) -> Block<'static> {
        let set = if self.is_ascii {
            ASCII_BORDER
        } else {
            border::ROUNDED
        };
        Block::bordered()
            .border_set(set)
            .border_style(self.dim())
            .title(title)
    }

    /// The text as given, or with its Unicode replaced by ASCII in ASCII mode.
    pub fn t<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.is_ascii || text.is_ascii() {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for (from, to) in ASCII_SUBSTITUTES {
            if out.contains(from) {
                out = out.replace(from, to);
            }
        }
        Cow::Owned(out)
    }

    /// A small dot for "nothing here" in tables.
    pub fn none(&self) -> &'static str {
        if self.is_ascii { "." } else { "·" }
    }

    /// Spans made ASCII-safe in ASCII mode.
    pub fn line(&self, spans: Vec<Span<'_>>) -> Line<'static> {
        Line::from(
            spans
                .into_iter()
                .map(|s| Span::styled(self.t(&s.content).into_owned(), s.style))
                .collect::<Vec<_>>(),
        )
    }

    /// A horizontal bar `width` cells wide, `fraction` of it filled.
    pub fn bar(&self, fraction: f64, width: usize) -> (String, String) {
        let filled = ((fraction.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
        let (on, off) = if self.is_ascii {
            ("#", "-")
        } else {
            ("█", "░")
        };
        (on.repeat(filled), off.repeat(width - filled))
    }

    /// Replaces what the ASCII substitutions missed (chart axes, markers), so ASCII mode stays
    /// ASCII whatever a widget drew.
    pub fn enforce_ascii(&self, area: Rect, buf: &mut Buffer) {
        if !self.is_ascii {
            return;
        }
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                if let Some(cell) = buf.cell_mut((x, y))
                    && !cell.symbol().is_ascii()
                {
                    let replacement = ascii_fallback(cell.symbol());
                    cell.set_symbol(replacement);
                }
            }
        }
    }
}

fn ascii_fallback(symbol: &str) -> &'static str {
    match symbol.chars().next().unwrap_or(' ') {
        '─' | '━' | '═' | '╌' | '┄' => "-",
        '┊' | '┆' => ":",
        '│' | '┃' | '║' => "|",
        '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮' | '╯' | '╰' => {
            "+"
        }
        '\u{2800}' => " ",
        '\u{2801}'..='\u{28FF}' => ".",
        '•' | '●' => "*",
        '▀' | '▄' | '█' | '▌' | '▐' => "#",
        '░' | '▒' | '▓' => ":",
        '…' => ".",
        _ => "?",
    }
}

/// Engineering-style scientific notation for rates: `1.0e-2`.
pub fn sci(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    format!("{value:.1e}")
}

/// Three significant digits without an exponent where that reads well, keeping trailing zeros so a
/// live readout does not change width from frame to frame (messages use `units::sig`, which drops them).
pub fn num(value: f64) -> String {
    let a = value.abs();
    if !value.is_finite() {
        format!("{value}")
    } else if a == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{value:.2e}")
    } else if a >= 100.0 {
        format!("{value:.0}")
    } else if a >= 10.0 {
        format!("{value:.1}")
    } else if a >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// `12,345`
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `850`, `12.3k`, `1.2M` for axis labels.
pub fn short_count(value: f64) -> String {
    let a = value.abs();
    if a >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// `42s`, `4m12s`, `1h03m`
pub fn duration(seconds: f64) -> String {
    crate::units::duration(seconds)
}

pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(sci(0.01), "1.0e-2");
        assert_eq!(sci(5e-4), "5.0e-4");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(duration(252.0), "4m12s");
        assert_eq!(duration(3780.0), "1h03m");
        assert_eq!(short_count(12_500.0), "12k");
        assert_eq!(num(0.12345), "0.123");
    }

    #[test]
    fn ascii_text() {
        let theme = Theme {
            color: ColorMode::Mono,
            is_ascii: true,
        };
        assert_eq!(theme.t("λ × 2 → 4…"), "lambda x 2 -> 4...");
    }
}
