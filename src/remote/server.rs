//! The detached side: relays every trainer event to every connected viewer and each viewer's
//! commands to the trainer. Each viewer has a bounded queue drained by a writer thread of its
//! own; a viewer whose queue is full is dropped, never waited on, so neither the training nor
//! another viewer ever waits on one. Every command read is executed, even if its sender has gone.

use std::io::{BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::backlog::Backlog;
use super::protocol::{self, Line, MAX_LINE};
use crate::train::rundir::{euid, peer_uid};
use crate::train::{Command, Event, RunState, TrainError, TrainerHandle};

/// Lines waiting for one viewer; a viewer this far behind is dropped. It holds a whole backlog.
const QUEUE: usize = 1024;
/// A write that makes no progress for this long ends that viewer's writer thread.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A dropped viewer's commands are still read, until it closes or is silent this long.
const DROPPED_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Queued after the last event: the writer closes the stream.
const END: &str = "";
/// At the end, how long the viewers get to receive the last events.
const FAREWELL: Duration = Duration::from_secs(2);

/// Binds `path` owner-only (0600; the run directory is 0700 too), replacing a stale socket.
pub fn bind(path: &Path) -> Result<UnixListener, TrainError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::symlink_metadata(path).is_ok() {
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

/// One connected viewer, as the relay sees it.
struct Viewer {
    queue: SyncSender<Arc<str>>,
    stream: UnixStream,
}

impl Viewer {
    /// Queues a line; `false` (and the viewer's output closed) if it cannot keep up or is gone.
    fn offer(&self, line: &Arc<str>) -> bool {
        match self.queue.try_send(Arc::clone(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                // its reader goes on: commands it already sent are still executed
                let _ = self.stream.shutdown(std::net::Shutdown::Write);
                let _ = self.stream.set_read_timeout(Some(DROPPED_READ_TIMEOUT));
                false
            }
        }
    }
}

#[derive(Default)]
struct Shared {
    backlog: Backlog,
    viewers: Vec<Viewer>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a thread that panicked mid-update leaves nothing half-updated that matters here
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves until the trainer ends; removes the socket then. A finished training is stopped (it
/// writes its final checkpoint) so the process does not linger.
pub fn serve(
    handle: TrainerHandle,
    listener: UnixListener,
    socket: PathBuf,
) -> Result<(), TrainError> {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let commands = handle.commands.clone();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let thread = |e: std::io::Error| TrainError::Thread(e.to_string());
    // dropping `wake` ends the accept thread: its end of the pair then reads end-of-file
    let (wake, woken) = UnixStream::pair().map_err(thread)?;
    listener.set_nonblocking(true).map_err(thread)?;
    let acceptor = {
        let shared = Arc::clone(&shared);
        let commands = commands.clone();
        let done_tx = done_tx.clone();
        std::thread::Builder::new()
            .name("convtop-accept".into())
            .spawn(move || accept(&listener, &woken, &shared, &commands, &done_tx))
            .map_err(thread)?
    };
    drop(done_tx);
    for event in handle.events.iter() {
        if event == Event::State(RunState::Finished) {
            let _ = commands.send(Command::Stop);
        }
        let line: Arc<str> = protocol::event_line(&event).into();
        let mut s = lock(&shared);
        s.backlog.record(&event);
        s.viewers.retain(|v| v.offer(&line));
    }
    let joined = handle.thread.join();
    drop(wake);
    let _ = acceptor.join();
    let _ = std::fs::remove_file(&socket);
    // the end mark lets each writer send what is left, then close its stream
    let viewers = std::mem::take(&mut lock(&shared).viewers);
    for v in &viewers {
        let _ = v.queue.try_send(Arc::from(END));
    }
    let writers = viewers.len();
    farewell(&done_rx, writers);
    match joined {
        Ok(r) => r,
        Err(_) => Err(TrainError::Thread("the trainer thread panicked".into())),
    }
}

/// Waits (up to `FAREWELL`) for the writer threads to finish.
fn farewell(done: &Receiver<()>, writers: usize) {
    let deadline = Instant::now() + FAREWELL;
    for _ in 0..writers {
        let left = deadline.saturating_duration_since(Instant::now());
        if done.recv_timeout(left).is_err() {
            return;
        }
    }
}

/// Blocks until `listener` has a connection to accept (true) or `woken` is readable: the
/// server is ending (false).
fn wait_for_viewer(listener: &UnixListener, woken: &UnixStream) -> bool {
    let mut fds = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: woken.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of 2 pollfd that outlives the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n >= 0 {
            return fds[1].revents == 0;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// Accepts viewers until the server ends (`woken`).
fn accept(
    listener: &UnixListener,
    woken: &UnixStream,
    shared: &Mutex<Shared>,
    commands: &Sender<Command>,
    done: &Sender<()>,
) {
    let me = euid();
    while wait_for_viewer(listener, woken) {
        // non-blocking: a connection that was given up before this accept is not waited for
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => {
                // out of descriptors, say: try again later rather than spin
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        // an accepted stream does not inherit O_NONBLOCK on Linux; make sure on every Unix
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        // the socket is 0600 in a 0700 directory; this holds even if those were loosened
        if peer_uid(&stream).is_ok_and(|uid| uid != me && uid != 0) {
            continue;
        }
        let (Ok(writer), Ok(handle)) = (stream.try_clone(), stream.try_clone()) else {
            continue;
        };
        let _ = writer.set_write_timeout(Some(WRITE_TIMEOUT));
        let (tx, rx) = mpsc::sync_channel::<Arc<str>>(QUEUE);
        let done = done.clone();
        let spawned = std::thread::Builder::new()
            .name("convtop-viewer-out".into())
            .spawn(move || write_lines(writer, &rx, &done));
        if spawned.is_err() {
            continue;
        }
        let viewer = Viewer { queue: tx, stream };
        {
            // under the lock, so no event falls between the backlog and the live stream
            let mut s = lock(shared);
            let is_kept = s
                .backlog
                .lines()
                .iter()
                .all(|l| viewer.offer(&Arc::from(l.as_str())));
            if is_kept {
                s.viewers.push(Viewer {
                    queue: viewer.queue.clone(),
                    stream: handle,
                });
            }
        }
        let commands = commands.clone();
        let _ = std::thread::Builder::new()
            .name("convtop-viewer-in".into())
            .spawn(move || read_commands(&viewer, &commands));
    }
}

/// One viewer's writer: sends its queue's lines until the queue closes or a write fails.
fn write_lines(mut stream: UnixStream, lines: &Receiver<Arc<str>>, done: &Sender<()>) {
    for line in lines {
        if &*line == END {
            break;
        }
        if stream.write_all(line.as_bytes()).is_err() || stream.write_all(b"\n").is_err() {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = done.send(());
}

/// One viewer's requests: each is handed to the trainer and answered `ok` (or an error) through
/// the viewer's queue, after the events queued before it.
fn read_commands(viewer: &Viewer, commands: &Sender<Command>) {
    let Ok(stream) = viewer.stream.try_clone() else {
        return;
    };
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
        // a viewer that cannot take its reply still has its later commands executed
        let _ = viewer.offer(&Arc::from(reply.as_str()));
    }
}
