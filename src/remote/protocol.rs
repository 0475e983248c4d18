//! The socket protocol: one JSON object a line, each carrying the protocol version `v`.
//!
//! - viewer → training: `{"v":1,"cmd":{"cmd":"set_knob","knob":"lambda","value":0.001}}`
//! - training → viewer: `{"v":1,"ok":true}` or `{"v":1,"error":"…"}` for each command, in order,
//!   and `{"v":1,"event":{…}}` for every trainer event.
//!
//! A line longer than `MAX_LINE`, one that is not JSON, has another version or names an unknown
//! command gets an error reply and changes nothing.

use std::io::{self, BufRead};

use serde_json::{Value, json};

use crate::train::{Command, Event};

pub const VERSION: u64 = 1;
/// The longest line either side accepts, newline included.
pub const MAX_LINE: usize = 64 * 1024;

pub fn command_line(cmd: &Command) -> String {
    json!({ "v": VERSION, "cmd": cmd }).to_string()
}

pub fn event_line(event: &Event) -> String {
    json!({ "v": VERSION, "event": event }).to_string()
}

pub fn ok_line() -> String {
    json!({ "v": VERSION, "ok": true }).to_string()
}

pub fn error_line(problem: &str) -> String {
    json!({ "v": VERSION, "error": problem }).to_string()
}

/// The command of one request line, or the reason it is refused.
pub fn parse_request(line: &[u8]) -> Result<Command, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    match v.get("v").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(format!(
                "protocol version {other} is not supported (this training speaks {VERSION})"
            ));
        }
        None => return Err("no protocol version: send {\"v\":1,\"cmd\":{…}}".into()),
    }
    let cmd = v.get("cmd").ok_or("no \"cmd\" in the message")?;
    let cmd: Command = serde_json::from_value(cmd.clone())
        .map_err(|e| format!("unknown or malformed command: {e}"))?;
    // the knob authority answers here, so a refused value is an error reply, not an "ok"
    if let Command::SetKnob { knob, value } = cmd {
        crate::train::knobs::validate(knob, value).map_err(|e| e.to_string())?;
    }
    Ok(cmd)
}

/// What the training sent, as a viewer sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok,
    Error(String),
    Event(Box<Event>),
    /// An event of a kind this viewer does not know (from a newer trainer): skipped.
    Unknown(String),
}

pub fn parse_reply(line: &[u8]) -> Result<Reply, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("v").and_then(Value::as_u64) != Some(VERSION) {
        return Err("the training speaks another protocol version".into());
    }
    if let Some(e) = v.get("event") {
        return match serde_json::from_value(e.clone()) {
            Ok(event) => Ok(Reply::Event(Box::new(event))),
            Err(problem) if problem.to_string().starts_with("unknown variant") => {
                Ok(Reply::Unknown(event_kind(e)))
            }
            Err(problem) => Err(format!("an event that cannot be read: {problem}")),
        };
    }
    if let Some(e) = v.get("error") {
        return Ok(Reply::Error(e.as_str().unwrap_or_default().to_string()));
    }
    Ok(Reply::Ok)
}

/// An event's kind: the name of its one member, or the string of a bare kind.
fn event_kind(e: &Value) -> String {
    match e {
        Value::String(kind) => kind.clone(),
        Value::Object(members) => members.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line is in the buffer, without its newline.
    Complete,
    /// The line was longer than the limit; it has been skipped up to its newline.
    TooLong,
    Eof,
}

/// Reads one line of at most `limit` bytes into `buf`, never holding more than that in memory.
pub fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    buf.clear();
    let mut is_too_long = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() && !is_too_long {
                Line::Eof
            } else if is_too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
        let (used, is_end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !is_too_long {
            let body = if is_end { &chunk[..used - 1] } else { chunk };
            if buf.len() + body.len() >= limit {
                is_too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(body);
            }
        }
        reader.consume(used);
        if is_end {
            return Ok(if is_too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_of_an_unknown_kind_is_named_and_a_damaged_one_refused() {
        let newer = br#"{"v":1,"event":{"Telemetry":{"gpu":0.5}}}"#;
        assert_eq!(parse_reply(newer), Ok(Reply::Unknown("Telemetry".into())));
        let bare = br#"{"v":1,"event":"Heartbeat"}"#;
        assert_eq!(parse_reply(bare), Ok(Reply::Unknown("Heartbeat".into())));
        let damaged = br#"{"v":1,"event":{"State":42}}"#;
        assert!(parse_reply(damaged).is_err_and(|e| e.starts_with("an event that cannot be read")));
        let known = event_line(&Event::State(crate::train::RunState::Paused));
        assert!(matches!(parse_reply(known.as_bytes()), Ok(Reply::Event(_))));
    }

    #[test]
    fn requests_are_versioned_and_checked() {
        let ok = br#"{"v":1,"cmd":{"cmd":"set_knob","knob":"lambda","value":0.01}}"#;
        assert!(matches!(parse_request(ok), Ok(Command::SetKnob { .. })));
        assert!(parse_request(br#"{"v":2,"cmd":{"cmd":"stop"}}"#).is_err());
        assert!(parse_request(br#"{"cmd":{"cmd":"stop"}}"#).is_err());
        assert!(parse_request(br#"{"v":1,"cmd":{"cmd":"explode"}}"#).is_err());
        assert!(parse_request(b"{not json").is_err());
    }

    #[test]
    fn long_lines_are_skipped_whole() {
        let mut text = vec![b'x'; 100];
        text.extend_from_slice(b"\nshort\n");
        let mut reader = io::BufReader::with_capacity(16, &text[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 50).unwrap(), Line::TooLong);
        assert_eq!(
            read_line(&mut reader, &mut buf, 50).unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"short");
        assert_eq!(read_line(&mut reader, &mut buf, 50).unwrap(), Line::Eof);
    }
}
