//! Cross-validation and random search on the embedded data: folds cover the training data once,
//! the mean and standard deviation are right, and a tiny search ranks a sensible learning rate
//! above absurd ones, a diverged trial last. Trials are capped at a few dozen iterations.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use convtop::data::kfold;
use convtop::train::cv::{CvSummary, Score, cross_validate, mean_std};
use convtop::train::search::{SearchSpec, Trial, parse_range, rank, sample, search};
use convtop::train::vault::TEST_RECORD;
use convtop::train::{self, TrainConfig};

fn config(dir: &Path, max_iterations: u64) -> TrainConfig {
    TrainConfig {
        run_dir: dir.to_path_buf(),
        batch: 64,
        epochs: 1,
        max_iterations,
        val_frac: 0.05,
        ..TrainConfig::default()
    }
}

fn never() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[test]
fn mean_and_sample_standard_deviation() {
    // mean (0.9 + 0.8 + 0.7) / 3 = 0.8; squares 0.01 + 0 + 0.01 = 0.02; / (3 - 1) = 0.01; √ = 0.1
    let (mean, sd) = mean_std(&[0.9, 0.8, 0.7]);
    assert!((mean - 0.8).abs() < 1e-12 && (sd - 0.1).abs() < 1e-12);
    assert_eq!(mean_std(&[0.5]), (0.5, 0.0));
    let score = |acc: f32, loss: f32| Score {
        val_accuracy: acc,
        val_loss: loss,
        is_diverged: false,
        run_dir: PathBuf::new(),
    };
    let s = CvSummary::from_folds(2, vec![score(0.5, 1.0), score(0.7, 3.0)], PathBuf::new());
    // accuracies 0.5, 0.7: mean 0.6, sd √((0.01 + 0.01) / 1) ≈ 0.1414; losses 1, 3: mean 2, sd √2
    assert!((s.mean_accuracy - 0.6).abs() < 1e-6);
    assert!((s.std_accuracy - 0.02f64.sqrt()).abs() < 1e-6);
    assert!((s.mean_loss - 2.0).abs() < 1e-9 && (s.std_loss - 2f64.sqrt()).abs() < 1e-9);
    assert!(!s.is_diverged);
    let nan = CvSummary::from_folds(
        2,
        vec![score(0.5, 1.0), score(0.1, f32::NAN)],
        PathBuf::new(),
    );
    assert!(nan.is_diverged);
}

#[test]
fn each_fold_run_validates_on_its_fold_and_the_folds_cover_the_training_data_once() {
    let dir = tempfile::tempdir().unwrap();
    let k = 3;
    let mut seen = None::<Vec<u32>>;
    for i in 0..k {
        let mut cfg = config(dir.path(), 1);
        cfg.fold = Some([k, i]);
        let run = train::new_run(cfg).unwrap();
        let labels = &run.data.train.labels;
        let expected = kfold(labels, run.data.num_classes(), k, 1).unwrap();
        assert_eq!(run.split, expected[i]);
        let seen = seen.get_or_insert_with(|| vec![0; labels.len()]);
        for &j in &run.split.val {
            seen[j] += 1;
        }
        // the fold is saved, so eval and --resume rebuild the same split
        let reloaded = std::fs::read_to_string(run.dir.file("config.toml")).unwrap();
        assert!(
            reloaded.contains(&format!("fold = [\n    {k},\n    {i},\n]"))
                || reloaded.contains(&format!("fold = [{k}, {i}]")),
            "{reloaded}"
        );
    }
    assert!(seen.unwrap().iter().all(|&s| s == 1));
}

