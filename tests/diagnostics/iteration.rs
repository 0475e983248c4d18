//! Checks on each iteration and layer check: divergence, the initial loss, the learning rate,
//! dead ReLUs, update ratios.

use super::*;

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
