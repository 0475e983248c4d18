//! Diagnostics over synthetic metric streams: each one fires on its pattern and names its numbers,
//! stays silent on a healthy run, and does not repeat itself on every call.

use convtop::train::diagnostics::{
    DecaySchedule, Diagnostics, DiagnosticsConfig, ReduceOnPlateau, is_diverged,
};
use convtop::train::{
    Diagnostic, DiagnosticKind, EvalStats, IterStats, Knob, Knobs, LayerStats, RollbackTarget,
    Severity,
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
            "0.4 → 0.412 → 0.455 → 0.498",
            "1200, 1500, 1800, 2100",
            "0.34 → 0.22",
            "raise λ ×3 (1.0e-4 → 3.0e-4)",
            "raise λ ×3 (1.0e-4 → 3.0e-4)",
            "consider random crops",
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
    let mut first = None;
    for (k, (train_loss, val_loss)) in points.into_iter().enumerate() {
        let it = 32 * (k as u64 + 8);
        let fired = d.on_evaluation(&eval_stats(it, (train_loss, 1.0), (val_loss, 0.955)));
        let o = of_kind(&fired, DiagnosticKind::Overfitting);
        if k < 3 {
            assert!(o.is_empty(), "early at {it}");
        }
        first = first.or(o.first().cloned());
    }
    // the median of the last three, 0.182, is 5% above the best four evaluations after it, train
    // loss 0.050 → 0.0005 (at 352 the median was 0.176: the last reading alone was 0.182)
    let o = first.expect("overfitting fired");
    assert_eq!(o.iteration, 416);
    assert_mentions(
        &o,
        &[
            "0.182 → 0.179 → 0.192 at iterations 352, 384, 416 (median 0.182)",
            "5% above its best 0.173 at iteration 256",
            "0.05 → 5.00e-4",
        ],
    );
}

#[test]
fn a_healthy_runs_val_loss_bump_close_to_its_train_loss_is_not_overfitting() {
    // The README's full-MNIST recipe (--epochs 10 --augment pad1 --lambda 5e-4), one evaluation
    // an epoch: its val loss sat 9% above its best for three epochs, then set new bests.
    let epochs = [
        (0.0576, 0.9837, 0.0553, 0.9812),
        (0.0393, 0.9870, 0.0518, 0.9828),
        (0.0504, 0.9855, 0.0670, 0.9808),
        (0.0298, 0.9895, 0.0371, 0.9892),
        (0.0261, 0.9913, 0.0384, 0.9872),
        (0.0262, 0.9920, 0.0411, 0.9860),
        (0.0251, 0.9922, 0.0403, 0.9883),
        (0.0195, 0.9937, 0.0313, 0.9900),
        (0.0187, 0.9953, 0.0321, 0.9897),
        (0.0191, 0.9940, 0.0294, 0.9903),
    ];
    let mut d = mnist();
    let mut warned = Vec::new();
    for (k, (tl, ta, vl, va)) in epochs.into_iter().enumerate() {
        let it = 1688 * (k as u64 + 1);
        warned.extend(d.on_evaluation(&eval_stats(it, (tl, ta), (vl, va))));
    }
    assert!(
        of_kind(&warned, DiagnosticKind::Overfitting).is_empty(),
        "{warned:#?}"
    );
    // The same bump with the train loss far below (a net memorising its data): overfitting.
    let memorising = |mut d: Diagnostics| {
        d.on_iteration(&iter_stats(1, 2.3));
        let mut warned = Vec::new();
        for (k, (tl, ta, vl, va)) in epochs.into_iter().take(7).enumerate() {
            let it = 1688 * (k as u64 + 1);
            warned.extend(d.on_evaluation(&eval_stats(it, (tl / 10.0, ta), (vl, va))));
        }
        warned
    };
    let warned = memorising(mnist());
    let o = of_kind(&warned, DiagnosticKind::Overfitting);
    assert_eq!(o.len(), 1, "{warned:#?}");
    assert_mentions(
        &o[0],
        &["9% above its best 0.0371", "consider random crops, h-flips"],
    );
    // Digits: a mirrored 2 is no 2, so flips are not offered (they are off by default for them).
    let warned = memorising(Diagnostics::new(DiagnosticsConfig {
        are_mirrors_alike: false,
        ..DiagnosticsConfig::new(10)
    }));
    let o = of_kind(&warned, DiagnosticKind::Overfitting);
    assert_mentions(&o[0], &["consider random crops, or stop"]);
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
            "best val loss 0.3 at iteration 4500",
            "5 evaluations",
            "best val accuracy 93.00% at iteration 1500",
            "neither improved in the 5 evaluations",
            "latest 0.302, 93.00% at iteration 12000",
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
            "last finite loss 1.85 at iteration 9",
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
            "data loss 43 at iteration 2",
            "iteration 1: 2.3",
            "10 × the start 2.303 = 23.03",
            "1.0e-2 → 1.0e-3",
        ],
    );
    for t in 3..300 {
        assert!(d.on_iteration(&iter_stats(t, 3.0)).is_empty(), "at {t}");
    }
}

