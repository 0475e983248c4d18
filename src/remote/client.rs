//! The viewer side: a socket becomes the `Receiver<Event>` / `Sender<Command>` pair of a trainer.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};

use super::protocol::{self, Line, Reply};
use crate::train::rundir::{euid, peer_uid};
use crate::train::{Command, Event, Severity};

/// Events are read far beyond the request limit: a snapshot of a big network is large.
const MAX_EVENT_LINE: usize = 256 * 1024 * 1024;

/// Connects to a detached training. The event channel closes when the training ends or the
/// socket breaks; commands sent after that are dropped.
pub fn connect(socket: &Path) -> std::io::Result<(Receiver<Event>, Sender<Command>)> {
    let stream = UnixStream::connect(socket)?;
    // only a training of our own is steered: anyone else's socket could be a fake
    let uid = peer_uid(&stream)?;
    if uid != euid() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "served by a process of uid {uid}, not yours (uid {}): not trusted, not attached \
                 (someone else may have replaced the socket; check the run directory's owner)",
                euid()
            ),
        ));
    }
    let mut writer = stream.try_clone()?;
    let (ev_tx, ev_rx) = mpsc::channel();
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>();
    std::thread::Builder::new()
        .name("convtop-socket-in".into())
        .spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            let mut unknown: Vec<String> = Vec::new();
            while let Ok(Line::Complete | Line::TooLong) =
                protocol::read_line(&mut reader, &mut buf, MAX_EVENT_LINE)
            {
                let event = match protocol::parse_reply(&buf) {
                    Ok(Reply::Ok) => continue,
                    Ok(Reply::Event(e)) => *e,
                    Ok(Reply::Unknown(kind)) if unknown.contains(&kind) => continue,
                    // said once a kind: a newer trainer sends some every second
                    Ok(Reply::Unknown(kind)) => {
                        let text = format!(
                            "the training sends `{kind}` events, which this convtop does not \
                             know (the training runs a newer convtop): they are skipped"
                        );
                        unknown.push(kind);
                        Event::Message {
                            level: Severity::Info,
                            text,
                        }
                    }
                    Ok(Reply::Error(text)) => Event::Message {
                        level: Severity::Warn,
                        text: format!("the training refused a message: {text}"),
                    },
                    Err(text) => Event::Message {
                        level: Severity::Warn,
                        text: format!("a line from the training was not understood: {text}"),
                    },
                };
                if ev_tx.send(event).is_err() {
                    return;
                }
            }
        })?;
    std::thread::Builder::new()
        .name("convtop-socket-out".into())
        .spawn(move || {
            for cmd in cmd_rx {
                let line = protocol::command_line(&cmd) + "\n";
                if writer.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
            // the viewer quit: let the training know this connection is done
            let _ = writer.shutdown(std::net::Shutdown::Write);
        })?;
    Ok((ev_rx, cmd_tx))
}
