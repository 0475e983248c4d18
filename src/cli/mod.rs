//! What each subcommand does, between the parsed arguments and the library.

pub mod args;
pub mod detach;
mod go_on;
mod inspect;
pub mod methodology;
pub mod runs;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};

use crate::nn::gradcheck::{CheckSetup, check};
use crate::nn::spec::parse_input;
use crate::train::rundir::{BEST_CHECKPOINT, LAST_CHECKPOINT};
use crate::train::{self, TrainConfig};
use args::TrainArgs;
use inspect::default_input;
pub use inspect::{group, inspect};

/// An error and its causes on one line, each cause only once: a `TrainError::Io` already
/// shows its OS error, which anyhow's `{:#}` would repeat.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// True when the error is a write to a pipe whose reader has closed it.
pub fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// What to give instead of a path that does not exist.
pub const GIVE_A_RUN: &str =
    "give a run directory, such as runs/20260101-120000-mnist (convtop ls lists them)";

/// Refuses a path that does not exist, naming it and what to give instead (before anything
/// looks inside it and reports a missing file there).
pub fn must_exist(path: &Path, instead: &str) -> Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        bail!("{} does not exist: {instead}", path.display());
    }
    Ok(())
}

/// The run to train: a new one from the configuration, or `--resume DIR`.
fn build_run(a: &TrainArgs) -> Result<train::Run> {
    Ok(match &a.resume {
        Some(dir) => {
            must_exist(dir, GIVE_A_RUN)?;
            train::resume_run(dir, a.epochs)?
        }
        None => train::new_run(train_config(a)?)?,
    })
}

/// The configuration: defaults, then the `--config` file, then the flags.
pub fn train_config(a: &TrainArgs) -> Result<TrainConfig> {
    let mut c = match &a.config {
        Some(path) => TrainConfig::from_toml_file(path)?,
        None => TrainConfig::default(),
    };
    if let Some(v) = &a.data {
        c.data = v.clone();
    }
    if let Some(v) = &a.net {
        c.net = v.clone();
    }
    if let Some(v) = a.epochs {
        c.epochs = v;
    }
    if let Some(v) = a.lr {
        c.lr = v;
    }
    if let Some(v) = a.lambda {
        c.lambda = v;
    }
    if let Some(v) = a.momentum {
        c.momentum = v;
    }
    if a.nesterov {
        c.nesterov = true;
    }
    if let Some(v) = a.batch {
        c.batch = v;
    }
    if let Some(v) = &a.augment {
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "flip" => c.flip = Some(true),
                "noflip" => c.flip = Some(false),
                crop => c.crop = crop.to_string(),
            }
        }
    }
    if let Some(v) = &a.preprocess {
        c.preprocess = v.clone();
    }
    if let Some(v) = a.val_frac {
        c.val_frac = v;
    }
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = &a.run_dir {
        c.run_dir = v.clone();
    }
    if let Some(v) = a.eval_every {
        c.eval_every = v;
    }
    if let Some(v) = a.lr_decay {
        c.lr_decay = Some(v);
    }
    if let Some(v) = a.checkpoint_every {
        c.checkpoint_every = v;
    }
    if let Some(v) = a.max_iterations {
        c.max_iterations = v;
    }
    if let Some(v) = &a.resize {
        c.resize = Some(v.clone());
    }
    if a.autopilot {
        c.autopilot = true;
    }
    Ok(c)
}

/// Returns whether every tensor passed.
pub fn gradcheck(
    net: &str,
    input: Option<&str>,
    setup: &CheckSetup,
    tolerance: f64,
    out: &mut dyn Write,
) -> Result<bool> {
    let input = match input {
        Some(s) => parse_input(s)?,
        None => default_input(net),
    };
    let rows = check(net, input, setup)?;
    writeln!(
        out,
        "gradient check of {} on {}×{}×{}, batch {}, λ {}",
        net, input[0], input[1], input[2], setup.batch, setup.lambda
    )?;
    writeln!(
        out,
        "{:<14} {:>9} {:>7} {:>13} {:>14} {:>14}  ",
        "tensor", "checked", "kinks", "worst rel err", "analytic", "numeric"
    )?;
    let mut is_ok = true;
    for r in &rows {
        let pass = r.worst_rel <= tolerance;
        is_ok &= pass;
        writeln!(
            out,
            "{:<14} {:>4}/{:<4} {:>7} {:>13.2e} {:>14.6e} {:>14.6e}  {}",
            r.name,
            r.checked,
            r.total,
            r.kinks,
            r.worst_rel,
            r.analytic,
            r.numeric,
            if pass { "ok" } else { "FAIL" }
        )?;
    }
    writeln!(
        out,
        "{} (tolerance {tolerance:.0e}; entries within ±h of a ReLU kink or pooling tie are skipped as kinks)",
        if is_ok { "passed" } else { "FAILED" }
    )?;
    Ok(is_ok)
}

