//! Fitting text into a number of cells without hiding that something was left out: elision in
//! the middle with `…`, paths that keep their file name, and word wrapping.

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

pub const ELLIPSIS: &str = "…";

pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The text, or its start and end around `…` so that it fits in `max` cells.
pub fn elide_middle(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    let keep = max - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    take_width(&chars, head, false) + ELLIPSIS + &take_width(&chars, tail, true)
}

/// The text, or its start and `…` so that it fits in `max` cells.
pub fn elide_end(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    take_width(&chars, max - 1, false) + ELLIPSIS
}

/// A path elided in its directories, keeping the file name whole while it fits.
pub fn elide_path(path: &str, max: usize) -> String {
    if width(path) <= max {
        return path.to_string();
    }
    match path.rfind('/') {
        Some(slash) if width(&path[slash..]) < max => {
            let name = &path[slash..];
            let room = max - width(name);
            let dir: Vec<char> = path[..slash].chars().collect();
            take_width(&dir, room.saturating_sub(1), false) + ELLIPSIS + name
        }
        _ => elide_middle(path, max),
    }
}

/// At most `cells` cells of `chars`, from the start or from the end.
fn take_width(chars: &[char], cells: usize, from_end: bool) -> String {
    let mut out = Vec::new();
    let mut used = 0;
    let iter: Box<dyn Iterator<Item = &char>> = if from_end {
        Box::new(chars.iter().rev())
    } else {
        Box::new(chars.iter())
    };
    for c in iter {
        let w = unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0);
        if used + w > cells {
            break;
        }
        used += w;
        out.push(*c);
    }
    if from_end {
        out.reverse();
    }
    out.into_iter().collect()
}

/// Words wrapped into lines of at most `max` cells; a word longer than a line is elided.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = elide_end(word, max);
        if !line.is_empty() && width(&line) + 1 + width(&word) > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The spans that fit in `max` cells; when some do not, the last shown ends in `…`.
pub fn fit_spans(spans: Vec<Span<'static>>, max: usize) -> Line<'static> {
    let total: usize = spans.iter().map(|s| width(&s.content)).sum();
    if total <= max {
        return Line::from(spans);
    }
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = width(&span.content);
        if used + w + 1 > max {
            let room = max.saturating_sub(used);
            out.push(Span::styled(
                elide_end(&span.content, room.max(1)),
                span.style,
            ));
            break;
        }
        used += w;
        out.push(span);
    }
    Line::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elides_in_the_middle() {
        assert_eq!(elide_middle("conv8k5p2 relu pool2", 9), "conv…ool2");
        assert_eq!(elide_middle("short", 9), "short");
        assert_eq!(width(&elide_middle("abcdefghijklmnop", 7)), 7);
    }

    #[test]
    fn paths_keep_their_file_name() {
        let p = "runs/20261128-120000-mnist/checkpoint-best.safetensors";
        let e = elide_path(p, 40);
        assert!(e.ends_with("/checkpoint-best.safetensors"), "{e}");
        assert!(e.contains('…'), "{e}");
        assert_eq!(width(&e), 40);
    }

    #[test]
    fn wraps_at_words() {
        let lines = wrap("Leaving keeps it running: convtop attach comes back.", 20);
        assert_eq!(
            lines,
            vec!["Leaving keeps it", "running: convtop", "attach comes back."]
        );
    }
}
