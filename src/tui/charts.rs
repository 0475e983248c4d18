//! The loss and accuracy charts: training per iteration (smoothed, raw points faint behind),
//! evaluations per evaluation, knob changes as vertical marks.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::app::App;
use super::history::{smooth, thin};
use super::theme::{self, SeriesKind};
use super::ui::render_empty;

/// The iterations shown when zoomed to recent history.
pub const RECENT_ITERATIONS: u64 = 500;
/// Columns the y-axis labels take inside the chart.
const Y_LABEL_WIDTH: u16 = 8;

/// The x range shown, in iterations.
fn window(app: &App) -> Option<(f64, f64)> {
    let first = app.history.iters.first()?.iteration;
    let last = app.history.iters.last()?.iteration;
    let start = if app.training.is_whole_run {
        first
    } else {
        last.saturating_sub(RECENT_ITERATIONS).max(first)
    };
    let (x0, x1) = (start as f64, last as f64);
    Some((x0, if x1 > x0 { x1 } else { x0 + 1.0 }))
}

fn bounds(points: &[&[(f64, f64)]], floor: Option<f64>, ceil: Option<f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, y) in points.iter().flat_map(|p| p.iter()) {
        if y.is_finite() {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let mut lo = lo - pad;
    let mut hi = hi + pad;
    if let Some(f) = floor {
        // Near the floor, show the floor itself: an axis from 0 reads better than from 0.006.
        if lo - f < (hi - lo) * 0.25 {
            lo = f;
        }
        lo = lo.max(f);
    }
    if let Some(c) = ceil {
        hi = hi.min(c);
    }
    if hi <= lo {
        hi = lo + 1e-3;
    }
    (lo, hi)
}

fn legend(app: &App, name: &str, items: &[(&str, SeriesKind)], flags: &str) -> Line<'static> {
    let t = &app.theme;
    let mut spans = vec![Span::styled(format!(" {name} "), t.title())];
    for (label, kind) in items {
        spans.push(Span::styled(format!(" {label}"), t.series(*kind)));
    }
    spans.push(Span::styled(format!("  {flags} "), t.dim()));
    t.line(spans)
}

pub fn render_loss_chart(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let zoom = if app.training.is_whole_run {
        "all".to_string()
    } else {
        format!("last {RECENT_ITERATIONS}")
    };
    let scale = if app.training.is_log_scale {
        "log"
    } else {
        "lin"
    };
    let smoothing = format!("━ train ~{:.2}", app.training.smoothing);
    let items = [
        (smoothing.as_str(), SeriesKind::Train),
        ("● val", SeriesKind::Val),
        ("┊ knob", SeriesKind::Mark),
    ];
    let block = t.block_line(legend(app, "loss", &items, &format!("{scale} · {zoom}")));
    let Some((x0, x1)) = window(app) else {
        let inner = block.inner(area);
        block.render(area, buf);
        render_empty(app, "waiting for the first iteration…", inner, buf);
        return;
    };
    let columns = block.inner(area).width.saturating_sub(Y_LABEL_WIDTH).max(1) as usize;
    let y = |v: f64| {
        if app.training.is_log_scale {
            v.max(1e-6).log10()
        } else {
            v
        }
    };
    let in_window = |x: u64| (x as f64) >= x0 && (x as f64) <= x1;

    let iters = &app.history.iters;
    let smoothed = smooth(
        iters.iter().map(|p| f64::from(p.loss)),
        app.training.smoothing,
    );
    let raw: Vec<(f64, f64)> = iters
        .iter()
        .filter(|p| in_window(p.iteration))
        .map(|p| (p.iteration as f64, y(f64::from(p.loss))))
        .collect();
    let line: Vec<(f64, f64)> = iters
        .iter()
        .zip(&smoothed)
        .filter(|(p, _)| in_window(p.iteration))
        .map(|(p, s)| (p.iteration as f64, y(*s)))
        .collect();
    let (raw, line) = (thin(&raw, columns), thin(&line, columns));
    let val: Vec<(f64, f64)> = app
        .history
        .evals
        .iter()
        .filter(|e| in_window(e.iteration))
        .map(|e| (e.iteration as f64, y(f64::from(e.val_loss))))
        .collect();
    let floor = if app.training.is_log_scale {
        None
    } else {
        Some(0.0)
    };
    let (lo, hi) = bounds(&[&raw, &line, &val], floor, None);
    let marks: Vec<[(f64, f64); 2]> = app
        .history
        .knob_changes
        .iter()
        .filter(|c| in_window(c.iteration))
        .map(|c| [(c.iteration as f64, lo), (c.iteration as f64, hi)])
        .collect();

    let mut datasets: Vec<Dataset> = marks
        .iter()
        .map(|m| series(app, SeriesKind::Mark, GraphType::Line, m))
        .collect();
    datasets.push(series(app, SeriesKind::TrainRaw, GraphType::Scatter, &raw));
    datasets.push(series(app, SeriesKind::Train, GraphType::Line, &line));
    datasets.push(series(app, SeriesKind::Val, GraphType::Line, &val));
    datasets.push(series(app, SeriesKind::Val, GraphType::Scatter, &val));

    let label = |v: f64| {
        if app.training.is_log_scale {
            theme::num(10f64.powf(v))
        } else {
            theme::num(v)
        }
    };
    let inner = block.inner(area);
    Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(app, x0, x1))
        .y_axis(Axis::default().bounds([lo, hi]).style(t.dim()).labels([
            label(lo),
            label((lo + hi) / 2.0),
            label(hi),
        ]))
        .render(area, buf);
    if val.is_empty() {
        render_note(app, "val: waiting for the first evaluation…", inner, buf);
    }
}