/// What lr `lr` does to `mnist` when it is far too low (the corpus's lr 1e-4): update/weight
/// ratios ~8e-5 and a loss that creeps down from ln 10; `dead` is relu1's dead fraction.
fn slow_run(d: &mut Diagnostics, lr: f32, dead: f32, evals_every: u64) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let total = 3 * ITERS_PER_EPOCH;
    let loss = |t: u64| 2.30 - 0.5 * t as f32 / total as f32;
    for t in 1..=total {
        let mut s = iter_stats(t, loss(t));
        s.knobs.learning_rate = lr;
        out.extend(d.on_iteration(&s));
        if t % 50 == 0 {
            let layers = [
                layer("conv1", 4.0, 8e-5, None),
                layer("relu1", 0.0, 0.0, Some(dead)),
                layer("fc1", 2.0, 8e-5, None),
            ];
            out.extend(d.on_layer_stats(t, &layers));
        }
        if t % evals_every == 0 {
            out.extend(d.on_evaluation(&eval_stats(t, (loss(t), 0.7), (loss(t), 0.7))));
        }
    }
    out
}

#[test]
fn a_dead_network_is_not_told_to_raise_its_learning_rate() {
    let mut d = mnist();
    let ds = slow_run(&mut d, 1e-4, 1.0, 500);
    assert!(
        of_kind(&ds, DiagnosticKind::LearningRateTooLow).is_empty(),
        "{ds:#?}"
    );
    // dead at the layer checks of iterations 50, 100 and 150: called dead at the third
    assert_eq!(of_kind(&ds, DiagnosticKind::DeadRelu)[0].iteration, 150);
}

#[test]
fn huge_and_non_finite_losses_read_in_three_figures() {
    // What the evidence said before: `data loss 543434775372005071912960.000`.
    let mut d = mnist();
    assert!(d.on_iteration(&iter_stats(1, 2.30)).is_empty());
    let ds = d.on_iteration(&iter_stats(2, 5.434_348e23));
    assert_mentions(&ds[0], &["data loss 5.43e23 at iteration 2"]);
    let mut d = mnist();
    assert!(d.on_iteration(&iter_stats(1, 2.30)).is_empty());
    let ds = d.on_iteration(&iter_stats(2, f32::NAN));
    assert_mentions(
        &ds[0],
        &["data loss NaN", "last finite loss 2.3 at iteration 1"],
    );
}

#[test]
fn initial_loss_sanity_check() {
    let first = |iteration, loss| mnist().on_iteration(&iter_stats(iteration, loss));
    let high = first(0, 6.5);
    assert_eq!(high[0].kind, DiagnosticKind::InitialLoss);
    assert_eq!(high[0].severity, Severity::Warn);
    assert_mentions(&high[0], &["6.5", "ln 10 = 2.303", "4.197 above"]);
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
fn learning_rate_too_low_waits_for_the_first_epoch_and_names_a_rate() {
    let mut d = mnist();
    // Evaluations every third of an epoch: the ones before the first epoch ends say nothing.
    let ds = slow_run(&mut d, 1e-4, 0.0, 500);
    assert!(
        ds.iter()
            .all(|x| x.kind == DiagnosticKind::LearningRateTooLow),
        "{ds:#?}"
    );
    // Reported at the first evaluation after the epoch, then reminded after the cooldown.
    let at: Vec<u64> = ds.iter().map(|x| x.iteration).collect();
    assert_eq!(at, [ITERS_PER_EPOCH, 4000]);
    let low = &ds[0];
    assert_eq!(low.kind, DiagnosticKind::LearningRateTooLow);
    assert_eq!(low.iteration, ITERS_PER_EPOCH);
    assert_mentions(low, &["ratio 8.0e-5", "healthy ~1.0e-2", "1.0e-4 → 4.0e-2"]);
    // 3 × 1e-2 / 8e-5 = 375: the rate that would give a ratio near 3e-2, rounded to 4e-2.
    let value = low.action.as_ref().and_then(|a| a.knob).map(|k| k.value);
    assert!(
        value.is_some_and(|v| (v - 0.04).abs() < 1e-6),
        "{:?}",
        low.action
    );
}

#[test]
fn a_fast_falling_loss_is_not_a_low_rate() {
    // CIFAR's default stalls near 1.78 for hundreds of iterations in its first epoch, at healthy
    // ratios: no verdict, whatever the loss does before the epoch ends.
    let mut d = mnist();
    for t in 1..=ITERS_PER_EPOCH {
        d.on_iteration(&iter_stats(t, 1.78));
        if t % 50 == 0 {
            assert!(
                d.on_layer_stats(t, &[layer("conv1", 4.0, 8e-3, None)])
                    .is_empty()
            );
        }
    }
    let e = eval_stats(ITERS_PER_EPOCH, (1.67, 0.38), (1.68, 0.38));
    assert!(d.on_evaluation(&e).is_empty());
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
    assert!(d.on_layer_stats(400, &with(0.80)).is_empty());
    assert!(d.on_layer_stats(450, &with(0.83)).is_empty());
    let ds = d.on_layer_stats(500, &with(0.83));
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].kind, DiagnosticKind::DeadRelu);
    assert_mentions(&ds[0], &["relu1", "83%", "iteration 500"]);
    assert!(d.on_layer_stats(600, &with(0.85)).is_empty());
    assert!(d.on_layer_stats(700, &with(0.10)).is_empty());
    // back over the threshold: a new streak of three checks before it is called dead again
    assert!(d.on_layer_stats(800, &with(0.90)).is_empty());
    assert!(d.on_layer_stats(850, &with(0.90)).is_empty());
    assert_eq!(d.on_layer_stats(900, &with(0.90)).len(), 1);
}

