//! Sample images with labels and predictions, the preprocessing's mean image, augmentation before
//! and after, and the validation confusion matrix.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::app::App;
use super::fit;
use super::image::{self, ColorMap, Image};
use super::ui::render_empty;
use crate::train::{DataView, Planes, SampleImage};

fn class_label(app: &App, index: usize, width: usize) -> String {
    let name = app
        .info
        .as_ref()
        .and_then(|i| i.classes.get(index))
        .cloned()
        .unwrap_or_else(|| index.to_string());
    name.chars().take(width).collect()
}

pub fn render_data(app: &App, area: Rect, buf: &mut Buffer) {
    let classes = app.info.as_ref().map_or(10, |i| i.classes.len().max(1));
    let (name_width, cell) = confusion_cells(app);
    let wanted = (name_width + classes * cell + 3) as u16;
    let matrix_width = wanted.max(30).min(area.width / 2);
    let [left, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(matrix_width)]).areas(area);
    let t = &app.theme;
    match &app.data_view {
        Some(view) => {
            let [samples, extras] =
                Layout::vertical([Constraint::Fill(1), Constraint::Percentage(40)]).areas(left);
            render_samples(app, view, samples, buf);
            render_extras(app, view, extras, buf);
        }
        None => {
            let block = t.block("samples");
            let inner = block.inner(left);
            block.render(left, buf);
            render_empty(
                app,
                "waiting for sample images from the trainer…",
                inner,
                buf,
            );
        }
    }
    render_confusion(app, right, buf);
}

fn render_samples(app: &App, view: &DataView, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let wrong = view
        .samples
        .iter()
        .filter(|s| s.label != s.predicted)
        .count();
    let [inner, legend] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)])
        .areas(t.block("").inner(area));
    let Some(first) = view.samples.first() else {
        t.block("samples").render(area, buf);
        render_empty(app, "no samples", inner, buf);
        return;
    };
    let (tw, th) = image::fit_tile(
        first.image.w,
        first.image.h,
        view.samples.len(),
        inner,
        2,
        10,
        1,
    );
    let rects = image::grid(inner, (tw, th + 1), view.samples.len());
    let shown = if rects.len() < view.samples.len() {
        format!("{} of {} shown · ", rects.len(), view.samples.len())
    } else {
        String::new()
    };
    let title = t.line(vec![
        Span::styled(" samples ", t.title()),
        Span::styled(format!("{shown}{wrong} wrong "), t.dim()),
    ]);
    t.block_line(title).render(area, buf);
    image::render_legend(ColorMap::Gray, 0.0, 1.0, "pixel value", legend, buf, t);
    // When not all fit, the mistakes are the ones worth seeing.
    let mut order: Vec<&SampleImage> = view.samples.iter().collect();
    if rects.len() < order.len() {
        order.sort_by_key(|s| s.label == s.predicted);
    }
    for (sample, rect) in order.into_iter().zip(&rects) {
        let picture = Image::from_pixels(&sample.image);
        image::render_image(&picture, Rect::new(rect.x, rect.y, rect.width, th), buf, t);
        let is_right = sample.label == sample.predicted;
        let caption = if is_right {
            format!(
                "{} ✓",
                class_label(app, sample.label, (tw as usize).saturating_sub(2).max(1))
            )
        } else {
            let w = (tw as usize).saturating_sub(3) / 2;
            format!(
                "{}→{}",
                class_label(app, sample.label, w),
                class_label(app, sample.predicted, w)
            )
        };
        let style = if is_right { t.good() } else { t.bad() };
        t.line(vec![Span::styled(caption, style)])
            .render(Rect::new(rect.x, rect.y + th, rect.width, 1), buf);
    }
}

