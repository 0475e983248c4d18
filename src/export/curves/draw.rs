//! One chart drawn: its y-scale, the series, the knob-change marks and the legend.

use super::*;

/// The y-range: the dashboard's outlier-ignoring fit over the smoothed and validation curves,
/// on a log axis when even that spans more than two decades of loss.
fn y_scale(is_loss: bool, series: &[Series]) -> Scale {
    let sets: Vec<Vec<f64>> = series
        .iter()
        .filter(|s| !s.is_validation)
        .map(|s| s.points.iter().map(|p| p.1).collect())
        .collect();
    // one set for all runs: each run's range is part of what is shown
    let samples: Vec<f64> = sets.concat();
    let must: Vec<f64> = series
        .iter()
        .filter(|s| s.is_validation)
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    if is_loss {
        let lin = scale::fit(
            &[&samples],
            &must,
            Tail::High,
            false,
            false,
            (Some(0.0), None),
        );
        let positive = samples.iter().chain(&must).filter(|v| **v > 0.0);
        let lo = positive.clone().fold(f64::INFINITY, |a, &b| a.min(b));
        if lo.is_finite() && lin.hi / lo > 100.0 {
            return scale::fit(&[&samples], &must, Tail::High, true, false, (None, None));
        }
        lin
    } else {
        scale::fit(
            &[&samples],
            &must,
            Tail::Low,
            false,
            false,
            (Some(0.0), Some(100.0)),
        )
    }
}

pub(super) fn draw_chart(
    title: &str,
    is_loss: bool,
    series: &[Series],
    marks: &[(f64, String)],
    path: &Path,
) -> Result<(), ExportError> {
    register_font();
    let x_max = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p.0)
        .fold(1e-3, f64::max);
    let y = y_scale(is_loss, series);
    // the plot works in axis units (log10 on a log axis); clipped points sit on the edge
    let to_axis = |v: f64| y.axis(v).clamp(y.lo, y.hi);
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        plot("the background", root.fill(&WHITE))?;
        let label_band = if marks.is_empty() {
            0
        } else {
            LABEL_ROWS * LABEL_ROW_HEIGHT + 6
        };
        // the title first, then the knob labels' band, then the plot: the labels sit between
        // the title and the plot, never over either
        let below_title = plot(
            "the title",
            root.margin(12, 0, 0, 0).titled(title, (FAMILY, 30)),
        )?;
        let mut chart = plot(
            "the axes",
            ChartBuilder::on(&below_title)
                .margin(20)
                .margin_top(10 + label_band)
                .x_label_area_size(60)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..x_max, y.lo..y.hi),
        )?;
        let y_desc = match (is_loss, y.is_log) {
            (true, true) => "cross-entropy loss (log scale)",
            (true, false) => "cross-entropy loss",
            (false, _) => "accuracy (%)",
        };
        let is_log = y.is_log;
        plot(
            "the grid",
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_label_formatter(&|x| format!("{x}"))
                .y_label_formatter(&|v| {
                    let v = if is_log { 10f64.powf(*v) } else { *v };
                    if is_loss {
                        format!("{v:.3}")
                    } else {
                        format!("{v:.1}")
                    }
                })
                .y_desc(y_desc)
                .label_style((FAMILY, 18))
                .axis_desc_style((FAMILY, 20))
                .light_line_style(RGBColor(235, 235, 235))
                .bold_line_style(RGBColor(210, 210, 210))
                .draw(),
        )?;
        for s in series {
            let style = if s.is_faint {
                s.color.mix(0.25).stroke_width(1)
            } else {
                s.color.stroke_width(2)
            };
            let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, to_axis(p.1))).collect();
            let color = s.color;
            let legend_color = if s.is_faint {
                color.mix(0.35)
            } else {
                color.mix(1.0)
            };
            let drawn = if s.is_validation {
                plot(
                    "a curve",
                    chart.draw_series(DashedLineSeries::new(pts.clone(), 10, 6, style)),
                )?
            } else {
                plot(
                    "a curve",
                    chart.draw_series(LineSeries::new(pts.clone(), style)),
                )?
            };
            let is_dashed = s.is_validation;
            drawn.label(s.label.clone()).legend(move |(x, y)| {
                let style = legend_color.stroke_width(3);
                // dashed with a dot for validation, solid for training
                let gap = if is_dashed { 6 } else { 0 };
                let dot = if is_dashed { 4 } else { 0 };
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (12 - gap / 2, 0)], style)
                    + PathElement::new(vec![(12 + gap / 2, 0), (24, 0)], style)
                    + Circle::new((12, 0), dot, legend_color.filled())
            });
            if s.is_validation {
                let dots = pts.iter().map(|p| Circle::new(*p, 4, color.filled()));
                plot("the markers", chart.draw_series(dots))?;
            }
        }
        draw_marks(&root, &chart, marks, (y.lo, y.hi))?;
        let position = legend_corner(series, x_max, &to_axis, (y.lo, y.hi));
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

