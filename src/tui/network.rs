//! Per layer: the output-size formula with numbers, shape, parameters and training health.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Widget, Wrap};

use super::app::App;
use super::theme::{self, Theme};
use super::ui::render_empty;
use crate::nn::lrn::INERT_DIVISOR;
use crate::train::LayerStats;

/// ‖lr·update‖/‖W‖ within a decade of 1e-3 is healthy.
fn ratio_style(t: &Theme, ratio: f32) -> Style {
    if !(1e-4..=1e-2).contains(&ratio) {
        if !(1e-5..=1e-1).contains(&ratio) {
            t.bad()
        } else {
            t.warn()
        }
    } else {
        t.good()
    }
}

fn dead_style(t: &Theme, fraction: f32) -> Style {
    if fraction > 0.5 {
        t.bad()
    } else if fraction > 0.2 {
        t.warn()
    } else {
        t.good()
    }
}

/// A norm that divides by less than 1% more than its constant k^β normalises nothing.
fn divisor_style(t: &Theme, divisor: f32) -> Style {
    if divisor < INERT_DIVISOR {
        t.warn()
    } else {
        t.good()
    }
}

pub fn render_network(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(info) = &app.info else {
        let block = t.block("network");
        let inner = block.inner(area);
        block.render(area, buf);
        render_empty(app, "waiting for the trainer to start…", inner, buf);
        return;
    };
    let total: usize = info.layers.iter().map(|l| l.params).sum();
    let flops: u64 = info.layers.iter().map(|l| l.flops).sum();
    let stats_note = match &app.snapshot {
        Some(s) => format!("health at iteration {}", theme::count(s.iteration)),
        None => "health: waiting for a snapshot…".to_string(),
    };
    let title = t.line(vec![
        Span::styled(format!(" network · {} ", info.net_spec), t.title()),
        Span::styled(
            format!(
                "{} parameters · {} FLOPs/image · {stats_note} ",
                theme::count(total as u64),
                theme::short_count(flops as f64)
            ),
            t.dim(),
        ),
    ]);
    let title = super::fit::fit_spans(title.spans, area.width.saturating_sub(2) as usize);
    let block = t.block_line(title);
    let inner = block.inner(area);
    block.render(area, buf);
    // a column of margin before the right border
    let inner = Rect::new(
        inner.x,
        inner.y,
        inner.width.saturating_sub(1),
        inner.height,
    );

    let is_wide = inner.width >= 130;
    let formulas: Vec<_> = info
        .layers
        .iter()
        .filter(|l| !l.formula.is_empty())
        .collect();
    // the header and a row a layer; when they do not fit (vggish-wide-bn's 23 layers at 80×24),
    // the table scrolls and its last row says how many are hidden, and where
    let n = info.layers.len();
    let is_fitting = n < inner.height as usize;
    let shown = if is_fitting {
        n
    } else {
        (inner.height as usize).saturating_sub(2)
    };
    app.network.max_scroll.set(n - shown);
    let top = app.network.scroll.min(n - shown);
    let (table_rows, marker_rows) = if is_fitting {
        (n as u16 + 2, 0)
    } else {
        (shown as u16 + 1, 1)
    };
    let [table_area, marker_area, notes_area] = Layout::vertical([
        Constraint::Length(table_rows),
        Constraint::Length(marker_rows),
        Constraint::Fill(1),
    ])
    .areas(inner);

    let stats_of = |name: &str| -> Option<&LayerStats> {
        app.snapshot
            .as_ref()
            .and_then(|s| s.layer_stats.iter().find(|l| l.name == name))
    };
    let mut header = vec!["layer", "kind"];
    if is_wide {
        header.push("output size");
    }
    header.extend(["out shape", "params", "‖W‖", "‖∇W‖", "upd/W", "dead"]);
    let rows: Vec<Row> = info
        .layers
        .iter()
        .skip(top)
        .take(shown)
        .map(|layer| {
            let stats = stats_of(&layer.name);
            let [c, h, w] = layer.out_shape;
            let mut cells = vec![
                Cell::from(Span::styled(layer.name.clone(), t.value())),
                Cell::from(t.t(&layer.kind).into_owned()),
            ];
            if is_wide {
                cells.push(Cell::from(Span::styled(
                    t.t(&layer.formula).into_owned(),
                    t.label(),
                )));
            }
            cells.push(Cell::from(t.t(&format!("{c}×{h}×{w}")).into_owned()));
            cells.push(Cell::from(
                Line::from(theme::count(layer.params as u64)).right_aligned(),
            ));
            let dash = || Cell::from(Line::from(Span::styled(t.none(), t.dim())).right_aligned());
            match stats {
                Some(s) if layer.params > 0 => {
                    cells.push(Cell::from(
                        Line::from(theme::num(f64::from(s.weight_norm))).right_aligned(),
                    ));
                    cells.push(Cell::from(
                        Line::from(theme::sci(f64::from(s.grad_norm))).right_aligned(),
                    ));
                    cells.push(Cell::from(
                        Line::from(Span::styled(
                            theme::sci(f64::from(s.update_ratio)),
                            ratio_style(t, s.update_ratio),
                        ))
                        .right_aligned(),
                    ));
                }
                _ => cells.extend([dash(), dash(), dash()]),
            }
            match (
                stats.and_then(|s| s.dead_fraction),
                stats.and_then(|s| s.norm_divisor),
            ) {
                (Some(f), _) => cells.push(Cell::from(
                    Line::from(Span::styled(theme::percent(f64::from(f)), dead_style(t, f)))
                        .right_aligned(),
                )),
                (None, Some(d)) => cells.push(Cell::from(
                    Line::from(Span::styled(
                        t.t(&format!("÷{d:.2}")).into_owned(),
                        divisor_style(t, d),
                    ))
                    .right_aligned(),
                )),
                (None, None) => cells.push(dash()),
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(7), Constraint::Fill(1)];
    if is_wide {
        widths.push(Constraint::Fill(2));
    }
    widths.extend([
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(6),
    ]);
    let header = Row::new(
        header
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                let text = t.t(h).into_owned();
                let line = if i >= if is_wide { 4 } else { 3 } {
                    Line::from(text).right_aligned()
                } else {
                    Line::from(text)
                };
                Cell::from(line)
            })
            .collect::<Vec<_>>(),
    )
    .style(t.title());
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .render(table_area, buf);
    if !is_fitting {
        let below = n - shown - top;
        let mut parts = Vec::new();
        if top > 0 {
            parts.push(format!("↑ {top} above"));
        }
        if below > 0 {
            parts.push(format!("↓ {below} more"));
        }
        parts.push("↑↓ j/k scroll".to_string());
        let marker = t.t(&parts.join(" · ")).into_owned();
        Paragraph::new(t.line(vec![Span::styled(marker, t.dim())])).render(marker_area, buf);
    }

    let mut lines = Vec::new();
    if !is_wide {
        lines.push(t.line(vec![Span::styled(
            "output size ⌊(in + 2p − k)/s⌋ + 1:",
            t.dim(),
        )]));
        lines.extend(formulas.iter().map(|l| {
            t.line(vec![
                Span::styled(format!("{:<7}", l.name), t.value()),
                Span::styled(l.formula.clone(), t.label()),
            ])
        }));
    }
    let mut legend = "‖W‖ weight norm · ‖∇W‖ gradient norm · upd/W = ‖lr·update‖/‖W‖, healthy near 1e-3 · dead: ReLU channels zero for the whole last batch".to_string();
    if info.layers.iter().any(|l| l.kind.starts_with("norm")) {
        legend
            .push_str(" · ÷: how much more than k^β a norm divided it (÷1.00 normalises nothing)");
    }
    lines.push(t.line(vec![Span::styled(legend, t.dim())]));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(notes_area, buf);
}
