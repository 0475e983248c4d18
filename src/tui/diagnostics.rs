//! The diagnostics panel: repeats collapsed into one entry (count, latest evidence), active
//! problems first by severity, a selection that scrolls, the selected entry's full text in a
//! detail view, and its advice applied with a key.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::app::App;
use super::theme;
use super::ui::render_empty;
use crate::train::advice::describe;
use crate::train::{Command, Diagnostic, DiagnosticKind, Severity};

/// What the person chose in the diagnostics panel.
#[derive(Debug, Clone, Default)]
pub struct AdvicePanel {
    pub selected: usize,
    pub is_detail: bool,
    pub is_autopilot_on: bool,
    /// Rows of the detail view scrolled past (j/k while it is open).
    pub detail_scroll: usize,
    /// The largest useful `detail_scroll` at the last draw: the text's rows beyond the panel.
    pub detail_max_scroll: std::cell::Cell<usize>,
}

/// Diagnostics of one kind and title, collapsed.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub latest: &'a Diagnostic,
    pub count: usize,
    /// Not yet acted on: no later change of the knob its action sets, and not applied already.
    pub is_active: bool,
}

/// The panel's entries: active first, then by severity, then newest.
pub fn entries(app: &App) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry> = Vec::new();
    for d in &app.diagnostics {
        match out
            .iter_mut()
            .find(|e| e.latest.kind == d.kind && e.latest.title == d.title)
        {
            Some(e) => {
                e.latest = d;
                e.count += 1;
            }
            None => out.push(Entry {
                latest: d,
                count: 1,
                is_active: true,
            }),
        }
    }
    for e in &mut out {
        e.is_active = is_active(app, e.latest);
    }
    out.sort_by(|a, b| {
        (b.is_active, b.latest.severity, b.latest.iteration).cmp(&(
            a.is_active,
            a.latest.severity,
            a.latest.iteration,
        ))
    });
    out
}

fn is_active(app: &App, d: &Diagnostic) -> bool {
    let Some(k) = d.action.as_ref().and_then(|a| a.knob) else {
        return true;
    };
    let is_changed_since = app
        .history
        .knob_changes
        .iter()
        .any(|c| c.knob == k.knob && c.iteration >= d.iteration);
    !is_changed_since
}

impl App {
    /// Moves the selection by `delta` entries (clamped), or in the detail view scrolls its
    /// text by `delta` rows.
    pub(super) fn select_advice(&mut self, delta: isize) {
        if self.advice.is_detail {
            let max = self.advice.detail_max_scroll.get() as isize;
            self.advice.detail_scroll =
                (self.advice.detail_scroll as isize + delta).clamp(0, max) as usize;
            return;
        }
        let n = entries(self).len();
        let max = n.saturating_sub(1) as isize;
        self.advice.selected = (self.advice.selected as isize + delta).clamp(0, max) as usize;
    }

    /// The selected entry's action as a command for the trainer.
    pub(super) fn apply_selected_advice(&mut self) -> Option<Command> {
        let list = entries(self);
        let Some(e) = list.get(self.advice.selected) else {
            self.set_status(Severity::Info, "no diagnostic selected".into());
            return None;
        };
        let Some(action) = e.latest.action.clone() else {
            let text = if e.latest.kind == DiagnosticKind::Preprocessing {
                "preprocessing cannot change mid-run: restart with --preprocess standardize"
                    .to_string()
            } else if e.latest.kind == DiagnosticKind::InertNorm {
                "a norm's α cannot change mid-run: restart without the layer, or with a larger α, in --net"
                    .to_string()
            } else {
                format!("\"{}\" has no change the app can make", e.latest.title)
            };
            self.set_status(Severity::Info, text);
            return None;
        };
        let reason = Some(e.latest.title.clone());
        let text = format!("applying: {}", describe(&action));
        self.set_status(Severity::Info, text);
        self.if_alive(Command::ApplyAdvice { action, reason })
    }

    pub(super) fn toggle_autopilot(&mut self) -> Option<Command> {
        let on = !self.advice.is_autopilot_on;
        self.if_alive(Command::SetAutopilot { on })
    }
}