/// The corner of the plot where the legend covers the fewest points (matplotlib's "best"),
/// upper right first on a tie.
fn legend_corner(
    series: &[Series],
    x_max: f64,
    to_axis: &dyn Fn(f64) -> f64,
    (y_lo, y_hi): (f64, f64),
) -> SeriesLabelPosition {
    // the legend's size as fractions of the plot (about 1,080 × 520 px): 9 px a character and
    // 50 px of key across, 24 px a row down
    let chars = series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(0);
    let width = ((chars * 9 + 50) as f64 / 1080.0).min(1.0);
    let height = ((series.len() * 24 + 12) as f64 / 520.0).min(1.0);
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, true, false),
        (SeriesLabelPosition::LowerRight, false, true),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let covered = |is_top: bool, is_right: bool| {
        let points = series.iter().flat_map(|s| &s.points);
        points
            .filter(|p| {
                let fx = p.0 / x_max;
                let fy = (to_axis(p.1) - y_lo) / (y_hi - y_lo);
                let in_x = if is_right {
                    fx >= 1.0 - width
                } else {
                    fx <= width
                };
                let in_y = if is_top {
                    fy >= 1.0 - height
                } else {
                    fy <= height
                };
                in_x && in_y
            })
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, is_top, is_right)| covered(is_top, is_right))
        .map_or(SeriesLabelPosition::UpperRight, |c| c.0)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Dashed vertical lines at each knob change, labels in the band above the plot (never over the
/// legend): each label in the first row where it does not overlap another, shifted left of its
/// mark where it would run off the right edge.
fn draw_marks(
    root: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    chart: &Chart,
    marks: &[(f64, String)],
    (y_lo, y_hi): (f64, f64),
) -> Result<(), ExportError> {
    let grey = RGBColor(90, 90, 90);
    let plot_top = chart.backend_coord(&(0.0, y_hi)).1;
    let right = chart.backend_coord(&(f64::MAX, y_hi)).0.min(W as i32 - 10);
    let mut rows: Vec<Vec<(i32, i32)>> = vec![Vec::new(); LABEL_ROWS as usize];
    for (x, label) in marks {
        for d in (0..40).map(|j| {
            let a = y_lo + (y_hi - y_lo) * f64::from(j) / 40.0;
            PathElement::new(
                vec![(*x, a), (*x, a + (y_hi - y_lo) / 80.0)],
                grey.stroke_width(1),
            )
        }) {
            plot("a knob mark", chart.plotting_area().draw(&d))?;
        }
        let px = chart.backend_coord(&(*x, y_hi)).0;
        // DejaVu Sans at 16 px averages about 8.5 px a character
        let width = (label.chars().count() as f64 * 8.5).ceil() as i32;
        let start = if px + 4 + width <= right {
            px + 4
        } else {
            (px - 4 - width).max(0)
        };
        let end = start + width;
        let Some(row) = rows
            .iter()
            .position(|taken| taken.iter().all(|&(a, b)| end < a || start > b))
        else {
            continue;
        };
        rows[row].push((start, end));
        let y = plot_top - ((row as i32 + 1) * LABEL_ROW_HEIGHT as i32);
        let text = Text::new(
            label.clone(),
            (start, y),
            (FAMILY, 16).into_font().color(&grey),
        );
        plot("a knob label", root.draw(&text))?;
    }
    Ok(())
}
