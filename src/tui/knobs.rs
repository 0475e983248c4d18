//! The knobs panel: the values the trainer uses, a pending marker until a change lands.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::app::App;
use super::theme;
use crate::train::Knob;

fn short_label(knob: Knob) -> &'static str {
    match knob {
        Knob::LearningRate => "lr",
        Knob::Lambda => "λ L2",
        Knob::Momentum => "momentum",
        Knob::BatchSize => "batch",
        Knob::AugmentCrop => "crops",
        Knob::AugmentFlip => "flips",
    }
}

pub fn format_knob(knob: Knob, value: f64) -> String {
    match knob {
        Knob::LearningRate | Knob::Lambda => theme::sci(value),
        Knob::Momentum => format!("{value:.2}"),
        Knob::BatchSize => format!("{}", value.round() as u64),
        Knob::AugmentCrop | Knob::AugmentFlip => {
            if value >= 0.5 {
                "on".into()
            } else {
                "off".into()
            }
        }
    }
}

pub fn render_knobs(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let block = t.block_line(t.line(vec![
        Span::styled(" knobs ", t.title()),
        Span::styled("↑↓ ←→ ⏎ ", t.dim()),
    ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let label_width = if t.is_ascii { 10 } else { 9 };
    for (row, knob) in Knob::ALL.iter().enumerate() {
        if row as u16 >= inner.height {
            break;
        }
        let is_selected = row == app.training.selected_knob;
        let actual = app.knob_value(*knob);
        let pending = app.pending_value(*knob);
        let value = actual.map_or("--".to_string(), |v| format_knob(*knob, v));
        let mut spans = vec![
            Span::styled(if is_selected { "▸ " } else { "  " }, t.title()),
            Span::styled(
                format!("{:<label_width$}", t.t(short_label(*knob))),
                if is_selected { t.selected() } else { t.label() },
            ),
            Span::styled(format!("{value:>8}"), t.value()),
        ];
        if *knob == Knob::Momentum && app.knobs.is_some_and(|k| k.is_nesterov) {
            spans.push(Span::styled(" nag", t.dim()));
        }
        if let Some(p) = pending {
            spans.push(Span::styled(
                format!(" → {}", format_knob(*knob, p)),
                t.warn(),
            ));
        }
        let line_area = Rect::new(inner.x, inner.y + row as u16, inner.width, 1);
        t.line(spans).render(line_area, buf);
    }
}
