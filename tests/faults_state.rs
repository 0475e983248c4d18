//! Faults in knob values, checkpoint and trainer state, and exit statuses (issue 16, part A):
//! each case was reproduced against the old code and is kept here.

mod common;
use common::wait_for;

use std::path::Path;

use convtop::remote::protocol::parse_request;
use convtop::train::checkpoint::Checkpoint;
use convtop::train::rundir::LAST_CHECKPOINT;
use convtop::train::{self, Command, Event, Knob, RunState, Severity, TrainConfig, TrainerHandle};

fn start_paused(dir: &Path) -> TrainerHandle {
    let cfg = TrainConfig {
        run_dir: dir.to_path_buf(),
        ..TrainConfig::default()
    };
    let mut run = train::new_run(cfg).unwrap();
    run.is_start_paused = true;
    train::spawn(run).unwrap()
}

fn stop(h: TrainerHandle) {
    h.commands.send(Command::Stop).unwrap();
    wait_for(&h.events, 30, |e| {
        matches!(e, Event::State(RunState::Stopped)).then_some(())
    });
    h.thread.join().unwrap().unwrap();
}

fn set_knob(knob: &str, value: &str) -> Vec<u8> {
    format!(r#"{{"v":1,"cmd":{{"cmd":"set_knob","knob":"{knob}","value":{value}}}}}"#).into_bytes()
}

#[test]
fn the_socket_refuses_knob_values_that_do_not_survive_f32() {
    // each of these was answered "ok" and stored as inf, 0 or 1.0
    for (knob, value, says) in [
        ("learning_rate", "1e39", "learning rate 1e39 refused"),
        ("learning_rate", "1e-50", "learning rate 1e-50 refused"),
        ("momentum", "0.9999999999", "momentum 0.9999999999 refused"),
        ("batch_size", "65536", "batch size 65536 refused"),
        ("lambda", "-1", "λ (L2) -1 refused"),
    ] {
        let problem = parse_request(&set_knob(knob, value)).unwrap_err();
        assert!(problem.contains(says), "{problem}");
        assert!(problem.contains("valid:"), "the range is named: {problem}");
    }
    assert!(parse_request(&set_knob("learning_rate", "0.01")).is_ok());
}

#[test]
fn a_refused_knob_never_reaches_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_paused(dir.path());
    for (knob, value) in [
        (Knob::LearningRate, 1e39),
        (Knob::LearningRate, 1e-50),
        (Knob::Momentum, 0.9999999999),
        (Knob::BatchSize, 65_536.0),
    ] {
        h.commands.send(Command::SetKnob { knob, value }).unwrap();
        let text = wait_for(&h.events, 20, |e| match e {
            Event::Message {
                level: Severity::Warn,
                text,
            } if text.contains("refused") => Some(text.clone()),
            Event::KnobChanged(c) => panic!("accepted: {c:?}"),
            _ => None,
        });
        assert!(
            text.contains(knob.label()) && text.contains("kept"),
            "{text}"
        );
    }
    h.commands.send(Command::SaveCheckpoint).unwrap();
    let path = wait_for(&h.events, 20, |e| match e {
        Event::CheckpointSaved { path, .. } => Some(path.clone()),
        _ => None,
    });
    stop(h);
    let ck = Checkpoint::load(Path::new(&path)).expect("the checkpoint loads");
    assert_eq!(ck.state.knobs.learning_rate, 0.05);
    assert_eq!(ck.state.knobs.batch_size, 32);
}

#[test]
fn a_checkpoint_with_knobs_out_of_range_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_paused(dir.path());
    h.commands.send(Command::SaveCheckpoint).unwrap();
    let path = wait_for(&h.events, 20, |e| match e {
        Event::CheckpointSaved { path, .. } => Some(path.clone()),
        _ => None,
    });
    stop(h);
    let good = Checkpoint::load(Path::new(&path)).unwrap();
    let bad_path = Path::new(&path).with_file_name("bad.safetensors");
    for edit in [
        |ck: &mut Checkpoint| ck.state.knobs.learning_rate = -0.1,
        |ck: &mut Checkpoint| ck.state.knobs.momentum = 5.0,
        |ck: &mut Checkpoint| ck.state.knobs.batch_size = 0,
    ] {
        let mut ck = Checkpoint::load(Path::new(&path)).unwrap();
        edit(&mut ck);
        ck.save(&bad_path).unwrap();
        let e = Checkpoint::load(&bad_path)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("bad.safetensors") && e.contains("refused"),
            "{e}"
        );
    }
    assert!(path.ends_with(LAST_CHECKPOINT));
    assert_eq!(good.state.iteration, 0);
}
