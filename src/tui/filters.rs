//! Every filter of the chosen conv layer as a small image, normalised per filter; gradients beside
//! them on request.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::app::App;
use super::image::{self, ColorMap, Image};
use super::ui::render_empty;
use crate::train::FilterBank;

/// One filter's weights as an image: colour for a first layer on RGB input, otherwise the mean
/// over its input channels.
fn filter_image(
    bank: &FilterBank,
    values: &[f32],
    index: usize,
    is_rgb: bool,
    is_grad: bool,
) -> Image {
    let size = bank.kh * bank.kw;
    let per_filter = bank.c_in * size;
    let start = index * per_filter;
    let filter = values.get(start..start + per_filter).unwrap_or(&[]);
    if is_rgb && !is_grad {
        return Image::rgb_normalised(filter, bank.kw, bank.kh);
    }
    let mean: Vec<f32> = (0..size)
        .map(|i| {
            let sum: f32 = (0..bank.c_in)
                .map(|c| filter.get(c * size + i).copied().unwrap_or(0.0))
                .sum();
            sum / bank.c_in.max(1) as f32
        })
        .collect();
    if is_grad {
        Image::signed(&mean, bank.kw, bank.kh)
    } else {
        Image::normalised(&mean, bank.kw, bank.kh, ColorMap::Gray)
    }
}

pub fn render_filters(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(snapshot) = &app.snapshot else {
        let block = t.block("filters");
        let inner = block.inner(area);
        block.render(area, buf);
        render_empty(app, "waiting for a snapshot from the trainer…", inner, buf);
        return;
    };
    let Some(bank) = snapshot.filters.get(app.filters.layer) else {
        let block = t.block("filters");
        let inner = block.inner(area);
        block.render(area, buf);
        render_empty(app, "this network has no conv layers", inner, buf);
        return;
    };
    let is_rgb = app.filters.layer == 0 && bank.c_in == 3;
    let how = if is_rgb {
        "colour".to_string()
    } else if bank.c_in > 1 {
        format!("mean of {} inputs", bank.c_in)
    } else {
        "gray".to_string()
    };
    let title = t.line(vec![
        Span::styled(format!(" filters · {} ", bank.layer), t.title()),
        Span::styled(
            format!(
                "{}×{}×{}×{} · {} · layer {}/{} ",
                bank.c_out,
                bank.c_in,
                bank.kh,
                bank.kw,
                how,
                app.filters.layer + 1,
                snapshot.filters.len()
            ),
            t.dim(),
        ),
        Span::styled(
            if app.filters.is_showing_grads {
                "· weights | gradients "
            } else {
                "· g: gradients "
            },
            t.dim(),
        ),
    ]);
    let block = t.block_line(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let [tiles_area, legend_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(2)]).areas(inner);

    let per_tile: u16 = if app.filters.is_showing_grads { 2 } else { 1 };
    // A tile holds the filter, and its gradient right beside it when shown.
    let (tw, fh) = image::fit_tile(
        bank.kw * per_tile as usize,
        bank.kh,
        bank.c_out,
        tiles_area,
        6,
        3,
        0,
    );
    let fw = (tw / per_tile).max(1);
    let tile = (fw * per_tile, fh);
    let rects = image::grid(tiles_area, tile, bank.c_out);
    for (index, rect) in rects.iter().enumerate() {
        let weights = filter_image(bank, &bank.weights, index, is_rgb, false);
        image::render_image(&weights, Rect::new(rect.x, rect.y, fw, fh), buf, t);
        if app.filters.is_showing_grads {
            let grads = filter_image(bank, &bank.grads, index, false, true);
            image::render_image(&grads, Rect::new(rect.x + fw, rect.y, fw, fh), buf, t);
        }
    }
    if rects.len() < bank.c_out {
        let note = format!(
            "{} of {} filters shown; enlarge the terminal for all",
            rects.len(),
            bank.c_out
        );
        render_empty(
            app,
            &note,
            Rect::new(legend_area.x, legend_area.y, legend_area.width, 1),
            buf,
        );
    }
    let (lo, hi) = image::range(&bank.weights);
    let map = ColorMap::Gray;
    let legend_row = Rect::new(
        legend_area.x,
        legend_area.bottom().saturating_sub(1),
        legend_area.width,
        1,
    );
    let (g_lo, g_hi) = image::range(&bank.grads);
    let note = if app.filters.is_showing_grads {
        format!(
            "weights, each filter stretched to its own range · gradients ±{:.1e}",
            g_lo.abs().max(g_hi.abs())
        )
    } else {
        "each filter stretched to its own min..max".to_string()
    };
    image::render_legend(map, lo, hi, &note, legend_row, buf, t);
}
