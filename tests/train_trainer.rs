//! The trainer driven through its channels, on the embedded data (no ../shared needed).

mod common;
use common::wait_for;

use std::path::Path;
use std::time::{Duration, Instant};

use convtop::train::checkpoint::Checkpoint;
use convtop::train::rundir::{LAST_CHECKPOINT, METRICS_FILE, Record, read_metrics};
use convtop::train::{self, Command, Event, Knob, RunState, TrainConfig, TrainerHandle};

fn config(dir: &Path) -> TrainConfig {
    TrainConfig {
        run_dir: dir.to_path_buf(),
        batch: 32,
        epochs: 50,
        ..TrainConfig::default()
    }
}

fn start(dir: &Path, paused: bool) -> TrainerHandle {
    let mut run = train::new_run(config(dir)).unwrap();
    run.is_start_paused = paused;
    train::spawn(run).unwrap()
}

fn stop(h: TrainerHandle) {
    h.commands.send(Command::Stop).unwrap();
    wait_for(&h.events, 20, |e| {
        matches!(e, Event::State(RunState::Stopped)).then_some(())
    });
    h.thread.join().unwrap().unwrap();
}

#[test]
fn a_knob_change_shows_up_in_the_next_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), false);
    wait_for(&h.events, 20, |e| {
        matches!(e, Event::Iterations(_)).then_some(())
    });
    h.commands
        .send(Command::SetKnob {
            knob: Knob::LearningRate,
            value: 0.0123,
        })
        .unwrap();
    let changed_at = wait_for(&h.events, 20, |e| match e {
        Event::KnobChanged(c) if c.knob == Knob::LearningRate => Some(c.iteration),
        _ => None,
    });
    let next = wait_for(&h.events, 20, |e| match e {
        Event::Iterations(its) => its.iter().find(|s| s.iteration > changed_at).copied(),
        _ => None,
    });
    assert_eq!(next.knobs.learning_rate, 0.0123);
    assert_eq!(
        next.iteration,
        changed_at + 1,
        "the change applies from the very next iteration"
    );
    // a negative rate is refused and the old one kept
    h.commands
        .send(Command::SetKnob {
            knob: Knob::LearningRate,
            value: -1.0,
        })
        .unwrap();
    let text = wait_for(&h.events, 20, |e| match e {
        Event::Message { text, .. } if text.contains("refused") => Some(text.clone()),
        _ => None,
    });
    assert!(text.contains("positive"), "{text}");
    let run_dir = run_dir_in(dir.path());
    stop(h);
    let records = read_metrics(&run_dir.join(METRICS_FILE)).unwrap();
    let knob = records.iter().find_map(|r| match r {
        Record::Knob(k) => Some(k.clone()),
        _ => None,
    });
    let knob = knob.expect("the knob change is recorded");
    assert_eq!((knob.iteration, knob.new as f32), (changed_at, 0.0123));
}

#[test]
fn pause_stops_iterations_and_step_does_one() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), false);
    wait_for(&h.events, 20, |e| {
        matches!(e, Event::Iterations(_)).then_some(())
    });
    h.commands.send(Command::Pause).unwrap();
    wait_for(&h.events, 20, |e| {
        matches!(e, Event::State(RunState::Paused)).then_some(())
    });
    let mut last = 0;
    while let Ok(ev) = h.events.recv_timeout(Duration::from_millis(300)) {
        if let Event::Iterations(its) = ev {
            last = last.max(its.last().unwrap().iteration);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(h.events.try_recv().is_err(), "no events while paused");
    h.commands.send(Command::Step).unwrap();
    let stepped = wait_for(&h.events, 20, |e| match e {
        Event::Iterations(its) => its.last().map(|s| s.iteration),
        _ => None,
    });
    assert!(stepped > last);
    std::thread::sleep(Duration::from_millis(300));
    let more = h
        .events
        .try_iter()
        .any(|e| matches!(e, Event::Iterations(_)));
    assert!(!more, "a step is exactly one iteration");
    stop(h);
}

#[test]
fn stop_joins_within_a_second_and_writes_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), false);
    let info = wait_for(&h.events, 20, |e| match e {
        Event::Started(i) => Some(i.clone()),
        _ => None,
    });
    wait_for(&h.events, 20, |e| {
        matches!(e, Event::Iterations(_)).then_some(())
    });
    let t = Instant::now();
    h.commands.send(Command::Stop).unwrap();
    // the viewer keeps reading while the trainer finishes
    while !h.thread.is_finished() {
        let _ = h.events.recv_timeout(Duration::from_millis(10));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "stop took {:?}",
            t.elapsed()
        );
    }
    h.thread.join().unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
    let ck = Checkpoint::load(&Path::new(&info.run_dir).join(LAST_CHECKPOINT)).unwrap();
    assert!(ck.state.iteration > 0);
}

#[test]
fn a_viewer_that_is_gone_ends_the_run_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), false);
    let info = wait_for(&h.events, 20, |e| match e {
        Event::Started(i) => Some(i.clone()),
        _ => None,
    });
    let TrainerHandle {
        commands,
        events,
        thread,
    } = h;
    drop(events);
    let t = Instant::now();
    thread.join().unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(commands);
    assert!(Path::new(&info.run_dir).join(LAST_CHECKPOINT).is_file());
}

