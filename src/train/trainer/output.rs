//! What the trainer sends and writes: events to the viewer (never blocking, coalesced while it
//! lags) and records to metrics.jsonl (a failure is reported once; training goes on).

use std::sync::mpsc::TrySendError;
use std::time::{Duration, Instant};

use super::*;

/// How often the trainer reports its CPU, memory and threads.
const RESOURCES_EVERY: Duration = Duration::from_secs(1);

/// The trainer's own resource readings (from /proc), and since when it runs.
pub(super) struct ResourceWatch {
    started: Instant,
    last: Instant,
    sampler: Result<crate::resources::Sampler, String>,
}

impl ResourceWatch {
    pub(super) fn new() -> ResourceWatch {
        ResourceWatch {
            started: Instant::now(),
            last: Instant::now(),
            sampler: crate::resources::Sampler::new().map_err(|e| e.to_string()),
        }
    }

    fn report(&mut self) -> crate::resources::Resources {
        self.last = Instant::now();
        let usage = match &mut self.sampler {
            Ok(sampler) => sampler.sample().map_err(|e| e.to_string()),
            Err(problem) => Err(problem.clone()),
        };
        crate::resources::Resources {
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            usage,
        }
    }
}

impl Trainer {
    pub(super) fn set_state(&mut self, state: RunState) {
        self.state = state;
        self.record(&Record::State {
            iteration: self.run.iteration,
            state,
        });
        self.flush_iters();
        self.send(Event::State(state));
    }

    pub(super) fn record(&mut self, r: &Record) {
        if self.is_metrics_broken {
            return;
        }
        if let Err(e) = self.metrics.write(r) {
            self.metrics_failed(&e);
        }
    }

    /// Puts every record written so far on disk; a checkpoint is renamed into place only after.
    pub(super) fn sync_metrics(&mut self) -> Result<(), TrainError> {
        if self.is_metrics_broken {
            return Err(TrainError::Config {
                problem:
                    "metrics.jsonl could not be written, and a checkpoint must never be ahead of it"
                        .into(),
            });
        }
        let synced = self.metrics.sync();
        if let Err(e) = &synced {
            self.metrics_failed(e);
        }
        synced
    }

    pub(super) fn metrics_failed(&mut self, e: &TrainError) {
        if !self.is_metrics_broken {
            self.is_metrics_broken = true;
            let text = format!(
                "metrics.jsonl is no longer written ({e}); training goes on — free some space and save a checkpoint (s)"
            );
            self.send_message(Severity::Error, &text);
        }
    }

    pub(super) fn send_message(&mut self, level: Severity, text: &str) {
        self.send(Event::Message {
            level,
            text: text.to_string(),
        });
    }

    /// Queues an event behind any that are waiting; never blocks.
    pub(super) fn send(&mut self, ev: Event) {
        if let Event::Snapshot(_) | Event::DataView(_) | Event::Resources(_) = ev {
            // only the newest view of the network matters
            self.outbox
                .retain(|e| std::mem::discriminant(e) != std::mem::discriminant(&ev));
        }
        self.outbox.push_back(ev);
        self.drain_outbox();
    }

    pub(super) fn drain_outbox(&mut self) {
        while let Some(ev) = self.outbox.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    self.outbox.push_front(ev);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.is_viewer_gone = true;
                    self.outbox.clear();
                    return;
                }
            }
        }
    }

    pub(super) fn flush_iters(&mut self) {
        if self.pending_iters.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending_iters);
        self.outbox.push_back(Event::Iterations(batch));
        self.last_flush = Instant::now();
    }

    pub(super) fn flush_events(&mut self, force: bool) {
        if self.resources.last.elapsed() >= RESOURCES_EVERY {
            let report = self.resources.report();
            self.send(Event::Resources(Box::new(report)));
        }
        if force || self.last_flush.elapsed() >= ITER_FLUSH {
            if self.outbox.len() < CHANNEL_CAPACITY {
                self.flush_iters();
            } else if self.pending_iters.len() > MAX_PENDING_ITERS {
                // the viewer is far behind: keep every other point
                let thinned = self.pending_iters.iter().step_by(2).copied().collect();
                self.pending_iters = thinned;
            }
        }
        self.drain_outbox();
    }
}