pub fn eval(checkpoint: &Path, split: &str, out: &mut dyn Write) -> Result<()> {
    must_exist(
        checkpoint,
        "give a run directory or a checkpoint file in one (convtop ls lists the runs)",
    )?;
    let (dir, file) = if checkpoint.is_dir() {
        let file = if checkpoint.join(BEST_CHECKPOINT).is_file() {
            BEST_CHECKPOINT
        } else {
            LAST_CHECKPOINT
        };
        (checkpoint.to_path_buf(), file.to_string())
    } else {
        let dir = checkpoint
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let file = checkpoint
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .context("a checkpoint file name")?;
        (dir, file)
    };
    let mut run = train::load_run(&dir, None, &file)?;
    let idx = if split == "val" {
        run.split.val.clone()
    } else {
        run.split.train.clone()
    };
    if idx.is_empty() {
        bail!("the {split} split of {} is empty", dir.display());
    }
    let classes = run.data.num_classes();
    let (loss, acc, _) = train::snapshot::evaluate_split(&mut run, &idx, 256, classes);
    writeln!(
        out,
        "{} ({file}, iteration {}): {split} loss {loss:.4}, accuracy {:.2}% on {} images",
        dir.display(),
        run.iteration,
        acc * 100.0,
        idx.len()
    )?;
    Ok(())
}

/// Trains headless; returns the process exit code (130 after an interrupt).
pub fn train_headless(a: &TrainArgs) -> Result<i32> {
    let run = build_run(a)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    // which signal, for the exit status (130 SIGINT, 143 SIGTERM, 129 SIGHUP)
    let caught = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&interrupted))
            .context("installing the signal handler")?;
        signal_hook::flag::register_usize(sig, Arc::clone(&caught), sig as usize)
            .context("installing the signal handler")?;
    }
    let handle = train::spawn(run)?;
    let stdout = std::io::stdout();
    let is_tty = stdout.is_terminal();
    let outcome = train::headless::run(
        handle,
        &mut stdout.lock(),
        &mut std::io::stderr(),
        is_tty,
        interrupted,
    )?;
    // a reader that left (`| head -1`, EPIPE) or a full stdout does not turn a finished run
    // into a failure: the run itself trained on quietly, and its checkpoints are on disk
    let mut out = stdout.lock();
    if let Some(problem) = &outcome.failed_save {
        let _ = writeln!(
            std::io::stderr(),
            "convtop: stopped: {problem}; once that is fixed: convtop train --resume {}",
            outcome.run_dir
        );
        return Ok(3);
    }
    let _ = writeln!(out, "{}", outcome.summary());
    if let Some(best) = outcome.best_val_accuracy {
        let _ = writeln!(
            out,
            "best validation accuracy {:.2}%  run {}",
            best * 100.0,
            outcome.run_dir
        );
    }
    if outcome.was_diverged {
        let _ = writeln!(
            out,
            "training diverged and stopped (run {}; checkpoints from before it are kept): start \
             again with a smaller --lr, as the error above suggests",
            outcome.run_dir
        );
        return Ok(1);
    }
    Ok(if outcome.was_interrupted {
        crate::tui::signals::exit_status(caught.load(std::sync::atomic::Ordering::SeqCst) as i32)
    } else {
        0
    })
}

/// The dashboard. The run is built first, so a bad configuration is reported on a normal
/// terminal; the trainer is stopped and joined whatever way the dashboard ends.
pub fn train_interactive(a: &TrainArgs) -> Result<i32> {
    let run = build_run(a)?;
    let run_dir = run.dir.path.clone();
    // a resumed run shows its whole past, up to the checkpoint it resumes from
    let history = match &a.resume {
        Some(_) => Some(crate::remote::history::load(&run_dir, Some(run.iteration))?),
        None => None,
    };
    let handle = train::spawn(run)?;
    let commands = handle.commands.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let trainer = handle.thread;
    let joiner = std::thread::spawn(move || {
        let joined = trainer.join();
        let _ = done_tx.send(());
        joined
    });
    // SIGINT, SIGTERM, SIGHUP: the trainer writes its checkpoint and `stopped` record, the
    // terminal is restored, the exit status is 128 + the signal
    let stop = commands.clone();
    let signals = crate::tui::signals::SignalWatch::install(move || {
        let _ = stop.send(train::Command::Stop);
        let _ = done_rx.recv_timeout(std::time::Duration::from_secs(60));
    })?;
    let hangup = signals.flag();
    let opts = crate::tui::UiOptions::detect(a.ascii, a.fps);
    let session = crate::tui::Session {
        hangup: Some(Arc::clone(&hangup)),
        is_attached: false,
        history,
    };
    let ui = crate::tui::run_session(handle.events, handle.commands, opts, session);
    let _ = commands.send(train::Command::Stop);
    let joined = joiner
        .join()
        .unwrap_or_else(|_| Err(std::boxed::Box::new("the joiner thread panicked")));
    if !hangup.load(std::sync::atomic::Ordering::Relaxed) {
        // after a hang-up the terminal cannot be restored, and nobody is there to be told
        ui.context("the dashboard failed (the terminal has been restored)")?;
    }
    match joined {
        Ok(r) => r?,
        Err(_) => bail!(
            "the trainer thread panicked; the last checkpoint in {} is intact",
            run_dir.display()
        ),
    }
    // the terminal may be gone (SIGHUP): a failed write must not panic like println! would
    let _ = writeln!(std::io::stdout(), "{}", go_on::how_to_go_on(&run_dir));
    Ok(signals.exit_code().unwrap_or(0))
}
