//! The bridge's side of the event channel: never blocks the training loop. Iteration stats are
//! batched and sent at most every `ITER_FLUSH`; while the socket server lags they are thinned.
//! About once a second the loop's process reports its CPU, memory and threads, as the native
//! trainer does.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use crate::resources::{Resources, Sampler};
use crate::train::{Event, IterStats};

/// Events waiting in the channel; past this the outbox coalesces instead of queueing.
const CHANNEL_CAPACITY: usize = 256;
/// Iteration stats are sent at most this often (they are batched in between).
const ITER_FLUSH: Duration = Duration::from_millis(50);
/// How often the process's resource use is read (from /proc) and sent.
const RESOURCES_EVERY: Duration = Duration::from_secs(1);
/// While the server lags, at most this many unsent iteration stats are kept (older ones are
/// thinned; every one of them is in metrics.jsonl regardless).
const MAX_PENDING_ITERS: usize = 4096;

pub struct Outbox {
    events: SyncSender<Event>,
    queue: VecDeque<Event>,
    pending_iters: Vec<IterStats>,
    last_flush: Instant,
    started: Instant,
    last_resources: Instant,
    sampler: Result<Sampler, String>,
}

impl Outbox {
    /// The outbox and the receiving end the socket server reads.
    pub fn new() -> (Outbox, Receiver<Event>) {
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let outbox = Outbox {
            events: tx,
            queue: VecDeque::new(),
            pending_iters: Vec::new(),
            last_flush: Instant::now(),
            started: Instant::now(),
            last_resources: Instant::now(),
            sampler: Sampler::new().map_err(|e| e.to_string()),
        };
        (outbox, rx)
    }

    /// Queues an event behind the pending iterations; never blocks.
    pub fn send(&mut self, event: Event) {
        match event {
            // only the newest view of the network, or of the machine, matters
            Event::Snapshot(_) => self.queue.retain(|e| !matches!(e, Event::Snapshot(_))),
            Event::Resources(_) => self.queue.retain(|e| !matches!(e, Event::Resources(_))),
            _ => {}
        }
        self.flush_iters();
        self.queue.push_back(event);
        self.drain();
    }

    pub fn push_iteration(&mut self, stats: IterStats) {
        self.pending_iters.push(stats);
        if self.last_resources.elapsed() >= RESOURCES_EVERY {
            self.last_resources = Instant::now();
            let usage = match &mut self.sampler {
                Ok(sampler) => sampler.sample().map_err(|e| e.to_string()),
                Err(problem) => Err(problem.clone()),
            };
            let elapsed_secs = self.started.elapsed().as_secs_f64();
            self.send(Event::Resources(Box::new(Resources {
                elapsed_secs,
                usage,
            })));
        }
        if self.last_flush.elapsed() >= ITER_FLUSH {
            if self.queue.len() < CHANNEL_CAPACITY {
                self.flush_iters();
            } else if self.pending_iters.len() > MAX_PENDING_ITERS {
                let thinned = self.pending_iters.iter().step_by(2).copied().collect();
                self.pending_iters = thinned;
            }
            self.drain();
        }
    }

    /// Sends every pending iteration now (before a state change, at the end).
    pub fn flush(&mut self) {
        self.flush_iters();
        self.drain();
    }

    fn flush_iters(&mut self) {
        if self.pending_iters.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending_iters);
        self.queue.push_back(Event::Iterations(batch));
        self.last_flush = Instant::now();
    }

    fn drain(&mut self) {
        while let Some(ev) = self.queue.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    self.queue.push_front(ev);
                    return;
                }
                // the server is gone: nobody can watch, the run directory still records all
                Err(TrySendError::Disconnected(_)) => {
                    self.queue.clear();
                    return;
                }
            }
        }
    }
}
