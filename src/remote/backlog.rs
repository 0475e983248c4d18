//! What a viewer that connects late is sent first, kept small whatever the run's length: the
//! run's description with the current knobs, the autopilot's on/off state, the latest state and
//! evaluation, the knob changes (merged within an iteration, at most `MAX_KNOBS`), and recent
//! iterations, thinned with age to at most `MAX_ITERS`. The full history is in metrics.jsonl,
//! which `attach` reads first.

use std::collections::VecDeque;

use super::protocol;
use crate::train::{EvalStats, Event, IterStats, KnobChange, RunInfo, RunState};

/// Knob changes kept; older ones are in metrics.jsonl.
pub const MAX_KNOBS: usize = 256;
/// Iterations kept: the newest half at full density, older ones every other, again and again.
pub const MAX_ITERS: usize = 1024;

#[derive(Default)]
pub struct Backlog {
    info: Option<RunInfo>,
    state: Option<RunState>,
    /// The autopilot's latest switch, if it was ever switched (on at the start counts).
    autopilot: Option<bool>,
    eval: Option<EvalStats>,
    knobs: VecDeque<KnobChange>,
    iters: VecDeque<IterStats>,
}

impl Backlog {
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::Started(info) => self.info = Some((**info).clone()),
            Event::State(state) => self.state = Some(*state),
            Event::Autopilot { on } => self.autopilot = Some(*on),
            Event::Evaluation(e) => self.eval = Some(e.clone()),
            Event::KnobChanged(k) => self.knob(k),
            Event::Iterations(batch) => {
                for s in batch {
                    if self.iters.len() >= MAX_ITERS {
                        self.thin();
                    }
                    self.iters.push_back(*s);
                }
            }
            _ => {}
        }
    }

    /// Several changes of one knob at one iteration are one change; one that undoes itself, none.
    fn knob(&mut self, k: &KnobChange) {
        let same = self
            .knobs
            .iter()
            .rposition(|c| c.knob == k.knob && c.iteration == k.iteration);
        match same {
            Some(i) => {
                self.knobs[i].new = k.new;
                self.knobs[i].source = k.source;
                self.knobs[i].reason.clone_from(&k.reason);
                if self.knobs[i].old == self.knobs[i].new {
                    self.knobs.remove(i);
                }
            }
            None => self.knobs.push_back(k.clone()),
        }
        if self.knobs.len() > MAX_KNOBS {
            self.knobs.pop_front();
        }
    }

    /// Drops every other iteration of the older half.
    fn thin(&mut self) {
        let half = self.iters.len() / 2;
        let kept: VecDeque<IterStats> = self
            .iters
            .iter()
            .enumerate()
            .filter(|(i, _)| *i >= half || i % 2 == 1)
            .map(|(_, s)| *s)
            .collect();
        self.iters = kept;
    }

    /// The protocol lines a new viewer gets, in order.
    pub fn lines(&self) -> Vec<String> {
        let mut events = Vec::new();
        if let Some(info) = &self.info {
            let mut info = info.clone();
            if let Some(last) = self.iters.back() {
                info.knobs = last.knobs;
            }
            events.push(Event::Started(Box::new(info)));
        }
        if let Some(on) = self.autopilot {
            events.push(Event::Autopilot { on });
        }
        events.extend(self.knobs.iter().cloned().map(Event::KnobChanged));
        if !self.iters.is_empty() {
            events.push(Event::Iterations(self.iters.iter().copied().collect()));
        }
        if let Some(e) = &self.eval {
            events.push(Event::Evaluation(e.clone()));
        }
        if let Some(state) = self.state {
            events.push(Event::State(state));
        }
        events.iter().map(protocol::event_line).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{Knob, KnobSource, Knobs};

    fn change(iteration: u64, old: f64, new: f64) -> KnobChange {
        KnobChange {
            iteration,
            knob: Knob::LearningRate,
            old,
            new,
            source: KnobSource::Hand,
            reason: None,
        }
    }

    fn iter(iteration: u64) -> IterStats {
        IterStats {
            iteration,
            epoch: 0.0,
            data_loss: 1.0,
            reg_loss: 0.0,
            batch_accuracy: 0.5,
            knobs: Knobs::default(),
            images_per_sec: 1.0,
        }
    }

    #[test]
    fn a_flood_of_knob_changes_stays_small() {
        let mut b = Backlog::default();
        // 50,000 changes at one iteration that end where they began: nothing to tell
        for i in 0..50_000 {
            let (old, new) = if i % 2 == 0 { (0.1, 0.2) } else { (0.2, 0.1) };
            b.record(&Event::KnobChanged(change(7, old, new)));
        }
        assert_eq!(b.knobs.len(), 0);
        // one change at each of 50,000 iterations: the newest MAX_KNOBS
        for i in 0..50_000 {
            b.record(&Event::KnobChanged(change(i, 0.1, 0.2)));
        }
        assert_eq!(b.knobs.len(), MAX_KNOBS);
        assert_eq!(b.knobs.back().map(|k| k.iteration), Some(49_999));
        let bytes: usize = b.lines().iter().map(String::len).sum();
        assert!(bytes < 64 * 1024, "{bytes} bytes");
    }

    #[test]
    fn iterations_are_thinned_with_age_and_the_newest_kept_whole() {
        let mut b = Backlog::default();
        for i in 1..=100_000 {
            b.record(&Event::Iterations(vec![iter(i)]));
        }
        assert!(b.iters.len() <= MAX_ITERS);
        let newest: Vec<u64> = b
            .iters
            .iter()
            .rev()
            .take(400)
            .map(|s| s.iteration)
            .collect();
        assert_eq!(newest, (99_601..=100_000).rev().collect::<Vec<_>>());
        // older ones thinned: the kept ones reach further back than their number
        assert!(
            b.iters
                .front()
                .is_some_and(|s| s.iteration < 100_000 - MAX_ITERS as u64)
        );
        assert!(
            b.iters
                .iter()
                .zip(b.iters.iter().skip(1))
                .all(|(a, c)| a.iteration < c.iteration)
        );
    }
}
