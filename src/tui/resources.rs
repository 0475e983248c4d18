//! The resource pane: the training process's CPU per core, memory, threads, an images/s
//! sparkline, and elapsed and remaining time. Compact (two lines) on small screens.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Widget};

use super::app::App;
use super::{fit, header, theme};
use crate::resources::Usage;
use crate::units::bytes;

/// Rows the compact pane takes: a title line and two lines of figures (no bottom border).
pub const COMPACT_HEIGHT: u16 = 3;
/// Per-core lines shown in the full pane; more cores are summed up in one line.
const MAX_CORE_LINES: usize = 8;
/// The full pane with two cores; more cores take more lines when the side column has them.
pub const FULL_HEIGHT: u16 = 2 + 5 + 2;

/// The rows the full pane wants for this many cores (borders included).
pub fn full_height(app: &App) -> u16 {
    let cores = app
        .resources
        .as_ref()
        .and_then(|r| r.usage.as_ref().ok())
        .map_or(2, |u| u.per_core.len().min(MAX_CORE_LINES));
    // cpu line, the cores, legend, memory, images/s, time; two borders
    (cores + 5 + 2) as u16
}

pub fn render_resources(app: &App, area: Rect, buf: &mut Buffer, is_compact: bool) {
    let t = &app.theme;
    let title = title(app, is_compact);
    let mut block = t.block_line(title);
    if is_compact {
        block = block.borders(Borders::LEFT | Borders::TOP | Borders::RIGHT);
    }
    let inner = block.inner(area);
    block.render(area, buf);
    // a space stays before the right border, so text that touches it was cut
    let width = (inner.width as usize).saturating_sub(1);
    let lines = match app.resources.as_ref().map(|r| &r.usage) {
        Some(Ok(usage)) if is_compact => compact_lines(app, usage, width),
        Some(Ok(usage)) => {
            let core_lines = (inner.height as usize).saturating_sub(5).max(1);
            full_lines(app, usage, width, core_lines)
        }
        Some(Err(problem)) => fit::wrap(&format!("no figures: {problem}"), width)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, t.warn())))
            .collect(),
        None if app.is_attached && app.info.is_some() => fit::wrap(
            "the trainer sends no resource figures (an older convtop?)",
            width,
        )
        .into_iter()
        .map(|l| Line::from(Span::styled(l, t.dim())))
        .collect(),
        None => vec![Line::from(Span::styled("measuring…", t.dim()))],
    };
    let shown = lines.len().min(inner.height as usize);
    let is_cut = shown < lines.len();
    for (i, line) in lines.into_iter().take(shown).enumerate() {
        let row = Rect::new(inner.x, inner.y + i as u16, inner.width, 1);
        let mut spans = t.line(line.spans).spans;
        if is_cut && i + 1 == shown {
            // the lines that do not fit are marked, not dropped silently
            spans.push(Span::styled(fit::ELLIPSIS, t.dim()));
            if fit::width(&Line::from(spans.clone()).to_string()) > width {
                spans.pop();
                let text = Line::from(spans.clone()).to_string();
                spans = vec![Span::styled(
                    fit::elide_end(&format!("{text}  "), width),
                    t.warn(),
                )];
            }
        }
        fit::fit_spans(spans, width).render(row, buf);
    }
}

/// " process " (or " trainer process " when attached), with elapsed and remaining time in the
/// compact pane.
fn title(app: &App, is_compact: bool) -> Line<'static> {
    let t = &app.theme;
    let name = if app.is_attached {
        " trainer process "
    } else {
        " process "
    };
    let mut spans = vec![Span::styled(name, t.title())];
    if is_compact && let Some(time) = times(app) {
        spans.push(Span::styled(format!("{time} "), t.dim()));
    }
    t.line(spans)
}

/// "ran 2m10s · 5m12s left", without the remaining time while paused or ended.
fn times(app: &App) -> Option<String> {
    let elapsed = app.resources.as_ref()?.elapsed_secs;
    let mut text = format!("ran {}", theme::duration(elapsed));
    if let Some(eta) = header::eta_secs(app) {
        text.push_str(&format!(" · {} left", theme::duration(eta)));
    } else if app.is_trainer_gone {
        text.push_str(" · ended");
    }
    Some(text)
}

fn compact_lines(app: &App, u: &Usage, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let tail = format!(
        " {} · {} · {} thr",
        cpu_percent(u.cpu_cores),
        bytes(u.rss_bytes),
        u.threads
    );
    // one cell a core; cores that do not fit end in `…`
    let room = width.saturating_sub(4 + fit::width(&tail));
    let cores = levels(app, &u.per_core, room);
    let first = vec![
        Span::styled("cpu ", t.label()),
        Span::styled(cores, t.train()),
        Span::styled(tail, t.value()),
    ];
    let rate = app.ips_trail.back().copied().unwrap_or(0.0);
    let rate = format!(" {}", theme::count(rate.round() as u64));
    let room = width.saturating_sub(6 + fit::width(&rate));
    let second = vec![
        Span::styled("img/s ", t.label()),
        Span::styled(sparkline(app, room), t.val()),
        Span::styled(rate, t.value()),
    ];
    vec![Line::from(first), Line::from(second)]
}

