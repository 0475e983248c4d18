//! Real runs' evaluations (`tests/traces/*.csv`) replayed: what each check says, and when.

use super::*;

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

/// The scheduled plateau calls of trace `name`, checked to come only after its best checkpoint
/// (at `best_epoch`) and to come at all: a run that stalled at the end hears of it.
fn plateaus_after_best(
    name: &str,
    decay: (f32, f32, u32),
    best_epoch: f64,
) -> Vec<(f64, Diagnostic)> {
    let trace = read_trace(name);
    assert_eq!(best_of(&trace).0, best_epoch, "{name}'s best checkpoint");
    let scheduled = plateaus_of(&trace, decay, true);
    let epochs: Vec<f64> = scheduled.iter().map(|(e, _)| *e).collect();
    assert!(!epochs.is_empty(), "{name}: no plateau at all");
    assert!(
        epochs.iter().all(|&e| e > best_epoch),
        "{name}: a plateau before the best checkpoint: {epochs:?}"
    );
    scheduled
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
    let scheduled = plateaus_after_best("vggish_dropout_120_epochs", (0.02, 0.96235, 120), 80.0);
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
    // 0.653 and 0.643; its val accuracy set its best (79.32%) at epoch 79. No real trace climbs
    // for three evaluations or drifts 5% in its median, nor has a 10-point gap widening (the
    // within-channel run ends 12 points apart, 91.5% against 79.2%, but the gap grows slowly).
    for (name, decay) in [
        ("cudaconvnet_110_epochs", (0.02, 0.959, 110)),
        ("cudaconvnet_within_110_epochs", (0.02, 0.959, 110)),
        ("vggish_dropout_120_epochs", (0.02, 0.96235, 120)),
    ] {
        let trace = read_trace(name);
        let spike = trace.iter().find(|t| t.epoch == 50.0).expect("epoch 50");
        if name == "cudaconvnet_110_epochs" {
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

#[test]
fn the_best_no_augmentation_recipe_hears_of_a_plateau_only_after_its_best() {
    // the README's best run without augmentation (78.89% test), run again on another machine to
    // the same numbers: its best val accuracy, 79.44%, at epoch 79, then 79.0–79.2% to the end
    let scheduled = plateaus_after_best("cudaconvnet_within_110_epochs", (0.02, 0.959, 110), 79.0);
    assert_mentions(
        &scheduled[0].1,
        &["best val accuracy 79.44% at iteration 35550"],
    );
}
