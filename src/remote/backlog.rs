//! What a viewer that connects late is sent first, kept small whatever the run's length: the
//! run's description with the current knobs, then what the run history gives a late viewer
//! (`RunHistory::backlog`: the autopilot's state, the knob changes, the roll-backs, recent
//! iterations thinned with age), the latest evaluation and the latest state. The full history is in metrics.jsonl,
//! which `attach` reads first.

use super::protocol;
use crate::train::history::RunHistory;
use crate::train::{EvalStats, Event, RunInfo, RunState};

/// Iterations sent: the newest half whole, the older ones thinned.
pub const MAX_ITERS: usize = 1024;

#[derive(Default)]
pub struct Backlog {
    info: Option<RunInfo>,
    state: Option<RunState>,
    eval: Option<EvalStats>,
    history: RunHistory,
}

impl Backlog {
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::Started(info) => self.info = Some((**info).clone()),
            Event::State(state) => self.state = Some(*state),
            Event::Evaluation(e) => {
                self.eval = Some(e.clone());
                self.history.push_event(event);
            }
            // diagnostics reach a late viewer through metrics.jsonl: resent, they would show twice
            Event::Diagnostic(_) => {}
            _ => {
                self.history.push_event(event);
            }
        }
    }

    /// The protocol lines a new viewer gets, in order.
    pub fn lines(&self) -> Vec<String> {
        let mut events = Vec::new();
        if let Some(info) = &self.info {
            let mut info = info.clone();
            if let Some(last) = self.history.last {
                info.knobs = last.knobs;
            }
            events.push(Event::Started(Box::new(info)));
        }
        events.extend(self.history.backlog(MAX_ITERS));
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
    use crate::train::history::backlog::MAX_KNOBS;
    use crate::train::{IterStats, KnobChange};
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

    fn iter(iteration: u64, data_loss: f32) -> IterStats {
        IterStats {
            iteration,
            epoch: 0.0,
            data_loss,
            reg_loss: 0.0,
            batch_accuracy: 0.5,
            knobs: Knobs::default(),
            images_per_sec: 1.0,
        }
    }

    fn knob_changes(b: &Backlog) -> Vec<KnobChange> {
        b.history
            .backlog(MAX_ITERS)
            .into_iter()
            .filter_map(|e| match e {
                Event::KnobChanged(k) => Some(k),
                _ => None,
            })
            .collect()
    }

    fn iterations(b: &Backlog) -> Vec<IterStats> {
        b.history
            .backlog(MAX_ITERS)
            .into_iter()
            .find_map(|e| match e {
                Event::Iterations(batch) => Some(batch),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_flood_of_knob_changes_stays_small() {
        let mut b = Backlog::default();
        // 50,000 changes at one iteration that end where they began: nothing to tell
        for i in 0..50_000 {
            let (old, new) = if i % 2 == 0 { (0.1, 0.2) } else { (0.2, 0.1) };
            b.record(&Event::KnobChanged(change(7, old, new)));
        }
        assert_eq!(knob_changes(&b).len(), 0);
        // one change at each of 50,000 iterations: the newest MAX_KNOBS
        for i in 0..50_000 {
            b.record(&Event::KnobChanged(change(i, 0.1, 0.2)));
        }
        let sent = knob_changes(&b);
        assert_eq!(sent.len(), MAX_KNOBS);
        assert_eq!(sent.last().map(|k| k.iteration), Some(49_999));
        let bytes: usize = b.lines().iter().map(String::len).sum();
        assert!(bytes < 64 * 1024, "{bytes} bytes");
    }

    #[test]
    fn iterations_are_thinned_with_age_the_newest_kept_whole_and_a_spike_kept() {
        let mut b = Backlog::default();
        for i in 1..=100_000 {
            let loss = if i == 777 { 1e20 } else { 1.0 };
            b.record(&Event::Iterations(vec![iter(i, loss)]));
        }
        let sent = iterations(&b);
        assert!(sent.len() <= MAX_ITERS, "{}", sent.len());
        let newest: Vec<u64> = sent.iter().rev().take(400).map(|s| s.iteration).collect();
        assert_eq!(newest, (99_601..=100_000).rev().collect::<Vec<_>>());
        // the older ones thinned by the charts' rule: the spike is among them
        assert!(sent.iter().any(|s| s.iteration == 777));
        assert!(sent.first().is_some_and(|s| s.iteration == 1));
        assert!(sent.windows(2).all(|w| w[0].iteration < w[1].iteration));
    }

    #[test]
    fn a_late_viewer_gets_the_current_knobs_the_autopilot_and_the_latest_evaluation() {
        let mut b = Backlog::default();
        b.record(&Event::Autopilot { on: true });
        let mut s = iter(5, 1.0);
        s.knobs.learning_rate = 0.003;
        b.record(&Event::Iterations(vec![s]));
        b.record(&Event::State(RunState::Paused));
        let lines = b.lines().join("\n");
        assert!(lines.contains("\"on\":true"), "{lines}");
        assert!(lines.contains("\"iteration\":5"), "{lines}");
        assert!(lines.contains("paused"), "{lines}");
    }
}
