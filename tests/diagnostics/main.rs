//! Diagnostics over synthetic metric streams: each one fires on its pattern and names its numbers,
//! stays silent on a healthy run, and does not repeat itself on every call.

use convtop::train::diagnostics::{
    DecaySchedule, Diagnostics, DiagnosticsConfig, ReduceOnPlateau, is_diverged,
};
use convtop::train::{
    Diagnostic, DiagnosticKind, EvalStats, IterStats, Knob, Knobs, LayerStats, RollbackTarget,
    Severity,
};

mod evaluation;
mod iteration;
mod traces;

const ITERS_PER_EPOCH: u64 = 1500;

/// A 64-bit LCG (Knuth's MMIX constants): seeded, so every stream is the same on every run.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, 1) from the top 24 bits.
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-1, 1).
    fn noise(&mut self) -> f32 {
        2.0 * self.next() - 1.0
    }
}

fn knobs() -> Knobs {
    Knobs {
        learning_rate: 1e-2,
        lambda: 1e-4,
        momentum: 0.9,
        is_nesterov: false,
        batch_size: 32,
        augment_crop: false,
        augment_flip: false,
    }
}

fn iter_stats(iteration: u64, data_loss: f32) -> IterStats {
    IterStats {
        iteration,
        epoch: iteration as f64 / ITERS_PER_EPOCH as f64,
        data_loss,
        reg_loss: 0.01,
        batch_accuracy: 0.5,
        knobs: knobs(),
        images_per_sec: 1000.0,
    }
}

fn eval_stats(iteration: u64, train: (f32, f32), val: (f32, f32)) -> EvalStats {
    EvalStats {
        iteration,
        epoch: iteration as f64 / ITERS_PER_EPOCH as f64,
        train_loss: train.0,
        train_accuracy: train.1,
        val_loss: val.0,
        val_accuracy: val.1,
        confusion: Vec::new(),
        is_best: false,
    }
}

fn layer(name: &str, weight_norm: f32, update_ratio: f32, dead: Option<f32>) -> LayerStats {
    LayerStats {
        name: name.to_string(),
        weight_norm,
        grad_norm: 0.1,
        update_ratio,
        dead_fraction: dead,
        norm_divisor: None,
    }
}

fn mnist() -> Diagnostics {
    Diagnostics::new(DiagnosticsConfig::new(10))
}

fn of_kind(ds: &[Diagnostic], kind: DiagnosticKind) -> Vec<Diagnostic> {
    ds.iter().filter(|d| d.kind == kind).cloned().collect()
}

fn assert_mentions(d: &Diagnostic, needles: &[&str]) {
    let text = format!("{} | {} | {}", d.title, d.evidence, d.suggestion);
    for n in needles {
        assert!(text.contains(n), "{n:?} missing from {text:?}");
    }
}

/// Smooth MNIST-like training loss: a fast drop from ≈ ln 10 plus a slow 15%-an-epoch tail.
fn healthy_loss(t: u64) -> f32 {
    let t = t as f32;
    2.28 * (-t / 200.0).exp() + 0.13 * 0.85f32.powf(t / ITERS_PER_EPOCH as f32)
}

#[test]
fn healthy_run_raises_nothing() {
    let mut d = mnist();
    let mut rng = Lcg(42);
    let mut all = Vec::new();
    let mut best = f32::INFINITY;
    for t in 0..=10 * ITERS_PER_EPOCH {
        // At init every prediction is near uniform, so the first batches barely vary.
        let spread = 0.02 + 0.25 * (1.0 - (-(t as f32) / 50.0).exp());
        all.extend(d.on_iteration(&iter_stats(
            t,
            healthy_loss(t) * (1.0 + spread * rng.noise()),
        )));
        if t % 500 == 0 {
            let layers = [
                layer("conv1", 4.0, 1e-3 * (1.0 + 0.5 * rng.noise()), None),
                layer("relu1", 0.0, 0.0, Some(0.03 + 0.02 * rng.noise())),
                layer("fc1", 2.0, 3e-4 * (1.0 + 0.5 * rng.noise()), None),
            ];
            all.extend(d.on_layer_stats(t, &layers));
        }
        if t > 0 && t % ITERS_PER_EPOCH == 0 {
            let train = healthy_loss(t) * (1.0 + 0.02 * rng.noise());
            let val = 1.1 * healthy_loss(t) * (1.0 + 0.02 * rng.noise());
            let mut e = eval_stats(t, (train, 1.0 - 0.3 * train), (val, 1.0 - 0.3 * val));
            e.is_best = val < best;
            best = best.min(val);
            all.extend(d.on_evaluation(&e));
        }
    }
    assert!(all.is_empty(), "a healthy run raised {all:#?}");
}
