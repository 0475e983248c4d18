//! The advice corpus: real short trainings, each labelled with the diagnostics that must fire (by
//! an iteration) and the ones that must not; each run again with `--autopilot` to measure that
//! following the advice helps. The embedded-MNIST corpus runs here; the real-data one
//! (../shared/datasets) runs with `CONVTOP_CORPUS=real` (`scripts/advice_corpus.sh`).

mod harness;

use convtop::train::{DiagnosticKind as K, TrainConfig};
use harness::{Outcome, Scenario, ratio, run, score, table_row};

fn base(flags: &'static str, name: &'static str, cfg: TrainConfig) -> Scenario {
    Scenario {
        name,
        flags,
        cfg,
        must: Vec::new(),
        allowed: Vec::new(),
        is_healthy: false,
        near_healthy: false,
    }
}

/// The scenarios on the embedded MNIST subset (18,000 training images: 563 iterations an epoch).
fn embedded() -> Vec<Scenario> {
    let d = TrainConfig::default;
    let mut healthy = base("(defaults: mnist, 3 epochs)", "healthy", d());
    healthy.is_healthy = true;
    let mut diverging = base(
        "--lr 5",
        "too high, diverging",
        TrainConfig { lr: 5.0, ..d() },
    );
    diverging.must = vec![(K::Divergence, 10)];
    diverging.allowed = vec![K::DeadRelu];
    diverging.near_healthy = true;
    let mut killing = base(
        "--lr 0.5",
        "too high, not diverging (dead ReLUs)",
        TrainConfig { lr: 0.5, ..d() },
    );
    // dead from iteration 50 on; called dead at the third layer check in a row
    killing.must = vec![(K::DeadRelu, 150)];
    killing.near_healthy = true;
    let mut low = base("--lr 1e-4", "too low", TrainConfig { lr: 1e-4, ..d() });
    low.must = vec![(K::LearningRateTooLow, 563)];
    low.near_healthy = true;
    let mut overfit = base(
        "--val-frac 0.9 --lambda 0 --epochs 15 --eval-every 57",
        "overfitting",
        TrainConfig {
            val_frac: 0.9,
            lambda: 0.0,
            epochs: 15,
            eval_every: 57,
            ..d()
        },
    );
    overfit.must = vec![(K::Overfitting, 900)];
    overfit.allowed = vec![K::Plateau];
    let mut underfit = base(
        "--net \"avgpool14 fc10\" --epochs 2 --eval-every 100",
        "underfitting",
        TrainConfig {
            net: "avgpool14 fc10".into(),
            epochs: 2,
            eval_every: 100,
            ..d()
        },
    );
    underfit.must = vec![(K::Underfitting, 700)];
    underfit.allowed = vec![K::Plateau];
    let mut plateau = base(
        "--lr-decay 1 --epochs 6 --eval-every 141",
        "plateau (constant rate)",
        TrainConfig {
            lr_decay: Some(1.0),
            epochs: 6,
            eval_every: 141,
            ..d()
        },
    );
    plateau.must = vec![(K::Plateau, 3378)];
    plateau.allowed = vec![K::Overfitting];
    // the defaults trained long: 100% of the training images right from epoch 13, the val loss's
    // median over three evaluations 6% above its best at epoch 17 (called at 9571; measured:
    // 98.25% without the advice, 98.40% with it); one epoch's slack for the float order of
    // another CPU's kernels
    let mut long = base(
        "--epochs 20",
        "trained long",
        TrainConfig { epochs: 20, ..d() },
    );
    long.must = vec![(K::Overfitting, 10134)];
    long.allowed = vec![K::Plateau];
    vec![
        healthy, diverging, killing, low, overfit, underfit, plateau, long,
    ]
}

