//! The run directory's lock: an exclusive `flock` on `lock`, held by the one trainer of a run for
//! its whole life, with that process's pid in the file so a second trainer can name it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;

use super::fsafe::{DirHandle, refused};
use crate::train::error::TrainError;

pub const LOCK_FILE: &str = "lock";

/// Held while it lives; the kernel releases the lock when the process ends, however it ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes `flock(op | LOCK_NB)`; `Ok(false)` if another holder has it.
pub fn try_flock(f: &File, op: libc::c_int) -> std::io::Result<bool> {
    // SAFETY: flock on an open fd has no memory effects.
    if unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Blocks until `flock(op)` is granted.
pub fn flock(f: &File, op: libc::c_int) -> std::io::Result<()> {
    loop {
        // SAFETY: flock on an open fd has no memory effects.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl RunLock {
    /// Takes the run's lock, or says which process trains it now.
    pub fn acquire(dir: &DirHandle) -> Result<RunLock, TrainError> {
        let path = dir.file_path(LOCK_FILE);
        let io = |source| TrainError::Io {
            path: path.clone(),
            source,
        };
        let mut f = dir.open_log(LOCK_FILE)?;
        if !try_flock(&f, libc::LOCK_EX).map_err(io)? {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("process {pid}"),
                Err(_) => "another process".to_string(),
            };
            let run = dir.path().display();
            return Err(refused(
                dir.path(),
                &format!(
                    "is being trained by {holder} right now: one trainer per run (convtop attach \
                     {run} watches a detached one; stop it before --resume)"
                ),
            ));
        }
        // the file is opened O_APPEND: truncate, then the pid is the only content
        f.set_len(0).map_err(io)?;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(f, "{}", std::process::id()).map_err(io)?;
        Ok(RunLock { _file: f })
    }
}