pub fn render_accuracy_chart(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let items = [
        ("━ train batch", SeriesKind::Train),
        ("● train eval", SeriesKind::TrainEval),
        ("● val", SeriesKind::Val),
    ];
    let block = t.block_line(legend(app, "accuracy", &items, ""));
    let Some((x0, x1)) = window(app) else {
        let inner = block.inner(area);
        block.render(area, buf);
        render_empty(app, "waiting for the first iteration…", inner, buf);
        return;
    };
    let columns = block.inner(area).width.saturating_sub(Y_LABEL_WIDTH).max(1) as usize;
    let in_window = |x: u64| (x as f64) >= x0 && (x as f64) <= x1;
    let iters = &app.history.iters;
    let smoothed = smooth(
        iters.iter().map(|p| f64::from(p.accuracy)),
        app.training.smoothing,
    );
    let line: Vec<(f64, f64)> = iters
        .iter()
        .zip(&smoothed)
        .filter(|(p, _)| in_window(p.iteration))
        .map(|(p, s)| (p.iteration as f64, *s))
        .collect();
    let line = thin(&line, columns);
    let evals: Vec<_> = app
        .history
        .evals
        .iter()
        .filter(|e| in_window(e.iteration))
        .collect();
    let train: Vec<(f64, f64)> = evals
        .iter()
        .map(|e| (e.iteration as f64, f64::from(e.train_accuracy)))
        .collect();
    let val: Vec<(f64, f64)> = evals
        .iter()
        .map(|e| (e.iteration as f64, f64::from(e.val_accuracy)))
        .collect();
    let (lo, hi) = bounds(&[&line, &train, &val], Some(0.0), Some(1.0));
    let datasets = vec![
        series(app, SeriesKind::Train, GraphType::Line, &line),
        series(app, SeriesKind::TrainEval, GraphType::Scatter, &train),
        series(app, SeriesKind::Val, GraphType::Line, &val),
        series(app, SeriesKind::Val, GraphType::Scatter, &val),
    ];
    let label = |v: f64| format!("{:.1}%", v * 100.0);
    let inner = block.inner(area);
    Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(app, x0, x1))
        .y_axis(Axis::default().bounds([lo, hi]).style(t.dim()).labels([
            label(lo),
            label((lo + hi) / 2.0),
            label(hi),
        ]))
        .render(area, buf);
    if val.is_empty() {
        render_note(app, "val: waiting for the first evaluation…", inner, buf);
    }
}

fn series<'a>(
    app: &App,
    kind: SeriesKind,
    graph: GraphType,
    data: &'a [(f64, f64)],
) -> Dataset<'a> {
    let marker = match (graph, kind) {
        (GraphType::Line, SeriesKind::Val) if app.theme.is_ascii => {
            ratatui::symbols::Marker::Custom('-')
        }
        (GraphType::Line, SeriesKind::Val) => app.theme.marker(SeriesKind::Train),
        _ => app.theme.marker(kind),
    };
    Dataset::default()
        .marker(marker)
        .graph_type(graph)
        .style(app.theme.series(kind))
        .data(data)
}

fn x_axis(app: &App, x0: f64, x1: f64) -> Axis<'static> {
    Axis::default()
        .bounds([x0, x1])
        .style(app.theme.dim())
        .labels([
            theme::short_count(x0),
            theme::short_count((x0 + x1) / 2.0),
            format!("{} it", theme::short_count(x1)),
        ])
}

/// A dim note in the top-right corner of the plot.
fn render_note(app: &App, text: &str, inner: Rect, buf: &mut Buffer) {
    if inner.height == 0 {
        return;
    }
    let row = Rect::new(inner.x, inner.y, inner.width, 1);
    Line::from(Span::styled(
        format!("{} ", app.theme.t(text)),
        app.theme.dim(),
    ))
    .alignment(Alignment::Right)
    .render(row, buf);
}
