//! The runs table overlay (`o`): every run in the run directory with its net, data, the lr and λ
//! it trained with, its duration and validation; sorted by any column; the runs drawn behind the
//! live one are numbered as in the charts' legend.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::app::App;
use super::fit;
use super::theme::{self, Theme};
use super::ui::centered;
use crate::train::history::runs::{Column, RunRow};
use crate::train::summary::RunStatus;

/// The widest the table grows.
const MAX_WIDTH: u16 = 150;
/// Cells of the fixed columns: mark, lr, λ, time, best val, last val.
const FIXED: [usize; 6] = [2, 7, 7, 7, 9, 9];

/// Seconds as `42s`, `12m05s`, `3h12m`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

/// The widths of (run, net, data) in `flexible` cells.
fn flexible_widths(flexible: usize) -> [usize; 3] {
    // the id tells runs apart: it keeps 12 cells (`101500-mnist`) before the others grow
    let id = (flexible * 2 / 5)
        .max(12.min(flexible.saturating_sub(10)))
        .max(8);
    let net = (flexible * 7 / 20).max(5);
    let data = flexible.saturating_sub(id + net).max(4);
    [id, net, data]
}

fn cell(text: &str, width: usize, is_right: bool) -> String {
    let text = fit::elide_end(text, width);
    if is_right {
        format!("{text:>width$}")
    } else {
        format!("{text:<width$}")
    }
}

/// The run id, without its date when it does not fit, then elided at its start (ids of one day
/// share their date; the detail line shows the whole id).
fn id_cell(id: &str, width: usize) -> String {
    if fit::width(id) <= width {
        return format!("{id:<width$}");
    }
    let id = super::runs::short_id(id);
    if fit::width(id) <= width {
        return format!("{id:<width$}");
    }
    let tail: String = id
        .chars()
        .rev()
        .take(width.saturating_sub(1))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{}{tail}", fit::ELLIPSIS)
}

fn header(t: &Theme, sort: Column, is_reversed: bool, widths: &[usize; 3]) -> Line<'static> {
    let arrow = match (is_reversed, t.is_ascii) {
        (false, false) => "▲",
        (true, false) => "▼",
        (false, true) => "^",
        (true, true) => "v",
    };
    let mut spans = vec![Span::raw(" ".repeat(FIXED[0] + 1))];
    for (i, c) in Column::ALL.iter().enumerate() {
        let (width, is_right) = match i {
            0..=2 => (widths[i], false),
            _ => (FIXED[i - 2], true),
        };
        let title = if *c == sort {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        let style = if *c == sort { t.value() } else { t.label() };
        spans.push(Span::styled(cell(&title, width, is_right), style));
        spans.push(Span::raw(" "));
    }
    t.line(spans)
}

fn row_line(app: &App, row: &RunRow, widths: &[usize; 3], is_cursor: bool) -> Line<'static> {
    let t = &app.theme;
    let none = t.none();
    let slot = app.overlays().iter().position(|o| o.path == row.path);
    let (mark, mark_style) = if let Some(i) = slot {
        (
            format!("{}", i + 1),
            t.overlay(i).add_modifier(Modifier::BOLD),
        )
    } else if app.is_live_row(row) {
        (if t.is_ascii { "*" } else { "●" }.to_string(), t.good())
    } else if row.problem.is_some() {
        ("!".to_string(), t.warn())
    } else {
        (" ".to_string(), t.label())
    };
    let base = if is_cursor { t.selected() } else { t.label() };
    let or_none = |v: Option<String>| v.unwrap_or_else(|| none.to_string());
    let net = if row.status == RunStatus::BadConfig {
        row.status.label().to_string()
    } else {
        row.net.clone()
    };
    let texts = [
        or_none(row.lr.map(|v| theme::sci(f64::from(v)))),
        or_none(row.lambda.map(|v| theme::sci(f64::from(v)))),
        or_none(row.secs.map(duration)),
        or_none(row.best_val.map(|v| theme::percent(f64::from(v)))),
        or_none(row.last_val.map(|v| theme::percent(f64::from(v)))),
    ];
    let mut spans = vec![
        Span::styled(format!("{mark:>2} "), mark_style),
        Span::styled(id_cell(&row.id, widths[0]), base),
        Span::styled(" ", base),
        Span::styled(cell(&net, widths[1], false), base),
        Span::styled(" ", base),
        Span::styled(cell(&row.data, widths[2], false), base),
    ];
    for (text, width) in texts.iter().zip(&FIXED[1..]) {
        spans.push(Span::styled(" ", base));
        spans.push(Span::styled(cell(text, *width, true), base));
    }
    t.line(spans)
}

