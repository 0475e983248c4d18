//! Diagnostics over synthetic metric streams: each one fires on its pattern and names its numbers,
//! stays silent on a healthy run, and does not repeat itself on every call.

use convtop::train::diagnostics::{Diagnostics, DiagnosticsConfig, ReduceOnPlateau, is_diverged};
use convtop::train::{
    Diagnostic, DiagnosticKind, EvalStats, IterStats, Knobs, LayerStats, Severity,
};

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

#[test]
fn overfitting_on_rising_val_loss_names_the_numbers_once() {
    let mut d = mnist();
    d.on_iteration(&iter_stats(600, 0.5));
    let points = [
        (600, 0.45, 0.60),
        (900, 0.38, 0.45),
        (1200, 0.34, 0.400),
        (1500, 0.31, 0.412),
        (1800, 0.26, 0.455),
        (2100, 0.22, 0.498),
    ];
    let mut fired = Vec::new();
    for (it, train, val) in points {
        let mut e = eval_stats(it, (train, 0.92), (val, 0.90));
        e.is_best = it == 1200;
        fired.push(of_kind(&d.on_evaluation(&e), DiagnosticKind::Overfitting));
    }
    assert!(
        fired[..5].iter().all(Vec::is_empty),
        "fired too early: {fired:#?}"
    );
    let o = &fired[5][0];
    assert_eq!(o.severity, Severity::Warn);
    assert_eq!(o.iteration, 2100);
    assert_mentions(
        o,
        &[
            "0.400 → 0.412 → 0.455 → 0.498",
            "1200, 1500, 1800, 2100",
            "0.340 → 0.220",
            "raise λ ×3 (1.0e-4 → 3.0e-4)",
            "enable random crops",
            "best checkpoint (iteration 1200)",
        ],
    );
    // Still rising: silent until the cool-down of 5 evaluations, then one reminder.
    let mut reminders = Vec::new();
    for j in 1..=5u64 {
        let e = eval_stats(
            2100 + 300 * j,
            (0.22 * 0.95f32.powi(j as i32), 0.95),
            (0.498 * 1.08f32.powi(j as i32), 0.88),
        );
        reminders.push(of_kind(&d.on_evaluation(&e), DiagnosticKind::Overfitting).len());
    }
    assert_eq!(reminders, [0, 0, 0, 0, 1]);
}

#[test]
fn overfitting_on_a_slow_noisy_drift_above_the_best_val_loss() {
    // a big net memorising 1,000 images: val loss wobbles up from its best 0.173 while the train
    // loss collapses; no three consecutive rises, no 10-point accuracy gap
    let mut d = mnist();
    let points = [
        (0.050, 0.173),
        (0.010, 0.176),
        (0.004, 0.174),
        (0.002, 0.182),
        (0.001, 0.179),
        (0.0005, 0.192),
    ];
    let mut fired = Vec::new();
    for (k, (train_loss, val_loss)) in points.into_iter().enumerate() {
        let it = 32 * (k as u64 + 8);
        fired = d.on_evaluation(&eval_stats(it, (train_loss, 1.0), (val_loss, 0.955)));
        if k < 5 {
            assert!(
                of_kind(&fired, DiagnosticKind::Overfitting).is_empty(),
                "early at {it}"
            );
        }
    }
    // 0.192 / 0.173 − 1 = 11% above the best, train loss 0.050 → 0.0005
    let o = &of_kind(&fired, DiagnosticKind::Overfitting)[0];
    assert_mentions(
        o,
        &[
            "0.192",
            "11% above its best 0.173 at iteration 256",
            "0.050 → 0.001",
        ],
    );
}

#[test]
fn overfitting_on_a_wide_and_widening_accuracy_gap() {
    let mut d = mnist();
    let points = [
        (0.90, 0.85, 0.45),
        (0.94, 0.85, 0.44),
        (0.97, 0.855, 0.445),
        (0.99, 0.86, 0.44),
    ];
    let mut last = Vec::new();
    for (k, (train_acc, val_acc, val_loss)) in points.into_iter().enumerate() {
        let it = 1500 * (k as u64 + 1);
        last = d.on_evaluation(&eval_stats(
            it,
            (0.3 - 0.05 * k as f32, train_acc),
            (val_loss, val_acc),
        ));
        if k < 3 {
            assert!(of_kind(&last, DiagnosticKind::Overfitting).is_empty());
        }
    }
    let o = &of_kind(&last, DiagnosticKind::Overfitting)[0];
    assert_mentions(
        o,
        &[
            "99.0%",
            "86.0%",
            "gap of 13.0 points",
            "up from 5.0 at iteration 1500",
        ],
    );
}

