//! The keys' view of the knob authority (`train::knobs`): the ←/→ step and a typed value.

use crate::train::{Knob, knobs};

/// ←/→ on a knob, by the authority's step rule (the result is always a valid value).
pub fn step_knob(knob: Knob, current: f64, is_up: bool, is_big: bool) -> f64 {
    knobs::step(knob, current, is_up, is_big)
}

/// A typed knob value, validated by the authority; the error is the message the person sees.
pub fn parse_knob_value(knob: Knob, text: &str) -> Result<f64, String> {
    knobs::parse(knob, text).map_err(|e| format!("{e}; kept the old value"))
}
