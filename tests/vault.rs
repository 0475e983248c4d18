//! The test set is a vault: training never evaluates it, `convtop test` records every look and
//! warns from the second on, and the dashboard's `Command::EvaluateTest` goes through the same
//! record. Runs are short (a 30-iteration cap, batch 64) on the embedded data.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use convtop::data::eval_batch;
use convtop::train::rundir::{BEST_CHECKPOINT, LAST_CHECKPOINT, METRICS_FILE, Record};
use convtop::train::vault::{TEST_RECORD, read_record};
use convtop::train::{self, Command, Event, RunState, Severity, TrainConfig};
use ndarray::Array4;

fn config(dir: &Path) -> TrainConfig {
    TrainConfig {
        run_dir: dir.to_path_buf(),
        batch: 64,
        epochs: 1,
        max_iterations: 30,
        ..TrainConfig::default()
    }
}

/// A finished short run; returns its directory.
fn short_run(dir: &Path) -> PathBuf {
    let score = train::cv::train_short(
        config(dir),
        Arc::new(AtomicBool::new(false)),
        &mut std::io::sink(),
    )
    .unwrap();
    score.run_dir
}

fn convtop_test(run: &Path) -> (String, String) {
    let out = Process::new(env!("CARGO_BIN_EXE_convtop"))
        .arg("test")
        .arg(run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn training_never_opens_the_vault_and_each_look_is_recorded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let run = short_run(dir.path());
    // training wrote evaluations of the validation split only, and no test record
    assert!(!run.join(TEST_RECORD).exists());
    let text = std::fs::read_to_string(run.join(METRICS_FILE)).unwrap();
    let records = train::rundir::read_metrics(&run.join(METRICS_FILE)).unwrap();
    assert_eq!(
        records.len(),
        text.lines().count(),
        "an unknown record type"
    );
    assert!(records.iter().any(|r| matches!(r, Record::Eval(_))));

    let (out, err) = convtop_test(&run);
    assert!(out.contains("look 1 at this test set"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    let first = read_record(&run).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].count, 1);
    assert_eq!(first[0].checkpoint, BEST_CHECKPOINT);
    assert_eq!(first[0].images, 2000);
    assert!(first[0].time.ends_with('Z') && first[0].time.contains('T'));

    let (out, err) = convtop_test(&run);
    assert!(out.contains("look 2 at this test set"), "{out}");
    assert!(
        err.contains("test set evaluated 2 times on this run")
            && err.contains("optimistic estimate (false discovery)"),
        "{err}"
    );
    let both = read_record(&run).unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], first[0], "the record is append-only");
    assert_eq!(both[1].count, 2);
    // the same weights on the same images give the same score
    assert_eq!(both[1].accuracy, first[0].accuracy);
}

#[test]
fn the_recorded_score_equals_an_independent_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = short_run(dir.path());
    let mut run = train::load_run(&run_dir, None, BEST_CHECKPOINT).unwrap();
    let record = train::vault::evaluate_and_record(&mut run, BEST_CHECKPOINT).unwrap();

    // one image at a time, softmax cross-entropy by hand: -log softmax(logits)[y]
    let ds = &run.data;
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut x = Array4::zeros((0, 0, 0, 0));
    let mut labels = Vec::new();
    for i in 0..ds.test.n {
        eval_batch(
            ds,
            &ds.test,
            &[i],
            &run.preprocess,
            &run.augment,
            &mut x,
            &mut labels,
        );
        let logits: Vec<f64> = run
            .net
            .forward(&x)
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        loss += lse - logits[labels[0]];
        let predicted = (0..logits.len())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap();
        correct += usize::from(predicted == labels[0]);
    }
    let n = ds.test.n as f64;
    assert_eq!(record.images, ds.test.n);
    assert!((f64::from(record.accuracy) - correct as f64 / n).abs() < 1e-6);
    assert!(
        (f64::from(record.loss) - loss / n).abs() < 1e-4,
        "{} vs {}",
        record.loss,
        loss / n
    );
}

#[test]
fn the_trainer_evaluates_the_test_set_on_request_and_counts_the_looks() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = train::new_run(config(dir.path())).unwrap();
    run.is_start_paused = true;
    let run_dir = run.dir.path.clone();
    let h = train::spawn(run).unwrap();
    let mut results = Vec::new();
    let mut warnings = Vec::new();
    for _ in 0..2 {
        h.commands.send(Command::EvaluateTest).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no TestResult");
            match h.events.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::TestResult {
                    count,
                    checkpoint,
                    iteration,
                    accuracy,
                    ..
                }) => {
                    results.push((count, checkpoint, iteration, accuracy));
                    break;
                }
                Ok(Event::Message {
                    level: Severity::Warn,
                    text,
                }) => warnings.push(text),
                _ => {}
            }
        }
    }
    h.commands.send(Command::Stop).unwrap();
    while let Ok(ev) = h.events.recv_timeout(Duration::from_secs(10)) {
        if ev == Event::State(RunState::Stopped) {
            break;
        }
    }
    h.thread.join().unwrap().unwrap();
    assert_eq!(results[0].0, 1);
    assert_eq!(results[1].0, 2);
    assert_eq!(results[0].1, LAST_CHECKPOINT);
    assert_eq!(results[0].2, 0);
    assert!(
        warnings.iter().any(|w| w.contains("evaluated 2 times")),
        "{warnings:?}"
    );
    let record = read_record(&run_dir).unwrap();
    assert_eq!(record.iter().map(|r| r.count).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(record[1].accuracy, results[1].3);
}

#[test]
fn the_dashboard_opens_the_vault_only_after_a_confirmation() {
    use convtop::tui::{App, ColorMode, UiOptions};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = App::new(UiOptions {
        fps: 10,
        is_ascii: true,
        color: ColorMode::Mono,
    });
    app.on_event(Event::State(RunState::Running));
    let shift_t = KeyEvent::new(KeyCode::Char('T'), KeyModifiers::SHIFT);
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    assert_eq!(app.handle_key(shift_t), None);
    assert_eq!(app.handle_key(key('n')), None, "anything but y leaves it");
    assert_eq!(app.handle_key(shift_t), None);
    assert_eq!(app.handle_key(key('y')), Some(Command::EvaluateTest));
}
