//! Small images drawn two pixels a cell with `▀` (foreground = upper pixel, background = lower),
//! in truecolour or 256 colours, or one ramp character a cell in ASCII.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::ColorMode;
use super::theme::{self, Theme};
use crate::train::Planes;

const ASCII_RAMP: &[u8] = b" .:-=+*#%@";
/// Colour-map steps: a little drift between snapshots then leaves most cells unchanged, so
/// ratatui's diff re-sends few of them (bandwidth over SSH).
const LEVELS: f32 = 20.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMap {
    Gray,
    /// Perceptually even, for activations.
    Viridis,
    /// Blue below the middle, red above, white at it: for signed values such as gradients.
    Diverging,
}

impl ColorMap {
    pub fn rgb(self, t: f32) -> [f32; 3] {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let t = (t * LEVELS).round() / LEVELS;
        match self {
            ColorMap::Gray => [t, t, t],
            ColorMap::Viridis => {
                const STOPS: [[f32; 3]; 5] = [
                    [0.267, 0.005, 0.329],
                    [0.229, 0.322, 0.546],
                    [0.128, 0.567, 0.551],
                    [0.369, 0.789, 0.383],
                    [0.993, 0.906, 0.144],
                ];
                let x = t * 4.0;
                let i = (x.floor() as usize).min(3);
                let f = x - i as f32;
                let (a, b) = (STOPS[i], STOPS[i + 1]);
                [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * f)
            }
            ColorMap::Diverging => {
                if t < 0.5 {
                    let f = t * 2.0;
                    [f, f, 1.0]
                } else {
                    let f = (1.0 - t) * 2.0;
                    [1.0, f, f]
                }
            }
        }
    }
}

/// An RGB image with channels in 0..1.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub w: usize,
    pub h: usize,
    pub pixels: Vec<[f32; 3]>,
}

impl Image {
    /// One plane, stretched so its own minimum and maximum span the colour map.
    pub fn normalised(values: &[f32], w: usize, h: usize, map: ColorMap) -> Image {
        let (lo, hi) = range(values);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let pixels = values.iter().map(|v| map.rgb((v - lo) / span)).collect();
        Image { w, h, pixels }
    }

    /// A signed plane with zero in the middle of a diverging map.
    pub fn signed(values: &[f32], w: usize, h: usize) -> Image {
        let (lo, hi) = range(values);
        let scale = lo.abs().max(hi.abs()).max(f32::MIN_POSITIVE);
        let pixels = values
            .iter()
            .map(|v| ColorMap::Diverging.rgb(0.5 + 0.5 * v / scale))
            .collect();
        Image { w, h, pixels }
    }

    /// Three planes (c = 3, h, w) as colour, stretched jointly so the hues stay true.
    pub fn rgb_normalised(data: &[f32], w: usize, h: usize) -> Image {
        let (lo, hi) = range(data);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let size = w * h;
        let pixels = (0..size)
            .map(|i| {
                [0, 1, 2].map(|c| (data.get(c * size + i).copied().unwrap_or(0.0) - lo) / span)
            })
            .collect();
        Image { w, h, pixels }
    }

    /// Pixel values already in 0..1: colour for three channels, gray otherwise (first channel).
    pub fn from_pixels(planes: &Planes) -> Image {
        let size = planes.h * planes.w;
        let get = |c: usize, i: usize| planes.data.get(c * size + i).copied().unwrap_or(0.0);
        let pixels = (0..size)
            .map(|i| {
                if planes.c == 3 {
                    [get(0, i), get(1, i), get(2, i)]
                } else {
                    let v = get(0, i);
                    [v, v, v]
                }
            })
            .collect();
        Image {
            w: planes.w,
            h: planes.h,
            pixels,
        }
    }

    fn at(&self, x: usize, y: usize) -> [f32; 3] {
        self.pixels.get(y * self.w + x).copied().unwrap_or([0.0; 3])
    }
}

pub fn range(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc: Option<(f32, f32)>, &v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
        .unwrap_or((0.0, 0.0))
}

