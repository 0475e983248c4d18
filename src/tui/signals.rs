//! SIGINT, SIGTERM and SIGHUP end a dashboard the same way: the dashboard leaves its loop, the
//! trainer (if local) writes its checkpoint and its `stopped` record, the terminal is restored
//! (raw mode off, main screen, cursor shown) and the process exits 128 + the signal's number
//! (130, 143, 129). If the dashboard thread is stuck (a read on a hung-up terminal), the signal
//! thread restores the terminal and exits itself once the trainer is done.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// How long the dashboard thread gets, after the trainer is done, to restore and exit itself.
const GRACE: Duration = Duration::from_secs(3);

/// The exit status after signal `sig`, as a shell reports it.
pub fn exit_status(sig: i32) -> i32 {
    128 + sig
}

/// Watches for the three signals on a thread of its own.
pub struct SignalWatch {
    flag: Arc<AtomicBool>,
    caught: Arc<AtomicI32>,
}

impl SignalWatch {
    /// Installs the watch; on the first signal `then` runs on the signal thread (ask the trainer
    /// to stop and wait for it); the dashboard sees `flag()` set.
    pub fn install(then: impl FnOnce() + Send + 'static) -> anyhow::Result<SignalWatch> {
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .context("installing the signal handler")?;
        let watch = SignalWatch {
            flag: Arc::new(AtomicBool::new(false)),
            caught: Arc::new(AtomicI32::new(0)),
        };
        let (flag, caught) = (Arc::clone(&watch.flag), Arc::clone(&watch.caught));
        std::thread::Builder::new()
            .name("convtop-signals".into())
            .spawn(move || {
                let Some(sig) = signals.forever().next() else {
                    return;
                };
                caught.store(sig, Ordering::SeqCst);
                flag.store(true, Ordering::SeqCst);
                then();
                std::thread::sleep(GRACE);
                // still here: the dashboard thread is stuck; nothing else will restore it
                let _ = ratatui::try_restore();
                std::process::exit(exit_status(sig));
            })
            .context("starting the signal thread")?;
        Ok(watch)
    }

    /// Set once a signal arrived: the dashboard polls it every frame and leaves.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// 128 + the signal, if one arrived.
    pub fn exit_code(&self) -> Option<i32> {
        match self.caught.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(exit_status(sig)),
        }
    }
}
