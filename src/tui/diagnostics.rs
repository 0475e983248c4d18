//! What the trainer's diagnostics noticed, newest first, with evidence and a suggestion.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::app::App;
use super::theme;
use super::ui::render_empty;
use crate::train::Severity;

pub fn render_diagnostics(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let count = app.diagnostics.len();
    let title = if count > 0 {
        format!("diagnostics ({count})")
    } else {
        "diagnostics".to_string()
    };
    let block = t.block(&title);
    let inner = block.inner(area);
    block.render(area, buf);
    if app.diagnostics.is_empty() {
        let text = if app.history.is_empty() {
            "nothing yet"
        } else {
            "✓ no problems detected"
        };
        render_empty(app, text, inner, buf);
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    for d in app.diagnostics.iter().rev() {
        let icon = match d.severity {
            Severity::Info => "i",
            Severity::Warn => "▲",
            Severity::Error => "✗",
        };
        lines.push(t.line(vec![
            Span::styled(format!("{icon} "), t.severity(d.severity)),
            Span::styled(d.title.clone(), t.severity(d.severity)),
            Span::styled(format!(" @{}", theme::count(d.iteration)), t.dim()),
        ]));
        if !d.evidence.is_empty() {
            lines.push(t.line(vec![Span::styled(format!("  {}", d.evidence), t.label())]));
        }
        if !d.suggestion.is_empty() {
            lines.push(t.line(vec![Span::styled(
                format!("  → {}", d.suggestion),
                t.good(),
            )]));
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}
