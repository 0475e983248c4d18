//! The knob authority: what each knob means, its valid range after conversion to the type the
//! trainer stores it in, its ←/→ step rule and how a typed value is read. The trainer, the
//! dashboard, the socket, config files and checkpoints all ask here, so a value refused here
//! never reaches a checkpoint.

use thiserror::Error;

use super::events::{Knob, Knobs};

/// Larger batches only cost memory on a CPU and stop being mini-batch SGD.
pub const MAX_BATCH: usize = 4096;
/// Below this a learning rate moves no weight of any f32 network.
pub const MIN_LEARNING_RATE: f64 = 1e-9;
/// Above this every network this trainer builds diverges at once.
pub const MAX_LEARNING_RATE: f64 = 100.0;
/// Above this the L2 penalty alone drives every weight to zero.
pub const MAX_LAMBDA: f64 = 100.0;
/// A λ step below this turns regularisation off (0) instead of creeping towards the f32 floor.
const MIN_STEPPED_LAMBDA: f64 = 1e-9;
/// The ←/→ step never takes momentum past this (the range itself allows up to just below 1).
const MAX_STEPPED_MOMENTUM: f64 = 0.99;

/// A knob value refused by the authority, with what was asked and the knob's range.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{} {value} refused: {problem} ({})", knob.label(), range_text(*knob))]
pub struct KnobError {
    pub knob: Knob,
    /// The value as it was asked for (a typed text or a formatted number).
    pub value: String,
    pub problem: String,
}

/// The trainer's meaning of each knob, one line.
pub fn meaning(knob: Knob) -> &'static str {
    match knob {
        Knob::LearningRate => "the SGD step size, applied to the gradient (stored as f32)",
        Knob::Lambda => "the L2 strength λ in λ/2·‖W‖² on weights, not biases (stored as f32)",
        Knob::Momentum => "the fraction of the last update carried into the next (stored as f32)",
        Knob::BatchSize => "training images per iteration (a whole number)",
        Knob::AugmentCrop => "random crops of training images (off 0, on 1)",
        Knob::AugmentFlip => "random horizontal flips of training images (off 0, on 1)",
    }
}

/// The valid range, as shown in messages.
pub fn range_text(knob: Knob) -> &'static str {
    match knob {
        Knob::LearningRate => "valid: 1e-9 to 100",
        Knob::Lambda => "valid: 0 to 100",
        Knob::Momentum => "valid: 0 to below 1, as a 32-bit float",
        Knob::BatchSize => "valid: a whole number from 1 to 4096",
        Knob::AugmentCrop | Knob::AugmentFlip => "valid: 0 (off) or 1 (on)",
    }
}

/// A number as a person would type it: 0.05, 1e-4, 1e39.
pub fn format_value(value: f64) -> String {
    // an f32 knob value reads as the f32 it is (1e30, not 1.000000015e30)
    let narrow = value as f32;
    if f64::from(narrow) == value && narrow.is_finite() {
        let a = narrow.abs();
        if narrow != 0.0 && !(1e-4..1e6).contains(&a) {
            return format!("{narrow:e}");
        }
        return format!("{narrow}");
    }
    let a = value.abs();
    if value != 0.0 && a.is_finite() && !(1e-4..1e6).contains(&a) {
        // ten significant digits, so a JSON reader's 9.999999999999999e-51 reads 1e-50
        let text = format!("{value:.9e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if mantissa.contains('.') => {
                let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
                format!("{mantissa}e{exp}")
            }
            _ => text,
        }
    } else {
        format!("{value}")
    }
}