#[test]
fn underfitting_after_the_loss_flattens_with_poor_close_accuracies() {
    let mut d = mnist();
    d.on_iteration(&iter_stats(1000, 1.9));
    let train = [1.90, 1.70, 1.655, 1.650, 1.648, 1.647, 1.6465];
    let mut counts = Vec::new();
    let mut first = None;
    for (k, loss) in train.into_iter().enumerate() {
        let e = eval_stats(1500 * (k as u64 + 1), (loss, 0.41), (loss + 0.04, 0.40));
        let u = of_kind(&d.on_evaluation(&e), DiagnosticKind::Underfitting);
        counts.push(u.len());
        first = first.or(u.first().cloned());
    }
    // Flat only from the sixth evaluation: 1.655 → 1.647 is a 0.5% drop over three evaluations.
    assert_eq!(counts, [0, 0, 0, 0, 0, 1, 0]);
    let u = first.expect("underfitting fired");
    assert_mentions(
        &u,
        &[
            "41.0%",
            "40.0%",
            "chance 10.0%",
            "1.655 → 1.647",
            "add capacity",
            "1.0e-2 → 3.0e-2",
            "1.0e-4 → 3.3e-5",
        ],
    );
}

#[test]
fn plateau_after_patience_evaluations_without_improvement() {
    let mut d = mnist();
    d.on_iteration(&iter_stats(1000, 0.4));
    let val = [0.50, 0.40, 0.300, 0.302, 0.301, 0.303, 0.3005, 0.302, 0.301];
    let mut counts = Vec::new();
    let mut first = None;
    for (k, v) in val.into_iter().enumerate() {
        let e = eval_stats(
            1500 * (k as u64 + 1),
            (0.3 - 0.01 * k as f32, 0.95),
            (v, 0.93),
        );
        let p = of_kind(&d.on_evaluation(&e), DiagnosticKind::Plateau);
        counts.push(p.len());
        first = first.or(p.first().cloned());
    }
    assert_eq!(counts, [0, 0, 0, 0, 0, 0, 0, 1, 0]);
    let p = first.expect("plateau fired");
    assert_mentions(
        &p,
        &[
            "best val loss 0.300 at iteration 4500",
            "5 evaluations",
            "latest 0.302 at iteration 12000",
            "1.0e-2 → 1.0e-3",
        ],
    );
}

#[test]
fn divergence_on_nan_at_once_then_latched_until_rollback() {
    let mut d = mnist();
    for t in 0..10 {
        assert!(
            d.on_iteration(&iter_stats(t, 2.3 - 0.05 * t as f32))
                .is_empty()
        );
    }
    let ds = d.on_iteration(&iter_stats(10, f32::NAN));
    assert_eq!(ds.len(), 1);
    assert!(is_diverged(&ds[0]));
    assert_eq!(ds[0].severity, Severity::Error);
    assert_mentions(
        &ds[0],
        &[
            "NaN",
            "iteration 10",
            "last finite loss 1.850 at iteration 9",
            "1.0e-2 → 1.0e-3",
        ],
    );
    assert!(d.on_iteration(&iter_stats(11, f32::NAN)).is_empty());
    d.reset_after_rollback();
    assert!(d.on_iteration(&iter_stats(12, 1.0)).is_empty());
    assert!(
        d.on_iteration(&iter_stats(13, f32::INFINITY))
            .iter()
            .any(is_diverged)
    );
}

