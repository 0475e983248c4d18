//! Random search over the learning rate and λ, log-uniform and seeded: short trainings one after
//! another (each already uses every core), scored on validation data (a hold-out, or k-fold
//! cross-validation), ranked best first. Diverged trials rank last.
//!
//! A search writes `<run-dir>/<stamp>-search/`: one run directory per trial (or one `cv` directory
//! per trial with `cv`) and `search.json`, the ranked trials.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::cv::{cross_validate, train_short};
use super::error::TrainError;
use super::rundir::{RunDir, atomic_write};

/// What to search and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpec {
    pub trials: usize,
    /// Inclusive ranges, sampled log-uniformly; lo == hi fixes the value.
    pub lr: (f32, f32),
    pub lambda: (f32, f32),
    pub seed: u64,
    /// Score each trial by k-fold cross-validation instead of the validation hold-out.
    pub cv: Option<usize>,
    /// Settings (lr, λ) tried before the random ones, e.g. a baseline.
    pub extra: Vec<(f32, f32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub lr: f32,
    pub lambda: f32,
    /// Validation accuracy and loss (the mean over folds with cross-validation).
    pub val_accuracy: f32,
    pub val_loss: f32,
    /// The standard deviation over folds, with cross-validation.
    pub std_accuracy: Option<f32>,
    pub is_diverged: bool,
    pub run_dir: PathBuf,
}

impl Trial {
    fn is_usable(&self) -> bool {
        !self.is_diverged && self.val_loss.is_finite() && self.val_accuracy.is_finite()
    }
}

/// `"1e-4..1e-1"` → (1e-4, 1e-1); a single positive number fixes the value.
pub fn parse_range(text: &str) -> Result<(f32, f32), TrainError> {
    let bad = |why: &str| TrainError::Config {
        problem: format!("range {text:?}: {why} (e.g. 1e-4..1e-1)"),
    };
    let num = |s: &str| {
        s.trim()
            .parse::<f32>()
            .map_err(|_| bad("not a number"))
            .and_then(|v| {
                if v.is_finite() && v > 0.0 {
                    Ok(v)
                } else {
                    Err(bad("log-uniform needs positive bounds"))
                }
            })
    };
    let (lo, hi) = match text.split_once("..") {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let v = num(text)?;
            (v, v)
        }
    };
    if lo > hi {
        return Err(bad("the lower bound is above the upper"));
    }
    Ok((lo, hi))
}

/// Rounds to 3 significant digits, so the printed command reproduces the trial exactly.
fn round3(v: f32) -> f32 {
    format!("{v:.2e}").parse().unwrap_or(v)
}

fn log_uniform(rng: &mut ChaCha8Rng, (lo, hi): (f32, f32)) -> f32 {
    let (a, b) = (f64::from(lo).ln(), f64::from(hi).ln());
    round3((a + rng.random::<f64>() * (b - a)).exp() as f32)
}

/// The settings to try: `extra` first, then `trials` random draws from `seed`.
pub fn sample(spec: &SearchSpec) -> Vec<(f32, f32)> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x7365_6172_6368);
    let mut out = spec.extra.clone();
    for _ in 0..spec.trials {
        let lr = log_uniform(&mut rng, spec.lr);
        let lambda = log_uniform(&mut rng, spec.lambda);
        out.push((lr, lambda));
    }
    out
}

/// Best first: usable trials by validation accuracy, then lower loss; diverged ones last.
pub fn rank(trials: &mut [Trial]) {
    trials.sort_by(|a, b| {
        b.is_usable()
            .cmp(&a.is_usable())
            .then(b.val_accuracy.total_cmp(&a.val_accuracy))
            .then(a.val_loss.total_cmp(&b.val_loss))
    });
}

/// Runs every trial of `spec` on `cfg` (its lr and λ replaced) and returns them ranked, with the
/// search directory. An interrupt ends the search after the current trial.
pub fn search(
    cfg: &TrainConfig,
    spec: &SearchSpec,
    interrupted: Arc<AtomicBool>,
    progress: &mut dyn Write,
) -> Result<(Vec<Trial>, PathBuf), TrainError> {
    cfg.validate()?;
    let settings = sample(spec);
    let parent = RunDir::create(&cfg.run_dir, "search")?;
    let mut trials = Vec::with_capacity(settings.len());
    for (i, &(lr, lambda)) in settings.iter().enumerate() {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        let mut trial_cfg = cfg.clone();
        trial_cfg.lr = lr;
        trial_cfg.lambda = lambda;
        trial_cfg.run_dir = parent.path.clone();
        let trial = match spec.cv {
            Some(k) => {
                let s = cross_validate(
                    &trial_cfg,
                    k,
                    Arc::clone(&interrupted),
                    &mut std::io::sink(),
                )?;
                Trial {
                    lr,
                    lambda,
                    val_accuracy: s.mean_accuracy as f32,
                    val_loss: s.mean_loss as f32,
                    std_accuracy: Some(s.std_accuracy as f32),
                    is_diverged: s.is_diverged,
                    run_dir: s.dir,
                }
            }
            None => {
                let s = train_short(trial_cfg, Arc::clone(&interrupted), &mut std::io::sink())?;
                Trial {
                    lr,
                    lambda,
                    val_accuracy: s.val_accuracy,
                    val_loss: s.val_loss,
                    std_accuracy: None,
                    is_diverged: s.is_diverged || !s.is_usable(),
                    run_dir: s.run_dir,
                }
            }
        };
        let _ = writeln!(
            progress,
            "trial {:>2}/{}  lr {:.2e}  λ {:.2e}  val acc {:>6.2}%  loss {:.4}{}",
            i + 1,
            settings.len(),
            lr,
            lambda,
            100.0 * trial.val_accuracy,
            trial.val_loss,
            if trial.is_diverged {
                "  (diverged)"
            } else {
                ""
            }
        );
        trials.push(trial);
    }
    rank(&mut trials);
    let json = serde_json::to_string_pretty(&trials).map_err(|e| TrainError::Config {
        problem: e.to_string(),
    })?;
    atomic_write(&parent.file("search.json"), json.as_bytes())?;
    Ok((trials, parent.path))
}

/// The ranked table.
pub fn table(trials: &[Trial]) -> String {
    let mut s = format!(
        "{:>4}  {:>9}  {:>9}  {:>15}  {:>8}  run\n",
        "rank", "lr", "λ", "val acc", "val loss"
    );
    for (i, t) in trials.iter().enumerate() {
        let acc = match t.std_accuracy {
            Some(sd) => format!("{:.2}% ± {:.2}", 100.0 * t.val_accuracy, 100.0 * sd),
            None => format!("{:.2}%", 100.0 * t.val_accuracy),
        };
        s += &format!(
            "{:>4}  {:>9.2e}  {:>9.2e}  {:>15}  {:>8.4}  {}{}\n",
            i + 1,
            t.lr,
            t.lambda,
            acc,
            t.val_loss,
            t.run_dir.display(),
            if t.is_diverged { "  (diverged)" } else { "" }
        );
    }
    s
}
