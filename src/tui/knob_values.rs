//! Knob value arithmetic for the keys: the ←/→ step and validation of a typed value.

use crate::train::Knob;

/// ←/→ on a knob: ×2 or ÷2 (×10, ÷10 with shift) for rates and sizes, ±0.05 (±0.1) for
/// momentum, on/off for switches.
pub fn step_knob(knob: Knob, current: f64, is_up: bool, is_big: bool) -> f64 {
    let factor = if is_big { 10.0 } else { 2.0 };
    match knob {
        Knob::LearningRate | Knob::Lambda => {
            if current <= 0.0 {
                if is_up { 1e-4 } else { 0.0 }
            } else if is_up {
                current * factor
            } else {
                current / factor
            }
        }
        Knob::Momentum => {
            let delta = if is_big { 0.1 } else { 0.05 };
            let value = if is_up {
                current + delta
            } else {
                current - delta
            };
            (value.clamp(0.0, 0.99) * 100.0).round() / 100.0
        }
        Knob::BatchSize => {
            let value = if is_up {
                current * factor
            } else {
                current / factor
            };
            value.round().clamp(1.0, 65_536.0)
        }
        Knob::AugmentCrop | Knob::AugmentFlip => {
            if current >= 0.5 {
                0.0
            } else {
                1.0
            }
        }
    }
}

/// Validates a typed knob value; the error is the message the person sees.
pub fn parse_knob_value(knob: Knob, text: &str) -> Result<f64, String> {
    let text = text.trim();
    if knob.is_switch() {
        return match text.to_ascii_lowercase().as_str() {
            "1" | "on" | "yes" | "true" => Ok(1.0),
            "0" | "off" | "no" | "false" => Ok(0.0),
            _ => Err(format!("{}: type on or off, not {text:?}", knob.label())),
        };
    }
    let value: f64 = text.parse().map_err(|_| {
        format!(
            "{}: {text:?} is not a number; kept the old value",
            knob.label()
        )
    })?;
    if !value.is_finite() {
        return Err(format!(
            "{}: must be finite; kept the old value",
            knob.label()
        ));
    }
    if value < 0.0 {
        return Err(format!(
            "{}: must not be negative; kept the old value",
            knob.label()
        ));
    }
    match knob {
        Knob::Momentum if value >= 1.0 => {
            Err("momentum: must be below 1; kept the old value".to_string())
        }
        Knob::BatchSize if value < 1.0 || value.fract() != 0.0 => {
            Err("batch size: must be a whole number ≥ 1; kept the old value".to_string())
        }
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(step_knob(Knob::LearningRate, 0.01, true, false), 0.02);
        assert_eq!(step_knob(Knob::LearningRate, 0.01, false, false), 0.005);
        assert!((step_knob(Knob::Lambda, 1e-3, true, true) - 1e-2).abs() < 1e-15);
        assert_eq!(step_knob(Knob::Momentum, 0.9, true, false), 0.95);
        assert_eq!(step_knob(Knob::BatchSize, 1.0, false, false), 1.0);
        assert_eq!(step_knob(Knob::AugmentFlip, 0.0, true, false), 1.0);
    }

    #[test]
    fn parsing() {
        assert!(parse_knob_value(Knob::LearningRate, "abc").is_err());
        assert!(parse_knob_value(Knob::LearningRate, "-1").is_err());
        assert!(parse_knob_value(Knob::LearningRate, "NaN").is_err());
        assert_eq!(parse_knob_value(Knob::LearningRate, "3e-3"), Ok(3e-3));
        assert!(parse_knob_value(Knob::BatchSize, "2.5").is_err());
        assert!(parse_knob_value(Knob::Momentum, "1.2").is_err());
        assert_eq!(parse_knob_value(Knob::AugmentCrop, "on"), Ok(1.0));
    }
}
