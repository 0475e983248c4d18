//! What the charts show and how the person looks into them: the visible window, the raw-range
//! toggle, the inspection cursor and its readout, the lr strip.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::charts::RECENT_ITERATIONS;
use super::keys::Action;
use super::mode::Mode;
use super::theme;
use crate::train::history::runs::ValPoint;
use crate::train::history::scale;
use crate::train::history::{EvalPoint, RunHistory, Series};

/// Cursor steps a window is divided into (about one chart column each).
const CURSOR_STEPS: u64 = 100;

/// The iterations on screen: point indices `lo..hi`, their x range in epochs (or seconds on a
/// wall-clock axis).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub lo: usize,
    pub hi: usize,
    pub x: (f64, f64),
    pub first_iteration: u64,
    pub last_iteration: u64,
    /// x is wall-clock seconds since the run started, not epochs.
    pub is_time: bool,
}

impl Window {
    pub fn contains(&self, iteration: u64) -> bool {
        (self.first_iteration..=self.last_iteration).contains(&iteration)
    }

    pub fn evals<'a>(&'a self, h: &'a RunHistory) -> impl Iterator<Item = &'a EvalPoint> + 'a {
        h.evals.iter().filter(|e| self.contains(e.iteration))
    }

    /// Where point `index` of `h` is on the x axis.
    pub fn x_of(&self, h: &RunHistory, index: usize) -> f64 {
        if self.is_time {
            h.elapsed_secs(index).unwrap_or(0.0)
        } else {
            h.iters()[index].epoch
        }
    }

    /// Where `iteration` is on the x axis.
    pub fn x_at(&self, h: &RunHistory, iteration: u64) -> f64 {
        if self.is_time {
            h.elapsed_at(iteration)
        } else {
            h.epoch_at(iteration)
        }
    }

    pub fn x_of_eval(&self, h: &RunHistory, e: &EvalPoint) -> f64 {
        if self.is_time {
            h.elapsed_at(e.iteration)
        } else {
            e.epoch
        }
    }

    /// Point indices where each of `columns` equal x ranges of the axis starts (and where the
    /// last ends): fixed on the axis, so earlier columns keep their points as the run grows.
    pub fn column_edges(&self, h: &RunHistory, columns: usize) -> Vec<usize> {
        let span = self.x.1 - self.x.0;
        let mut edges: Vec<usize> = (0..columns)
            .map(|c| {
                let x = self.x.0 + span * c as f64 / columns as f64;
                // the first point at or past x (x grows with the index): a binary search
                let (mut a, mut b) = (self.lo, self.hi);
                while a < b {
                    let mid = a + (b - a) / 2;
                    if self.x_of(h, mid) < x {
                        a = mid + 1;
                    } else {
                        b = mid;
                    }
                }
                a
            })
            .collect();
        edges.push(self.hi);
        edges
    }

    /// Where an earlier run's evaluation is on this x axis: the same epoch, or the same time
    /// since its start.
    pub fn x_of_val(&self, p: &ValPoint) -> f64 {
        if self.is_time { p.secs } else { p.epoch }
    }
}

/// The window shown: the whole run, or its last `RECENT_ITERATIONS` (`z`). The whole run's
/// axis also reaches to the end of the earlier runs drawn behind it.
pub fn window(app: &App) -> Option<Window> {
    let h = &app.history;
    let iters = h.iters();
    let (first, last) = (iters.first()?.iteration, iters.last()?.iteration);
    let start = if app.training.is_whole_run {
        first
    } else {
        last.saturating_sub(RECENT_ITERATIONS).max(first)
    };
    let lo = h.index_at(start);
    let hi = iters.len();
    let mut w = Window {
        lo,
        hi,
        x: (0.0, 0.0),
        first_iteration: start,
        last_iteration: last,
        is_time: app.training.is_time_axis,
    };
    let (x0, mut x1) = (w.x_of(h, lo), w.x_of(h, hi - 1));
    if app.training.is_whole_run {
        let ends = app.overlays().iter().filter_map(|o| o.curve.last());
        x1 = ends.map(|p| w.x_of_val(p)).fold(x1, f64::max);
    }
    let x1 = if x1 > x0 { x1 } else { x0 + 1e-3 };
    // the axis ends at the next round value past the data, an eighth of the span or so, so a
    // live chart's columns stay put until the data reaches it: each move redraws every cell
    let grid = scale::nice_step(0.0, x1 - x0, 8);
    w.x = (x0, x0 + ((x1 - x0) / grid).ceil() * grid);
    Some(w)
}

/// The iteration under the inspection cursor, when it is shown.
pub fn cursor(app: &App) -> Option<u64> {
    match app.mode {
        Mode::Cursor { iteration } => Some(iteration),
        _ => None,
    }
}

