//! Short trainings scored on validation data only: one run (`train_short`) or a stratified k-fold
//! cross-validation (`cross_validate`). The test split is never evaluated here.
//!
//! A cross-validation writes `<run-dir>/<stamp>-cv<k>/`: one ordinary run directory per fold (its
//! `config.toml` says `fold = [k, i]`, so `eval` and `--resume` rebuild the same split) and
//! `cv.json` with every fold's score and the mean ± standard deviation.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::error::TrainError;
use super::events::RunState;
use super::rundir::{METRICS_FILE, Record, RunDir, atomic_write, read_metrics};

/// The score of one short training: its final validation evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub val_accuracy: f32,
    pub val_loss: f32,
    /// The loss went non-finite or exploded (or no evaluation happened): ranks last.
    pub is_diverged: bool,
    pub run_dir: PathBuf,
}

impl Score {
    /// Diverged or non-finite scores rank below every usable one.
    pub fn is_usable(&self) -> bool {
        !self.is_diverged && self.val_loss.is_finite() && self.val_accuracy.is_finite()
    }
}

/// Trains `cfg` headless to its end (epochs or `max_iterations`) and scores the last evaluation,
/// not the best one: picking the best of several evaluations on the same fold is itself a
/// selection on validation data and would flatter every trial.
pub fn train_short(
    cfg: TrainConfig,
    interrupted: Arc<AtomicBool>,
    log: &mut dyn Write,
) -> Result<Score, TrainError> {
    let run = super::setup::new_run(cfg)?;
    let run_dir = run.dir.path.clone();
    let handle = super::trainer::spawn(run)?;
    super::headless::run(handle, log, &mut std::io::stderr(), false, interrupted)?;
    let records = read_metrics(&run_dir.join(METRICS_FILE))?;
    let is_diverged = records.iter().any(|r| {
        matches!(
            r,
            Record::State {
                state: RunState::Diverged,
                ..
            }
        )
    });
    let last_eval = records.iter().rev().find_map(|r| match r {
        Record::Eval(e) => Some(e),
        _ => None,
    });
    Ok(match last_eval {
        Some(e) => Score {
            val_accuracy: e.val_accuracy,
            val_loss: e.val_loss,
            is_diverged,
            run_dir,
        },
        None => Score {
            val_accuracy: 0.0,
            val_loss: f32::NAN,
            is_diverged: true,
            run_dir,
        },
    })
}

/// Mean and sample standard deviation (n − 1 in the denominator: the folds are a sample of the
/// splits one could have drawn); the deviation is 0 for fewer than two values.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvSummary {
    pub k: usize,
    pub folds: Vec<Score>,
    pub mean_accuracy: f64,
    pub std_accuracy: f64,
    pub mean_loss: f64,
    pub std_loss: f64,
    /// Some fold diverged: the mean is not a usable score.
    pub is_diverged: bool,
    pub dir: PathBuf,
}

impl CvSummary {
    pub fn from_folds(k: usize, folds: Vec<Score>, dir: PathBuf) -> CvSummary {
        let acc: Vec<f64> = folds.iter().map(|s| f64::from(s.val_accuracy)).collect();
        let loss: Vec<f64> = folds.iter().map(|s| f64::from(s.val_loss)).collect();
        let (mean_accuracy, std_accuracy) = mean_std(&acc);
        let (mean_loss, std_loss) = mean_std(&loss);
        CvSummary {
            k,
            is_diverged: folds.len() < k || folds.iter().any(|s| !s.is_usable()),
            folds,
            mean_accuracy,
            std_accuracy,
            mean_loss,
            std_loss,
            dir,
        }
    }

    /// The per-fold table and the mean ± std line.
    pub fn table(&self) -> String {
        let mut s = format!("{:>4}  {:>9}  {:>8}  run\n", "fold", "val acc", "val loss");
        for (i, f) in self.folds.iter().enumerate() {
            s += &format!(
                "{:>4}  {:>8.2}%  {:>8.4}  {}{}\n",
                i,
                100.0 * f.val_accuracy,
                f.val_loss,
                f.run_dir.display(),
                if f.is_diverged { "  (diverged)" } else { "" }
            );
        }
        s += &format!(
            "mean  {:>6.2}% ± {:.2}  {:.4} ± {:.4}  ({} folds, ± is the sample standard deviation)\n",
            100.0 * self.mean_accuracy,
            100.0 * self.std_accuracy,
            self.mean_loss,
            self.std_loss,
            self.folds.len()
        );
        s
    }
}

/// One short training per fold of a stratified `k`-fold split of the training data, each fold
/// validated on its held-out part; `progress` gets one line per fold.
pub fn cross_validate(
    cfg: &TrainConfig,
    k: usize,
    interrupted: Arc<AtomicBool>,
    progress: &mut dyn Write,
) -> Result<CvSummary, TrainError> {
    let mut probe = cfg.clone();
    probe.fold = Some([k, 0]);
    probe.validate()?;
    let parent = RunDir::create(&cfg.run_dir, &format!("cv{k}"))?;
    let mut folds = Vec::with_capacity(k);
    for i in 0..k {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        let mut fold_cfg = cfg.clone();
        fold_cfg.fold = Some([k, i]);
        fold_cfg.run_dir = parent.path.clone();
        let score = train_short(fold_cfg, Arc::clone(&interrupted), &mut std::io::sink())?;
        let _ = writeln!(
            progress,
            "  fold {i} of {k}: val acc {:.2}%  loss {:.4}{}",
            100.0 * score.val_accuracy,
            score.val_loss,
            if score.is_diverged {
                "  (diverged)"
            } else {
                ""
            }
        );
        folds.push(score);
    }
    let summary = CvSummary::from_folds(k, folds, parent.path.clone());
    let json = serde_json::to_string_pretty(&summary).map_err(|e| TrainError::Config {
        problem: e.to_string(),
    })?;
    atomic_write(&parent.file("cv.json"), json.as_bytes())?;
    Ok(summary)
}
