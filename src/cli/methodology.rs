//! `convtop test`, `convtop cv` and `convtop search`: the methodology commands. The test set is
//! looked at only by `test`; `cv` and `search` score settings on validation folds alone.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::args::TrainArgs;
use crate::train::rundir::{BEST_CHECKPOINT, LAST_CHECKPOINT};
use crate::train::{self, cv, search, vault};

#[derive(Debug, Args, Clone)]
pub struct TestArgs {
    /// The run directory, e.g. runs/20260101-120000-mnist.
    pub run: PathBuf,
    /// Which checkpoint's weights to evaluate.
    #[arg(long, default_value = "best", value_parser = ["best", "last"])]
    pub checkpoint: String,
}

/// Evaluates the test split once and records the look; warns from the second look on.
pub fn test(a: &TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    super::must_exist(&a.run, super::GIVE_A_RUN)?;
    let file = if a.checkpoint == "best" {
        BEST_CHECKPOINT
    } else {
        LAST_CHECKPOINT
    };
    if !a.run.join(file).is_file() {
        bail!(
            "{} has no {file} (a best checkpoint appears at the first evaluation); try --checkpoint last",
            a.run.display()
        );
    }
    let mut run = train::load_run(&a.run, None, file)
        .with_context(|| format!("loading {}", a.run.display()))?;
    let record = vault::evaluate_and_record(&mut run, file)?;
    writeln!(out, "{}: {}", a.run.display(), record.summary())?;
    if let Some(w) = record.warning() {
        writeln!(err, "warning: {w}")?;
    }
    writeln!(
        out,
        "recorded in {}",
        run.dir.file(vault::TEST_RECORD).display()
    )?;
    Ok(())
}

/// Short trainings default to one epoch: enough to tell good settings from absurd ones.
const SHORT_EPOCHS: u32 = 1;

#[derive(Debug, Args, Clone)]
pub struct CvArgs {
    /// Number of stratified folds; each fold is the validation data of one short training.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Training flags (as for `convtop train`); --epochs defaults to 1 here.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Ctrl-C, SIGTERM and SIGHUP end the current training cleanly and stop the loop.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .context("installing the signal handler")?;
    }
    Ok(flag)
}