/// Draws `image` stretched to fill `area` (nearest pixel); the caller keeps the aspect.
pub fn render_image(image: &Image, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if image.w == 0 || image.h == 0 || area.is_empty() {
        return;
    }
    let (cols, rows) = (area.width as usize, area.height as usize);
    let px = |col: usize| (col * image.w / cols).min(image.w - 1);
    let py = |sub: usize| (sub * image.h / (rows * 2)).min(image.h - 1);
    for row in 0..rows {
        for col in 0..cols {
            let top = image.at(px(col), py(row * 2));
            let bottom = image.at(px(col), py(row * 2 + 1));
            let Some(cell) = buf.cell_mut((area.x + col as u16, area.y + row as u16)) else {
                continue;
            };
            if theme.color == ColorMode::Mono {
                let l = (luminance(top) + luminance(bottom)) / 2.0;
                cell.set_char(ramp(l)).set_style(Style::reset());
            } else {
                cell.set_char('▀')
                    .set_fg(to_color(top, theme.color))
                    .set_bg(to_color(bottom, theme.color));
            }
        }
    }
}

fn luminance(rgb: [f32; 3]) -> f32 {
    0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
}

fn ramp(l: f32) -> char {
    let last = ASCII_RAMP.len() - 1;
    let i = (l.clamp(0.0, 1.0) * last as f32).round() as usize;
    ASCII_RAMP[i.min(last)] as char
}

fn to_color(rgb: [f32; 3], mode: ColorMode) -> Color {
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let [r, g, b] = rgb.map(byte);
    match mode {
        ColorMode::TrueColor => Color::Rgb(r, g, b),
        ColorMode::Ansi256 | ColorMode::Mono => Color::Indexed(ansi256(r, g, b)),
        ColorMode::Ansi16 => ansi16(r, g, b),
    }
}

/// The nearest of the 16 named colours (xterm's default values), which every colour terminal
/// has; `Color::Indexed` would send a 256-colour code.
fn ansi16(r: u8, g: u8, b: u8) -> Color {
    const PALETTE: [(Color, [u8; 3]); 16] = [
        (Color::Black, [0, 0, 0]),
        (Color::Red, [205, 0, 0]),
        (Color::Green, [0, 205, 0]),
        (Color::Yellow, [205, 205, 0]),
        (Color::Blue, [0, 0, 238]),
        (Color::Magenta, [205, 0, 205]),
        (Color::Cyan, [0, 205, 205]),
        (Color::Gray, [229, 229, 229]),
        (Color::DarkGray, [127, 127, 127]),
        (Color::LightRed, [255, 0, 0]),
        (Color::LightGreen, [0, 255, 0]),
        (Color::LightYellow, [255, 255, 0]),
        (Color::LightBlue, [92, 92, 255]),
        (Color::LightMagenta, [255, 0, 255]),
        (Color::LightCyan, [0, 255, 255]),
        (Color::White, [255, 255, 255]),
    ];
    let distance = |c: [u8; 3]| {
        [r, g, b]
            .iter()
            .zip(c)
            .map(|(a, b)| (i32::from(*a) - i32::from(b)).pow(2))
            .sum::<i32>()
    };
    PALETTE
        .iter()
        .min_by_key(|(_, c)| distance(*c))
        .map_or(Color::Reset, |(color, _)| *color)
}

/// xterm's 256-colour palette: a 24-step gray ramp (232–255) and a 6×6×6 cube (16–231).
fn ansi256(r: u8, g: u8, b: u8) -> u8 {
    if r.abs_diff(g) < 8 && g.abs_diff(b) < 8 {
        let gray = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
        return if gray < 4 {
            16
        } else if gray > 246 {
            231
        } else {
            232 + ((gray - 4) * 24 / 243).min(23) as u8
        };
    }
    let level = |v: u8| ((u16::from(v) * 5 + 127) / 255) as u8;
    16 + 36 * level(r) + 6 * level(g) + level(b)
}