#[test]
fn divergence_on_exploding_loss_but_not_on_one_spike() {
    let mut d = mnist();
    for t in 0..20 {
        // An odd batch below the one-step limit (10 × 2.303 = 23.03) is left to the median.
        let loss = if t == 12 { 20.0 } else { 2.3 };
        assert!(
            d.on_iteration(&iter_stats(t, loss)).is_empty(),
            "a single spike at {t}"
        );
    }
    let mut fired = Vec::new();
    for k in 1..=15 {
        for x in d.on_iteration(&iter_stats(19 + k, 2.3 * 1.3f32.powi(k as i32))) {
            fired.push((19 + k, x));
        }
    }
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let (at, x) = &fired[0];
    // The median of five rising losses is the third: 2.3·1.3^(k−2) > 3·2.303 first at k = 7.
    assert_eq!(*at, 26);
    assert!(is_diverged(x));
    assert_mentions(
        x,
        &[
            "iterations 22–26",
            "start 2.303",
            "= 6.908",
            "1.0e-2 → 1.0e-3",
        ],
    );
}

#[test]
fn divergence_on_one_step_that_explodes_the_loss() {
    // What lr 5.0 does to `mnist`: 43 nats on the second step, then dead ReLUs at ~3 for good.
    let mut d = mnist();
    assert!(d.on_iteration(&iter_stats(1, 2.30)).is_empty());
    let ds = d.on_iteration(&iter_stats(2, 43.0));
    assert_eq!(ds.len(), 1, "{ds:#?}");
    assert!(is_diverged(&ds[0]));
    assert_mentions(
        &ds[0],
        &[
            "43.000 at iteration 2",
            "iteration 1: 2.300",
            "10 × the start 2.303 = 23.026",
            "1.0e-2 → 1.0e-3",
        ],
    );
    for t in 3..300 {
        assert!(d.on_iteration(&iter_stats(t, 3.0)).is_empty(), "at {t}");
    }
}

#[test]
fn a_dead_network_is_not_told_to_raise_its_learning_rate() {
    let mut d = mnist();
    d.on_layer_stats(50, &[layer("relu1", 0.0, 0.0, Some(1.0))]);
    let stuck = |d: &mut Diagnostics, from: u64| {
        (from..from + 400)
            .flat_map(|t| d.on_iteration(&iter_stats(t, 2.30)))
            .filter(|x| x.kind == DiagnosticKind::LearningRateTooLow)
            .count()
    };
    assert_eq!(stuck(&mut d, 0), 0);
    // Alive again: a flat high loss is once more a sign of a low rate.
    d.on_layer_stats(450, &[layer("relu1", 0.0, 0.0, Some(0.0))]);
    assert_eq!(stuck(&mut d, 500), 1);
}

#[test]
fn initial_loss_sanity_check() {
    let first = |iteration, loss| mnist().on_iteration(&iter_stats(iteration, loss));
    let high = first(0, 6.5);
    assert_eq!(high[0].kind, DiagnosticKind::InitialLoss);
    assert_eq!(high[0].severity, Severity::Warn);
    assert_mentions(&high[0], &["6.500", "ln 10 = 2.303", "4.197 above"]);
    assert_eq!(first(0, 2.9)[0].severity, Severity::Info);
    assert_eq!(first(1, 1.5)[0].severity, Severity::Info);
    assert!(first(0, 2.4).is_empty());
    // A resumed run starts mid-way: its first loss says nothing about the initialisation.
    assert!(first(3000, 0.1).is_empty());
    let mut d = mnist();
    d.on_iteration(&iter_stats(0, 2.3));
    assert!(d.on_iteration(&iter_stats(1, 6.5)).is_empty());
}

#[test]
fn learning_rate_too_low_on_a_flat_high_loss() {
    let mut d = mnist();
    let mut rng = Lcg(7);
    let mut fired = Vec::new();
    for t in 0..600 {
        let mut s = iter_stats(t, 2.30 + 0.01 * rng.noise());
        s.knobs.learning_rate = 1e-5;
        fired.extend(d.on_iteration(&s));
    }
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].kind, DiagnosticKind::LearningRateTooLow);
    assert_eq!(fired[0].iteration, 199);
    assert_mentions(
        &fired[0],
        &[
            "iterations 0–199",
            "at learning rate 1.0e-5",
            "1.0e-5 → 3.0e-5",
        ],
    );
    // A new rate is a new experiment: judged again after a full window.
    let mut again = Vec::new();
    for t in 600..800 {
        let mut s = iter_stats(t, 2.30 + 0.01 * rng.noise());
        s.knobs.learning_rate = 3e-5;
        again.extend(d.on_iteration(&s));
    }
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].iteration, 799);
}