/// The full pane; cores beyond `core_lines` are summed up in its last core line.
fn full_lines(app: &App, u: &Usage, width: usize, core_lines: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = vec![Line::from(vec![
        Span::styled("cpu ", t.label()),
        Span::styled(cpu_percent(u.cpu_cores), t.value()),
        Span::styled(format!(" of {} cores · ", u.per_core.len()), t.dim()),
        Span::styled(u.threads.to_string(), t.value()),
        Span::styled(if width >= 32 { " threads" } else { " thr" }, t.dim()),
    ])];
    let label_width = (u.per_core.len().saturating_sub(1)).to_string().len();
    let bar_width = width.saturating_sub(label_width + 6);
    let (own, other) = if t.is_ascii {
        ("#", "+")
    } else {
        ("█", "▒")
    };
    for (i, (&mine, &all)) in u
        .per_core
        .iter()
        .zip(u.machine_per_core.iter().chain(std::iter::repeat(&0.0)))
        .enumerate()
    {
        let shown = core_lines.min(MAX_CORE_LINES);
        if i + 1 == shown && u.per_core.len() > shown {
            let rest = &u.per_core[i..];
            let sum: f32 = rest.iter().sum();
            lines.push(Line::from(Span::styled(
                format!("… {} more cores, {} in all", rest.len(), cpu_percent(sum)),
                t.dim(),
            )));
            break;
        }
        let mine_cells = cells(mine, bar_width);
        let other_cells = cells(all.max(mine), bar_width).saturating_sub(mine_cells);
        lines.push(Line::from(vec![
            Span::styled(format!("{i:>label_width$} "), t.label()),
            Span::styled(own.repeat(mine_cells), t.train()),
            Span::styled(other.repeat(other_cells), t.dim()),
            Span::raw(" ".repeat(bar_width - mine_cells - other_cells)),
            Span::styled(format!(" {:>3.0}%", 100.0 * mine), t.value()),
        ]));
    }
    lines.push(Line::from(vec![Span::styled(
        format!("  {own} this process  {other} others"),
        t.dim(),
    )]));
    lines.push(Line::from(vec![
        Span::styled("rss ", t.label()),
        Span::styled(bytes(u.rss_bytes), t.value()),
        Span::styled(" · peak ", t.dim()),
        Span::styled(bytes(u.peak_rss_bytes), t.value()),
    ]));
    let rate = app.ips_trail.back().copied().unwrap_or(0.0);
    let rate = format!(" {}", theme::count(rate.round() as u64));
    let room = width.saturating_sub(6 + fit::width(&rate));
    lines.push(Line::from(vec![
        Span::styled("img/s ", t.label()),
        Span::styled(sparkline(app, room), t.val()),
        Span::styled(rate, t.value()),
    ]));
    if let Some(time) = times(app) {
        lines.push(Line::from(Span::styled(time, t.dim())));
    }
    lines
}

fn cells(fraction: f32, width: usize) -> usize {
    ((f64::from(fraction.clamp(0.0, 1.0)) * width as f64).round() as usize).min(width)
}

/// 1.85 cores → "185%", as top counts it.
fn cpu_percent(cores: f32) -> String {
    format!("{:.0}%", 100.0 * cores.max(0.0))
}

/// One character a value in 0..1, from a ramp; more values than `room` end in `…`.
fn levels(app: &App, values: &[f32], room: usize) -> String {
    let ramp: &[char] = if app.theme.is_ascii {
        &[' ', '.', ':', '-', '=', '+', '*', '#', '%', '@']
    } else {
        &[' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']
    };
    let level = |v: f32| ramp[((v.clamp(0.0, 1.0) * (ramp.len() - 1) as f32).round()) as usize];
    if values.len() <= room {
        values.iter().map(|&v| level(v)).collect()
    } else {
        let mut s: String = values
            .iter()
            .take(room.saturating_sub(1))
            .map(|&v| level(v))
            .collect();
        if room > 0 {
            s.push_str(fit::ELLIPSIS);
        }
        s
    }
}

/// The newest images/s readings that fit in `room` cells, scaled to the largest shown.
fn sparkline(app: &App, room: usize) -> String {
    let trail: Vec<f32> = app.ips_trail.iter().copied().collect();
    let shown = &trail[trail.len().saturating_sub(room)..];
    let top = shown.iter().copied().fold(0.0f32, f32::max);
    let scaled: Vec<f32> = shown
        .iter()
        .map(|&v| if top > 0.0 { v / top } else { 0.0 })
        .collect();
    levels(app, &scaled, room)
}
