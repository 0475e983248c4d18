//! The charts' axes: y ticks at round values (decades on a log axis) beside the plot, x ticks
//! on the bottom border in epochs or wall-clock time, with the last iteration shown.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::app::App;
use super::chart_view::Window;
use super::charts::{Metric, Y_LABEL_WIDTH};
use super::theme;
use crate::train::history::scale::{self, Scale};

/// A tick's label with the decimals its step needs (`0.25`, `97.5%`), decades as `1e-3`.
fn tick_label(metric: Metric, v: f64, step: f64, is_log: bool) -> String {
    match (metric, is_log) {
        (Metric::Accuracy, _) => format!("{:.*}%", scale::decimals(step * 100.0), v * 100.0),
        (Metric::Loss, true) if !(0.01..1000.0).contains(&v) => {
            let e = v.log10().floor() as i32;
            let m = (v / 10f64.powi(e)).round();
            if m == 1.0 {
                format!("1e{e}")
            } else {
                format!("{m}e{e}")
            }
        }
        (Metric::Loss, true) => format!("{}", (v * 1e6).round() / 1e6),
        (Metric::Loss, false) => format!("{:.*}", scale::decimals(step), v),
    }
}

pub fn render_y_axis(
    app: &App,
    metric: Metric,
    y: &Scale,
    inner: Rect,
    plot: Rect,
    buf: &mut Buffer,
) {
    let t = &app.theme;
    let axis_x = plot.x - 1;
    let max_ticks = usize::from(plot.height / 2).clamp(2, 6);
    let ticks = y.ticks(max_ticks);
    let step = if ticks.len() >= 2 {
        ticks[1] - ticks[0]
    } else {
        1.0
    };
    for row in 0..plot.height {
        let line = if t.is_ascii { "|" } else { "│" };
        buf.set_string(axis_x, plot.y + row, line, t.dim());
    }
    let width = usize::from(Y_LABEL_WIDTH - 1);
    for v in ticks {
        let f = y.fraction(v);
        let row = ((1.0 - f) * f64::from(plot.height)).floor();
        if !(0.0..f64::from(plot.height)).contains(&row) {
            continue;
        }
        let label = tick_label(metric, v, step, y.is_log);
        if label.chars().count() > width {
            continue;
        }
        buf.set_string(
            inner.x,
            plot.y + row as u16,
            format!("{label:>width$}"),
            t.dim(),
        );
        let tick = if t.is_ascii { "+" } else { "┤" };
        buf.set_string(axis_x, plot.y + row as u16, tick, t.dim());
    }
}

/// The unit of a wall-clock axis spanning `span` seconds: (seconds per unit, its suffix).
fn time_unit(span: f64) -> (f64, &'static str) {
    if span >= 3.0 * 3600.0 {
        (3600.0, "h")
    } else if span >= 180.0 {
        (60.0, "m")
    } else {
        (1.0, "s")
    }
}

/// Ticks (round, unique) on the chart's bottom border — epochs, or wall-clock time in s, m or h
/// — and the last iteration shown.
pub fn render_x_axis(app: &App, window: &Window, row: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let (x0, x1) = window.x;
    let (unit, suffix) = if window.is_time {
        time_unit(x1 - x0)
    } else {
        (1.0, "")
    };
    let ticks = scale::linear_ticks(x0 / unit, x1 / unit, usize::from(row.width / 9).max(2));
    let step = if ticks.len() >= 2 {
        ticks[1] - ticks[0]
    } else {
        1.0
    };
    let decimals = scale::decimals(step);
    let end = format!(" {} it ", theme::short_count(window.last_iteration as f64));
    let end_at = row.width.saturating_sub(end.len() as u16);
    let mut next_free = 0u16;
    let mut last_label = None;
    for v in ticks {
        let col = ((v * unit - x0) / (x1 - x0) * f64::from(row.width)) as u16;
        let label = format!("{v:.decimals$}{suffix}");
        let start = col.saturating_sub(label.len() as u16 / 2);
        if start < next_free || start + label.len() as u16 + 4 > end_at {
            continue;
        }
        buf.set_string(row.x + start, row.y, &label, t.dim());
        next_free = start + label.len() as u16 + 1;
        last_label = Some(next_free);
    }
    if let Some(after) = last_label
        && after + 3 <= end_at
        && !window.is_time
    {
        buf.set_string(row.x + after, row.y, "ep", t.dim());
    }
    buf.set_string(row.x + end_at, row.y, end, t.dim());
}
