//! The `?` overlay: every key, grouped.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::app::App;
use super::ui::centered;

const GENERAL: &[(&str, &str)] = &[
    ("1-5 Tab", "switch screen"),
    ("space", "pause / resume"),
    ("n", "one step (paused)"),
    ("e", "evaluate now"),
    ("T", "TEST set (asks; recorded)"),
    ("s", "save a checkpoint"),
    ("b", "back to best checkpoint"),
    ("?", "this help"),
    ("q ^C", "quit (stops cleanly)"),
    ("d", "detach (attached viewer)"),
    ("x", "export PNGs and CSV"),
    ("Esc", "close / cancel"),
];

const SCREENS: &[(&str, &str)] = &[
    ("↑ ↓", "choose a knob"),
    ("← →", "×2 ÷2 (shift ×10)"),
    ("⏎", "type a knob value"),
    ("l", "log-scale loss"),
    ("z", "recent / whole run"),
    ("[ ]", "less / more smoothing"),
    ("< > PgUp/Dn", "choose the layer"),
    (", .", "choose the input image"),
    ("g", "gradients beside filters"),
];

pub fn render_help(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let popup = centered(area, 76, 14);
    Clear.render(popup, buf);
    let block = t.block("keys");
    let inner = block.inner(popup);
    block.render(popup, buf);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(inner);
    for (column, keys, heading, key_width) in [
        (left, GENERAL, "everywhere", 8),
        (right, SCREENS, "training · filters · activations", 12),
    ] {
        let mut lines = vec![t.line(vec![Span::styled(heading, t.title())])];
        lines.extend(keys.iter().map(|(key, what)| {
            t.line(vec![
                Span::styled(format!(" {key:<key_width$}"), t.value()),
                Span::styled(*what, t.label()),
            ])
        }));
        Paragraph::new(lines).render(column, buf);
    }
}
