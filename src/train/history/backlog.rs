//! What a viewer that connects late is sent from the history, kept small whatever the run's
//! length. The full history is in `metrics.jsonl`, which `attach` reads first; this covers what
//! the file may not hold yet and the state it cannot tell.

use super::{RunHistory, Series};
use crate::train::events::{Event, KnobChange};

/// Knob changes sent; older ones are in metrics.jsonl.
pub const MAX_KNOBS: usize = 256;
/// Roll-backs sent; older ones are in metrics.jsonl.
pub const MAX_ROLLBACKS: usize = 64;

impl RunHistory {
    /// The autopilot's state (when it was ever switched), the knob changes (merged within an
    /// iteration, the newest `MAX_KNOBS`), the newest `MAX_ROLLBACKS` roll-backs and at most
    /// `max_iters` iterations: the newest half
    /// whole, the older ones thinned to the lowest and highest loss of each stretch, as the
    /// charts thin them, so no spike is lost.
    pub fn backlog(&self, max_iters: usize) -> Vec<Event> {
        let mut out = Vec::new();
        if !self.autopilot.is_empty() {
            out.push(Event::Autopilot {
                on: self.is_autopilot_on(),
            });
        }
        out.extend(merged_knob_changes(&self.knob_changes).map(Event::KnobChanged));
        let recent = self.rollbacks.len().saturating_sub(MAX_ROLLBACKS);
        out.extend(
            self.rollbacks[recent..]
                .iter()
                .map(|r| Event::RolledBack(*r)),
        );
        let whole = (max_iters / 2).min(self.len());
        let split = self.len() - whole;
        let older_columns = (max_iters - whole) / 2;
        let mut kept = if older_columns == 0 {
            Vec::new()
        } else {
            self.thinned(Series::Loss, 0, split, older_columns)
        };
        kept.extend(split..self.len());
        if !kept.is_empty() {
            out.push(Event::Iterations(
                kept.into_iter().map(|i| self.iters[i]).collect(),
            ));
        }
        out
    }
}

/// Several changes of one knob at one iteration are one change, and one that undoes itself is
/// none; the newest `MAX_KNOBS` of what is left.
fn merged_knob_changes(changes: &[KnobChange]) -> impl Iterator<Item = KnobChange> {
    let mut merged: Vec<KnobChange> = Vec::new();
    for k in changes {
        let same = merged
            .iter()
            .rposition(|c| c.knob == k.knob && c.iteration == k.iteration);
        match same {
            Some(i) => {
                merged[i].new = k.new;
                merged[i].source = k.source;
                merged[i].reason.clone_from(&k.reason);
                if merged[i].old == merged[i].new {
                    merged.remove(i);
                }
            }
            None => merged.push(k.clone()),
        }
    }
    let skip = merged.len().saturating_sub(MAX_KNOBS);
    merged.into_iter().skip(skip)
}
