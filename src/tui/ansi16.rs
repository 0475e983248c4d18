//! A writer between ratatui and the terminal that turns crossterm's `38;5;N` colour codes for
//! the 16 named colours into the classic `3x`/`9x` (and `4x`/`10x`) codes, which terminals
//! without 256 colours (`TERM=xterm`, `screen`, `linux`) understand.

use std::io::{self, Write};

/// Buffers a frame and rewrites its colour codes when it is flushed (ratatui flushes after every
/// frame), so a code split across writes is never missed.
pub struct Ansi16Writer<W: Write> {
    inner: W,
    is_rewriting: bool,
    frame: Vec<u8>,
}

impl<W: Write> Ansi16Writer<W> {
    pub fn new(inner: W, is_rewriting: bool) -> Self {
        Ansi16Writer {
            inner,
            is_rewriting,
            frame: Vec::new(),
        }
    }
}

impl<W: Write> Write for Ansi16Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.is_rewriting {
            self.frame.extend_from_slice(buf);
            Ok(buf.len())
        } else {
            self.inner.write(buf)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.frame.is_empty() {
            let frame = std::mem::take(&mut self.frame);
            self.inner.write_all(&rewrite(&frame))?;
        }
        self.inner.flush()
    }
}

/// Every `ESC [ … m` in `bytes` with its 256-colour codes below 16 made 16-colour codes.
pub fn rewrite(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            let start = i + 2;
            let end = bytes[start..]
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b';'))
                .map(|p| start + p);
            if let Some(end) = end
                && bytes[end] == b'm'
                && let Ok(params) = std::str::from_utf8(&bytes[start..end])
            {
                out.extend_from_slice(b"\x1b[");
                out.extend_from_slice(rewrite_params(params).as_bytes());
                out.push(b'm');
                i = end + 1;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn rewrite_params(params: &str) -> String {
    let codes: Vec<&str> = params.split(';').collect();
    let mut out: Vec<String> = Vec::with_capacity(codes.len());
    let mut i = 0;
    while i < codes.len() {
        let n = codes.get(i + 2).and_then(|n| n.parse::<u8>().ok());
        match (codes[i], codes.get(i + 1), n) {
            ("38", Some(&"5"), Some(n)) if n < 16 => {
                out.push(named(n, 30, 90));
                i += 3;
            }
            ("48", Some(&"5"), Some(n)) if n < 16 => {
                out.push(named(n, 40, 100));
                i += 3;
            }
            (code, _, _) => {
                out.push(code.to_string());
                i += 1;
            }
        }
    }
    out.join(";")
}

/// Colours 0–7 from `base`, 8–15 (the bright ones) from `bright`.
fn named(n: u8, base: u8, bright: u8) -> String {
    if n < 8 {
        (base + n).to_string()
    } else {
        (bright + n - 8).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_16_colours() {
        let s = b"a\x1b[38;5;6mb\x1b[48;5;14mc\x1b[38;5;200md\x1b[39m\x1b[1;38;5;8m";
        let out = String::from_utf8(rewrite(s)).unwrap();
        assert_eq!(out, "a\x1b[36mb\x1b[106mc\x1b[38;5;200md\x1b[39m\x1b[1;90m");
    }

    #[test]
    fn a_code_split_across_writes_is_rewritten_at_flush() {
        let mut w = Ansi16Writer::new(Vec::new(), true);
        w.write_all(b"\x1b[38;").unwrap();
        w.write_all(b"5;1mX").unwrap();
        w.flush().unwrap();
        assert_eq!(w.inner, b"\x1b[31mX");
    }
}
