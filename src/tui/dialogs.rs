//! The dialogs: quit (local or attached) and the test set. The text wraps to the box; the keys
//! line comes from the dialog's `keymap` table, which is also all that acts while it is open.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::app::App;
use super::fit;
use super::keymap::Binding;
use super::ui::centered;

const WIDTH: u16 = 56;

/// A bordered box in the middle of `area`: `paragraphs` wrapped, then the keys of `table`.
fn render_dialog(
    app: &App,
    title: &str,
    paragraphs: &[(String, Style)],
    table: &[Binding],
    area: Rect,
    buf: &mut Buffer,
) {
    let t = &app.theme;
    let width = WIDTH.min(area.width);
    let text_width = width.saturating_sub(4) as usize;
    let mut lines: Vec<Line> = Vec::new();
    for (text, style) in paragraphs {
        for line in fit::wrap(&t.t(text), text_width) {
            lines.push(Line::from(Span::styled(line, *style)));
        }
    }
    lines.push(Line::default());
    let mut keys: Vec<Span> = Vec::new();
    for b in table.iter().filter(|b| b.hint.is_some()) {
        let key = b.shown.split(' ').next().unwrap_or(b.shown);
        let part = vec![
            Span::styled(format!(" {} ", t.t(key)), t.selected()),
            Span::styled(format!(" {}  ", b.hint.unwrap_or_default()), t.label()),
        ];
        let used: usize = keys
            .iter()
            .chain(&part)
            .map(|s| fit::width(&s.content))
            .sum();
        if used > text_width && !keys.is_empty() {
            lines.push(Line::from(std::mem::take(&mut keys)));
        }
        keys.extend(part);
    }
    lines.push(Line::from(keys));
    let popup = centered(area, width, lines.len() as u16 + 2);
    Clear.render(popup, buf);
    let block = t.block(title);
    let inner = block.inner(popup);
    block.render(popup, buf);
    let inner = Rect::new(
        inner.x + 1,
        inner.y,
        inner.width.saturating_sub(2),
        inner.height,
    );
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(inner, buf);
}

pub fn render_confirm_quit(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let table = app.mode().keymap(app.is_attached);
    let paragraphs = if app.is_attached {
        vec![
            (
                "Stop the training, or only leave?".to_string(),
                Style::new(),
            ),
            (
                "Leaving keeps it running: convtop attach comes back to it.".to_string(),
                t.dim(),
            ),
        ]
    } else {
        vec![
            ("Stop training and quit?".to_string(), Style::new()),
            (
                "A checkpoint is written before the trainer stops.".to_string(),
                t.dim(),
            ),
        ]
    };
    render_dialog(app, "quit?", &paragraphs, table, area, buf);
}

pub fn render_confirm_test(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let looks = app.test_result.map_or(0, |r| r.2);
    let note = if looks == 0 {
        "Every look is counted in test-record.jsonl.".to_string()
    } else {
        format!("Looked at {looks}× already: another look makes the score optimistic.")
    };
    let paragraphs = vec![
        (
            "Evaluate the TEST set? This is recorded.".to_string(),
            Style::new(),
        ),
        (note, t.dim()),
    ];
    let table = app.mode().keymap(app.is_attached);
    render_dialog(app, "test set", &paragraphs, table, area, buf);
}