#[test]
fn dead_relu_fires_once_and_again_after_it_clears() {
    let mut d = mnist();
    let with = |dead| {
        [
            layer("conv1", 3.0, 1e-3, None),
            layer("relu1", 0.0, 0.0, Some(dead)),
        ]
    };
    let ds = d.on_layer_stats(500, &with(0.83));
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].kind, DiagnosticKind::DeadRelu);
    assert_mentions(&ds[0], &["relu1", "83%", "iteration 500"]);
    assert!(d.on_layer_stats(600, &with(0.85)).is_empty());
    assert!(d.on_layer_stats(700, &with(0.10)).is_empty());
    assert_eq!(d.on_layer_stats(800, &with(0.90)).len(), 1);
}

#[test]
fn update_ratio_after_warmup_when_far_off() {
    let mut d = mnist();
    d.on_iteration(&iter_stats(10, 2.3));
    let layers = [
        layer("conv1", 3.0, 1e-7, None),
        layer("relu1", 0.0, 0.0, Some(0.0)),
        layer("fc1", 2.0, 0.5, None),
        layer("fc2", 2.0, 2e-3, None),
    ];
    assert!(
        d.on_layer_stats(10, &layers).is_empty(),
        "judged during warm-up"
    );
    let ds = d.on_layer_stats(500, &layers);
    assert_eq!(ds.len(), 2, "{ds:#?}");
    assert!(ds.iter().all(|x| x.kind == DiagnosticKind::UpdateRatio));
    assert_mentions(
        &ds[0],
        &[
            "conv1",
            "1.0e-7",
            "too low",
            "1.0e-2 → 1.0e-1",
            "about 1.0e2",
        ],
    );
    assert_mentions(&ds[1], &["fc1", "5.0e-1", "too high", "1.0e-2 → 1.0e-3"]);
    assert!(d.on_layer_stats(600, &layers).is_empty());
}

#[test]
fn reduce_on_plateau_after_patience_down_to_min_lr() {
    let mut s = ReduceOnPlateau::new(0.5, 2, 0.02).expect("valid schedule");
    let mut lr = 0.1;
    let mut changes = Vec::new();
    for _ in 0..14 {
        if let Some(new_lr) = s.on_eval(1.0, lr) {
            changes.push(new_lr);
            lr = new_lr;
        }
    }
    // The first call sets the best; each third non-improving evaluation after it halves the rate.
    assert_eq!(changes, [0.05, 0.025, 0.02]);
    let mut s = ReduceOnPlateau::new(0.5, 2, 0.0).expect("valid schedule");
    let vals = [1.0, 1.0, 1.0, 0.9, 1.0, 1.0];
    assert!(
        vals.iter().all(|v| s.on_eval(*v, 0.1).is_none()),
        "an improvement resets the count"
    );
    assert_eq!(s.on_eval(1.0, 0.1), Some(0.05));
}

#[test]
fn default_config_is_ten_classes() {
    assert_eq!(DiagnosticsConfig::default().num_classes, 10);
    assert_eq!(ReduceOnPlateau::default().factor, 0.1);
}

#[test]
fn rollback_restarts_the_plateau_patience() {
    let mut d = mnist();
    d.on_iteration(&iter_stats(1000, 0.4));
    let mut plateaus = 0;
    for k in 0..5u64 {
        let v = if k == 0 { 0.300 } else { 0.31 };
        let e = eval_stats(1500 * (k + 1), (0.25, 0.95), (v, 0.93));
        plateaus += of_kind(&d.on_evaluation(&e), DiagnosticKind::Plateau).len();
    }
    assert_eq!(
        plateaus, 0,
        "four evaluations without improvement are within patience"
    );
    d.reset_after_rollback();
    // Back at the best weights: the same val loss again is not a fifth bad evaluation.
    let e = eval_stats(1500, (0.25, 0.95), (0.300, 0.93));
    assert!(of_kind(&d.on_evaluation(&e), DiagnosticKind::Plateau).is_empty());
}
