//! Picture PNGs: a montage of one layer's filters and the activation maps of one input, each
//! image enlarged with square pixels and normalised on its own so its pattern shows.

use std::path::Path;

use plotters::prelude::*;

use super::{ExportError, FAMILY, plot, register_font, save_png};
use crate::train::{FilterBank, Planes, Snapshot};

const MARGIN: i32 = 24;
const TITLE_H: i32 = 56;
const GAP: i32 = 6;
/// Activation maps per layer drawn; the rest are counted in the row label.
const MAX_MAPS: usize = 16;

fn normalise(values: &[f32]) -> Vec<f32> {
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = (hi - lo).max(1e-12);
    values.iter().map(|v| (v - lo) / span).collect()
}

/// Draws a (c, h, w) tile at (x, y) with `scale`-pixel squares: RGB for 3 channels, grey
/// (channel mean) otherwise. Values must be 0..1.
fn draw_tile<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    (c, h, w): (usize, usize, usize),
    values: &[f32],
    (x, y): (i32, i32),
    scale: i32,
) -> Result<(), ExportError> {
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    for r in 0..h {
        for col in 0..w {
            let at = |ch: usize| values[(ch * h + r) * w + col];
            let color = if c == 3 {
                RGBColor(byte(at(0)), byte(at(1)), byte(at(2)))
            } else {
                let g = byte((0..c).map(at).sum::<f32>() / c.max(1) as f32);
                RGBColor(g, g, g)
            };
            let x0 = x + col as i32 * scale;
            let y0 = y + r as i32 * scale;
            let rect = Rectangle::new([(x0, y0), (x0 + scale, y0 + scale)], color.filled());
            plot("a pixel", area.draw(&rect))?;
        }
    }
    Ok(())
}

/// `filters.png`: every filter of `bank`, each min-max normalised on its own.
pub fn render_filters(
    bank: &FilterBank,
    id: &str,
    iteration: u64,
    path: &Path,
) -> Result<(), ExportError> {
    register_font();
    let size = bank.c_in * bank.kh * bank.kw;
    let scale = (64 / bank.kh.max(bank.kw)).max(4) as i32;
    let cols = (bank.c_out as f64).sqrt().ceil().max(4.0) as usize;
    let cols = cols.min(bank.c_out.max(1));
    let rows = bank.c_out.div_ceil(cols);
    let tile_w = bank.kw as i32 * scale;
    let tile_h = bank.kh as i32 * scale;
    let grid_w = cols as i32 * (tile_w + GAP) - GAP;
    let w = (2 * MARGIN + grid_w).max(640) as u32;
    let h = (TITLE_H + rows as i32 * (tile_h + GAP) + MARGIN + 30) as u32;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        plot("the background", root.fill(&WHITE))?;
        let title = format!(
            "{} filters ({}×{}×{}) — {id}",
            bank.layer, bank.c_in, bank.kh, bank.kw
        );
        let style = (FAMILY, 24).into_font().color(&BLACK);
        plot(
            "the title",
            root.draw(&Text::new(title, (MARGIN, 16), style)),
        )?;
        let x_start = (w as i32 - grid_w) / 2;
        for f in 0..bank.c_out {
            let values = normalise(&bank.weights[f * size..(f + 1) * size]);
            let x = x_start + (f % cols) as i32 * (tile_w + GAP);
            let y = TITLE_H + (f / cols) as i32 * (tile_h + GAP);
            draw_tile(&root, (bank.c_in, bank.kh, bank.kw), &values, (x, y), scale)?;
        }
        let note = format!(
            "iteration {iteration}; each filter scaled to its own min (dark) and max (light)"
        );
        let style = (FAMILY, 16).into_font().color(&RGBColor(90, 90, 90));
        let at = (MARGIN, h as i32 - MARGIN - 8);
        plot("the note", root.draw(&Text::new(note, at, style)))?;
        plot("the montage", root.present())?;
    }
    save_png(&buf, w, h, path)
}

/// `activations.png`: the input, then one row a layer of its activation maps.
pub fn render_activations(
    snap: &Snapshot,
    classes: &[String],
    id: &str,
    path: &Path,
) -> Result<(), ExportError> {
    register_font();
    const LABEL_W: i32 = 200;
    const TILE: i32 = 64;
    let rows: Vec<&(String, Planes)> = snap
        .activations
        .iter()
        .filter(|(_, p)| p.h * p.w > 1)
        .collect();
    let w = (2 * MARGIN + LABEL_W + MAX_MAPS as i32 * (TILE + GAP)) as u32;
    let h = (TITLE_H + (rows.len() as i32 + 1) * (TILE + GAP + 8) + MARGIN) as u32;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        plot("the background", root.fill(&WHITE))?;
        let label = classes
            .get(snap.label)
            .cloned()
            .unwrap_or_else(|| snap.label.to_string());
        let predicted = snap
            .probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        let guess = classes
            .get(predicted)
            .cloned()
            .unwrap_or_else(|| predicted.to_string());
        let title = format!(
            "Activations of validation image {} (label {label}, predicted {guess}) — {id}",
            snap.input_index
        );
        let style = (FAMILY, 22).into_font().color(&BLACK);
        plot(
            "the title",
            root.draw(&Text::new(title, (MARGIN, 16), style)),
        )?;
        let text = (FAMILY, 17).into_font().color(&BLACK);
        let mut y = TITLE_H;
        let mut draw_row = |name: String, p: &Planes, is_input: bool| -> Result<(), ExportError> {
            let scale = (TILE / p.h.max(p.w) as i32).max(1);
            let shown = if is_input { 1 } else { p.c.min(MAX_MAPS) };
            let label = format!("{name}  {}×{}×{}", p.c, p.h, p.w);
            plot(
                "a label",
                root.draw(&Text::new(label, (MARGIN, y + TILE / 2 - 8), text.clone())),
            )?;
            for i in 0..shown {
                let x = MARGIN + LABEL_W + i as i32 * (TILE + GAP);
                if is_input {
                    draw_tile(&root, (p.c, p.h, p.w), &p.data, (x, y), scale)?;
                } else {
                    let values = normalise(p.plane(i));
                    draw_tile(&root, (1, p.h, p.w), &values, (x, y), scale)?;
                }
            }
            y += TILE + GAP + 8;
            Ok(())
        };
        draw_row("input".into(), &snap.input, true)?;
        for (name, p) in &rows {
            draw_row(name.clone(), p, false)?;
        }
        plot("the maps", root.present())?;
    }
    save_png(&buf, w, h, path)
}
