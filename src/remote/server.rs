//! The detached side: relays every trainer event to every connected viewer and each viewer's
//! commands to the trainer. A slow or vanished viewer is dropped; the training never waits on one.

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::protocol::{self, Line, MAX_LINE};
use crate::train::{
    Command, Event, IterStats, KnobChange, RunInfo, RunState, TrainError, TrainerHandle,
};

/// A viewer that cannot take a line within this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Iterations kept for a viewer that connects: metrics.jsonl is flushed at every evaluation, so
/// these cover what the file may not hold yet.
const BACKLOG_ITERS: usize = 20_000;

/// Binds `path` owner-only (0600; the run directory is 0700 too), replacing a stale socket.
pub fn bind(path: &Path) -> Result<UnixListener, TrainError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(TrainError::Config {
                problem: format!("{} is in use by a live training", path.display()),
            });
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

type Writer = Arc<Mutex<UnixStream>>;

/// What a viewer that connects late is sent first.
#[derive(Default)]
struct Backlog {
    info: Option<RunInfo>,
    state: Option<RunState>,
    knobs: Vec<KnobChange>,
    iters: VecDeque<IterStats>,
    viewers: Vec<Writer>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a viewer thread that panicked mid-write leaves nothing half-updated that matters here
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_line(w: &Writer, line: &str) -> bool {
    let mut s = lock(w);
    s.write_all(line.as_bytes()).is_ok() && s.write_all(b"\n").is_ok()
}

/// Serves until the trainer ends; removes the socket then. A finished training is stopped (it
/// writes its final checkpoint) so the process does not linger.
pub fn serve(
    handle: TrainerHandle,
    listener: UnixListener,
    socket: PathBuf,
) -> Result<(), TrainError> {
    let shared = Arc::new(Mutex::new(Backlog::default()));
    let commands = handle.commands.clone();
    {
        let shared = Arc::clone(&shared);
        let commands = commands.clone();
        std::thread::Builder::new()
            .name("convtop-accept".into())
            .spawn(move || accept(listener, shared, commands))
            .map_err(|e| TrainError::Thread(e.to_string()))?;
    }
    for event in handle.events.iter() {
        let mut b = lock(&shared);
        match &event {
            Event::Started(info) => b.info = Some((**info).clone()),
            Event::State(state) => {
                b.state = Some(*state);
                if *state == RunState::Finished {
                    let _ = commands.send(Command::Stop);
                }
            }
            Event::KnobChanged(k) => b.knobs.push(k.clone()),
            Event::Iterations(batch) => {
                b.iters.extend(batch.iter().copied());
                let excess = b.iters.len().saturating_sub(BACKLOG_ITERS);
                b.iters.drain(..excess);
            }
            _ => {}
        }
        let line = protocol::event_line(&event);
        b.viewers.retain(|w| write_line(w, &line));
    }
    let joined = handle.thread.join();
    let _ = std::fs::remove_file(&socket);
    // closing every viewer's stream tells it the training has ended
    for w in lock(&shared).viewers.drain(..) {
        let _ = lock(&w).shutdown(std::net::Shutdown::Both);
    }
    match joined {
        Ok(r) => r,
        Err(_) => Err(TrainError::Thread("the trainer thread panicked".into())),
    }
}

fn accept(listener: UnixListener, shared: Arc<Mutex<Backlog>>, commands: Sender<Command>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let Ok(reader) = stream.try_clone() else {
            continue;
        };
        let writer: Writer = Arc::new(Mutex::new(stream));
        {
            // under the lock, so no event falls between the backlog and the live stream
            let mut b = lock(&shared);
            let mut lines = Vec::new();
            if let Some(info) = &b.info {
                let mut info = info.clone();
                if let Some(last) = b.iters.back() {
                    info.knobs = last.knobs;
                }
                lines.push(protocol::event_line(&Event::Started(Box::new(info))));
            }
            for k in &b.knobs {
                lines.push(protocol::event_line(&Event::KnobChanged(k.clone())));
            }
            if !b.iters.is_empty() {
                let iters = b.iters.iter().copied().collect();
                lines.push(protocol::event_line(&Event::Iterations(iters)));
            }
            if let Some(state) = b.state {
                lines.push(protocol::event_line(&Event::State(state)));
            }
            if lines.iter().all(|l| write_line(&writer, l)) {
                b.viewers.push(Arc::clone(&writer));
            } else {
                continue;
            }
        }
        let commands = commands.clone();
        let _ = std::thread::Builder::new()
            .name("convtop-viewer".into())
            .spawn(move || read_commands(reader, &writer, &commands));
    }
}

/// One viewer's requests: each gets `ok` once handed to the trainer, or an error.
fn read_commands(stream: UnixStream, writer: &Writer, commands: &Sender<Command>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        let reply = match protocol::read_line(&mut reader, &mut buf, MAX_LINE) {
            Ok(Line::Eof) | Err(_) => return,
            Ok(Line::TooLong) => {
                protocol::error_line(&format!("message longer than {MAX_LINE} bytes refused"))
            }
            Ok(Line::Complete) if buf.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Line::Complete) => match protocol::parse_request(&buf) {
                Ok(cmd) => {
                    if commands.send(cmd).is_err() {
                        protocol::error_line("the training has ended")
                    } else {
                        protocol::ok_line()
                    }
                }
                Err(problem) => protocol::error_line(&problem),
            },
        };
        if !write_line(writer, &reply) {
            return;
        }
    }
}