/// Feeds a real run's losses (one per layer check, held in between) and relu fractions.
fn replay(trace: &[(u64, f32, [f32; 2])]) -> Vec<Diagnostic> {
    let mut d = mnist();
    let mut out = Vec::new();
    let mut t = 1;
    for &(at, loss, [early, late]) in trace {
        while t <= at {
            out.extend(d.on_iteration(&iter_stats(t, loss)));
            t += 1;
        }
        let layers = [
            layer("conv1", 3.0, 1e-3, None),
            layer("relu1", 0.0, 0.0, Some(early)),
            layer("relu2", 0.0, 0.0, Some(late)),
        ];
        out.extend(d.on_layer_stats(at, &layers));
    }
    out
}

#[test]
fn a_deep_nets_slow_start_is_not_a_dead_network() {
    // vggish with dropout after each pool, lr 0.02, batch 128, CIFAR-10: the second step's loss
    // was 14.6, the loss sat at chance until iteration ~60, and relu6 (here relu2) was mostly off
    // at first and came back; the run went on to 40% at its first epoch. Called dead at iteration
    // 50, its advice (back to the start, lr ÷10) would have thrown that away.
    let trace = [
        (50, 2.279, [0.28, 0.73]),
        (100, 2.078, [0.34, 0.62]),
        (150, 2.077, [0.28, 0.47]),
        (200, 1.809, [0.28, 0.42]),
        (250, 1.784, [0.31, 0.43]),
        (300, 1.741, [0.28, 0.36]),
    ];
    let ds = replay(&trace);
    assert!(of_kind(&ds, DiagnosticKind::DeadRelu).is_empty(), "{ds:#?}");
    // Still falling from its peak at the third check, though over the threshold: coming back.
    let mut recovering = trace;
    recovering[2].2[1] = 0.55;
    let ds = replay(&recovering);
    assert!(of_kind(&ds, DiagnosticKind::DeadRelu).is_empty(), "{ds:#?}");
}

#[test]
fn a_killed_network_is_called_dead_at_its_third_check() {
    // `cifar` at lr 0.15 on CIFAR-10 (the corpus's scenario): relu3 85% off, then 100% for good,
    // and the loss never leaves chance.
    let ds = replay(&[
        (50, 2.266, [0.30, 0.85]),
        (100, 2.291, [0.35, 1.0]),
        (150, 2.307, [0.40, 1.0]),
    ]);
    let dead = of_kind(&ds, DiagnosticKind::DeadRelu);
    assert_eq!(dead.len(), 1, "{ds:#?}");
    assert_eq!(dead[0].iteration, 150);
    assert_mentions(
        &dead[0],
        &[
            "relu2",
            "100%",
            "at chance",
            "roll back to the starting weights",
            "÷10",
        ],
    );
}