fn render_extras(app: &App, view: &DataView, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let title = if view.whitened.is_some() {
        "mean image · augmentation before → after · ZCA-whitened"
    } else {
        "mean image · augmentation before → after"
    };
    let title = format!(" {} ", t.t(title));
    let title = fit::elide_end(&title, area.width.saturating_sub(2) as usize);
    let block = t.block_line(Line::from(Span::styled(title, t.title())));
    let inner = block.inner(area);
    block.render(area, buf);
    let mut pictures: Vec<(&str, &Planes)> = Vec::new();
    if let Some(mean) = &view.mean_image {
        pictures.push(("mean", mean));
    }
    pictures.push(("before", &view.augment_before));
    pictures.push(("after", &view.augment_after));
    if let Some(whitened) = &view.whitened {
        pictures.push(("whitened", whitened));
    }
    pictures.retain(|(_, p)| p.w > 0 && p.h > 0);
    // fit the height, then shrink all of them until they fit side by side (two pixel rows a cell)
    let cols_at = |rows: u16, p: &Planes| ((rows as usize * 2 * p.w) / p.h).max(1) as u16;
    let mut rows = inner.height.saturating_sub(1).max(1);
    while rows > 1 {
        let gaps = 2 * pictures.len().saturating_sub(1) as u16;
        let total: u16 = pictures.iter().map(|(_, p)| cols_at(rows, p)).sum::<u16>() + gaps;
        if total <= inner.width {
            break;
        }
        rows -= 1;
    }
    let mut x = inner.x;
    for (name, planes) in pictures {
        if planes.w == 0 || planes.h == 0 {
            continue;
        }
        // Fit the height; the width follows from the aspect, two pixel rows a cell.
        let cols = cols_at(rows, planes);
        if x + cols > inner.right() {
            break;
        }
        let picture = if name == "mean" || name == "whitened" {
            let stretched = Planes {
                data: stretch(&planes.data),
                ..planes.clone()
            };
            Image::from_pixels(&stretched)
        } else {
            Image::from_pixels(planes)
        };
        image::render_image(&picture, Rect::new(x, inner.y, cols, rows), buf, t);
        Line::from(Span::styled(name.to_string(), t.dim()))
            .render(Rect::new(x, inner.y + rows, cols, 1), buf);
        x += cols + 2;
    }
}

/// The mean image is nearly uniform gray and a whitened one centred on 0; stretching either to
/// 0..1 shows its structure.
fn stretch(values: &[f32]) -> Vec<f32> {
    let (lo, hi) = image::range(values);
    let span = if hi > lo { hi - lo } else { 1.0 };
    values.iter().map(|v| (v - lo) / span).collect()
}

/// The confusion matrix's row-name width and cell width: as narrow as its labels and counts.
fn confusion_cells(app: &App) -> (usize, usize) {
    let max = app
        .confusion
        .as_ref()
        .and_then(|m| m.iter().flatten().copied().max())
        .unwrap_or(0)
        .max(1);
    let label = app.info.as_ref().map_or(1, |i| {
        i.classes
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(1)
    });
    let cell = max.to_string().len().max(label.min(3)) + 1;
    (label.min(5) + 1, cell)
}

fn render_confusion(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let title = format!(" {} ", t.t("confusion · val · true ↓ predicted →"));
    let title = fit::elide_end(&title, area.width.saturating_sub(2) as usize);
    let block = t.block_line(Line::from(Span::styled(title, t.title())));
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(matrix) = &app.confusion else {
        render_empty(app, "waiting for the first evaluation…", inner, buf);
        return;
    };
    let (name_width, cell) = confusion_cells(app);
    let fitting = (inner.width as usize).saturating_sub(name_width) / cell;
    let shown = matrix.len().min(fitting);
    let mut lines = Vec::with_capacity(matrix.len() + 1);
    let mut head = vec![Span::raw(" ".repeat(name_width))];
    head.extend((0..shown).map(|j| {
        Span::styled(
            format!("{:>cell$}", class_label(app, j, cell - 1)),
            t.title(),
        )
    }));
    lines.push(t.line(head));
    for (i, row) in matrix.iter().enumerate() {
        let total: u32 = row.iter().sum::<u32>().max(1);
        let mut spans = vec![Span::styled(
            format!("{:<name_width$}", class_label(app, i, name_width - 1)),
            t.title(),
        )];
        for (j, &n) in row.iter().enumerate().take(shown) {
            let share = f64::from(n) / f64::from(total);
            let style: Style = if n == 0 {
                t.dim()
            } else if i == j {
                t.good()
            } else if share > 0.05 {
                t.bad()
            } else {
                t.warn()
            };
            let text = if n == 0 {
                t.none().to_string()
            } else {
                n.to_string()
            };
            spans.push(Span::styled(format!("{text:>cell$}"), style));
        }
        lines.push(t.line(spans));
    }
    if shown < matrix.len() {
        let needed = name_width + matrix.len() * cell + 2;
        lines.push(t.line(vec![Span::styled(
            format!(
                " columns {shown}–{} hidden: widen to {needed}",
                matrix.len() - 1
            ),
            t.warn(),
        )]));
    }
    let correct: u32 = matrix
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.get(i))
        .sum();
    let all: u32 = matrix.iter().flatten().sum();
    if all > 0 {
        lines.push(Line::default());
        lines.push(t.line(vec![Span::styled(
            format!(
                " accuracy {:.1}% ({correct}/{all})",
                100.0 * f64::from(correct) / f64::from(all)
            ),
            t.label(),
        )]));
    }
    Paragraph::new(lines).render(inner, buf);
}
