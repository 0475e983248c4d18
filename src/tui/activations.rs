//! One validation image, the activation map of every channel of a chosen layer, and the
//! predicted class probabilities.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::app::App;
use super::image::{self, ColorMap, Image};
use super::ui::render_empty;
use crate::train::{Planes, Snapshot};

pub fn render_activations(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(snapshot) = &app.snapshot else {
        let block = t.block("activations");
        let inner = block.inner(area);
        block.render(area, buf);
        render_empty(app, "waiting for a snapshot from the trainer…", inner, buf);
        return;
    };
    let side = if area.width >= 140 { 40 } else { 30 };
    let [left, right] =
        Layout::horizontal([Constraint::Length(side), Constraint::Fill(1)]).areas(area);
    render_input(app, snapshot, left, buf);
    render_maps(app, snapshot, right, buf);
}

fn class_name(app: &App, index: usize) -> String {
    app.info
        .as_ref()
        .and_then(|i| i.classes.get(index))
        .cloned()
        .unwrap_or_else(|| index.to_string())
}

fn render_input(app: &App, snapshot: &Snapshot, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let block = t.block_line(t.line(vec![
        Span::styled(format!(" val #{} ", snapshot.input_index), t.title()),
        Span::styled(
            if app.activations.input_index == snapshot.input_index {
                String::new()
            } else {
                format!("→ #{}… ", app.activations.input_index)
            },
            t.warn(),
        ),
        Span::styled(", . ", t.dim()),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let classes = snapshot.probabilities.len() as u16;
    let [picture, legend, caption, bars] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(classes.min(inner.height / 2)),
    ])
    .areas(inner);
    let input = Image::from_pixels(&snapshot.input);
    let (w, h) = image::fit_tile(input.w, input.h, 1, picture, 8, 4, 0);
    let x = picture.x + picture.width.saturating_sub(w) / 2;
    image::render_image(
        &input,
        Rect::new(x, picture.y, w.min(picture.width), h.min(picture.height)),
        buf,
        t,
    );

    image::render_legend(ColorMap::Gray, 0.0, 1.0, "pixel value", legend, buf, t);

    let predicted = argmax(&snapshot.probabilities);
    let is_right = predicted == Some(snapshot.label);
    let mut spans = vec![
        Span::styled(" label ", t.label()),
        Span::styled(class_name(app, snapshot.label), t.value()),
    ];
    if let Some(p) = predicted {
        spans.push(Span::styled("  predicted ", t.label()));
        spans.push(Span::styled(
            format!(
                "{} {}",
                class_name(app, p),
                if is_right { "✓" } else { "✗" }
            ),
            if is_right { t.good() } else { t.bad() },
        ));
    }
    t.line(spans).render(caption, buf);

    let name_width = (0..snapshot.probabilities.len())
        .map(|i| class_name(app, i).chars().count())
        .max()
        .unwrap_or(1)
        .min(10);
    let bar_width = (bars.width as usize).saturating_sub(name_width + 9);
    let mut order: Vec<usize> = (0..snapshot.probabilities.len()).collect();
    order.sort_by(|a, b| snapshot.probabilities[*b].total_cmp(&snapshot.probabilities[*a]));
    order.truncate(bars.height as usize);
    order.sort_unstable();
    let lines: Vec<Line> = order
        .iter()
        .map(|&i| {
            let p = f64::from(snapshot.probabilities[i]);
            let (on, off) = t.bar(p, bar_width);
            let style = if Some(i) == predicted {
                t.val()
            } else {
                t.train()
            };
            t.line(vec![
                Span::styled(
                    format!(" {:<name_width$.name_width$}", class_name(app, i)),
                    t.label(),
                ),
                Span::styled(on, style),
                Span::styled(off, t.dim()),
                Span::styled(format!(" {:>5.1}%", p * 100.0), t.value()),
            ])
        })
        .collect();
    Paragraph::new(lines).render(bars, buf);
}

fn argmax(values: &[f32]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

/// Fully connected outputs are (c, 1, 1): draw them as one strip instead of c single pixels.
fn as_maps(planes: &Planes) -> Planes {
    if planes.h * planes.w == 1 {
        Planes {
            c: 1,
            h: 1,
            w: planes.c,
            data: planes.data.clone(),
        }
    } else {
        planes.clone()
    }
}

fn render_maps(app: &App, snapshot: &Snapshot, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some((name, planes)) = snapshot.activations.get(app.activations.layer) else {
        let block = t.block("activations");
        let inner = block.inner(area);
        block.render(area, buf);
        render_empty(app, "no activations in this snapshot", inner, buf);
        return;
    };
    let title = t.line(vec![
        Span::styled(format!(" activations · {name} "), t.title()),
        Span::styled(
            format!(
                "{}×{}×{} · layer {}/{} · < > ",
                planes.c,
                planes.h,
                planes.w,
                app.activations.layer + 1,
                snapshot.activations.len()
            ),
            t.dim(),
        ),
    ]);
    let block = t.block_line(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let [tiles_area, legend_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    let maps = as_maps(planes);
    let count = maps.c;
    let tile = image::fit_tile(maps.w, maps.h, count, tiles_area, 4, 6, 0);
    let rects = image::grid(tiles_area, tile, count);
    for (i, rect) in rects.iter().enumerate() {
        let size = maps.h * maps.w;
        let Some(plane) = maps.data.get(i * size..(i + 1) * size) else {
            continue;
        };
        let picture = Image::normalised(plane, maps.w, maps.h, ColorMap::Viridis);
        image::render_image(&picture, *rect, buf, t);
    }
    let (lo, hi) = image::range(&planes.data);
    let note = if maps.c == 1 && planes.c > 1 {
        format!("{} outputs, stretched to their range", planes.c)
    } else if rects.len() < count {
        format!(
            "{} of {count} channels shown · each stretched to its own range",
            rects.len()
        )
    } else {
        format!("{count} channels, each stretched to its own range")
    };
    image::render_legend(ColorMap::Viridis, lo, hi, &note, legend_area, buf, t);
}
