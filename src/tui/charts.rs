//! The loss and accuracy charts of the Training tab: smoothed training over faint raw points,
//! validation marked at each evaluation, the generalisation gap shaded, the overfitting and
//! best-checkpoint marks, labelled hand/autopilot knob changes, an lr strip, an epoch axis.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::chart::{Pen, Plot, Trace, VMark};
use super::chart_view::{self, Window};
use super::theme::{self, SeriesKind};
use super::ui::render_empty;
use crate::train::KnobSource;
use crate::train::history::scale::{self, Scale, Tail};
use crate::train::history::{EvalPoint, RunHistory, Series, knob_change_label};

/// The iterations shown when zoomed to recent history.
pub const RECENT_ITERATIONS: u64 = 500;
/// Columns the y-axis labels and axis line take inside the chart.
const Y_LABEL_WIDTH: u16 = 7;
/// Raw points the y-range is fitted to at most (a stride sample: the range ignores spikes anyway).
const RANGE_SAMPLES: usize = 2048;

/// Which chart: what it plots, where its outliers are, how its numbers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Loss,
    Accuracy,
}

impl Metric {
    fn series(self) -> (Series, Series) {
        match self {
            Metric::Loss => (Series::Loss, Series::SmoothedLoss),
            Metric::Accuracy => (Series::Accuracy, Series::SmoothedAccuracy),
        }
    }

    /// (train, val) of an evaluation.
    fn eval(self, e: &EvalPoint) -> (f64, f64) {
        match self {
            Metric::Loss => (f64::from(e.train_loss), f64::from(e.val_loss)),
            Metric::Accuracy => (f64::from(e.train_accuracy), f64::from(e.val_accuracy)),
        }
    }

    pub fn label(self, v: f64) -> String {
        match self {
            Metric::Loss => theme::num(v),
            Metric::Accuracy => format!("{}%", theme::num(v * 100.0)),
        }
    }
}

/// The y-range the chart shows for `window`: fitted to what is on screen, ignoring outliers,
/// unless the person asked for the raw full range.
pub fn fit_scale(app: &App, h: &RunHistory, metric: Metric, window: &Window) -> Scale {
    let (raw, smooth) = metric.series();
    let stride = (window.hi - window.lo).div_ceil(RANGE_SAMPLES).max(1);
    let raw: Vec<f64> = (window.lo..window.hi)
        .step_by(stride)
        .map(|i| f64::from(h.value(raw, i)))
        .collect();
    let smoothed: Vec<f64> = h
        .thinned(smooth, window.lo, window.hi, 256)
        .into_iter()
        .map(|i| f64::from(h.value(smooth, i)))
        .collect();
    // evaluations in the first tenth of the window belong to the initial transient
    let settled = window.x.0 + 0.1 * (window.x.1 - window.x.0);
    let must: Vec<f64> = window
        .evals(h)
        .filter(|e| e.epoch >= settled)
        .flat_map(|e| {
            let (t, v) = metric.eval(e);
            [t, v]
        })
        .collect();
    let (tail, bounds, is_log) = match metric {
        Metric::Loss => (Tail::High, (Some(0.0), None), app.training.is_log_scale),
        Metric::Accuracy => (Tail::Low, (Some(0.0), Some(1.0)), false),
    };
    let is_raw = app.training.is_full_range;
    scale::fit(&[&raw, &smoothed], &must, tail, is_log, is_raw, bounds)
}

fn legend(app: &App, metric: Metric, has_gap: Option<f64>) -> Line<'static> {
    let t = &app.theme;
    let a = t.is_ascii;
    let name = match metric {
        Metric::Loss => " loss ",
        Metric::Accuracy => " accuracy ",
    };
    let mut spans = vec![
        Span::styled(name, t.title()),
        Span::styled(if a { " * train" } else { " ⣀ train" }, t.train()),
        Span::styled(
            if a { " O- val" } else { " ●┈ val" },
            t.series(SeriesKind::Val),
        ),
    ];
    if let Some(gap) = has_gap {
        let text = format!("{} gap {}", if a { " :" } else { " ░" }, metric.label(gap));
        spans.push(Span::styled(text, t.val().add_modifier(Modifier::DIM)));
    }
    spans.push(Span::raw(" "));
    t.line(spans)
}

