//! `convtop export`: from a run's files, the PNGs a person pastes into a report (loss and
//! accuracy curves with knob marks, a montage of the first-layer filters, the activation maps of
//! one input) and `metrics.csv`. No terminal involved: the dashboard's `x` calls the same code.
//!
//! Text is drawn with plotters' `ab_glyph` backend and a bundled DejaVu Sans, so no system
//! fontconfig or freetype is needed on a server or in CI.

mod curves;
mod images;

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Once;

pub use curves::{Series, render_compare, render_curves};
pub use images::{render_activations, render_filters};

use crate::train::rundir::{LAST_CHECKPOINT, METRICS_FILE, Record, read_metrics};
use crate::train::{TrainError, load_run, snapshot};

pub const LOSS_PNG: &str = "loss.png";
pub const ACCURACY_PNG: &str = "accuracy.png";
pub const FILTERS_PNG: &str = "filters.png";
pub const ACTIVATIONS_PNG: &str = "activations.png";
pub const METRICS_CSV: &str = "metrics.csv";
/// Where `export` writes inside the run directory unless told otherwise.
pub const EXPORT_DIR: &str = "export";

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("drawing {what}: {problem}")]
    Plot { what: String, problem: String },
    #[error("{0}")]
    Empty(String),
    #[error(transparent)]
    Train(#[from] TrainError),
}

pub(crate) fn plot<T, E: Display>(what: &str, r: Result<T, E>) -> Result<T, ExportError> {
    r.map_err(|e| ExportError::Plot {
        what: what.to_string(),
        problem: e.to_string(),
    })
}

/// Registers the bundled font under the family name every chart asks for (once a process).
pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use plotters::style::FontStyle;
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // the bytes are a valid TrueType file compiled in: a failure here cannot happen at run time
            let _ = plotters::style::register_font(FAMILY, style, FONT);
        }
    });
}

/// Writes an RGB buffer as a PNG.
pub(crate) fn save_png(buf: &[u8], w: u32, h: u32, path: &Path) -> Result<(), ExportError> {
    let mut png = std::io::Cursor::new(Vec::new());
    image::write_buffer_with_format(
        &mut png,
        buf,
        w,
        h,
        image::ExtendedColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    // atomically and never through a symlink, like every file convtop writes
    crate::train::rundir::atomic_write(path, png.get_ref())?;
    Ok(())
}

/// What one export wrote, and what it could not.
#[derive(Debug, Default)]
pub struct Exported {
    pub files: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// Exports run directory `dir` into `out` (created if needed).
pub fn export_run(dir: &Path, out: &Path) -> Result<Exported, ExportError> {
    register_font();
    crate::train::rundir::ensure_dir(out)?;
    let records = read_metrics(&dir.join(METRICS_FILE))?;
    let history = crate::train::history::RunHistory::from_records(&records);
    if history.is_empty() {
        return Err(ExportError::Empty(format!(
            "{} has no training iterations yet: nothing to plot",
            dir.display()
        )));
    }
    let id = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut done = Exported::default();
    let csv = out.join(METRICS_CSV);
    write_csv(&records, &csv)?;
    done.files.push(csv);
    for (name, is_loss) in [(LOSS_PNG, true), (ACCURACY_PNG, false)] {
        let path = out.join(name);
        render_curves(&history, &id, is_loss, &path)?;
        done.files.push(path);
    }
    if !dir.join(LAST_CHECKPOINT).is_file() {
        done.notes.push(format!(
            "no {LAST_CHECKPOINT}: filters and activations skipped"
        ));
        return Ok(done);
    }
    if crate::bridge::is_foreign(dir) {
        // a PyTorch run: its filters come from the checkpoint; activations need its model
        if let Some(bank) = crate::bridge::checkpoint_filters(dir, LAST_CHECKPOINT)? {
            let path = out.join(FILTERS_PNG);
            let iteration = history.last.map_or(0, |s| s.iteration);
            render_filters(&bank, &id, iteration, &path)?;
            done.files.push(path);
        }
        done.notes
            .push("activations of a PyTorch run are shown live only (they need its model)".into());
        return Ok(done);
    }
    let mut run = load_run(dir, None, LAST_CHECKPOINT)?;
    let snap = snapshot::snapshot(&mut run, &[], 0);
    match snap.filters.first() {
        Some(bank) => {
            let path = out.join(FILTERS_PNG);
            render_filters(bank, &id, snap.iteration, &path)?;
            done.files.push(path);
        }
        None => done
            .notes
            .push("the network has no convolution: no filter montage".into()),
    }
    let path = out.join(ACTIVATIONS_PNG);
    let classes = run.info.classes.clone();
    render_activations(&snap, &classes, &id, &path)?;
    done.files.push(path);
    Ok(done)
}

/// One row per iteration, evaluation and knob change; empty cells where a column does not apply.
pub fn write_csv(records: &[Record], path: &Path) -> Result<(), ExportError> {
    let mut text = String::from(
        "type,iteration,epoch,data_loss,reg_loss,batch_accuracy,train_loss,train_accuracy,\
         val_loss,val_accuracy,learning_rate,lambda,momentum,batch_size,knob,old,new\n",
    );
    for r in records {
        let row = match r {
            Record::Iter(s) => format!(
                "iter,{},{:.6},{},{},{},,,,,{},{},{},{},,,",
                s.iteration,
                s.epoch,
                s.data_loss,
                s.reg_loss,
                s.batch_accuracy,
                s.knobs.learning_rate,
                s.knobs.lambda,
                s.knobs.momentum,
                s.knobs.batch_size
            ),
            Record::Eval(e) => format!(
                "eval,{},{:.6},,,,{},{},{},{},,,,,,,",
                e.iteration, e.epoch, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy
            ),
            Record::Knob(k) => format!(
                "knob,{},,,,,,,,,,,,,{},{},{}",
                k.iteration,
                serde_json::to_value(k.knob)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                k.old,
                k.new
            ),
            _ => continue,
        };
        text.push_str(&row);
        text.push('\n');
    }
    crate::train::rundir::atomic_write(path, text.as_bytes())?;
    Ok(())
}
