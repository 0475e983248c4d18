//! The whole screen: tab bar, header, the shown tab, footer and overlays.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::app::{App, Tab};
use super::{activations, charts, data_tab, diagnostics, filters, header, help, knobs, network};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            render_too_small(self, area, buf);
            theme.enforce_ascii(area, buf);
            return;
        }
        let [tabs, head, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        render_tabs(self, tabs, buf);
        header::render_header(self, head, buf);
        match self.tab {
            Tab::Training => render_training(self, body, buf),
            Tab::Filters => filters::render_filters(self, body, buf),
            Tab::Activations => activations::render_activations(self, body, buf),
            Tab::Network => network::render_network(self, body, buf),
            Tab::Data => data_tab::render_data(self, body, buf),
        }
        render_footer(self, footer, buf);
        if self.is_confirming_quit {
            render_confirm_quit(self, area, buf);
        } else if self.is_confirming_test {
            render_confirm_test(self, area, buf);
        } else if self.is_showing_help {
            help::render_help(self, area, buf);
        }
        theme.enforce_ascii(area, buf);
    }
}

fn render_training(app: &App, area: Rect, buf: &mut Buffer) {
    let side_width = if area.width >= 140 { 44 } else { 32 };
    let [charts_area, side] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(side_width)]).areas(area);
    let [loss, accuracy] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(charts_area);
    charts::render_loss_chart(app, loss, buf);
    charts::render_accuracy_chart(app, accuracy, buf);
    let [knob_area, diag_area] =
        Layout::vertical([Constraint::Length(8), Constraint::Fill(1)]).areas(side);
    knobs::render_knobs(app, knob_area, buf);
    diagnostics::render_diagnostics(app, diag_area, buf);
}

fn render_tabs(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let mut spans = vec![Span::styled(" convtop ", theme.title()), Span::raw(" ")];
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, tab.title());
        let style = if *tab == app.tab {
            theme.selected()
        } else {
            theme.label()
        };
        spans.push(Span::styled(text, style));
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    Line::from(spans).render(area, buf);
    let hint = if area.width as usize >= used + 16 {
        "? help  q quit "
    } else {
        "? help "
    };
    if area.width as usize >= used + hint.len() {
        Line::from(Span::styled(hint, theme.dim()))
            .alignment(Alignment::Right)
            .render(area, buf);
    }
}

fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    if let Some(edit) = &app.edit {
        let cursor = if theme.is_ascii { "_" } else { "▏" };
        let line = Line::from(vec![
            Span::styled(format!(" {} = ", theme.t(edit.knob.label())), theme.title()),
            Span::styled(format!("{}{cursor}", edit.text), theme.value()),
            Span::styled(theme.t("   ⏎ set · Esc cancel").into_owned(), theme.dim()),
        ]);
        line.render(area, buf);
        return;
    }
    if let Some(status) = &app.status {
        let text = format!(" {}", theme.t(&status.text));
        Line::from(Span::styled(text, theme.severity(status.level))).render(area, buf);
        return;
    }
    let hints: &str = match app.tab {
        Tab::Training => {
            " space pause · n step · e eval · s save · b best · l log · z zoom · ? all keys"
        }
        Tab::Filters => " < > layer · g gradients · space pause · e eval · s save",
        Tab::Activations => " < > layer · , . input image · space pause · e eval",
        Tab::Network => " per-layer health · update/weight ratio healthy near 1e-3",
        Tab::Data => " samples with predictions · ✗ marks a wrong prediction",
    };
    let mut text = theme.t(hints).into_owned();
    if app.is_trainer_gone {
        text = " trainer ended · showing the final state · q quit".to_string();
    }
    Line::from(Span::styled(text, theme.dim())).render(area, buf);
}

fn render_too_small(app: &App, area: Rect, buf: &mut Buffer) {
    let text = vec![
        Line::from(format!("convtop needs at least {MIN_WIDTH}x{MIN_HEIGHT}")),
        Line::from(format!("this terminal is {}x{}", area.width, area.height)),
        Line::from("enlarge the window or use a smaller font"),
        Line::from("(q quits)"),
    ];
    let [_, middle, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(area.height.min(6)),
        Constraint::Fill(1),
    ])
    .areas(area);
    Paragraph::new(text)
        .style(app.theme.warn())
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(middle, buf);
}

fn render_confirm_quit(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let popup = centered(area, 52, 7);
    Clear.render(popup, buf);
    let block = theme.block("quit?");
    let inner = block.inner(popup);
    block.render(popup, buf);
    if app.is_attached {
        let lines = vec![
            Line::from("Stop the training, or only leave?"),
            Line::from(Span::styled(
                "Leaving keeps it running: convtop attach comes back.",
                theme.dim(),
            )),
            Line::default(),
            Line::from(vec![
                Span::styled(" y ", theme.selected()),
                Span::raw(" stop  "),
                Span::styled(" d ", theme.selected()),
                Span::raw(" leave  "),
                Span::styled(" other ", Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(" stay"),
            ]),
        ];
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .render(inner, buf);
        return;
    }
    let lines = vec![
        Line::from("Stop training and quit?"),
        Line::from(Span::styled(
            "A checkpoint is written before the trainer stops.",
            theme.dim(),
        )),
        Line::default(),
        Line::from(vec![
            Span::styled(" y ", theme.selected()),
            Span::raw(" quit    "),
            Span::styled(" any other key ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" keep training"),
        ]),
    ];
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(inner, buf);
}

fn render_confirm_test(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let popup = centered(area, 56, 7);
    Clear.render(popup, buf);
    let block = theme.block("test set");
    let inner = block.inner(popup);
    block.render(popup, buf);
    let looks = app.test_result.map_or(0, |t| t.2);
    let lines = vec![
        Line::from("Evaluate the TEST set? This is recorded (y/n)"),
        Line::from(Span::styled(
            if looks == 0 {
                "every look is counted in test-record.jsonl".to_string()
            } else {
                format!("looked at {looks}× already: another look is optimistic")
            },
            theme.dim(),
        )),
        Line::default(),
        Line::from(vec![
            Span::styled(" y ", theme.selected()),
            Span::raw(" evaluate    "),
            Span::styled(" any other key ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" leave it"),
        ]),
    ];
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(inner, buf);
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

/// A dim centred line for a panel that has nothing to show yet.
pub fn render_empty(app: &App, text: &str, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let y = area.y + area.height / 2;
    Line::from(Span::styled(
        app.theme.t(text).into_owned(),
        app.theme.dim(),
    ))
    .alignment(Alignment::Center)
    .render(Rect::new(area.x, y, area.width, 1), buf);
}
