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
use super::chart_axes;
use super::chart_view::{self, Window};
use super::theme::{self, SeriesKind};
use super::ui::render_empty;
use crate::train::KnobSource;
use crate::train::history::runs::ValPoint;
use crate::train::history::scale::{self, Scale, Tail};
use crate::train::history::{EvalPoint, RunHistory, Series, knob_change_label, rollback_label};

/// The iterations shown when zoomed to recent history.
pub const RECENT_ITERATIONS: u64 = 500;
/// Columns the y-axis labels and axis line take inside the chart.
pub const Y_LABEL_WIDTH: u16 = 7;
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

    /// An earlier run's validation value.
    fn val(self, p: &ValPoint) -> f64 {
        match self {
            Metric::Loss => f64::from(p.val_loss),
            Metric::Accuracy => f64::from(p.val_accuracy),
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
    let mut must: Vec<f64> = window
        .evals(h)
        .filter(|e| window.x_of_eval(h, e) >= settled)
        .flat_map(|e| {
            let (t, v) = metric.eval(e);
            [t, v]
        })
        .collect();
    // earlier runs drawn behind count too, where they are on screen
    must.extend(app.overlays().iter().flat_map(|o| {
        o.curve
            .iter()
            .filter(|p| (settled..=window.x.1).contains(&window.x_of_val(p)))
            .map(|p| metric.val(p))
    }));
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
    chart_axes::render_y_axis(app, metric, &plot.y, inner, plot_area, buf);
    plot.render(plot_area, buf);
    // the x axis is drawn on the bottom border: every row inside is plot
    let axis_row = Rect::new(
        plot_area.x,
        area.bottom().saturating_sub(1),
        plot_area.width,
        1,
    );
    chart_axes::render_x_axis(app, &window, axis_row, buf);
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
    let edges = window.column_edges(h, columns);
    let points = |series: Series| -> Vec<(f64, f64)> {
        h.thinned_by_edges(series, &edges)
            .into_iter()
            .map(|i| (window.x_of(h, i), f64::from(h.value(series, i))))
            .collect()
    };
    let evals: Vec<&EvalPoint> = window.evals(h).collect();
    let val: Vec<(f64, f64)> = evals
        .iter()
        .map(|e| (window.x_of_eval(h, e), metric.eval(e).1))
        .collect();
    let band = evals
        .iter()
        .map(|e| {
            let (tr, v) = metric.eval(e);
            (window.x_of_eval(h, e), tr.min(v), tr.max(v))
        })
        .collect();
    let mut traces = overlay_traces(app, metric, window, width);
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
            points: vec![(window.x_of_eval(h, best), metric.eval(best).1)],
            pen: Pen::Solid { ascii: '#' },
            style: t.good().add_modifier(Modifier::BOLD),
            glyph: Some(("★", "#")),
        });
    }
    let mut marks = Vec::new();
    for it in h.overfitting_marks() {
        if window.contains(it) {
            marks.push(VMark {
                x: window.x_at(h, it),
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
            x: window.x_at(h, k.iteration),
            style: t.series(SeriesKind::Mark),
            label: Some(
                t.t(&format!("{who}{}", knob_change_label(k.knob, k.old, k.new)))
                    .into_owned(),
            ),
            head: ("┊", ":"),
        });
    }
    // weights put back: the curve after the mark goes on from other weights
    for r in h.rollbacks.iter().filter(|r| window.contains(r.iteration)) {
        marks.push(VMark {
            x: window.x_at(h, r.iteration),
            style: t.warn(),
            label: Some(t.t(&rollback_label(r)).into_owned()),
            head: ("↶", "<"),
        });
    }
    Plot {
        x: window.x,
        y,
        band,
        band_style: t.val().add_modifier(Modifier::DIM),
        marks,
        traces,
        cursor: chart_view::cursor(app).map(|it| window.x_at(h, it)),
        is_ascii: t.is_ascii,
    }
}

/// Digits that mark each earlier run's evaluations, as in the legend.
const OVERLAY_DIGITS: [&str; 6] = ["1", "2", "3", "4", "5", "6"];

/// The earlier runs' validation curves, dimmed, each in its own colour with its digit at each
/// evaluation (so they read without colour): drawn first, behind the live run.
fn overlay_traces(app: &App, metric: Metric, window: &Window, width: u16) -> Vec<Trace> {
    app.overlays()
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let points: Vec<(f64, f64)> = o
                .curve
                .iter()
                .map(|p| (window.x_of_val(p), metric.val(p)))
                .collect();
            let shown = points
                .iter()
                .filter(|p| (window.x.0..=window.x.1).contains(&p.0))
                .count();
            let digit = OVERLAY_DIGITS[i % OVERLAY_DIGITS.len()];
            Trace {
                points,
                pen: Pen::Dotted { ascii: '\'' },
                style: app.theme.overlay(i),
                glyph: (shown <= usize::from(width) / 2).then_some((digit, digit)),
            }
        })
        .collect()
}

/// One row naming the earlier runs drawn behind the live one: `behind: 1 193500-mnist 2 …`.
pub fn render_overlay_legend(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(" behind:", t.dim())];
    for (i, o) in app.overlays().iter().enumerate() {
        let digit = OVERLAY_DIGITS[i % OVERLAY_DIGITS.len()];
        spans.push(Span::styled(
            format!(" {digit} {}", o.short_id()),
            t.overlay(i),
        ));
    }
    let hint = "  (o: runs table)";
    let used: usize = spans.iter().map(|s| super::fit::width(&s.content)).sum();
    if used + hint.len() <= usize::from(area.width) {
        spans.push(Span::styled(hint, t.dim()));
    }
    t.line(spans).render(area, buf);
}
