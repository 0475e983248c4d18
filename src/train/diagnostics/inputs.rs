//! A check of the first training batch's inputs (after preprocessing and augmentation) against
//! what a He-initialised first layer expects: every channel centred on zero, of a moderate scale.
//! Inputs all of one sign make every weight of a first-layer unit move the same way at each step
//! (the zig-zag of CS231n's "data preprocessing" notes); a scale far from 1 skews the first
//! layer's outputs away from the variance its initialisation was chosen for.

use ndarray::Array4;

use super::{Diagnostics, diagnostic, fig};
use crate::train::events::{Diagnostic, DiagnosticKind, Severity};

/// A channel is off-centre when |mean| exceeds its standard deviation: most of its values then
/// share one sign. Measured on first batches (64 images): `--preprocess none` on CIFAR-10 gives
/// |mean|/std ≈ 1.9 and ends 9.5 points below `standardize` (46.86% vs 56.38%, 3 epochs); on
/// the embedded MNIST ≈ 0.4 (mostly black digits), where no preprocessing costs nothing
/// measurable; `channel-mean` and `standardize` give < 0.05. 1.0 sits between them.
const OFF_CENTRE_RATIO: f32 = 1.0;
/// A channel std outside [0.01, 10]: pixels scaled to [0, 1] have std ≈ 0.2–0.4, standardised
/// ones 1; 0–255 values give ≈ 60 and a channel divided twice by 255 ≈ 0.001. No loader of
/// convtop produces these; a folder of 16-bit images or a bridge caller's tensors can.
const MIN_STD: f32 = 0.01;
const MAX_STD: f32 = 10.0;

/// Per-channel (mean, standard deviation) of a batch.
///
/// # Shapes
/// - x: (n, c, h, w)
pub fn channel_stats(x: &Array4<f32>) -> Vec<(f32, f32)> {
    let (n, c, h, w) = x.dim();
    let count = (n * h * w).max(1) as f64;
    (0..c)
        .map(|ch| {
            let plane = x.index_axis(ndarray::Axis(1), ch);
            let (sum, squares) = plane.iter().fold((0.0f64, 0.0f64), |(s, q), &v| {
                let v = f64::from(v);
                (s + v, q + v * v)
            });
            let mean = sum / count;
            let var = (squares / count - mean * mean).max(0.0);
            (mean as f32, var.sqrt() as f32)
        })
        .collect()
}

impl Diagnostics {
    /// Judges the inputs of a fresh run's first batch; `preprocess` names the preprocessing.
    pub fn on_first_batch(
        &mut self,
        iteration: u64,
        x: &Array4<f32>,
        preprocess: &str,
    ) -> Option<Diagnostic> {
        if iteration > super::INITIAL_ITERATION_MAX || x.is_empty() {
            return None;
        }
        let stats = channel_stats(x);
        let worst_ratio = stats
            .iter()
            .map(|&(m, s)| m.abs() / s.max(f32::MIN_POSITIVE))
            .fold(0.0f32, f32::max);
        let is_off_centre = worst_ratio > OFF_CENTRE_RATIO;
        let is_badly_scaled = stats
            .iter()
            .any(|&(_, s)| !(MIN_STD..=MAX_STD).contains(&s));
        if !is_off_centre && !is_badly_scaled {
            return None;
        }
        let list = |f: fn(&(f32, f32)) -> f32| {
            stats
                .iter()
                .map(|v| fig(f(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let problem = match (is_off_centre, is_badly_scaled) {
            (true, true) => "not zero-centred and badly scaled",
            (true, false) => "not zero-centred",
            _ => "badly scaled",
        };
        Some(diagnostic(
            iteration,
            DiagnosticKind::Preprocessing,
            Severity::Warn,
            format!("inputs are {problem}: preprocessing `{preprocess}`"),
            format!(
                "first batch ({} images) after preprocessing `{preprocess}`: channel means {} \
                 and standard deviations {} (|mean|/std up to {worst_ratio:.2}, allowed \
                 {OFF_CENTRE_RATIO:.1}; std allowed {MIN_STD}–{MAX_STD}); a He-initialised \
                 first layer expects zero-centred inputs of about unit scale",
                x.dim().0,
                list(|v| v.0),
                list(|v| v.1)
            ),
            "restart with `--preprocess standardize` (per-channel mean and std, fitted on the \
             training split): preprocessing is fixed before the first iteration and cannot \
             change mid-run, so neither `a` nor the autopilot can apply this"
                .to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::diagnostics::DiagnosticsConfig;

    /// A batch of 2 images, 2 channels of 2×2: channel 0 holds `a`, channel 1 holds `b`.
    fn batch(a: [f32; 8], b: [f32; 8]) -> Array4<f32> {
        let mut x = Array4::zeros((2, 2, 2, 2));
        for (i, v) in x.iter_mut().enumerate() {
            // (n, c, h, w) order: elements 0–3 are image 0 channel 0, 4–7 image 0 channel 1, ...
            let (img, ch, k) = (i / 8, (i / 4) % 2, i % 4);
            *v = if ch == 0 {
                a[img * 4 + k]
            } else {
                b[img * 4 + k]
            };
        }
        x
    }

    #[test]
    fn channel_stats_are_per_channel() {
        let x = batch([0., 2., 0., 2., 0., 2., 0., 2.], [5.; 8]);
        // channel 0: mean 1, std 1; channel 1: mean 5, std 0
        assert_eq!(channel_stats(&x), vec![(1.0, 1.0), (5.0, 0.0)]);
    }

    #[test]
    fn fires_on_off_centre_or_badly_scaled_inputs_only() {
        let check = |x: &Array4<f32>| {
            Diagnostics::new(DiagnosticsConfig::default()).on_first_batch(1, x, "none")
        };
        // centred, std 1: fine
        let good = batch(
            [-1., 1., -1., 1., -1., 1., -1., 1.],
            [1., -1., 1., -1., 1., -1., 1., -1.],
        );
        assert!(check(&good).is_none());
        // pixels in [0, 1] like CIFAR without preprocessing: mean 0.5 > std 0.25
        let raw = batch(
            [0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75],
            [0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75],
        );
        let d = check(&raw).expect("off-centre inputs");
        assert_eq!(d.kind, DiagnosticKind::Preprocessing);
        assert!(
            d.action.is_none(),
            "a restart is no action the app can take"
        );
        assert!(d.suggestion.contains("--preprocess standardize"));
        // centred but 0–255 in scale
        let big = batch([-60., 60., -60., 60., -60., 60., -60., 60.], good_b());
        assert!(check(&big).is_some_and(|d| d.title.contains("badly scaled")));
        // a resumed run is not judged
        let mut later = Diagnostics::new(DiagnosticsConfig::default());
        assert!(later.on_first_batch(500, &raw, "none").is_none());
    }

    fn good_b() -> [f32; 8] {
        [1., -1., 1., -1., 1., -1., 1., -1.]
    }
}
