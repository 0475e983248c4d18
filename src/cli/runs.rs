//! The commands that read finished or running runs from their files: ls, replay, compare,
//! export.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::remote;
use crate::train::rundir::{METRICS_FILE, read_metrics};
use crate::train::summary::{list_runs, summarize};

pub fn replay(dir: &Path, ascii: bool, fps: u32) -> Result<i32> {
    super::must_exist(dir, super::GIVE_A_RUN)?;
    let replay = remote::history::replay(dir)?;
    let opts = crate::tui::UiOptions::detect(ascii, fps);
    let signals = crate::tui::signals::SignalWatch::install(|| {})?;
    let session = crate::tui::Session {
        hangup: Some(signals.flag()),
        history: Some(replay.history),
        ..Default::default()
    };
    crate::tui::run_session(replay.events, replay.commands, opts, session)?;
    Ok(signals.exit_code().unwrap_or(0))
}

pub fn ls(base: &Path, out: &mut dyn Write) -> Result<()> {
    if std::fs::symlink_metadata(base).is_err() {
        // nothing trained here yet is not an error, but it is said
        writeln!(
            out,
            "no runs: {} does not exist (convtop train writes runs there; --run-dir picks another folder)",
            base.display()
        )?;
        return Ok(());
    }
    // list_runs names the folder in its error already
    let runs = list_runs(base)?;
    writeln!(
        out,
        "{:<34} {:<12} {:<30} {:<9} {:>7} {:>9} {:>5}",
        "run", "data", "network", "state", "epochs", "best val", "tests"
    )?;
    for r in runs {
        let best = r
            .best_val_accuracy
            .map_or("-".to_string(), |b| format!("{:.2}%", b * 100.0));
        writeln!(
            out,
            "{:<34} {:<12} {:<30} {:<9} {:>7.2} {:>9} {:>5}",
            r.id,
            short(&r.config.data, 12),
            short(&r.config.net, 30),
            r.status.label(),
            r.epochs,
            best,
            r.test_evaluations
        )?;
        if let Some(problem) = &r.problem {
            writeln!(out, "  {problem}")?;
        }
    }
    Ok(())
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

pub fn export(dir: &Path, out: Option<&Path>) -> Result<()> {
    super::must_exist(dir, super::GIVE_A_RUN)?;
    let out = out.map_or_else(|| dir.join(crate::export::EXPORT_DIR), Path::to_path_buf);
    let done = crate::export::export_run(dir, &out)?;
    for f in &done.files {
        println!("wrote {}", f.display());
    }
    for n in &done.notes {
        println!("note: {n}");
    }
    Ok(())
}

pub fn compare(dirs: &[PathBuf], out: &Path) -> Result<()> {
    for d in dirs {
        super::must_exist(d, super::GIVE_A_RUN)?;
    }
    let mut runs = Vec::new();
    println!(
        "{:<34} {:<30} {:>8} {:>9} {:>6} {:>7} {:>9}",
        "run", "network", "lr", "λ", "batch", "epochs", "best val"
    );
    for d in dirs {
        let s = summarize(d).with_context(|| format!("reading {}", d.display()))?;
        let records = read_metrics(&d.join(METRICS_FILE))?;
        let history = crate::train::history::RunHistory::from_records(&records);
        // the lr and λ the run ended with (a schedule or a person may have changed them)
        let used = history.last.map(|s| s.knobs);
        println!(
            "{:<34} {:<30} {:>8} {:>9} {:>6} {:>7.2} {:>9}",
            s.id,
            short(&s.config.net, 30),
            used.map_or(s.config.lr, |k| k.learning_rate),
            used.map_or(s.config.lambda, |k| k.lambda),
            s.config.batch,
            s.epochs,
            s.best_val_accuracy
                .map_or("-".into(), |b| format!("{:.2}%", b * 100.0))
        );
        runs.push((s.id, history));
    }
    crate::train::rundir::ensure_dir(out)?;
    for (name, is_loss) in [("compare-loss.png", true), ("compare-accuracy.png", false)] {
        let path = out.join(name);
        crate::export::render_compare(&runs, is_loss, &path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
