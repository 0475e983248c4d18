//! Three lines: what runs, how far it is, how fast and how well.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::{fit, theme};
use crate::train::RunState;

pub fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let rows: Vec<Rect> = (0..area.height.min(3))
        .map(|i| Rect::new(area.x, area.y + i, area.width, 1))
        .collect();
    let [first, second, third] = [rows[0], rows[1], rows[2]];

    let state = if app.is_trainer_gone && !matches!(app.state.label(), "finished" | "stopped") {
        "trainer ended".to_string()
    } else {
        app.state.label().to_string()
    };
    let state_text = format!("{} {} ", if t.is_ascii { "*" } else { "●" }, state);
    let state_len = state_text.chars().count() as u16;
    Line::from(Span::styled(state_text, t.state(app.state)))
        .alignment(Alignment::Right)
        .render(first, buf);
    let describe = match &app.info {
        Some(info) => {
            let net = if info.net_spec == info.net_resolved || info.net_resolved.is_empty() {
                info.net_spec.clone()
            } else {
                format!("{} = {}", info.net_spec, info.net_resolved)
            };
            let spans = vec![
                Span::styled(" data ", t.label()),
                Span::styled(info.data_name.clone(), t.value()),
                Span::styled(
                    format!(
                        " ({} train · {} val) ",
                        theme::count(info.train_size as u64),
                        theme::count(info.val_size as u64)
                    ),
                    t.dim(),
                ),
                Span::styled(" net ", t.label()),
            ];
            // a long spec loses its middle, marked `…`, never its end
            let mut spans = t.line(spans).spans;
            let used: usize = spans.iter().map(|s| fit::width(&s.content)).sum();
            let room = (first.width.saturating_sub(state_len + 1) as usize).saturating_sub(used);
            let net = fit::elide_middle(&t.t(&net), room);
            spans.push(Span::styled(net, t.value()));
            spans
        }
        None => vec![Span::styled(" waiting for the trainer to start…", t.dim())],
    };
    let left = Rect::new(
        first.x,
        first.y,
        first.width.saturating_sub(state_len + 1),
        1,
    );
    Line::from(describe).render(left, buf);

    render_progress(app, second, buf);
    render_rates(app, third, buf);
}

fn render_progress(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    if app.info.is_none() {
        return;
    }
    let last = app.history.last;
    let iteration = last.map_or(0, |s| s.iteration);
    let epoch = last.map_or(0.0, |s| s.epoch);
    let total_epochs = app.info.as_ref().map_or(0, |i| i.total_epochs);
    let total = app.total_iterations().unwrap_or(0);
    let fraction = if total > 0 {
        iteration as f64 / total as f64
    } else {
        0.0
    };
    let mut spans = vec![
        Span::styled(" epoch ", t.label()),
        Span::styled(format!("{epoch:.2}"), t.value()),
        Span::styled(format!("/{total_epochs}"), t.dim()),
        Span::styled("  iter ", t.label()),
        Span::styled(theme::count(iteration), t.value()),
        Span::styled(format!("/{}  ", theme::count(total)), t.dim()),
    ];
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let pct = format!(" {:>5.1}%", fraction * 100.0);
    let bar_width = (area.width as usize).saturating_sub(used + pct.len() + 1);
    let (on, off) = t.bar(fraction, bar_width);
    spans.push(Span::styled(on, t.train()));
    spans.push(Span::styled(off, t.dim()));
    spans.push(Span::styled(pct, t.value()));
    Line::from(spans).render(area, buf);
}

/// Seconds left at the current speed; only while the run moves (not paused, diverged, ended or
/// replayed).
pub fn eta_secs(app: &App) -> Option<f64> {
    let last = app.history.last?;
    let is_moving = app.state == RunState::Running && !app.is_trainer_gone;
    if !is_moving || last.images_per_sec <= 0.0 {
        return None;
    }
    let total = app.total_iterations()?;
    let remaining = total.saturating_sub(last.iteration) as f64;
    Some(remaining * last.knobs.batch_size as f64 / f64::from(last.images_per_sec))
}

fn render_rates(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let mut spans = Vec::new();
    match app.history.last {
        Some(last) => {
            spans.extend([
                Span::styled(" ", t.label()),
                Span::styled(theme::count(last.images_per_sec.round() as u64), t.value()),
                Span::styled(" img/s", t.label()),
            ]);
            if let Some(eta) = eta_secs(app) {
                spans.push(Span::styled("  ETA ", t.label()));
                spans.push(Span::styled(theme::duration(eta), t.value()));
            }
            spans.extend([
                Span::styled("  loss ", t.label()),
                Span::styled(theme::num(f64::from(last.data_loss)), t.train()),
            ]);
        }
        None => spans.push(Span::styled(" waiting for the first iteration…", t.dim())),
    }
    match app.history.evals.last() {
        Some(eval) => {
            spans.push(Span::styled("  val ", t.label()));
            spans.push(Span::styled(
                theme::percent(f64::from(eval.val_accuracy)),
                t.val(),
            ));
            if let Some(best) = app.history.best_eval() {
                spans.push(Span::styled(
                    format!(
                        "  best {} @{}",
                        theme::percent(f64::from(best.val_accuracy)),
                        theme::count(best.iteration)
                    ),
                    t.dim(),
                ));
            }
        }
        None if app.history.last.is_some() => {
            spans.push(Span::styled(
                "  val: waiting for the first evaluation…",
                t.dim(),
            ));
        }
        None => {}
    }
    // the vault's last look, with its count, after the validation figures it is compared with
    if let Some((acc, _, count, _)) = app.test_result {
        spans.push(Span::styled(
            format!("  test {:.2}% ({count}×)", 100.0 * acc),
            if count > 1 { t.warn() } else { t.dim() },
        ));
    }
    if let Some(iteration) = app.last_checkpoint {
        spans.push(Span::styled(
            format!("  saved @{}", theme::count(iteration)),
            t.dim(),
        ));
    }
    let line = t.line(spans);
    fit::fit_spans(line.spans, area.width as usize).render(area, buf);
}