#[test]
fn update_ratio_too_high_after_warmup_but_no_verdict_near_zero_loss() {
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
    assert_eq!(ds.len(), 1, "{ds:#?}");
    assert_eq!(ds[0].kind, DiagnosticKind::UpdateRatio);
    assert_mentions(&ds[0], &["fc1", "5.0e-1", "too high", "1.0e-2 → 1.0e-3"]);
    assert!(d.on_layer_stats(600, &layers).is_empty());
    // An overfitting run (train loss ≈ 0): small gradients are convergence, not a low rate.
    let mut d = mnist();
    d.on_iteration(&iter_stats(1, 2.3));
    d.on_evaluation(&eval_stats(1500, (0.003, 1.0), (0.19, 0.957)));
    let small = [
        layer("conv1", 3.0, 5e-5, None),
        layer("fc1", 2.0, 0.5, None),
    ];
    assert!(d.on_layer_stats(1550, &small).is_empty());
    d.on_evaluation(&eval_stats(3000, (0.003, 1.0), (0.19, 0.957)));
    let ds = d.on_evaluation(&eval_stats(4500, (0.003, 1.0), (0.19, 0.957)));
    assert!(
        of_kind(&ds, DiagnosticKind::LearningRateTooLow).is_empty(),
        "{ds:#?}"
    );
}

#[test]
fn every_rate_verdict_carries_its_action_and_old_records_still_read() {
    let mut d = mnist();
    d.on_iteration(&iter_stats(1, 2.30));
    let ds = d.on_iteration(&iter_stats(2, 43.0));
    let action = ds[0].action.clone().expect("divergence has an action");
    assert_eq!(action.rollback, Some(RollbackTarget::Start));
    assert_eq!(action.knob.map(|k| k.knob), Some(Knob::LearningRate));
    let json = r#"{"iteration":5,"kind":"plateau","severity":"warn","title":"t","evidence":"e","suggestion":"s"}"#;
    let old: Diagnostic = serde_json::from_str(json).expect("a record from before actions");
    assert_eq!(old.action, None);
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

/// One evaluation of a real run's trace (`tests/traces/*.csv`).
struct TracedEval {
    iteration: u64,
    epoch: f64,
    train: (f32, f32),
    val: (f32, f32),
}

fn read_trace(name: &str) -> Vec<TracedEval> {
    let path = format!("{}/tests/traces/{name}.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("trace file");
    let number = |field: &str| field.parse::<f64>().expect("a number");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("iteration"))
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(number).collect();
            TracedEval {
                iteration: f[0] as u64,
                epoch: f[1],
                train: (f[2] as f32, f[3] as f32),
                val: (f[4] as f32, f[5] as f32),
            }
        })
        .collect()
}

/// Replays a traced run whose rate started at `lr` and fell by `factor` an epoch over `epochs`;
/// the diagnostics are told of that schedule when `is_scheduled`. The verdicts of `kind`, with
/// the epoch each came at.
fn verdicts_of(
    trace: &[TracedEval],
    decay: (f32, f32, u32),
    is_scheduled: bool,
    kind: DiagnosticKind,
) -> Vec<(f64, Diagnostic)> {
    let (lr0, factor, epochs) = decay;
    let mut d = Diagnostics::new(DiagnosticsConfig {
        lr_schedule: is_scheduled.then_some(DecaySchedule {
            per_epoch: factor,
            end_epoch: f64::from(epochs),
        }),
        ..DiagnosticsConfig::new(10)
    });
    let mut best = 0.0;
    let mut out = Vec::new();
    for t in trace {
        let lr = lr0 * factor.powf(t.epoch as f32 - 1.0);
        let mut s = iter_stats(t.iteration, t.train.0);
        s.epoch = t.epoch;
        s.knobs.learning_rate = lr;
        d.on_iteration(&s);
        let mut e = eval_stats(t.iteration, t.train, t.val);
        e.epoch = t.epoch;
        e.is_best = t.val.1 > best;
        if e.is_best {
            best = t.val.1;
        }
        for p in of_kind(&d.on_evaluation(&e), kind) {
            out.push((t.epoch, p));
        }
    }
    out
}

fn plateaus_of(
    trace: &[TracedEval],
    decay: (f32, f32, u32),
    is_scheduled: bool,
) -> Vec<(f64, Diagnostic)> {
    verdicts_of(trace, decay, is_scheduled, DiagnosticKind::Plateau)
}

/// The epoch and accuracy of a trace's best validation accuracy (its best checkpoint).
fn best_of(trace: &[TracedEval]) -> (f64, f32) {
    trace.iter().fold((0.0, 0.0), |(at, best), t| {
        if t.val.1 > best {
            (t.epoch, t.val.1)
        } else {
            (at, best)
        }
    })
}

