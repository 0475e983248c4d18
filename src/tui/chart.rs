//! The one chart component: continuous lines in Braille (cell characters in ASCII), a shaded band,
//! vertical marks with labels, glyphs at points, points beyond the y-range clipped at the edge
//! with ▲/▼, and an inspection cursor. Loss, accuracy, overlays, replay and attach all draw here.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use crate::train::history::scale::Scale;

/// How a trace is drawn: told apart by glyph as well as colour, so it reads without colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pen {
    /// A solid Braille line; `ascii` where Braille is not allowed.
    Solid { ascii: char },
    /// A Braille line with every other dot column left out, so it reads as dotted.
    Dotted { ascii: char },
    /// Single dots, not joined: raw batch values behind their smoothed line.
    Points { ascii: char },
}

/// One line on the chart, x in axis units, y in data units.
#[derive(Debug, Clone)]
pub struct Trace {
    pub points: Vec<(f64, f64)>,
    pub pen: Pen,
    pub style: Style,
    /// Drawn on top of the line at each point: (Unicode, ASCII).
    pub glyph: Option<(&'static str, &'static str)>,
}

/// A vertical line at `x` with an optional label in the top rows.
#[derive(Debug, Clone)]
pub struct VMark {
    pub x: f64,
    pub style: Style,
    pub label: Option<String>,
    /// Drawn in the top row of the mark: (Unicode, ASCII).
    pub head: (&'static str, &'static str),
}

/// Everything one plot area shows.
#[derive(Debug, Clone)]
pub struct Plot {
    pub x: (f64, f64),
    pub y: Scale,
    /// Shaded between two curves where `upper` is above `lower`: (x, lower, upper) per point.
    pub band: Vec<(f64, f64, f64)>,
    pub band_style: Style,
    pub marks: Vec<VMark>,
    /// Drawn in order: later traces cover earlier ones.
    pub traces: Vec<Trace>,
    pub cursor: Option<f64>,
    pub is_ascii: bool,
}

/// Braille dot bits for (column 0..2, row 0..4) within a cell.
const DOTS: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];

impl Plot {
    fn column_of(&self, x: f64, width: u16) -> Option<u16> {
        let f = (x - self.x.0) / (self.x.1 - self.x.0);
        (0.0..=1.0)
            .contains(&f)
            .then(|| ((f * f64::from(width)) as u16).min(width - 1))
    }

    /// Row (0 = top) of `v`, or None when it is not a number.
    fn row_of(&self, v: f64, height: u16) -> Option<i64> {
        let f = self.y.fraction(v);
        if f.is_nan() {
            return None;
        }
        let row = ((1.0 - f) * f64::from(height)).floor();
        Some(row.clamp(-1.0, f64::from(height)) as i64)
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        if area.width < 2 || area.height < 2 || self.x.1 <= self.x.0 {
            return;
        }
        let (w, h) = (area.width, area.height);
        let set = |buf: &mut Buffer, col: u16, row: u16, symbol: &str, style: Style| {
            if let Some(cell) = buf.cell_mut((area.x + col, area.y + row)) {
                cell.set_symbol(symbol).set_style(style);
            }
        };
        self.render_band(area, buf);
        let mut label_rows: Vec<Vec<(u16, u16)>> = vec![Vec::new(); 2.min(h as usize)];
        for m in &self.marks {
            let Some(col) = self.column_of(m.x, w) else {
                continue;
            };
            let line = if self.is_ascii { ":" } else { "┊" };
            for row in 0..h {
                set(buf, col, row, line, m.style);
            }
            set(
                buf,
                col,
                0,
                if self.is_ascii { m.head.1 } else { m.head.0 },
                m.style,
            );
        }
        for trace in &self.traces {
            self.render_trace(trace, area, buf);
        }
        // labels last: a line drawn through one would make it unreadable
        for m in &self.marks {
            if let (Some(col), Some(label)) = (self.column_of(m.x, w), &m.label) {
                place_label(buf, area, col, label, m.style, &mut label_rows);
            }
        }
        if let Some(col) = self.cursor.and_then(|x| self.column_of(x, w)) {
            for row in 0..h {
                let pos = (area.x + col, area.y + row);
                if let Some(cell) = buf.cell_mut(pos) {
                    if cell.symbol() == " " || cell.symbol() == "\u{2800}" {
                        cell.set_symbol(if self.is_ascii { "|" } else { "│" });
                    }
                    cell.set_style(cell.style().add_modifier(Modifier::REVERSED));
                }
            }
        }
    }

