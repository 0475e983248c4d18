//! How a knob change is labelled on a chart (`lr 0.01→0.005`), and a roll-back
//! (`back to best @3375`).

use crate::train::events::{Knob, Restore, Rollback};

/// `back to best @3375`: which weights came back, and from which iteration when known.
pub fn rollback_label(r: &Rollback) -> String {
    let to = match r.to {
        Restore::Best => "best",
        Restore::Start => "start",
        Restore::BeforeChange => "before auto",
    };
    match r.saved_at {
        Some(at) => format!("back to {to} @{at}"),
        None => format!("back to {to}"),
    }
}

/// `lr 0.01→0.005`: the knob and its old and new values.
pub fn knob_change_label(knob: Knob, old: f64, new: f64) -> String {
    let name = match knob {
        Knob::LearningRate => "lr",
        Knob::Lambda => "λ",
        Knob::Momentum => "mom",
        Knob::BatchSize => "batch",
        Knob::AugmentCrop => "crop",
        Knob::AugmentFlip => "flip",
    };
    if knob.is_switch() {
        let on = |v: f64| if v >= 0.5 { "on" } else { "off" };
        return format!("{name} {}→{}", on(old), on(new));
    }
    format!("{name} {}→{}", short(old), short(new))
}

/// A knob value in at most 5 characters: `0.005`, `1e-4`, `0.9`, `64`.
fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&a) {
        let s = format!("{:.4}", v);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.chars().take(6).collect()
    } else {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        if (m.round() - m).abs() < 0.05 {
            format!("{}e{e}", m.round())
        } else {
            format!("{m:.1}e{e}")
        }
    }
}