impl App {
    /// `i` shows the cursor at the last iteration; ←/→ move it about a chart column
    /// (a hundredth of the window), shift ten; Home/End jump to the window's ends.
    pub(super) fn move_cursor(&mut self, action: Action) {
        let Some(w) = window(self) else {
            return;
        };
        let step = ((w.last_iteration - w.first_iteration) / CURSOR_STEPS).max(1) as i64;
        let at = cursor(self).unwrap_or(w.last_iteration) as i64;
        let iteration = match action {
            Action::MoveCursor(n) => at + step * i64::from(n),
            Action::CursorToEnd(false) => w.first_iteration as i64,
            _ => w.last_iteration as i64,
        };
        let iteration = iteration.clamp(w.first_iteration as i64, w.last_iteration as i64) as u64;
        self.mode = Mode::Cursor { iteration };
    }
}

/// The cursor's readout: iteration and epoch, train loss raw and smoothed, the nearest
/// evaluation's val loss and accuracy, lr and λ.
pub fn readout(app: &App) -> Option<Line<'static>> {
    let h = &app.history;
    let it = cursor(app)?;
    let i = h.nearest(it)?;
    let s = h.iters()[i];
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(format!(" it {}", theme::count(s.iteration)), t.value()),
        Span::styled(
            match h.elapsed_secs(i).filter(|_| app.training.is_time_axis) {
                Some(secs) => format!(
                    " (ep {:.1} · {})",
                    s.epoch,
                    super::runs_table::duration(secs)
                ),
                None => format!(" (ep {:.1})", s.epoch),
            },
            t.label(),
        ),
        Span::styled(" loss ", t.label()),
        Span::styled(theme::num(f64::from(s.data_loss)), t.train()),
        Span::styled(
            format!(
                " ~{}",
                theme::num(f64::from(h.value(Series::SmoothedLoss, i)))
            ),
            t.train(),
        ),
    ];
    if let Some(e) = h.nearest_eval(s.iteration) {
        spans.push(Span::styled(" val ", t.label()));
        spans.push(Span::styled(
            format!(
                "{} {}",
                theme::num(f64::from(e.val_loss)),
                theme::percent(f64::from(e.val_accuracy))
            ),
            t.val(),
        ));
        spans.push(Span::styled(
            format!(" @{}", theme::count(e.iteration)),
            t.dim(),
        ));
    }
    spans.push(Span::styled(
        format!(
            " lr {} λ {}",
            theme::sci(f64::from(s.knobs.learning_rate)),
            theme::sci(f64::from(s.knobs.lambda))
        ),
        t.label(),
    ));
    Some(t.line(spans))
}

/// Whether the learning rate changed inside the window (else the strip would be a flat line).
pub fn has_lr_steps(app: &App, w: &Window) -> bool {
    // every change is recorded as a knob change, so the window's iterations need not be read
    let iters = &app.history.iters()[w.lo..w.hi];
    let (Some(first), Some(last)) = (iters.first(), iters.last()) else {
        return false;
    };
    first.knobs.learning_rate != last.knobs.learning_rate
        || app
            .history
            .knob_changes
            .iter()
            .any(|k| k.knob == crate::train::Knob::LearningRate && w.contains(k.iteration))
}

/// A one-row step line of the learning rate under the loss chart, on the chart's x axis: each
/// scheduled decay is a step down, a hand change a jump.
pub fn render_lr_strip(app: &App, w: &Window, label_width: u16, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let h = &app.history;
    let width = area.width.saturating_sub(label_width);
    if width == 0 || w.hi <= w.lo {
        return;
    }
    let lr_at = |col: u16| {
        let i = w.lo + (w.hi - w.lo - 1) * usize::from(col) / usize::from(width.max(2) - 1);
        f64::from(h.iters()[i].knobs.learning_rate)
    };
    let values: Vec<f64> = (0..width).map(lr_at).collect();
    let positive = values.iter().copied().filter(|v| *v > 0.0);
    let lo = positive.clone().fold(f64::INFINITY, f64::min);
    let hi = positive.fold(0.0, f64::max);
    let levels: &[&str] = if t.is_ascii {
        &["_", "_", ".", ".", "-", "-", "=", "="]
    } else {
        &["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    };
    let label = format!("{:>w$}", "lr ", w = usize::from(label_width));
    buf.set_string(area.x, area.y, label, t.dim());
    for (col, v) in values.iter().enumerate() {
        let level = if hi > lo && *v > 0.0 {
            ((v.ln() - lo.ln()) / (hi.ln() - lo.ln()) * 7.0).round() as usize
        } else {
            3
        };
        let pos = (area.x + label_width + col as u16, area.y);
        buf.set_string(pos.0, pos.1, levels[level.min(7)], t.train());
    }
    if hi > 0.0 {
        let text = format!(
            " {}→{} ",
            theme::sci(values[0]),
            theme::sci(values[values.len() - 1])
        );
        let text = t.t(&text).into_owned();
        let x = area.x + area.width.saturating_sub(text.chars().count() as u16);
        if x > area.x + label_width {
            Line::from(Span::styled(text, t.dim()))
                .render(Rect::new(x, area.y, area.right() - x, 1), buf);
        }
    }
}