pub fn cv(a: &CvArgs, out: &mut dyn Write) -> Result<()> {
    let mut cfg = super::train_config(&a.train)?;
    if a.train.epochs.is_none() {
        cfg.epochs = SHORT_EPOCHS;
    }
    let started = Instant::now();
    writeln!(
        out,
        "{}-fold cross-validation: lr {:.2e}  λ {:.2e}  {} epoch(s) a fold",
        a.folds, cfg.lr, cfg.lambda, cfg.epochs
    )?;
    let summary = cv::cross_validate(&cfg, a.folds, interrupt_flag()?, out)?;
    write!(out, "{}", summary.table())?;
    writeln!(
        out,
        "{} in {:.0} s (test set not touched)",
        summary.dir.display(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// `search` takes `--lr` and `--lambda` as ranges, so it cannot reuse `TrainArgs` (where they are
/// numbers); these are the training flags that make sense for a trial.
#[derive(Debug, Args, Clone)]
pub struct SearchArgs {
    /// Number of random trials.
    #[arg(long, default_value_t = 8)]
    pub trials: usize,
    /// Learning-rate range LO..HI, sampled log-uniformly (a single value fixes it).
    #[arg(long, default_value = "1e-4..1e-1")]
    pub lr: String,
    /// λ range LO..HI, sampled log-uniformly (a single value fixes it).
    #[arg(long, default_value = "1e-6..1e-2")]
    pub lambda: String,
    /// Score each trial by K-fold cross-validation instead of the validation hold-out.
    #[arg(long)]
    pub cv: Option<usize>,
    /// Also try this setting LR,LAMBDA (repeatable), e.g. a baseline.
    #[arg(long = "try", value_name = "LR,LAMBDA")]
    pub extra: Vec<String>,
    /// Start the full run with the best setting when the search ends.
    #[arg(long)]
    pub then_train: bool,
    /// Epochs of that full run (default: the training default).
    #[arg(long)]
    pub train_epochs: Option<u32>,
    #[arg(long)]
    pub data: Option<String>,
    #[arg(long)]
    pub net: Option<String>,
    /// Epochs of each trial (default 1).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Cap each trial at N iterations.
    #[arg(long)]
    pub max_iterations: Option<u64>,
    #[arg(long)]
    pub momentum: Option<f32>,
    #[arg(long)]
    pub nesterov: bool,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub augment: Option<String>,
    #[arg(long)]
    pub preprocess: Option<String>,
    #[arg(long)]
    pub val_frac: Option<f64>,
    /// Seeds the data split, the initialisation and the sampling of settings.
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    #[arg(long)]
    pub eval_every: Option<u64>,
    #[arg(long)]
    pub resize: Option<String>,
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl SearchArgs {
    /// The flags shared by every trial and the full run (not the trial length).
    fn train_args(&self) -> TrainArgs {
        TrainArgs {
            data: self.data.clone(),
            net: self.net.clone(),
            momentum: self.momentum,
            nesterov: self.nesterov,
            batch: self.batch,
            augment: self.augment.clone(),
            preprocess: self.preprocess.clone(),
            val_frac: self.val_frac,
            seed: self.seed,
            run_dir: self.run_dir.clone(),
            resize: self.resize.clone(),
            config: self.config.clone(),
            fps: 10,
            ..TrainArgs::default()
        }
    }
}

fn parse_extra(text: &str) -> Result<(f32, f32)> {
    let (lr, lambda) = text
        .split_once(',')
        .with_context(|| format!("--try {text}: expected LR,LAMBDA, e.g. 0.01,1e-4"))?;
    let lr = search::parse_range(lr)?.0;
    let lambda: f32 = lambda
        .trim()
        .parse()
        .ok()
        .filter(|v: &f32| v.is_finite() && *v >= 0.0)
        .with_context(|| format!("--try {text}: λ must be zero or positive"))?;
    Ok((lr, lambda))
}

/// Quotes a shell word when it needs it.
fn shell_word(s: &str) -> String {
    let is_plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=,+".contains(c));
    if is_plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The `convtop train` command of the full run with the chosen lr and λ.
pub fn train_command(a: &TrainArgs, lr: f32, lambda: f32) -> String {
    let mut words = vec!["convtop".to_string(), "train".to_string()];
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            words.push(format!("--{name}"));
            words.push(shell_word(&v));
        }
    };
    flag("data", a.data.clone());
    flag("net", a.net.clone());
    flag("epochs", a.epochs.map(|v| v.to_string()));
    flag("lr", Some(format!("{lr:.2e}")));
    flag("lambda", Some(format!("{lambda:.2e}")));
    flag("momentum", a.momentum.map(|v| v.to_string()));
    flag("batch", a.batch.map(|v| v.to_string()));
    flag("augment", a.augment.clone());
    flag("preprocess", a.preprocess.clone());
    flag("val-frac", a.val_frac.map(|v| v.to_string()));
    flag("seed", a.seed.map(|v| v.to_string()));
    flag(
        "run-dir",
        a.run_dir.as_ref().map(|p| p.display().to_string()),
    );
    flag("resize", a.resize.clone());
    flag("config", a.config.as_ref().map(|p| p.display().to_string()));
    if a.nesterov {
        words.push("--nesterov".into());
    }
    words.join(" ")
}

/// Runs the search, prints the ranked table and the command of the full run; returns the exit
/// code (of the full run with `--then-train`).
pub fn search(a: &SearchArgs, out: &mut dyn Write) -> Result<i32> {
    let base = a.train_args();
    let mut cfg = super::train_config(&base)?;
    cfg.epochs = a.epochs.unwrap_or(SHORT_EPOCHS);
    if let Some(v) = a.max_iterations {
        cfg.max_iterations = v;
    }
    if let Some(v) = a.eval_every {
        cfg.eval_every = v;
    }
    let spec = search::SearchSpec {
        trials: a.trials,
        lr: search::parse_range(&a.lr)?,
        lambda: search::parse_range(&a.lambda)?,
        seed: cfg.seed,
        cv: a.cv,
        extra: a
            .extra
            .iter()
            .map(|t| parse_extra(t))
            .collect::<Result<_>>()?,
    };
    let started = Instant::now();
    let interrupted = interrupt_flag()?;
    let (trials, dir) = search::search(&cfg, &spec, Arc::clone(&interrupted), out)?;
    write!(out, "{}", search::table(&trials))?;
    writeln!(
        out,
        "{} trials in {:.0} s, scored on {} (test set not touched); ranked in {}",
        trials.len(),
        started.elapsed().as_secs_f64(),
        a.cv.map_or("the validation hold-out".to_string(), |k| format!(
            "{k}-fold cross-validation"
        )),
        dir.join("search.json").display()
    )?;
    let Some(best) = trials.first().filter(|t| !t.is_diverged) else {
        bail!("every trial diverged: lower the learning-rate range");
    };
    let mut full = base;
    full.epochs = a.train_epochs;
    full.lr = Some(best.lr);
    full.lambda = Some(best.lambda);
    writeln!(out, "best: {}", train_command(&full, best.lr, best.lambda))?;
    if !a.then_train || interrupted.load(Ordering::Relaxed) {
        return Ok(0);
    }
    writeln!(out, "starting it…")?;
    if std::io::stdout().is_terminal() {
        super::train_interactive(&full)
    } else {
        super::train_headless(&full)
    }
}
