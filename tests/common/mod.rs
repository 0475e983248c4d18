//! Helpers shared by the integration tests that drive the trainer through its channels.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use convtop::train::Event;

/// Waits for the first event that `pick` maps to Some, for at most `secs`.
pub fn wait_for<T>(
    events: &Receiver<Event>,
    secs: u64,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(ev) = events.recv_timeout(Duration::from_millis(50))
            && let Some(v) = pick(&ev)
        {
            return v;
        }
    }
    panic!("timed out waiting for an event");
}