/// A one-line scale: `lo ▀▀▀▀▀▀ hi` with the colour map (or the ASCII ramp) between the numbers.
pub fn render_legend(
    map: ColorMap,
    lo: f32,
    hi: f32,
    note: &str,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    if area.is_empty() {
        return;
    }
    let lo_text = format!("{} ", theme::num(f64::from(lo)));
    let hi_text = format!(" {}", theme::num(f64::from(hi)));
    let width = 12u16.min(
        area.width
            .saturating_sub(lo_text.len() as u16 + hi_text.len() as u16),
    );
    Line::from(Span::styled(lo_text.clone(), theme.dim())).render(area, buf);
    let bar = Rect::new(area.x + lo_text.len() as u16, area.y, width, 1);
    let steps: Vec<f32> = (0..width)
        .map(|i| i as f32 / (width.max(2) - 1) as f32)
        .collect();
    let strip = Image {
        w: width as usize,
        h: 2,
        pixels: steps
            .iter()
            .chain(steps.iter())
            .map(|&t| map.rgb(t))
            .collect(),
    };
    render_image(&strip, bar, buf, theme);
    let rest = Rect::new(
        bar.right(),
        area.y,
        area.right().saturating_sub(bar.right()),
        1,
    );
    let note = format!("  {}", theme.t(note));
    let room = (rest.width as usize).saturating_sub(super::fit::width(&hi_text) + 1);
    Line::from(vec![
        Span::styled(hi_text, theme.dim()),
        Span::styled(super::fit::elide_end(&note, room), theme.dim()),
    ])
    .render(rest, buf);
}

/// Lays out `count` tiles of `tile` cells in `area` with one blank column and row between them.
pub fn grid(area: Rect, tile: (u16, u16), count: usize) -> Vec<Rect> {
    let (tw, th) = tile;
    if tw == 0 || th == 0 {
        return Vec::new();
    }
    let per_row = ((area.width + 1) / (tw + 1)).max(1) as usize;
    (0..count)
        .map(|i| {
            let (col, row) = ((i % per_row) as u16, (i / per_row) as u16);
            Rect::new(area.x + col * (tw + 1), area.y + row * (th + 1), tw, th)
        })
        .filter(|r| r.right() <= area.right() && r.bottom() <= area.bottom())
        .collect()
}

/// The largest tile (columns, rows) for a w×h-pixel image, two pixel rows a cell, such that
/// `count` tiles (each with `extra_rows` below it for a caption) fit in `area`. Integer scales up to
/// `max_scale` come first because they keep pixels even; then smaller tiles down to `min_cols`.
pub fn fit_tile(
    w: usize,
    h: usize,
    count: usize,
    area: Rect,
    max_scale: usize,
    min_cols: u16,
    extra_rows: u16,
) -> (u16, u16) {
    let (w, h) = (w.max(1), h.max(1));
    let rows_for = |cols: usize| (cols * h).div_ceil(2 * w).max(1) as u16;
    let fits = |cols: usize| {
        let tile = (cols as u16, rows_for(cols) + extra_rows);
        cols <= area.width as usize && grid(area, tile, count).len() == count
    };
    if let Some(scale) = (1..=max_scale).rev().find(|&s| fits(w * s)) {
        return ((w * scale) as u16, rows_for(w * scale));
    }
    let floor = usize::from(min_cols.max(1)).min(w);
    let cols = (floor..w).rev().find(|&c| fits(c)).unwrap_or(floor);
    (cols as u16, rows_for(cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette() {
        assert_eq!(ansi256(0, 0, 0), 16);
        assert_eq!(ansi256(255, 255, 255), 231);
        assert_eq!(ansi256(255, 0, 0), 196);
        assert_eq!(ramp(0.0), ' ');
        assert_eq!(ramp(1.0), '@');
    }

    #[test]
    fn grid_fits() {
        let tiles = grid(Rect::new(0, 0, 21, 7), (5, 3), 8);
        // 21 columns hold (21+1)/(5+1) = 3 tiles a row; 7 rows hold 2 rows of tiles.
        assert_eq!(tiles.len(), 6);
    }
}