    fn render_band(&self, area: Rect, buf: &mut Buffer) {
        let (w, h) = (area.width, area.height);
        let shade = if self.is_ascii { ":" } else { "░" };
        for col in 0..w {
            // the band at the column's centre, interpolated between its points
            let x = self.x.0 + (f64::from(col) + 0.5) / f64::from(w) * (self.x.1 - self.x.0);
            let Some(k) = self
                .band
                .windows(2)
                .position(|p| p[0].0 <= x && x <= p[1].0)
            else {
                continue;
            };
            let (a, b) = (self.band[k], self.band[k + 1]);
            let t = if b.0 > a.0 {
                (x - a.0) / (b.0 - a.0)
            } else {
                0.0
            };
            let lower = a.1 + t * (b.1 - a.1);
            let upper = a.2 + t * (b.2 - a.2);
            if upper <= lower {
                continue;
            }
            let (Some(top), Some(bottom)) = (self.row_of(upper, h), self.row_of(lower, h)) else {
                continue;
            };
            for row in top.max(0)..=bottom.min(i64::from(h) - 1) {
                if let Some(cell) = buf.cell_mut((area.x + col, area.y + row as u16)) {
                    cell.set_symbol(shade).set_style(self.band_style);
                }
            }
        }
    }

    fn render_trace(&self, trace: &Trace, area: Rect, buf: &mut Buffer) {
        let (w, h) = (area.width, area.height);
        let (dw, dh) = (i64::from(w) * 2, i64::from(h) * 4);
        let mut cells = vec![0u8; usize::from(w) * usize::from(h)];
        let mut excursions: Vec<Excursion> = Vec::new();
        // whether the previous point was beyond an edge (and which): a run of them is one excursion
        let mut was_above: Option<bool> = None;
        let to_dot = |x: f64, y: f64| -> Option<(i64, f64)> {
            let fx = (x - self.x.0) / (self.x.1 - self.x.0);
            let fy = self.y.fraction(y);
            if !(-1e-9..=1.0 + 1e-9).contains(&fx) || fy.is_nan() {
                return None;
            }
            let dx = ((fx * dw as f64) as i64).clamp(0, dw - 1);
            Some((dx, (1.0 - fy) * dh as f64))
        };
        let dotted = matches!(trace.pen, Pen::Dotted { .. });
        let mut plot = |dx: i64, dy: i64| {
            if dotted && dx % 4 >= 2 {
                return;
            }
            let (col, row) = ((dx / 2) as usize, (dy / 4) as usize);
            cells[row * usize::from(w) + col] |= DOTS[(dx % 2) as usize][(dy % 4) as usize];
        };
        let mut prev: Option<(i64, i64)> = None;
        for &(x, y) in &trace.points {
            let Some((dx, fy)) = to_dot(x, y) else {
                prev = None;
                was_above = None;
                continue;
            };
            let dy = if fy.is_finite() {
                fy.floor() as i64
            } else if fy > 0.0 {
                dh
            } else {
                -1
            };
            if dy < 0 || dy >= dh {
                // a raw batch value outside the range is noise, not news: left out, not marked
                if matches!(trace.pen, Pen::Points { .. }) {
                    continue;
                }
                let is_above = dy < 0;
                let here = Excursion {
                    col: (dx / 2) as u16,
                    is_above,
                    depth: if is_above { -fy } else { fy - dh as f64 },
                };
                match excursions.last_mut() {
                    Some(e) if was_above == Some(is_above) => {
                        if here.depth > e.depth {
                            *e = here;
                        }
                    }
                    _ => excursions.push(here),
                }
                was_above = Some(is_above);
            } else {
                was_above = None;
            }
            let dy = dy.clamp(0, dh - 1);
            match prev {
                Some((px, py)) if !matches!(trace.pen, Pen::Points { .. }) => {
                    line(px, py, dx, dy, &mut plot);
                }
                Some(_) => plot(dx, dy),
                None => plot(dx, dy),
            }
            prev = Some((dx, dy));
        }
        for row in 0..h {
            for col in 0..w {
                let bits = cells[usize::from(row) * usize::from(w) + usize::from(col)];
                if bits == 0 {
                    continue;
                }
                let symbol = match (self.is_ascii, trace.pen) {
                    (
                        true,
                        Pen::Solid { ascii } | Pen::Dotted { ascii } | Pen::Points { ascii },
                    ) => ascii.to_string(),
                    (false, _) => char::from_u32(0x2800 + u32::from(bits))
                        .unwrap_or(' ')
                        .to_string(),
                };
                if let Some(cell) = buf.cell_mut((area.x + col, area.y + row)) {
                    cell.set_symbol(&symbol).set_style(trace.style);
                }
            }
        }
        if let Some((unicode, ascii)) = trace.glyph {
            for &(x, y) in &trace.points {
                let (Some(col), Some(row)) = (self.column_of(x, w), self.row_of(y, h)) else {
                    continue;
                };
                if (0..i64::from(h)).contains(&row) {
                    let glyph = if self.is_ascii { ascii } else { unicode };
                    if let Some(cell) = buf.cell_mut((area.x + col, area.y + row as u16)) {
                        cell.set_symbol(glyph).set_style(trace.style);
                    }
                }
            }
        }
        for Excursion { col, is_above, .. } in excursions {
            let (row, glyph) = match (is_above, self.is_ascii) {
                (true, false) => (0, "▲"),
                (true, true) => (0, "^"),
                (false, false) => (h - 1, "▼"),
                (false, true) => (h - 1, "v"),
            };
            if let Some(cell) = buf.cell_mut((area.x + col.min(w - 1), area.y + row)) {
                cell.set_symbol(glyph)
                    .set_style(trace.style.add_modifier(Modifier::BOLD));
            }
        }
    }
}

