//! The `?` overlay: every key of every mode, from `keymap`, scrolling when it does not fit.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::app::App;
use super::keymap;
use super::theme::Theme;
use super::ui::centered;

/// The widest key column: `↑ ↓ j k PgUp PgDn`.
const KEY_WIDTH: usize = 18;
const WIDTH: u16 = 76;

/// The overlay's text in `columns` columns, sections kept whole.
fn columns(t: &Theme, columns: usize) -> Vec<Vec<Line<'static>>> {
    let sections = keymap::sections();
    let total = line_count();
    let mut out: Vec<Vec<Line<'static>>> = vec![Vec::new()];
    for (heading, bindings) in sections {
        let column = out.last_mut().map_or(0, |c| c.len());
        if column > 0 && out.len() < columns && column + bindings.len() / 2 >= total / columns {
            out.push(Vec::new());
        }
        let lines = out.last_mut().expect("a column");
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(t.line(vec![Span::styled(heading, t.title())]));
        for b in bindings {
            lines.push(t.line(vec![
                Span::styled(format!(" {:<KEY_WIDTH$}", b.shown), t.value()),
                Span::styled(b.what, t.label()),
            ]));
        }
    }
    out
}

/// Lines of the overlay's text in one column, for scrolling.
pub fn line_count() -> usize {
    keymap::sections()
        .iter()
        .map(|(_, b)| b.len() + 2)
        .sum::<usize>()
        .saturating_sub(1)
}

pub fn render_help(app: &App, scroll: u16, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    // two columns where they fit side by side
    let count = if area.width >= 2 * WIDTH { 2 } else { 1 };
    let columns = columns(t, count);
    let total = columns.iter().map(Vec::len).max().unwrap_or(0) as u16;
    let popup = centered(area, WIDTH * columns.len() as u16, total + 2);
    let visible = popup.height.saturating_sub(2);
    let top = scroll.min(total.saturating_sub(visible));
    let mut block = t.block("keys");
    if visible < total {
        let last = (top + visible).min(total);
        let position = format!(" {}-{last} of {total} · ↑↓ PgUp PgDn ", top + 1);
        block = block.title_bottom(
            Line::from(Span::styled(t.t(&position).into_owned(), t.dim()))
                .alignment(Alignment::Right),
        );
    }
    Clear.render(popup, buf);
    let inner = block.inner(popup);
    block.render(popup, buf);
    let widths = vec![Constraint::Fill(1); columns.len()];
    let areas = Layout::horizontal(widths).split(inner);
    for (lines, column) in columns.into_iter().zip(areas.iter()) {
        Paragraph::new(lines).scroll((top, 0)).render(*column, buf);
    }
}