/// Runs every scenario twice, prints the README table and the scores, and checks the bar.
fn measure(all: &[Scenario]) {
    // CORPUS_ONLY=word runs the scenarios whose name contains it (while tuning one of them).
    let only = std::env::var("CORPUS_ONLY").unwrap_or_default();
    let scenarios: Vec<&Scenario> = all.iter().filter(|s| s.name.contains(&only)).collect();
    let mut results: Vec<(Outcome, Outcome)> = Vec::new();
    for s in &scenarios {
        let plain = run(s.cfg.clone(), false);
        let auto = run(s.cfg.clone(), true);
        eprintln!(
            "{}: {:.0} s + {:.0} s, val {:.2}% / {:.2}% with the autopilot, val loss {:.3} / {:.3}",
            s.name,
            plain.secs,
            auto.secs,
            100.0 * plain.final_val,
            100.0 * auto.final_val,
            plain.final_val_loss,
            auto.final_val_loss
        );
        for d in plain.diagnostics.iter().chain(&auto.diagnostics) {
            eprintln!(
                "    @{} {:?} {:?}: {} — {}",
                d.iteration, d.kind, d.severity, d.title, d.evidence
            );
        }
        results.push((plain, auto));
    }
    println!(
        "| scenario | flags | diagnostics fired (iteration) | advice | val acc | with --autopilot | autopilot changes |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (s, (plain, auto)) in scenarios.iter().zip(&results) {
        println!("{}", table_row(s, plain, auto));
    }
    let pairs: Vec<_> = scenarios
        .iter()
        .copied()
        .zip(results.iter().map(|(p, _)| p))
        .collect();
    println!("\n| diagnostic | TP | FP | FN | precision | recall |\n|---|---|---|---|---|---|");
    for (kind, tp, fp, fneg) in score(&pairs) {
        println!(
            "| {kind:?} | {tp} | {fp} | {fneg} | {} | {} |",
            ratio(tp, tp + fp),
            ratio(tp, tp + fneg)
        );
    }
    // The healthy recipe on the same data and net is each scenario's reference.
    let healthy_of = |s: &Scenario| {
        scenarios
            .iter()
            .copied()
            .zip(&results)
            .find(|(h, _)| h.is_healthy && h.cfg.data == s.cfg.data && h.cfg.net == s.cfg.net)
            .map(|(_, (p, _))| p.final_val)
    };
    let mut failures = Vec::new();
    for (s, (plain, auto)) in scenarios.iter().zip(&results) {
        for (kind, by) in &s.must {
            match plain.first(*kind) {
                Some(d) if d.iteration <= *by => {}
                Some(d) => failures.push(format!(
                    "{}: {kind:?} late, @{} > {by}",
                    s.name, d.iteration
                )),
                None => failures.push(format!("{}: {kind:?} never fired", s.name)),
            }
        }
        for d in plain.warnings() {
            let is_expected =
                s.must.iter().any(|(k, _)| *k == d.kind) || s.allowed.contains(&d.kind);
            if !is_expected {
                failures.push(format!(
                    "{}: unexpected {:?} @{}: {}",
                    s.name, d.kind, d.iteration, d.title
                ));
            }
        }
        if s.is_healthy {
            if !auto.autopilot_changes.is_empty() && auto.final_val < plain.final_val - 0.002 {
                failures.push(format!(
                    "{}: the autopilot cost {:.2} points",
                    s.name,
                    100.0 * (plain.final_val - auto.final_val)
                ));
            }
        } else if auto.final_val < plain.final_val {
            // the bar, strictly: at least the accuracy without it
            failures.push(format!(
                "{}: autopilot {:.2}% < {:.2}% without",
                s.name,
                100.0 * auto.final_val,
                100.0 * plain.final_val
            ));
        }
        // overfitting's symptom is a rising validation loss: following the advice must lower it
        let is_overfit = s.must.iter().any(|(k, _)| *k == K::Overfitting);
        if is_overfit && auto.final_val_loss >= plain.final_val_loss {
            failures.push(format!(
                "{}: val loss {:.3} with the autopilot, {:.3} without",
                s.name, auto.final_val_loss, plain.final_val_loss
            ));
        }
        if s.near_healthy
            && let Some(h) = healthy_of(s)
            && auto.final_val < h - 0.01
        {
            failures.push(format!(
                "{}: autopilot {:.2}% is more than 1 point below healthy {:.2}%",
                s.name,
                100.0 * auto.final_val,
                100.0 * h
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn embedded_corpus_diagnoses_every_scenario_and_the_autopilot_helps() {
    measure(&embedded());
}

/// `../shared/datasets` (or `CONVTOP_DATASETS`), if it holds MNIST and CIFAR-10.
fn datasets() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CONVTOP_DATASETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets")
        });
    let is_there = dir.join("mnist").is_dir() && dir.join("cifar10").is_dir();
    if !is_there {
        eprintln!("skipped: {} has no mnist/ and cifar10/", dir.display());
    }
    is_there.then_some(dir)
}

/// vggish with dropout after each pool: its first steps at lr 0.02 switch most of its last ReLU
/// layer off for a while (73%, 62%, 47% at iterations 50, 100, 150), and it learns all along.
const DEEP_PLAIN: &str = "conv32k3p1 relu conv32k3p1 relu pool2 dropout0.2 conv64k3p1 relu \
                          conv64k3p1 relu pool2 dropout0.2 conv128k3p1 relu conv128k3p1 relu \
                          pool2 dropout0.2 fc10";

/// The real-data scenarios: the README's recipes on full MNIST and CIFAR-10, and CIFAR-10 made sick.
fn real(dir: &std::path::Path) -> Vec<Scenario> {
    let mnist = format!("idx:{}", dir.join("mnist").display());
    let cifar = format!("folder:{}", dir.join("cifar10").display());
    let d = TrainConfig::default;
    let mut mnist_recipe = base(
        "--data idx:…/mnist --epochs 10 --augment pad1 --lambda 5e-4",
        "healthy: full MNIST, README recipe",
        TrainConfig {
            data: mnist,
            epochs: 10,
            crop: "pad1".into(),
            lambda: 5e-4,
            ..d()
        },
    );
    mnist_recipe.is_healthy = true;
    let mut cifar_default = base(
        "--net cifar --data folder:…/cifar10 (README command, defaults: 3 epochs)",
        "healthy: CIFAR-10 defaults",
        TrainConfig {
            data: cifar.clone(),
            net: "cifar".into(),
            ..d()
        },
    );
    cifar_default.is_healthy = true;
    let mut cifar_high = base(
        "--net cifar --data folder:…/cifar10 --lr 0.15",
        "too high (the old advice's ×3): CIFAR-10",
        TrainConfig {
            data: cifar.clone(),
            net: "cifar".into(),
            lr: 0.15,
            ..d()
        },
    );
    cifar_high.must = vec![(K::DeadRelu, 200)];
    cifar_high.near_healthy = true;
    let mut cifar_raw = base(
        "--net cifar --data folder:…/cifar10 --preprocess none",
        "poor preprocessing: CIFAR-10 without mean subtraction",
        TrainConfig {
            data: cifar.clone(),
            net: "cifar".into(),
            preprocess: "none".into(),
            ..d()
        },
    );
    cifar_raw.must = vec![(K::Preprocessing, 1)];
    cifar_raw.allowed = vec![K::DeadRelu, K::InitialLoss];
    let mut deep_start = base(
        "--net \"vggish with dropout0.2 after each pool\" --data folder:…/cifar10 --batch 128 --lr 0.02 --lambda 5e-4 --augment pad4,flip --preprocess standardize --val-frac 0.04 --max-iterations 400",
        "healthy: a deep plain net's slow start (CIFAR-10)",
        TrainConfig {
            data: cifar,
            net: DEEP_PLAIN.into(),
            batch: 128,
            lr: 0.02,
            lambda: 5e-4,
            crop: "pad4".into(),
            flip: Some(true),
            preprocess: "standardize".into(),
            val_frac: 0.04,
            max_iterations: 400,
            ..d()
        },
    );
    // its loss sits at chance for ~60 iterations and relu6 is mostly off at first, then comes back
    deep_start.is_healthy = true;
    vec![
        mnist_recipe,
        cifar_default,
        cifar_high,
        cifar_raw,
        deep_start,
    ]
}

/// The long corpus on real data: `CONVTOP_CORPUS=real` (scripts/advice_corpus.sh) runs it.
#[test]
fn real_data_corpus() {
    if std::env::var("CONVTOP_CORPUS").as_deref() != Ok("real") {
        eprintln!("skipped: the real-data corpus takes ~20 min; run scripts/advice_corpus.sh");
        return;
    }
    let Some(dir) = datasets() else { return };
    measure(&real(&dir));
}
