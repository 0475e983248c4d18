//! A learning rate of 5.0 diverges: the trainer pauses itself, and rolling back to the best
//! checkpoint brings a finite loss back.

mod common;
use common::wait_for;

use std::time::Duration;

use convtop::train::history::RunHistory;
use convtop::train::rundir::{METRICS_FILE, read_metrics};
use convtop::train::{self, Command, DiagnosticKind, Event, Knob, Restore, RunState, TrainConfig};

#[test]
fn lr_5_diverges_pauses_and_roll_back_restores_a_finite_loss() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        run_dir: dir.path().to_path_buf(),
        epochs: 20,
        ..TrainConfig::default()
    };
    let mut run = train::new_run(cfg).unwrap();
    run.is_start_paused = true;
    let h = train::spawn(run).unwrap();
    // a best checkpoint to come back to, then a rate far too large
    h.commands.send(Command::EvaluateNow).unwrap();
    wait_for(&h.events, 30, |e| {
        matches!(e, Event::CheckpointSaved { .. }).then_some(())
    });
    h.commands
        .send(Command::SetKnob {
            knob: Knob::LearningRate,
            value: 5.0,
        })
        .unwrap();
    h.commands.send(Command::Resume).unwrap();
    let diag = wait_for(&h.events, 60, |e| match e {
        Event::Diagnostic(d) if d.kind == DiagnosticKind::Divergence => Some(d.clone()),
        _ => None,
    });
    assert!(
        !diag.evidence.is_empty() && !diag.suggestion.is_empty(),
        "{diag:?}"
    );
    wait_for(&h.events, 10, |e| {
        matches!(e, Event::State(RunState::Diverged)).then_some(())
    });
    // paused by itself: no further iterations
    std::thread::sleep(Duration::from_millis(300));
    while h.events.try_recv().is_ok() {}
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !h.events
            .try_iter()
            .any(|e| matches!(e, Event::Iterations(_))),
        "updates went on after divergence"
    );

    h.commands.send(Command::RollbackToBest).unwrap();
    h.commands
        .send(Command::SetKnob {
            knob: Knob::LearningRate,
            value: 0.05,
        })
        .unwrap();
    h.commands.send(Command::Step).unwrap();
    // the roll-back is an event for the viewers, with where it happened and what came back
    let rollback = wait_for(&h.events, 30, |e| match e {
        Event::RolledBack(r) => Some(*r),
        _ => None,
    });
    assert_eq!(rollback.to, Restore::Best);
    assert_eq!(
        rollback.saved_at,
        Some(0),
        "the best checkpoint came before any iteration"
    );
    assert!(rollback.iteration > 0, "{rollback:?}");
    let after = wait_for(&h.events, 30, |e| match e {
        Event::Iterations(its) => its.last().copied(),
        _ => None,
    });
    assert!(
        after.data_loss.is_finite() && after.data_loss < 5.0,
        "loss after roll-back {}",
        after.data_loss
    );
    h.commands.send(Command::Stop).unwrap();
    wait_for(&h.events, 20, |e| {
        matches!(e, Event::State(RunState::Stopped)).then_some(())
    });
    h.thread.join().unwrap().unwrap();
    // and a record in metrics.jsonl, so attach, replay and export show it too
    let run = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let records = read_metrics(&run.join(METRICS_FILE)).unwrap();
    let history = RunHistory::from_records(&records);
    assert_eq!(history.rollbacks, vec![rollback]);
}
