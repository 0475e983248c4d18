//! The headless driver: runs a trainer to the end without a dashboard. On a terminal, a progress
//! bar per epoch; otherwise one plain line per evaluation. An interrupt asks the trainer to stop
//! (it writes a checkpoint first).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::error::TrainError;
use super::events::*;
use super::trainer::TrainerHandle;

pub struct Outcome {
    pub was_interrupted: bool,
    /// The run stopped because its loss diverged.
    pub was_diverged: bool,
    pub last_eval: Option<EvalStats>,
    pub best_val_accuracy: Option<f32>,
    pub run_dir: String,
    /// Why a checkpoint could not be written (and what is still on disk); the run stopped.
    pub failed_save: Option<String>,
    /// Wall-clock time from the start of the trainer to its end.
    pub elapsed: Duration,
}

impl Outcome {
    /// "trained for 2m10s · peak RSS 340 MiB", the peak read from /proc (`VmHWM`) if it can be.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut text = if secs < 9.95 {
            format!("trained for {secs:.1}s")
        } else {
            format!("trained for {}", crate::units::duration(secs))
        };
        match crate::resources::peak_rss_bytes() {
            Ok(peak) => text.push_str(&format!(" · peak RSS {}", crate::units::bytes(peak))),
            Err(e) => text.push_str(&format!(" · peak RSS unknown ({e})")),
        }
        text
    }
}

fn line(out: &mut dyn Write, bar: &Option<ProgressBar>, text: &str) {
    match bar {
        Some(b) => b.println(text),
        None => {
            let _ = writeln!(out, "{text}");
        }
    }
}

/// A warning or error: to stderr, above the progress bar if there is one.
fn warn(err: &mut dyn Write, bar: &Option<ProgressBar>, text: &str) {
    match bar {
        Some(b) => b.suspend(|| {
            let _ = writeln!(err, "{text}");
        }),
        None => {
            let _ = writeln!(err, "{text}");
        }
    }
}

pub fn eval_line(e: &EvalStats) -> String {
    format!(
        "epoch {:>5.2}  iter {:>6}  train loss {:.4} acc {:>6.2}%  val loss {:.4} acc {:>6.2}%{}",
        e.epoch,
        e.iteration,
        e.train_loss,
        100.0 * e.train_accuracy,
        e.val_loss,
        100.0 * e.val_accuracy,
        if e.is_best { "  (best)" } else { "" }
    )
}

/// Drives `handle` until the trainer stops; `interrupted` is set by a signal handler. Progress
/// goes to `out`, warnings and errors to `err`.
pub fn run(
    handle: TrainerHandle,
    out: &mut dyn Write,
    err: &mut dyn Write,
    is_tty: bool,
    interrupted: Arc<AtomicBool>,
) -> Result<Outcome, TrainError> {
    let mut outcome = Outcome {
        was_interrupted: false,
        was_diverged: false,
        last_eval: None,
        best_val_accuracy: None,
        run_dir: String::new(),
        failed_save: None,
        elapsed: Duration::ZERO,
    };
    let started = std::time::Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let mut info = RunInfo::default();
    let mut has_asked_stop = false;
    loop {
        if interrupted.load(Ordering::Relaxed) && !has_asked_stop {
            outcome.was_interrupted = true;
            has_asked_stop = true;
            line(out, &bar, "interrupted: writing a checkpoint and stopping…");
            let _ = handle.commands.send(Command::Stop);
        }
        let ev = match handle.events.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match ev {
            Event::Started(i) => {
                info = *i;
                outcome.run_dir = info.run_dir.clone();
                let _ = writeln!(
                    out,
                    "run {}  data {} ({} train / {} val / {} test, {} classes)  net {}  input {}×{}×{}",
                    info.run_id,
                    info.data_name,
                    info.train_size,
                    info.val_size,
                    info.test_size,
                    info.classes.len(),
                    info.net_spec,
                    info.input_shape[0],
                    info.input_shape[1],
                    info.input_shape[2]
                );
                let k = info.knobs;
                let _ = writeln!(
                    out,
                    "lr {:.1e}  λ {:.1e}  momentum {}  batch {}  crops {}  flips {}  preprocess {}  → {}",
                    k.learning_rate,
                    k.lambda,
                    k.momentum,
                    k.batch_size,
                    on_off(k.augment_crop),
                    on_off(k.augment_flip),
                    info.preprocess,
                    info.run_dir
                );
            }
            Event::Iterations(its) => {
                if let Some(last) = its.last()
                    && is_tty
                {
                    let b = bar.get_or_insert_with(|| new_bar(info.iters_per_epoch));
                    let per_epoch = info.iters_per_epoch.max(1);
                    b.set_position(last.iteration % per_epoch);
                    let total = per_epoch * u64::from(info.total_epochs);
                    let left = total.saturating_sub(last.iteration) as f64;
                    let eta = if last.images_per_sec > 0.0 {
                        let secs =
                            left * last.knobs.batch_size as f64 / f64::from(last.images_per_sec);
                        format!("  ETA {}", crate::units::duration(secs))
                    } else {
                        String::new()
                    };
                    b.set_message(format!(
                        "epoch {:.2}/{}  loss {}  {:.0} img/s{eta}",
                        last.epoch,
                        info.total_epochs,
                        crate::units::sig(f64::from(last.data_loss)),
                        last.images_per_sec
                    ));
                }
            }
            Event::Evaluation(e) => {
                line(out, &bar, &eval_line(&e));
                if e.is_best {
                    outcome.best_val_accuracy = Some(e.val_accuracy);
                }
                outcome.last_eval = Some(e);
            }
            Event::Diagnostic(d) => {
                let level = if d.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                };
                warn(
                    err,
                    &bar,
                    &format!("{level}: {} — {}; {}", d.title, d.evidence, d.suggestion),
                );
            }
            Event::Message { level, text } => match level {
                Severity::Info => line(out, &bar, &format!("note: {text}")),
                Severity::Warn => warn(err, &bar, &format!("warning: {text}")),
                Severity::Error => warn(err, &bar, &format!("error: {text}")),
            },
            Event::CheckpointFailed { problem, .. } => {
                // the stop's own save usually fails the same way: say it once
                if outcome.failed_save.as_ref() != Some(&problem) {
                    warn(err, &bar, &format!("error: {problem}"));
                }
                outcome.failed_save.get_or_insert(problem);
                if !has_asked_stop {
                    // nobody is there to free space and press s: stop, and say so in the status
                    has_asked_stop = true;
                    warn(
                        err,
                        &bar,
                        "stopping: a run that cannot save would lose its work",
                    );
                    let _ = handle.commands.send(Command::Stop);
                }
            }
            Event::State(state @ (RunState::Finished | RunState::Diverged)) if !has_asked_stop => {
                outcome.was_diverged = state == RunState::Diverged;
                has_asked_stop = true;
                let _ = handle.commands.send(Command::Stop);
            }
            Event::State(RunState::Stopped) => break,
            _ => {}
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    outcome.elapsed = started.elapsed();
    match handle.thread.join() {
        Ok(result) => result?,
        Err(_) => return Err(TrainError::Thread("the trainer panicked".into())),
    }
    Ok(outcome)
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn new_bar(len: u64) -> ProgressBar {
    // the bar is progress, on stdout like the lines it replaces (warnings go to stderr)
    let bar =
        ProgressBar::with_draw_target(Some(len.max(1)), indicatif::ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template("{bar:30.cyan/blue} {pos:>5}/{len:5} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