#[test]
fn a_stall_half_way_through_a_decay_schedule_is_not_a_plateau() {
    // cudaconvnet on CIFAR-10 without augmentation: val loss stalls from epoch 25 and val
    // accuracy creeps from 77% to its best, 79.32%, at epoch 79, under ×0.959 an epoch
    let trace = read_trace("cudaconvnet_110_epochs");
    let (best_epoch, best_acc) = best_of(&trace);
    assert_eq!((best_epoch, best_acc), (79.0, 0.7932));
    let decay = (0.02, 0.959, 110);
    // read as a constant rate, both stall for five evaluations at epoch 32: that is the call
    let constant = plateaus_of(&trace, decay, false);
    assert_eq!(constant.first().map(|(e, _)| *e), Some(32.0));
    // with the schedule known, nothing while it still has more than ÷3 to go
    let scheduled = plateaus_of(&trace, decay, true);
    let (first_epoch, first) = scheduled.first().expect("a plateau near the end");
    assert_eq!(*first_epoch, 84.0);
    assert!(*first_epoch > best_epoch);
    assert_mentions(
        first,
        &[
            "best val accuracy 79.32% at iteration 35550",
            "neither improved in the 5 evaluations",
            "the schedule lowers the rate only ÷2.97 more",
            "roll back to the best checkpoint (iteration 35550)",
        ],
    );
}

#[test]
fn a_val_loss_stall_while_accuracy_still_rises_is_not_a_plateau() {
    // vggish with dropout, crops and flips: the val loss stalled at epochs 68 and 75 (the old
    // rule's calls) while val accuracy went on to 84.25% at epoch 80
    let trace = read_trace("vggish_dropout_120_epochs");
    let (best_epoch, best_acc) = best_of(&trace);
    assert_eq!((best_epoch, best_acc), (80.0, 0.8425));
    let scheduled = plateaus_of(&trace, (0.02, 0.96235, 120), true);
    let epochs: Vec<f64> = scheduled.iter().map(|(e, _)| *e).collect();
    assert!(
        epochs.iter().all(|&e| e > best_epoch),
        "a plateau before the best checkpoint: {epochs:?}"
    );
    assert_mentions(
        &scheduled[0].1,
        &["best val accuracy 84.25% at iteration 30000"],
    );
}

#[test]
fn a_loops_told_schedule_decides_as_the_trainers_own_does() {
    // the stalled stream of `plateau_after_patience_evaluations_without_improvement`, from a
    // PyTorch loop whose scheduler still has ÷20, then ÷2, to go
    let stalled = |left: Option<f32>| {
        let mut d = mnist();
        d.on_iteration(&iter_stats(1000, 0.4));
        let val = [0.50, 0.40, 0.300, 0.302, 0.301, 0.303, 0.3005, 0.302, 0.301];
        let mut plateaus = Vec::new();
        for (k, v) in val.into_iter().enumerate() {
            d.note_schedule_left(left);
            let e = eval_stats(1500 * (k as u64 + 1), (0.3, 0.95), (v, 0.93));
            plateaus.extend(of_kind(&d.on_evaluation(&e), DiagnosticKind::Plateau));
        }
        plateaus
    };
    assert!(stalled(Some(0.05)).is_empty());
    let p = stalled(Some(0.5));
    assert_eq!(p.len(), 1);
    assert_mentions(&p[0], &["lowers the rate only ÷2 more"]);
    assert_eq!(stalled(None).len(), 1, "unknown: judged as a constant rate");
}

#[test]
fn one_noisy_evaluation_above_the_best_is_not_overfitting() {
    // cudaconvnet without augmentation read 0.677 at epoch 50, 6% above its best 0.639, between
    // 0.653 and 0.643; its val accuracy set its best (79.32%) at epoch 79. Neither real trace
    // climbs for three evaluations or drifts 5% in its median, nor has a 10-point gap widening.
    for (name, decay) in [
        ("cudaconvnet_110_epochs", (0.02, 0.959, 110)),
        ("vggish_dropout_120_epochs", (0.02, 0.96235, 120)),
    ] {
        let trace = read_trace(name);
        let spike = trace.iter().find(|t| t.epoch == 50.0).expect("epoch 50");
        if name.starts_with("cudaconvnet") {
            assert!((spike.val.0 - 0.6773).abs() < 1e-4);
        }
        let calls = verdicts_of(&trace, decay, true, DiagnosticKind::Overfitting);
        let epochs: Vec<f64> = calls.iter().map(|(e, _)| *e).collect();
        assert!(
            epochs.is_empty(),
            "{name}: overfitting at epochs {epochs:?}"
        );
    }
}
