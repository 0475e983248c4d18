//! Loss and accuracy against iteration, with a dashed mark and a label where a knob changed.

use std::path::Path;

use plotters::prelude::*;

use super::{ExportError, FAMILY, plot, register_font, save_png};
use crate::train::rundir::Record;
use crate::train::{EvalStats, IterStats, KnobChange};

const W: u32 = 1200;
const H: u32 = 700;
/// Raw per-iteration lines are thinned to about this many points: more only blurs the PNG.
const MAX_POINTS: usize = 3000;
/// EMA weight for the per-iteration training curves (TensorBoard's smoothing).
const SMOOTHING: f64 = 0.95;

/// The curves of one run, as recorded in its metrics.jsonl.
#[derive(Debug, Clone, Default)]
pub struct Curves {
    pub iters: Vec<IterStats>,
    pub evals: Vec<EvalStats>,
    pub knobs: Vec<KnobChange>,
}

impl Curves {
    pub fn from_records(records: &[Record]) -> Curves {
        let mut c = Curves::default();
        for r in records {
            match r {
                Record::Iter(s) => c.iters.push(*s),
                Record::Eval(e) => c.evals.push(e.clone()),
                Record::Knob(k) => c.knobs.push(k.clone()),
                _ => {}
            }
        }
        c
    }
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    /// A thin, light line (raw data behind its smoothed version).
    pub is_faint: bool,
    /// Dots on each point (evaluations are sparse).
    pub has_markers: bool,
}

fn smooth(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut ema = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            ema = SMOOTHING * ema + (1.0 - SMOOTHING) * y;
            // debiased, so the first points are not pulled towards zero
            (x, ema / (1.0 - SMOOTHING.powi(i as i32 + 1)))
        })
        .collect()
}

fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let step = points.len().div_ceil(MAX_POINTS).max(1);
    points.into_iter().step_by(step).collect()
}

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    GREEN,
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// The series of one run's loss (`is_loss`) or accuracy chart.
fn run_series(c: &Curves, is_loss: bool, prefix: &str, color: Option<RGBColor>) -> Vec<Series> {
    let raw: Vec<(f64, f64)> = c
        .iters
        .iter()
        .filter(|s| s.data_loss.is_finite())
        .map(|s| {
            let y = if is_loss {
                s.data_loss
            } else {
                s.batch_accuracy * 100.0
            };
            (s.iteration as f64, f64::from(y))
        })
        .collect();
    let val: Vec<(f64, f64)> = c
        .evals
        .iter()
        .map(|e| {
            let y = if is_loss {
                e.val_loss
            } else {
                e.val_accuracy * 100.0
            };
            (e.iteration as f64, f64::from(y))
        })
        .filter(|p| p.1.is_finite())
        .collect();
    let (train_color, val_color) = color.map_or((BLUE, ORANGE), |c| (c, c));
    let what = if is_loss { "loss" } else { "accuracy" };
    let mut out = Vec::new();
    if color.is_none() {
        out.push(Series {
            label: format!("{prefix}training {what} (per batch)"),
            points: thin(raw.clone()),
            color: train_color,
            is_faint: true,
            has_markers: false,
        });
    }
    out.push(Series {
        label: format!("{prefix}training {what} (smoothed)"),
        points: thin(smooth(&raw)),
        color: train_color,
        is_faint: false,
        has_markers: false,
    });
    out.push(Series {
        label: format!("{prefix}validation {what}"),
        points: val,
        color: val_color,
        is_faint: false,
        has_markers: true,
    });
    out
}

/// `loss.png` or `accuracy.png` of one run.
pub fn render_curves(c: &Curves, id: &str, is_loss: bool, path: &Path) -> Result<(), ExportError> {
    let series = run_series(c, is_loss, "", None);
    let title = if is_loss {
        format!("Loss — {id}")
    } else {
        format!("Accuracy — {id}")
    };
    draw_chart(&title, is_loss, &series, &c.knobs, path)
}

/// Several runs on one chart: smoothed training and validation curves, one colour a run.
pub fn render_compare(
    runs: &[(String, Curves)],
    is_loss: bool,
    path: &Path,
) -> Result<(), ExportError> {
    let mut series = Vec::new();
    for (i, (name, c)) in runs.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        series.extend(run_series(c, is_loss, &format!("{name}: "), Some(color)));
    }
    let title = if is_loss {
        "Loss — comparison"
    } else {
        "Accuracy — comparison"
    };
    draw_chart(title, is_loss, &series, &[], path)
}