/// Checks `value` for `knob` after converting it to the stored type; returns the value as
/// stored (e.g. 0.1 → 0.10000000149011612 for an f32 knob), as the trainer will report it.
pub fn validate(knob: Knob, value: f64) -> Result<f64, KnobError> {
    let refuse = |problem: &str| KnobError {
        knob,
        value: format_value(value),
        problem: problem.to_string(),
    };
    if value.is_nan() {
        return Err(refuse("not a number"));
    }
    match knob {
        Knob::LearningRate | Knob::Lambda | Knob::Momentum => {
            let stored = value as f32;
            if !stored.is_finite() {
                return Err(refuse("it becomes infinite as a 32-bit float"));
            }
            if value != 0.0 && !stored.is_normal() {
                return Err(refuse(
                    "it becomes 0 (or loses its precision) as a 32-bit float",
                ));
            }
            // the ends are compared as f32 too: 1e-9 is allowed although 1e-9f32 < 1e-9f64
            let is_in_range = match knob {
                Knob::LearningRate => {
                    (MIN_LEARNING_RATE as f32..=MAX_LEARNING_RATE as f32).contains(&stored)
                }
                Knob::Lambda => (0.0..=MAX_LAMBDA as f32).contains(&stored),
                _ => (0.0..1.0).contains(&stored),
            };
            // read back as its shortest decimal, as `Knobs::get` reads it
            let stored = super::events::widen(stored);
            if is_in_range {
                return Ok(stored);
            }
            Err(refuse(match knob {
                Knob::LearningRate if stored <= 0.0 => "must be positive",
                Knob::LearningRate if stored < MAX_LEARNING_RATE => "too small to move any weight",
                Knob::Lambda if stored < 0.0 => "must not be negative",
                Knob::Momentum if stored < 0.0 => "must not be negative",
                Knob::Momentum if value < 1.0 => {
                    "it becomes 1 as a 32-bit float, and must stay below 1"
                }
                Knob::Momentum => "must stay below 1",
                _ => "out of range",
            }))
        }
        Knob::BatchSize => {
            if value.fract() != 0.0 {
                return Err(refuse("must be a whole number"));
            }
            if !(1.0..=MAX_BATCH as f64).contains(&value) {
                return Err(refuse("out of range"));
            }
            Ok(value)
        }
        Knob::AugmentCrop | Knob::AugmentFlip => {
            if value == 0.0 || value == 1.0 {
                Ok(value)
            } else {
                Err(refuse("a switch is 0 (off) or 1 (on)"))
            }
        }
    }
}

/// Validates `value` and stores it into `knobs`; returns the value as stored.
pub fn set(knobs: &mut Knobs, knob: Knob, value: f64) -> Result<f64, KnobError> {
    let stored = validate(knob, value)?;
    match knob {
        Knob::LearningRate => knobs.learning_rate = stored as f32,
        Knob::Lambda => knobs.lambda = stored as f32,
        Knob::Momentum => knobs.momentum = stored as f32,
        Knob::BatchSize => knobs.batch_size = stored as usize,
        Knob::AugmentCrop => knobs.augment_crop = stored == 1.0,
        Knob::AugmentFlip => knobs.augment_flip = stored == 1.0,
    }
    Ok(stored)
}

/// Checks every knob of a set (a checkpoint's, a configuration's).
pub fn validate_all(knobs: &Knobs) -> Result<(), KnobError> {
    for knob in Knob::ALL {
        validate(knob, knobs.get(knob))?;
    }
    Ok(())
}

/// ←/→ on a knob: ×2 or ÷2 (×10, ÷10 with `is_big`) for rates and sizes, ±0.05 (±0.1) for
/// momentum, on/off for switches. The result is always valid: it stops at the range's ends.
pub fn step(knob: Knob, current: f64, is_up: bool, is_big: bool) -> f64 {
    let factor = if is_big { 10.0 } else { 2.0 };
    let scaled = if is_up {
        current * factor
    } else {
        current / factor
    };
    let value = match knob {
        Knob::LearningRate if current <= 0.0 => 1e-4,
        Knob::LearningRate => scaled.clamp(MIN_LEARNING_RATE, MAX_LEARNING_RATE),
        Knob::Lambda if current <= 0.0 => {
            if is_up {
                1e-4
            } else {
                0.0
            }
        }
        Knob::Lambda if scaled < MIN_STEPPED_LAMBDA => 0.0,
        Knob::Lambda => scaled.min(MAX_LAMBDA),
        Knob::Momentum => {
            let delta = if is_big { 0.1 } else { 0.05 };
            let value = if is_up {
                current + delta
            } else {
                current - delta
            };
            (value.clamp(0.0, MAX_STEPPED_MOMENTUM) * 100.0).round() / 100.0
        }
        Knob::BatchSize => scaled.round().clamp(1.0, MAX_BATCH as f64),
        Knob::AugmentCrop | Knob::AugmentFlip => {
            if current >= 0.5 {
                0.0
            } else {
                1.0
            }
        }
    };
    // the clamps above keep every result in range; the f32 rounding is the authority's
    validate(knob, value).unwrap_or(value)
}

/// Reads a typed value (`3e-3`, `64`, `on`) and validates it.
pub fn parse(knob: Knob, text: &str) -> Result<f64, KnobError> {
    let text = text.trim();
    let refuse = |problem: &str| KnobError {
        knob,
        value: format!("{text:?}"),
        problem: problem.to_string(),
    };
    if knob.is_switch() {
        return match text.to_ascii_lowercase().as_str() {
            "1" | "on" | "yes" | "true" => Ok(1.0),
            "0" | "off" | "no" | "false" => Ok(0.0),
            _ => Err(refuse("type on or off")),
        };
    }
    let value: f64 = text.parse().map_err(|_| refuse("not a number"))?;
    validate(knob, value)
}

#[cfg(test)]
mod tests;