fn flags(app: &App, metric: Metric) -> Line<'static> {
    let t = &app.theme;
    let mut parts = Vec::new();
    if metric == Metric::Loss {
        parts.push(
            if app.training.is_log_scale {
                "log"
            } else {
                "lin"
            }
            .to_string(),
        );
        parts.push(format!("~{}", app.training.smoothing));
    }
    parts.push(if app.training.is_whole_run {
        "all".to_string()
    } else {
        format!("last {RECENT_ITERATIONS}")
    });
    if app.training.is_full_range {
        parts.push("full".into());
    }
    t.line(vec![Span::styled(
        format!(" {} ", parts.join(" · ")),
        t.dim(),
    )])
}

pub fn render_loss_chart(app: &App, area: Rect, buf: &mut Buffer) {
    render_metric(app, Metric::Loss, area, buf);
}

pub fn render_accuracy_chart(app: &App, area: Rect, buf: &mut Buffer) {
    render_metric(app, Metric::Accuracy, area, buf);
}

fn render_metric(app: &App, metric: Metric, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let h = &app.history;
    let block = t.block_line(Line::default());
    let inner = block.inner(area);
    block.render(area, buf);
    let top = Rect::new(area.x + 1, area.y, area.width.saturating_sub(2), 1);
    let Some(window) = chart_view::window(app) else {
        legend(app, metric, None).render(top, buf);
        render_empty(app, "waiting for the first iteration…", inner, buf);
        return;
    };
    let gap = window
        .evals(h)
        .last()
        .map(|e| metric.eval(e))
        .map(|(tr, v)| {
            if metric == Metric::Loss {
                v - tr
            } else {
                tr - v
            }
        });
    // the legend on the top border, the view flags at its right end when they fit
    let legend = legend(app, metric, gap);
    let flags = flags(app, metric);
    let is_room = legend.width() + flags.width() < usize::from(top.width);
    legend.render(top, buf);
    if is_room {
        flags.right_aligned().render(top, buf);
    }
    let has_strip =
        metric == Metric::Loss && inner.height >= 6 && chart_view::has_lr_steps(app, &window);
    let plot_height = inner.height.saturating_sub(u16::from(has_strip));
    if inner.width <= Y_LABEL_WIDTH + 4 || plot_height < 2 {
        return;
    }
    let plot_area = Rect::new(
        inner.x + Y_LABEL_WIDTH,
        inner.y,
        inner.width - Y_LABEL_WIDTH,
        plot_height,
    );
    let y = fit_scale(app, h, metric, &window);
    let plot = build_plot(app, metric, &window, y, plot_area.width);
    render_y_axis(app, metric, &plot.y, inner, plot_area, buf);
    plot.render(plot_area, buf);
    // the x axis is drawn on the bottom border: every row inside is plot
    let axis_row = Rect::new(
        plot_area.x,
        area.bottom().saturating_sub(1),
        plot_area.width,
        1,
    );
    render_x_axis(app, &window, axis_row, buf);
    if has_strip {
        let strip = Rect::new(inner.x, plot_area.bottom(), inner.width, 1);
        chart_view::render_lr_strip(app, &window, Y_LABEL_WIDTH, strip, buf);
    }
    if h.evals.is_empty() {
        let note = Rect::new(plot_area.x, plot_area.y, plot_area.width, 1);
        Line::from(Span::styled(
            t.t("val: waiting for the first evaluation… ").into_owned(),
            t.dim(),
        ))
        .right_aligned()
        .render(note, buf);
    }
}

