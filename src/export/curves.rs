//! Loss and accuracy against epoch as PNGs, with the dashboard's choices: the run history's
//! smoothing and min/max thinning, its outlier-ignoring y-range (log when asked), train solid and
//! validation dashed with their own legend entries, hand knob changes labelled above the plot.

use std::path::Path;

use plotters::prelude::*;

use super::{ExportError, FAMILY, plot, register_font, save_png};
use crate::train::KnobChange;
use crate::train::history::scale::{self, Scale, Tail};
use crate::train::history::{RunHistory, Series as HistorySeries};

mod draw;
use draw::draw_chart;

const W: u32 = 1200;
const H: u32 = 700;
/// Per-iteration lines are thinned to about this many points: more only blurs the PNG.
const COLUMNS: usize = 1500;
/// Height of the band above the plot that holds knob-change labels, one row a stagger.
const LABEL_ROWS: u32 = 3;
const LABEL_ROW_HEIGHT: u32 = 18;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    /// A thin, light line (raw data behind its smoothed version).
    pub is_faint: bool,
    /// Dashed, with dots at each point (evaluations are sparse).
    pub is_validation: bool,
}

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// The series of one run's loss (`is_loss`) or accuracy chart, x in epochs.
fn run_series(h: &RunHistory, is_loss: bool, prefix: &str, color: Option<RGBColor>) -> Vec<Series> {
    let (raw, smooth) = if is_loss {
        (HistorySeries::Loss, HistorySeries::SmoothedLoss)
    } else {
        (HistorySeries::Accuracy, HistorySeries::SmoothedAccuracy)
    };
    let unit = if is_loss { 1.0 } else { 100.0 };
    let points = |series| -> Vec<(f64, f64)> {
        h.thinned(series, 0, h.len(), COLUMNS)
            .into_iter()
            .map(|i| (h.iters()[i].epoch, f64::from(h.value(series, i)) * unit))
            .filter(|p| p.1.is_finite())
            .collect()
    };
    let val: Vec<(f64, f64)> = h
        .evals
        .iter()
        .map(|e| {
            let y = if is_loss { e.val_loss } else { e.val_accuracy };
            (e.epoch, f64::from(y) * unit)
        })
        .filter(|p| p.1.is_finite())
        .collect();
    let (train_color, val_color) = color.map_or((BLUE, ORANGE), |c| (c, c));
    let what = if is_loss { "loss" } else { "accuracy" };
    let mut out = Vec::new();
    if color.is_none() {
        out.push(Series {
            label: format!("{prefix}training {what} (per batch)"),
            points: points(raw),
            color: train_color,
            is_faint: true,
            is_validation: false,
        });
    }
    out.push(Series {
        label: format!("{prefix}training {what} (smoothed {:.2})", h.smoothing()),
        points: points(smooth),
        color: train_color,
        is_faint: false,
        is_validation: false,
    });
    out.push(Series {
        label: format!("{prefix}validation {what}"),
        points: val,
        color: val_color,
        is_faint: false,
        is_validation: true,
    });
    out
}

/// `loss.png` or `accuracy.png` of one run.
pub fn render_curves(
    h: &RunHistory,
    id: &str,
    is_loss: bool,
    path: &Path,
) -> Result<(), ExportError> {
    let series = run_series(h, is_loss, "", None);
    let title = if is_loss {
        format!("Loss — {id}")
    } else {
        format!("Accuracy — {id}")
    };
    let marks: Vec<KnobChange> = h.labelled_changes().cloned().collect();
    let epoch_of = |k: &KnobChange| h.epoch_at(k.iteration);
    let mut marks: Vec<(f64, String)> =
        marks.iter().map(|k| (epoch_of(k), mark_label(k))).collect();
    marks.extend(h.rollbacks.iter().map(|r| {
        (
            h.epoch_at(r.iteration),
            crate::train::history::rollback_label(r),
        )
    }));
    marks.sort_by(|a, b| a.0.total_cmp(&b.0));
    draw_chart(&title, is_loss, &series, &marks, path)
}

fn mark_label(k: &KnobChange) -> String {
    let who = if k.source == crate::train::KnobSource::Autopilot {
        "autopilot: "
    } else {
        ""
    };
    format!(
        "{who}{}",
        crate::train::history::knob_change_label(k.knob, k.old, k.new)
    )
}

/// Several runs on one chart: smoothed training (solid) and validation (dashed), a colour a run.
pub fn render_compare(
    runs: &[(String, RunHistory)],
    is_loss: bool,
    path: &Path,
) -> Result<(), ExportError> {
    let mut series = Vec::new();
    for (i, (name, h)) in runs.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        series.extend(run_series(h, is_loss, &format!("{name}: "), Some(color)));
    }
    let title = if is_loss {
        "Loss — comparison"
    } else {
        "Accuracy — comparison"
    };
    draw_chart(title, is_loss, &series, &[], path)
}