/// The one run directory a test's run made under `parent`.
fn run_dir_in(parent: &Path) -> std::path::PathBuf {
    parent.read_dir().unwrap().next().unwrap().unwrap().path()
}

/// The data losses of `steps` single steps.
fn step_losses(h: &TrainerHandle, steps: usize) -> Vec<(u64, f32)> {
    let mut out = Vec::new();
    for _ in 0..steps {
        h.commands.send(Command::Step).unwrap();
        let s = wait_for(&h.events, 20, |e| match e {
            Event::Iterations(its) => its.last().copied(),
            _ => None,
        });
        out.push((s.iteration, s.data_loss));
    }
    out
}

/// Runs `steps` steps straight through, then half of them, a stop, a resume and the other half,
/// and compares the losses step by step.
fn assert_resume_is_exact(cfg: impl Fn(&Path) -> TrainConfig, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let start_with = |d: &Path| {
        let mut run = train::new_run(cfg(d)).unwrap();
        run.is_start_paused = true;
        train::spawn(run).unwrap()
    };
    let a = start_with(&dir.path().join("a"));
    let whole = step_losses(&a, steps);
    stop(a);

    let half = steps / 2;
    let b = start_with(&dir.path().join("b"));
    let first = step_losses(&b, half);
    let info_dir = run_dir_in(&dir.path().join("b"));
    stop(b);
    assert_eq!(&first[..], &whole[..half]);

    let mut run = train::resume_run(&info_dir, None).unwrap();
    run.is_start_paused = true;
    let c = train::spawn(run).unwrap();
    let rest = step_losses(&c, steps - half);
    stop(c);
    for ((ia, la), (ib, lb)) in whole[half..].iter().zip(&rest) {
        assert_eq!(ia, ib);
        let rel = (la - lb).abs() / la.abs().max(1e-12);
        assert!(
            rel < 1e-6,
            "iteration {ia}: {la} uninterrupted, {lb} resumed"
        );
    }
}

#[test]
fn a_resumed_run_matches_an_uninterrupted_one() {
    assert_resume_is_exact(config, 200);
}

#[test]
fn a_resumed_run_with_dropout_draws_the_same_masks() {
    // the masks come from (seed, iteration), both in the checkpoint: a resumed run's losses
    // match step for step; a mask drawn from a fresh generator would not
    assert_resume_is_exact(
        |d| TrainConfig {
            net: "conv8k5p2 relu pool2 norm fc32 relu dropout0.5 fc10".into(),
            ..config(d)
        },
        60,
    );
}

#[test]
fn a_checkpoint_keeps_the_batch_norms_running_statistics() {
    // evaluation reads the running statistics, not the batch's: a resumed run or `convtop
    // test` that lost them would evaluate with mean 0 and variance 1
    let dir = tempfile::tempdir().unwrap();
    let mut run = train::new_run(TrainConfig {
        net: "conv8k5p2 bn relu pool2 fc10".into(),
        ..config(dir.path())
    })
    .unwrap();
    run.is_start_paused = true;
    let h = train::spawn(run).unwrap();
    step_losses(&h, 5);
    let info_dir = run_dir_in(dir.path());
    stop(h);
    let ck = Checkpoint::load(&info_dir.join(LAST_CHECKPOINT)).unwrap();
    let (shape, mean) = ck.find("bn1.running_mean").unwrap();
    let (_, var) = ck.find("bn1.running_var").unwrap();
    assert_eq!(shape, [8]);
    // five batches moved them from their start (0 and 1)
    assert!(mean.iter().all(|&m| m != 0.0), "{mean:?}");
    assert!(var.iter().all(|&v| v != 1.0), "{var:?}");
    assert!(ck.find("bn1.weight").is_some() && ck.find("bn1.bias").is_some());
    let resumed = train::resume_run(&info_dir, None).unwrap();
    let tensors = resumed.net.tensors();
    let find = |name: &str| tensors.iter().find(|t| t.0 == name).unwrap().2.clone();
    assert_eq!(find("bn1.running_mean"), mean);
    assert_eq!(find("bn1.running_var"), var);
    // a negative variance (a damaged file) is refused by name, not evaluated into NaN
    let mut net = resumed.net.clone();
    let e = net
        .load_tensors(|name| {
            let (shape, mut v) = ck.find(name)?;
            if name == "bn1.running_var" {
                v[3] = -1.0;
            }
            Some((shape, v))
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bn1.running_var") && e.contains("negative"),
        "{e}"
    );
}

#[test]
fn a_torn_write_leaves_the_previous_checkpoint_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), true);
    step_losses(&h, 3);
    let info_dir = run_dir_in(dir.path());
    stop(h);
    let path = info_dir.join(LAST_CHECKPOINT);
    let before = Checkpoint::load(&path).unwrap();
    // a writer killed mid-way leaves only its temporary file behind
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(
        info_dir.join(format!(".{LAST_CHECKPOINT}.tmp")),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let after = Checkpoint::load(&path).unwrap();
    assert_eq!(before.state, after.state);
    // and a torn checkpoint (not written by rename) is refused with a message naming it
    let torn = info_dir.join("torn.safetensors");
    std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    let e = Checkpoint::load(&torn).err().unwrap().to_string();
    assert!(e.contains("torn.safetensors"), "{e}");
}