fn build_plot(app: &App, metric: Metric, window: &Window, y: Scale, width: u16) -> Plot {
    let t = &app.theme;
    let h = &app.history;
    let (raw, smooth) = metric.series();
    let columns = usize::from(width) * 2;
    let points = |series: Series| -> Vec<(f64, f64)> {
        h.thinned(series, window.lo, window.hi, columns)
            .into_iter()
            .map(|i| (h.iters()[i].epoch, f64::from(h.value(series, i))))
            .collect()
    };
    let evals: Vec<&EvalPoint> = window.evals(h).collect();
    let val: Vec<(f64, f64)> = evals.iter().map(|e| (e.epoch, metric.eval(e).1)).collect();
    let band = evals
        .iter()
        .map(|e| {
            let (tr, v) = metric.eval(e);
            (e.epoch, tr.min(v), tr.max(v))
        })
        .collect();
    let mut traces = Vec::new();
    if app.training.smoothing > 0.0 {
        traces.push(Trace {
            points: points(raw),
            pen: Pen::Points { ascii: '.' },
            style: t.series(SeriesKind::TrainRaw),
            glyph: None,
        });
    }
    traces.push(Trace {
        points: points(smooth),
        pen: Pen::Solid { ascii: '*' },
        style: t.series(SeriesKind::Train),
        glyph: None,
    });
    // a glyph at each evaluation while they are sparse enough to tell apart
    let glyph = (val.len() <= usize::from(width)).then_some(("●", "O"));
    traces.push(Trace {
        points: val,
        pen: Pen::Dotted { ascii: '-' },
        style: t.series(SeriesKind::Val),
        glyph,
    });
    if let Some(best) = h.best_eval().filter(|e| window.contains(e.iteration)) {
        traces.push(Trace {
            points: vec![(best.epoch, metric.eval(best).1)],
            pen: Pen::Solid { ascii: '#' },
            style: t.good().add_modifier(Modifier::BOLD),
            glyph: Some(("★", "#")),
        });
    }
    let mut marks = Vec::new();
    for it in h.overfitting_marks() {
        if window.contains(it) {
            marks.push(VMark {
                x: h.epoch_at(it),
                style: t.warn(),
                label: Some("overfit".into()),
                head: ("▲", "!"),
            });
            // the first firing says when; repeats add nothing to the picture
            break;
        }
    }
    for k in h
        .labelled_changes()
        .filter(|k| window.contains(k.iteration))
    {
        let who = if k.source == KnobSource::Autopilot {
            "auto "
        } else {
            ""
        };
        marks.push(VMark {
            x: h.epoch_at(k.iteration),
            style: t.series(SeriesKind::Mark),
            label: Some(
                t.t(&format!("{who}{}", knob_change_label(k.knob, k.old, k.new)))
                    .into_owned(),
            ),
            head: ("┊", ":"),
        });
    }
    Plot {
        x: window.x,
        y,
        band,
        band_style: t.val().add_modifier(Modifier::DIM),
        marks,
        traces,
        cursor: chart_view::cursor(app).map(|it| h.epoch_at(it)),
        is_ascii: t.is_ascii,
    }
}

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

fn render_y_axis(app: &App, metric: Metric, y: &Scale, inner: Rect, plot: Rect, buf: &mut Buffer) {
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

/// Epoch ticks (round, unique) on the chart's bottom border, and the last iteration shown.
fn render_x_axis(app: &App, window: &Window, row: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let (x0, x1) = window.x;
    let ticks = scale::linear_ticks(x0, x1, usize::from(row.width / 9).max(2));
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
        let col = ((v - x0) / (x1 - x0) * f64::from(row.width)) as u16;
        let label = format!("{v:.decimals$}");
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
    {
        buf.set_string(row.x + after, row.y, "ep", t.dim());
    }
    buf.set_string(row.x + end_at, row.y, end, t.dim());
}