/// Consecutive points of a line beyond one edge of the range (the initial transient, a spike):
/// marked once, at the column of the farthest, so a long excursion is not a row of markers.
struct Excursion {
    col: u16,
    is_above: bool,
    /// How far past the edge, in dot rows (infinite for an infinite value).
    depth: f64,
}

/// Bresenham's line between two dots, both ends included.
fn line(x0: i64, y0: i64, x1: i64, y1: i64, plot: &mut impl FnMut(i64, i64)) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    loop {
        plot(x, y);
        if x == x1 && y == y1 {
            return;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// Writes `label` in the first of the top rows where it fits beside column `col` (right of it,
/// else left of it) without covering another label or running off the plot; else leaves it out.
fn place_label(
    buf: &mut Buffer,
    area: Rect,
    col: u16,
    label: &str,
    style: Style,
    rows: &mut [Vec<(u16, u16)>],
) -> bool {
    let len = label.chars().count() as u16;
    for (row, taken) in rows.iter_mut().enumerate() {
        let right = (col + 1, col + 1 + len);
        let left = (col.saturating_sub(len), col);
        for (a, b) in [right, left] {
            let fits = b <= area.width && b - a == len;
            if fits && taken.iter().all(|&(ta, tb)| b < ta || a > tb) {
                buf.set_stringn(area.x + a, area.y + row as u16, label, len.into(), style);
                taken.push((a, b));
                return true;
            }
        }
    }
    false
}