pub fn render_diagnostics(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let list = entries(app);
    let pilot = if app.advice.is_autopilot_on {
        " · autopilot on"
    } else {
        ""
    };
    let title = if list.is_empty() {
        format!("diagnostics{pilot}")
    } else {
        format!("diagnostics ({}){pilot}", list.len())
    };
    let block = t.block(&title);
    let inner = block.inner(area);
    block.render(area, buf);
    if list.is_empty() {
        let text = if app.history.is_empty() {
            "nothing yet"
        } else {
            "✓ no problems detected"
        };
        render_empty(app, text, inner, buf);
        return;
    }
    let selected = app.advice.selected.min(list.len() - 1);
    if app.advice.is_detail {
        render_detail(app, &list[selected], inner, buf);
        return;
    }
    let width = inner.width.max(1) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_rows = (0, 0);
    for (i, e) in list.iter().enumerate() {
        let d = e.latest;
        let is_selected = i == selected;
        let start = lines.len();
        let icon = match (e.is_active, d.severity) {
            (false, _) => "✓",
            (_, Severity::Info) => "i",
            (_, Severity::Warn) => "▲",
            (_, Severity::Error) => "✗",
        };
        let style = if is_selected {
            t.selected()
        } else if e.is_active {
            t.severity(d.severity)
        } else {
            t.dim()
        };
        let repeat = if e.count > 1 {
            format!("×{}, latest @{}", e.count, theme::count(d.iteration))
        } else {
            format!("@{}", theme::count(d.iteration))
        };
        for row in wrap(&format!("{icon} {}", d.title), width) {
            lines.push(t.line(vec![Span::styled(row, style)]));
        }
        for row in wrap(&format!("  {repeat}"), width) {
            lines.push(t.line(vec![Span::styled(row, t.dim())]));
        }
        if is_selected {
            let advice = match &d.action {
                Some(a) => format!("  a: {}", describe(a)),
                None => format!("  → {}", d.suggestion),
            };
            for row in wrap(&advice, width) {
                lines.push(t.line(vec![Span::styled(row, t.good())]));
            }
            selected_rows = (start, lines.len());
        }
    }
    let footer = wrap("j/k v:full a:apply A:auto", width);
    let height = (inner.height as usize).saturating_sub(footer.len()).max(1);
    // Scroll so that the whole selected entry stays in view (its first line if it is taller).
    let (first, end) = selected_rows;
    let top = end.saturating_sub(height).min(first);
    let mut shown: Vec<Line> = lines.into_iter().skip(top).take(height).collect();
    if inner.height as usize > footer.len() {
        shown.extend(
            footer
                .into_iter()
                .map(|f| t.line(vec![Span::styled(f, t.dim())])),
        );
    }
    Paragraph::new(shown).render(inner, buf);
}

/// Splits `text` into rows of at most `width` characters at spaces (long words are cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let indent: String = text.chars().take_while(|c| *c == ' ').collect();
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        loop {
            let len = row.chars().count();
            let needed = word.chars().count() + usize::from(len > 0);
            if len + needed <= width {
                if len > 0 {
                    row.push(' ');
                } else if rows.is_empty() && indent.len() + word.chars().count() <= width {
                    row.push_str(&indent);
                }
                row.push_str(&word);
                break;
            }
            if len > 0 {
                rows.push(std::mem::take(&mut row));
                continue;
            }
            // A word longer than the row: cut it.
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            rows.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(row);
    }
    rows
}

/// The selected entry in full: title, count, evidence, advice, the action a applies. Text
/// taller than the panel scrolls with j/k, and its last row says so.
fn render_detail(app: &App, e: &Entry, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let d = e.latest;
    let seen = if e.count > 1 {
        format!(
            "seen {}×, latest at iteration {}",
            e.count,
            theme::count(d.iteration)
        )
    } else {
        format!("at iteration {}", theme::count(d.iteration))
    };
    let act = match &d.action {
        Some(a) if e.is_active => format!("a applies: {}", describe(a)),
        Some(a) => format!("acted on since (a applies again: {})", describe(a)),
        None => "no change the app can make".to_string(),
    };
    let parts = [
        (d.title.clone(), t.severity(d.severity)),
        (seen, t.dim()),
        (d.evidence.clone(), t.label()),
        (format!("→ {}", d.suggestion), t.good()),
        (act, t.value()),
    ];
    let width = area.width.max(1) as usize;
    let rows: Vec<Line> = parts
        .iter()
        .flat_map(|(text, style)| {
            wrap(text, width)
                .into_iter()
                .map(|row| t.line(vec![Span::styled(row, *style)]))
        })
        .collect();
    let height = area.height as usize;
    let fits = rows.len() < height;
    // the last row is the key hint; when the text is taller, it also says where the view is
    let room = height.saturating_sub(1).max(1);
    let max_scroll = rows.len().saturating_sub(room);
    app.advice.detail_max_scroll.set(max_scroll);
    let top = app.advice.detail_scroll.min(max_scroll);
    let hint = if fits {
        "v back to the list".to_string()
    } else {
        let more = rows.len() - (top + room).min(rows.len());
        let at = match (top, more) {
            (0, _) => format!("↓ {more} more"),
            (_, 0) => format!("↑ {top} above"),
            _ => format!("↑{top} ↓{more}"),
        };
        format!("{at} · j/k · v back")
    };
    let mut shown: Vec<Line> = rows.into_iter().skip(top).take(room).collect();
    if height > 1 {
        for row in wrap(&hint, width).into_iter().take(1) {
            shown.push(t.line(vec![Span::styled(row, t.dim())]));
        }
    }
    Paragraph::new(shown).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_words_and_indent() {
        assert_eq!(wrap("  a: roll back now", 10), ["  a: roll", "back now"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
    }
}