/// What the highlighted run is: its directory, state and length, or what is wrong with it.
fn detail(app: &App, row: &RunRow) -> Line<'static> {
    let t = &app.theme;
    let mut text = format!(
        " {} · {} · {:.1} epochs",
        row.id,
        row.status.label(),
        row.epochs
    );
    let mut style = t.dim();
    if let Some(problem) = &row.problem {
        text = format!(" {}: {problem}", row.id);
        style = t.warn();
    }
    t.line(vec![Span::styled(text, style)])
}

pub fn render_runs(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let picker = &app.runs;
    let width = area.width.saturating_sub(2).min(MAX_WIDTH);
    let rows = picker.rows.len() as u16;
    let popup = centered(
        area,
        width,
        (rows + 5).max(7).min(area.height.saturating_sub(2)),
    );
    let base = picker
        .base
        .as_ref()
        .map_or_else(|| "?".into(), |b| b.display().to_string());
    let base = fit::elide_path(&base, usize::from(width / 2));
    let mut block = t.block(&format!("runs in {base}"));
    let inner = block.inner(popup);
    let visible = usize::from(inner.height.saturating_sub(2));
    let top = picker.cursor.saturating_sub(visible.saturating_sub(1));
    if picker.rows.len() > visible && visible > 0 {
        let last = (top + visible).min(picker.rows.len());
        let position = format!(" {}-{last} of {} ", top + 1, picker.rows.len());
        block = block
            .title_bottom(Line::from(Span::styled(position, t.dim())).alignment(Alignment::Right));
    }
    Clear.render(popup, buf);
    block.render(popup, buf);
    if inner.height < 3 {
        return;
    }
    let fixed: usize = FIXED.iter().sum::<usize>() + FIXED.len() + 3;
    let widths = flexible_widths(usize::from(inner.width).saturating_sub(fixed));
    let line_at = |y: u16| Rect::new(inner.x, inner.y + y, inner.width, 1);
    header(t, picker.sort_column(), picker.is_reversed, &widths).render(line_at(0), buf);
    let message = if picker.is_loading() {
        Some(("reading the runs…".to_string(), t.dim()))
    } else if let Some(e) = &picker.error {
        Some((format!("cannot list the runs: {e}"), t.bad()))
    } else if picker.rows.is_empty() {
        Some(("no runs here yet".to_string(), t.dim()))
    } else {
        None
    };
    if let Some((text, style)) = message {
        Line::from(Span::styled(t.t(&format!(" {text}")).into_owned(), style))
            .render(line_at(1), buf);
        return;
    }
    for (i, row) in picker.rows.iter().enumerate().skip(top).take(visible) {
        let y = 1 + (i - top) as u16;
        row_line(app, row, &widths, i == picker.cursor).render(line_at(y), buf);
    }
    if let Some(row) = picker.rows.get(picker.cursor) {
        let text = detail(app, row);
        let y = inner.height - 1;
        let fitted = fit::elide_end(&text.to_string(), usize::from(inner.width));
        let style = text.spans.first().map_or(Style::new(), |s| s.style);
        Line::from(Span::styled(fitted, style)).render(line_at(y), buf);
    }
}