fn knob_label(k: &KnobChange) -> String {
    let short = match k.knob {
        crate::train::Knob::LearningRate => "lr",
        crate::train::Knob::Lambda => "λ",
        crate::train::Knob::Momentum => "momentum",
        crate::train::Knob::BatchSize => "batch",
        crate::train::Knob::AugmentCrop => "crop",
        crate::train::Knob::AugmentFlip => "flip",
    };
    format!("{short} {}→{}", fmt_value(k.old), fmt_value(k.new))
}

fn fmt_value(v: f64) -> String {
    if v == 0.0 || (1e-2..1e4).contains(&v.abs()) {
        format!("{}", (v * 1e4).round() / 1e4)
    } else {
        format!("{v:.0e}")
    }
}

fn draw_chart(
    title: &str,
    is_loss: bool,
    series: &[Series],
    marks: &[KnobChange],
    path: &Path,
) -> Result<(), ExportError> {
    register_font();
    let all = series
        .iter()
        .filter(|s| !s.is_faint)
        .flat_map(|s| &s.points);
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let (y_min, y_max) = if is_loss {
        let top = all.map(|p| p.1).fold(0.0, f64::max);
        (0.0, (top * 1.1).max(1e-3))
    } else {
        let low = all.map(|p| p.1).fold(100.0, f64::min);
        ((low - 5.0).clamp(0.0, 90.0).floor(), 100.5)
    };
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        plot("the background", root.fill(&WHITE))?;
        let mut chart = plot(
            "the axes",
            ChartBuilder::on(&root)
                .caption(title, (FAMILY, 30))
                .margin(20)
                .x_label_area_size(60)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..x_max, y_min..y_max),
        )?;
        let y_desc = if is_loss {
            "cross-entropy loss"
        } else {
            "accuracy (%)"
        };
        plot(
            "the grid",
            chart
                .configure_mesh()
                .x_desc("iteration")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| {
                    if is_loss {
                        format!("{y:.2}")
                    } else {
                        format!("{y:.0}")
                    }
                })
                .y_desc(y_desc)
                .label_style((FAMILY, 18))
                .axis_desc_style((FAMILY, 20))
                .light_line_style(RGBColor(235, 235, 235))
                .bold_line_style(RGBColor(210, 210, 210))
                .draw(),
        )?;
        let clamp = |p: &(f64, f64)| (p.0, p.1.clamp(y_min, y_max));
        for s in series {
            let style = if s.is_faint {
                s.color.mix(0.25).stroke_width(1)
            } else {
                s.color.stroke_width(2)
            };
            let line = LineSeries::new(s.points.iter().map(clamp), style);
            let color = s.color;
            let legend_color = if s.is_faint {
                color.mix(0.35)
            } else {
                color.mix(1.0)
            };
            let drawn = plot("a curve", chart.draw_series(line))?;
            if !s.is_faint || series.len() <= 3 {
                drawn.label(s.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], legend_color.stroke_width(3))
                });
            }
            if s.has_markers {
                let dots = s
                    .points
                    .iter()
                    .map(|p| Circle::new(clamp(p), 4, color.filled()));
                plot("the markers", chart.draw_series(dots))?;
            }
        }
        let grey = RGBColor(90, 90, 90);
        for (i, k) in marks.iter().enumerate() {
            let x = k.iteration as f64;
            let dashes = (0..40).map(|j| {
                let a = y_min + (y_max - y_min) * j as f64 / 40.0;
                let b = a + (y_max - y_min) / 80.0;
                PathElement::new(vec![(x, a), (x, b)], grey.stroke_width(1))
            });
            plot("a knob mark", chart.draw_series(dashes))?;
            // stagger the labels so marks close together stay readable
            // loss curves fall and accuracy curves rise: put labels where the curves are not
            let offset = (y_max - y_min) * (0.04 + 0.05 * (i % 4) as f64);
            let y = if is_loss {
                y_max - offset
            } else {
                y_min + offset + (y_max - y_min) * 0.04
            };
            let text = Text::new(
                format!(" {}", knob_label(k)),
                (x, y),
                (FAMILY, 16).into_font().color(&grey),
            );
            plot("a knob label", chart.draw_series(std::iter::once(text)))?;
        }
        let position = if is_loss {
            SeriesLabelPosition::UpperRight
        } else {
            SeriesLabelPosition::LowerRight
        };
        plot(
            "the legend",
            chart
                .configure_series_labels()
                .position(position)
                .label_font((FAMILY, 18))
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(180, 180, 180))
                .draw(),
        )?;
        plot("the chart", root.present())?;
    }
    save_png(&buf, W, H, path)
}
