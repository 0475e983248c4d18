//! `convtop test`, `convtop cv` and `convtop search`: the methodology commands. The test set is
//! looked at only by `test`; `cv` and `search` score settings on validation folds alone.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::train::rundir::{BEST_CHECKPOINT, LAST_CHECKPOINT};
use crate::train::{self, vault};

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
