//! Trainings that outlive a terminal: `train --detach` starts one in its own session, `--serve`
//! is that process, `attach` opens a dashboard on it over its socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use super::args::TrainArgs;
use crate::remote::{self, SOCKET_FILE};
use crate::train::rundir::{DirHandle, DirPolicy, LOG_FILE};
use crate::train::summary::{RunStatus, list_runs};
use crate::train::{self};

/// `convtop train --detach`: starts `convtop train … --serve` in a new session (no controlling
/// terminal, so a hang-up never reaches it), waits for it to say where its run is, then attaches.
pub fn detach(a: &TrainArgs) -> Result<i32> {
    let exe = std::env::current_exe().context("finding the convtop executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .arg("--serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting the detached training")?;
    let stdout = child
        .stdout
        .take()
        .context("the detached training's output")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let dir = match line.trim_end().split_once(' ') {
        Some(("ready", dir)) => PathBuf::from(dir),
        Some(("error", problem)) => bail!("{problem}"),
        _ => bail!("the detached training ended before it started"),
    };
    if a.no_attach {
        println!("{}", dir.display());
        return Ok(0);
    }
    attach(Some(&dir), Path::new(""), a.ascii, a.fps)
}

/// The detached process: builds the run, binds its socket, reports `ready <dir>` on stdout, then
/// sends its output to the run's log and serves until the training ends.
pub fn serve(a: &TrainArgs) -> Result<i32> {
    let started = (|| -> Result<_> {
        let run = match &a.resume {
            Some(dir) => {
                super::must_exist(dir, super::GIVE_A_RUN)?;
                train::resume_run(dir, a.epochs)?
            }
            None => train::new_run(super::train_config(a)?)?,
        };
        let dir = run.dir.path.clone();
        let listener = remote::server::bind(&dir.join(SOCKET_FILE))?;
        Ok((run, dir, listener))
    })();
    let (run, dir, listener) = match started {
        Ok(s) => s,
        Err(e) => {
            // each cause once, as the foreground command prints it
            println!("error {}", super::error_text(&e));
            return Ok(2);
        }
    };
    // like every file of a run: never through a symlink, in a directory checked by its handle
    let log = DirHandle::open(&dir, DirPolicy::Run)
        .and_then(|d| d.open_log(LOG_FILE))
        .context("opening the run's log")?;
    println!("ready {}", dir.display());
    std::io::stdout().flush()?;
    redirect_output(&log)?;
    // no terminal to hang up, but a stray SIGHUP must not end the training; SIGTERM stops it
    // cleanly with a checkpoint
    let handle = train::spawn(run)?;
    let commands = handle.commands.clone();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])?;
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let caught_here = std::sync::Arc::clone(&caught);
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if sig != signal_hook::consts::SIGHUP {
                caught_here.store(sig, std::sync::atomic::Ordering::SeqCst);
                let _ = commands.send(train::Command::Stop);
            }
        }
    });
    eprintln!("convtop: serving {} on {SOCKET_FILE}", dir.display());
    remote::server::serve(handle, listener, dir.join(SOCKET_FILE))?;
    eprintln!("convtop: training ended");
    Ok(match caught.load(std::sync::atomic::Ordering::SeqCst) {
        0 => 0,
        sig => crate::tui::signals::exit_status(sig),
    })
}

/// Points stdout and stderr at `log` (the parent's pipe closes, later panics land in the log).
fn redirect_output(log: &std::fs::File) -> Result<()> {
    use std::os::fd::AsRawFd;
    for fd in [1, 2] {
        // SAFETY: dup2 on two open descriptors; nothing else holds fd 1 or 2 as a Rust object
        // that would be confused by the switch (std's handles write to the number).
        if unsafe { libc::dup2(log.as_raw_fd(), fd) } == -1 {
            return Err(std::io::Error::last_os_error()).context("redirecting output to the log");
        }
    }
    Ok(())
}

/// The newest live run under `base`.
fn latest_live(base: &Path) -> Result<PathBuf> {
    let runs = list_runs(base).with_context(|| format!("listing {}", base.display()))?;
    runs.into_iter()
        .filter(|r| r.status == RunStatus::Live)
        .max_by_key(|r| (r.modified, r.id.clone()))
        .map(|r| r.path)
        .with_context(|| {
            format!(
                "no live run under {} (convtop ls lists them)",
                base.display()
            )
        })
}

pub fn attach(run: Option<&Path>, base: &Path, ascii: bool, fps: u32) -> Result<i32> {
    let dir = match run {
        Some(d) => {
            super::must_exist(d, super::GIVE_A_RUN)?;
            d.to_path_buf()
        }
        None => latest_live(base)?,
    };
    let socket = dir.join(SOCKET_FILE);
    let connected = remote::client::connect(&socket);
    if let Err(e) = &connected
        && e.kind() == std::io::ErrorKind::PermissionDenied
    {
        bail!("{}: {e}", socket.display());
    }
    let (events, commands) = connected.with_context(|| {
        format!(
            "{} is not live (no training answers on {SOCKET_FILE}); convtop replay {} shows it",
            dir.display(),
            dir.display()
        )
    })?;
    let (history, events) = remote::history::attach_stream(&dir, events)?;
    // a signal leaves (the training goes on), with the terminal restored
    let signals = crate::tui::signals::SignalWatch::install(|| {})?;
    let session = crate::tui::Session {
        hangup: Some(signals.flag()),
        is_attached: true,
        history: Some(history),
    };
    let opts = crate::tui::UiOptions::detect(ascii, fps);
    let ending = crate::tui::run_session(events, commands, opts, session)?;
    let d = dir.display();
    let said = match ending {
        crate::tui::Ending::Stopped => format!(
            "stopped the training of {d}: its checkpoint is written (convtop train --resume {d} continues it)"
        ),
        crate::tui::Ending::Left => format!("left {d} running (convtop attach {d} comes back)"),
        crate::tui::Ending::TrainerEnded => {
            format!("the training of {d} has ended (convtop replay {d} shows it)")
        }
    };
    let _ = writeln!(std::io::stdout(), "{said}");
    Ok(signals.exit_code().unwrap_or(0))
}
