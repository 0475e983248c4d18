//! The whole screen: tab bar, header, the shown tab, footer and overlays.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::app::{App, Tab};
use super::keys::Action;
use super::mode::Mode;
use super::{activations, charts, data_tab, diagnostics, dialogs, filters, fit, header, help};
use super::{keymap, knobs, network, resources, runs_table};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            render_too_small(self, area, buf);
            render_mode(self, area, buf);
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
        render_mode(self, area, buf);
        theme.enforce_ascii(area, buf);
    }
}

/// The overlay or dialog of the current mode, over whatever is drawn.
fn render_mode(app: &App, area: Rect, buf: &mut Buffer) {
    match &app.mode {
        Mode::Normal | Mode::EditKnob(_) | Mode::Cursor { .. } => {}
        Mode::Help { scroll } => help::render_help(app, *scroll, area, buf),
        Mode::ConfirmQuit => dialogs::render_confirm_quit(app, area, buf),
        Mode::ConfirmTest => dialogs::render_confirm_test(app, area, buf),
        Mode::Runs => runs_table::render_runs(app, area, buf),
    }
}

fn render_training(app: &App, area: Rect, buf: &mut Buffer) {
    let side_width = if area.width >= 140 { 44 } else { 32 };
    let [charts_area, side] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(side_width)]).areas(area);
    // a legend row for the earlier runs drawn behind this one, while there are any
    let legend_height = u16::from(!app.overlays().is_empty());
    let [legend, charts_area] =
        Layout::vertical([Constraint::Length(legend_height), Constraint::Fill(1)])
            .areas(charts_area);
    if legend_height > 0 {
        charts::render_overlay_legend(app, legend, buf);
    }
    let [loss, accuracy] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(charts_area);
    charts::render_loss_chart(app, loss, buf);
    charts::render_accuracy_chart(app, accuracy, buf);
    // the resource pane in full when the diagnostics keep room for a few entries, else compact
    const KNOBS: u16 = 8;
    const DIAGNOSTICS: u16 = 14;
    let has_figures = app.resources.as_ref().is_some_and(|r| r.usage.is_ok());
    let is_compact = !has_figures || side.height < KNOBS + resources::FULL_HEIGHT + DIAGNOSTICS;
    let pane = if is_compact {
        resources::COMPACT_HEIGHT
    } else {
        resources::full_height(app).min(side.height - KNOBS - DIAGNOSTICS)
    };
    let [knob_area, resource_area, diag_area] = Layout::vertical([
        Constraint::Length(KNOBS),
        Constraint::Length(pane),
        Constraint::Fill(1),
    ])
    .areas(side);
    knobs::render_knobs(app, knob_area, buf);
    resources::render_resources(app, resource_area, buf, is_compact);
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
    let width = area.width as usize;
    if let Mode::EditKnob(edit) = &app.mode {
        let cursor = if theme.is_ascii { "_" } else { "▏" };
        let line = Line::from(vec![
            Span::styled(format!(" {} = ", theme.t(edit.knob.label())), theme.title()),
            Span::styled(format!("{}{cursor}", edit.text), theme.value()),
            Span::styled(theme.t("   ⏎ set · Esc cancel").into_owned(), theme.dim()),
        ]);
        line.render(area, buf);
        return;
    }
    if let Some(readout) = super::chart_view::readout(app) {
        readout.render(area, buf);
        return;
    }
    if let Some(status) = &app.status {
        let text = format!(" {}", fit_message(&theme.t(&status.text), width - 1));
        Line::from(Span::styled(text, theme.severity(status.level))).render(area, buf);
        return;
    }
    let mut parts: Vec<String> = Vec::new();
    if app.is_trainer_gone {
        parts.push("trainer ended: showing the final state".into());
    }
    let table = app.mode.keymap(app.is_attached);
    // the layer table's scroll keys are hinted only when it has layers out of sight
    let can_scroll = app.network.max_scroll.get() > 0;
    let is_live = |b: &keymap::Binding| {
        can_scroll
            || !b
                .keys
                .iter()
                .any(|(_, a)| matches!(a, Action::ScrollNetwork(_)))
    };
    parts.extend(
        keymap::hints(table, app.tab, is_live)
            .into_iter()
            .map(|(keys, word)| format!("{} {word}", theme.t(&keys))),
    );
    let separator = theme.t(" · ").into_owned();
    // the last hint (`? keys`) stays; the ones before it go, from the end, until the line fits
    let mut shown = parts.clone();
    while shown.len() > 1 && fit::width(&format!(" {}", shown.join(&separator))) > width {
        shown.remove(shown.len() - 2);
    }
    let text = fit::elide_end(&format!(" {}", shown.join(&separator)), width);
    Line::from(Span::styled(text, theme.dim())).render(area, buf);
}

/// A message fitted to `width` cells: a path in it loses directories first (its file name
/// stays), then the end of the text goes, both marked with `…`.
pub fn fit_message(text: &str, width: usize) -> String {
    let overflow = fit::width(text).saturating_sub(width);
    if overflow == 0 {
        return text.to_string();
    }
    let path = text
        .split_whitespace()
        .filter(|w| w.contains('/'))
        .max_by_key(|w| fit::width(w));
    if let Some(path) = path {
        let room = fit::width(path).saturating_sub(overflow);
        let shorter = text.replacen(path, &fit::elide_path(path, room), 1);
        if fit::width(&shorter) <= width {
            return shorter;
        }
    }
    fit::elide_end(text, width)
}

fn render_too_small(app: &App, area: Rect, buf: &mut Buffer) {
    let text = vec![
        Line::from(format!("convtop needs at least {MIN_WIDTH}x{MIN_HEIGHT}")),
        Line::from(format!("this terminal is {}x{}", area.width, area.height)),
        Line::from("enlarge the window or use a smaller font"),
        Line::from("(q quits; ? lists the keys)"),
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