#[test]
fn cross_validation_scores_every_fold_and_leaves_the_test_set_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = cross_validate(&config(dir.path(), 15), 3, never(), &mut std::io::sink()).unwrap();
    assert_eq!(s.folds.len(), 3);
    let acc: Vec<f64> = s.folds.iter().map(|f| f64::from(f.val_accuracy)).collect();
    let (mean, sd) = mean_std(&acc);
    assert_eq!((s.mean_accuracy, s.std_accuracy), (mean, sd));
    assert!(
        s.mean_accuracy > 0.3,
        "15 iterations at lr 0.05 learn something: {s:?}"
    );
    assert!(s.dir.join("cv.json").is_file());
    for f in &s.folds {
        assert!(f.run_dir.starts_with(&s.dir));
        assert!(!f.run_dir.join(TEST_RECORD).exists());
    }
}

fn trial(lr: f32, acc: f32, loss: f32, diverged: bool) -> Trial {
    Trial {
        lr,
        lambda: 0.0,
        val_accuracy: acc,
        val_loss: loss,
        std_accuracy: None,
        is_diverged: diverged,
        run_dir: PathBuf::new(),
    }
}

#[test]
fn ranking_puts_accuracy_first_and_diverged_or_nan_trials_last() {
    let mut t = vec![
        trial(1.0, 0.99, f32::NAN, false),
        trial(2.0, 0.5, 1.0, false),
        trial(3.0, 0.9, 0.3, true),
        trial(4.0, 0.9, 0.4, false),
        trial(5.0, 0.9, 0.2, false),
    ];
    rank(&mut t);
    let order: Vec<f32> = t.iter().map(|t| t.lr).collect();
    assert_eq!(&order[..3], [5.0, 4.0, 2.0]);
    assert!(order[3..].contains(&1.0) && order[3..].contains(&3.0));
}

#[test]
fn sampling_is_log_uniform_within_the_range_and_seeded() {
    let spec = SearchSpec {
        trials: 200,
        lr: parse_range("1e-4..1e-1").unwrap(),
        lambda: parse_range("1e-6..1e-2").unwrap(),
        seed: 3,
        cv: None,
        extra: vec![(0.5, 0.0)],
    };
    let s = sample(&spec);
    assert_eq!(s.len(), 201);
    assert_eq!(s[0], (0.5, 0.0));
    assert_eq!(s, sample(&spec));
    let lrs: Vec<f32> = s[1..].iter().map(|p| p.0).collect();
    assert!(lrs.iter().all(|&v| (1e-4..=1e-1).contains(&v)));
    // log-uniform: about half the draws fall below the geometric midpoint 10^-2.5 ≈ 3.16e-3
    let below = lrs.iter().filter(|&&v| v < 3.162e-3).count();
    assert!(
        (70..=130).contains(&below),
        "{below} of 200 below the midpoint"
    );
    assert!(parse_range("1e-1..1e-4").is_err() && parse_range("0..1").is_err());
    assert_eq!(parse_range("0.01").unwrap(), (0.01, 0.01));
}

#[test]
fn a_tiny_search_ranks_a_sensible_learning_rate_above_absurd_ones() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SearchSpec {
        trials: 1,
        lr: (0.03, 0.05),
        lambda: (1e-4, 1e-4),
        seed: 1,
        cv: None,
        // far too small to move in 40 iterations; far too large (explodes); the largest the knob
        // authority allows (NaN at once)
        extra: vec![(1e-5, 1e-4), (3.0, 1e-4), (100.0, 1e-4)],
    };
    let (trials, search_dir) = search(
        &config(dir.path(), 40),
        &spec,
        never(),
        &mut std::io::sink(),
    )
    .unwrap();
    assert_eq!(trials.len(), 4);
    let sensible = &trials[0];
    assert!((0.03..=0.05).contains(&sensible.lr), "{trials:#?}");
    assert!(
        sensible.val_accuracy > 0.5 && !sensible.is_diverged,
        "{trials:#?}"
    );
    let last = trials.last().unwrap();
    assert_eq!(last.lr, 100.0);
    assert!(last.is_diverged, "{trials:#?}");
    assert!(search_dir.join("search.json").is_file());
    for t in &trials {
        assert!(t.run_dir.starts_with(&search_dir));
        assert!(!t.run_dir.join(TEST_RECORD).exists());
    }
}
