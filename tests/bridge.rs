//! The bridge driven as a foreign loop would drive it, with a real socket viewer: knob changes
//! validated and handed back, refusals, pauses, checkpoints, and the run directory that every
//! reader of runs (ls, replay, export) understands.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use convtop::bridge::{Bridge, BridgeSpec, EvalInput, RawTensor, Restore, StepInput};
use convtop::remote::SOCKET_FILE;
use convtop::train::rundir::{METRICS_FILE, Record, read_metrics};
use convtop::train::summary::{RunStatus, summarize};
use convtop::train::{
    Action, Command, DiagnosticKind, Event, Knob, KnobSetting, KnobSource, Knobs, RunState,
};

/// The tests count this process's threads: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn spec(dir: &std::path::Path) -> BridgeSpec {
    BridgeSpec {
        run_dir: dir.to_path_buf(),
        trainer: "pytorch".into(),
        data_name: "test".into(),
        net_spec: "Tiny".into(),
        classes: (0..10).map(|i| i.to_string()).collect(),
        iters_per_epoch: 10,
        total_epochs: 1,
        knobs: Knobs {
            learning_rate: 0.1,
            lambda: 1e-4,
            momentum: 0.0,
            batch_size: 8,
            ..Knobs::default()
        },
        supported: vec![Knob::LearningRate, Knob::Lambda],
        ..BridgeSpec::default()
    }
}

fn input(lr: f32) -> StepInput {
    StepInput {
        loss: 2.3,
        accuracy: 0.1,
        batch_size: 8,
        learning_rate: lr,
        lambda: 1e-4,
        momentum: 0.0,
    }
}

/// Steps until the bridge hands back something (the viewer's command crosses two threads).
fn step_until(bridge: &mut Bridge, lr: f32) -> convtop::bridge::Directive {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = bridge.step(&input(lr));
        if !d.is_empty() {
            return d;
        }
        assert!(Instant::now() < deadline, "the command never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_event(events: &Receiver<Event>, ok: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = events.recv_timeout(left).expect("the event arrives");
        if ok(&e) {
            return e;
        }
    }
}

#[test]
fn a_viewer_steers_a_foreign_loop_through_the_bridge() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut bridge = Bridge::start(spec(tmp.path())).unwrap();
    let dir = bridge.run_dir().to_path_buf();
    let (events, commands) = convtop::remote::client::connect(&dir.join(SOCKET_FILE)).unwrap();
    assert!(matches!(events.recv().unwrap(), Event::Started(_)));
    assert_eq!(summarize(&dir).unwrap().status, RunStatus::Live);

    // a valid lr comes back to the loop; momentum (not in this optimiser) and a negative λ do not
    commands
        .send(Command::SetKnob {
            knob: Knob::Momentum,
            value: 0.5,
        })
        .unwrap();
    commands
        .send(Command::SetKnob {
            knob: Knob::Lambda,
            value: -1.0,
        })
        .unwrap();
    commands
        .send(Command::SetKnob {
            knob: Knob::LearningRate,
            value: 0.02,
        })
        .unwrap();
    let d = step_until(&mut bridge, 0.1);
    assert_eq!(d.knobs, vec![(Knob::LearningRate, 0.02)]);
    // the socket refuses the negative λ itself (the knob authority); the bridge refuses momentum
    wait_event(
        &events,
        |e| matches!(e, Event::Message { text, .. } if text.contains("momentum refused: the optimiser")),
    );
    let at = bridge.iteration();

    // the script's own scheduler moves lr after the hand change: recorded and reported
    bridge.step(&input(0.02));
    bridge.step(&input(0.01));
    let warn = wait_event(
        &events,
        |e| matches!(e, Event::Message { text, .. } if text.contains("set by hand")),
    );
    assert!(
        format!("{warn:?}").contains(&format!("iteration {at}")),
        "{warn:?}"
    );

    // pause holds the loop until a step or resume
    commands.send(Command::Pause).unwrap();
    let d = step_until(&mut bridge, 0.01);
    assert!(d.is_paused);
    commands.send(Command::Step).unwrap();
    let d = bridge.wait(Duration::from_secs(5));
    assert!(!d.is_paused, "one step is let through");
    assert!(
        bridge.step(&input(0.01)).is_paused,
        "and then it holds again"
    );
    commands.send(Command::Resume).unwrap();
    assert!(!bridge.wait(Duration::from_secs(5)).is_paused);

    // checkpoints keep any dtype under the loop's own names, and roll back
    let w = RawTensor {
        name: "conv1.weight".into(),
        dtype: "F32".into(),
        shape: vec![2, 1, 1, 1],
        data: [1.5f32, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
    };
    let steps = RawTensor {
        name: "bn.num_batches_tracked".into(),
        dtype: "I64".into(),
        shape: vec![],
        data: 7i64.to_le_bytes().to_vec(),
    };
    let eval = EvalInput {
        val_loss: 1.0,
        val_accuracy: 0.5,
        ..EvalInput::default()
    };
    assert!(bridge.evaluate(&eval));
    bridge
        .save_checkpoint("checkpoint-best.safetensors", &[w.clone(), steps.clone()])
        .unwrap();
    let back = bridge.rollback().expect("a best checkpoint");
    assert_eq!(back, vec![steps, w]);
    let bad = RawTensor {
        dtype: "F32".into(),
        data: vec![0; 3],
        ..back[0].clone()
    };
    assert!(bridge.save_checkpoint("x.safetensors", &[bad]).is_err());

    commands.send(Command::Stop).unwrap();
    assert!(step_until(&mut bridge, 0.01).should_stop);
    bridge.close(false).unwrap();
    assert!(
        !dir.join(SOCKET_FILE).exists(),
        "the socket goes with the run"
    );

    let records = read_metrics(&dir.join(METRICS_FILE)).unwrap();
    let knobs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Knob(k) => Some((k.iteration, k.knob, k.source)),
            _ => None,
        })
        .collect();
    assert_eq!(
        knobs,
        vec![
            (at, Knob::LearningRate, KnobSource::Hand),
            (at + 1, Knob::LearningRate, KnobSource::Schedule),
        ]
    );
    assert!(matches!(
        records.last(),
        Some(Record::State {
            state: RunState::Stopped,
            ..
        })
    ));
    assert_eq!(summarize(&dir).unwrap().status, RunStatus::Stopped);
    let replayed = convtop::remote::history::replay(&dir).unwrap();
    match replayed.events.recv().unwrap() {
        Event::Started(info) => assert_eq!(info.net_spec, "pytorch:Tiny"),
        e => panic!("a replay starts with the run's header, got {e:?}"),
    }
}

/// The threads of this process named `name` (Linux: /proc/self/task/*/comm, cut at 15 bytes).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim_end() == name)
                })
                .count()
        })
        .unwrap_or(0)
}

/// The count of threads named `name` once it is `want`, or after 5 s. A joined thread can
/// still be listed in /proc for a moment: the kernel wakes its joiner before it removes the task.
fn threads_settle_at(name: &str, want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    while threads_named(name) != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    threads_named(name)
}

#[test]
fn closing_a_bridge_ends_its_server_threads() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let mut bridge = Bridge::start(spec(tmp.path())).unwrap();
        let dir = bridge.run_dir().to_path_buf();
        let (events, _commands) = convtop::remote::client::connect(&dir.join(SOCKET_FILE)).unwrap();
        assert!(matches!(events.recv().unwrap(), Event::Started(_)));
        assert_eq!(threads_settle_at("convtop-accept", 1), 1);
        bridge.step(&input(0.1));
        bridge.close(true).unwrap();
        assert_eq!(
            threads_settle_at("convtop-accept", 0),
            0,
            "a closed bridge leaves no thread waiting for viewers"
        );
        // the per-viewer threads are not joined by close: they end once their socket is shut,
        // a moment later
        assert_eq!(threads_settle_at("convtop-bridge-", 0), 0);
    }
}

#[test]
fn advice_from_a_viewer_and_the_autopilot_reach_the_next_directive() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut bridge = Bridge::start(spec(tmp.path())).unwrap();
    let dir = bridge.run_dir().to_path_buf();
    let (events, commands) = convtop::remote::client::connect(&dir.join(SOCKET_FILE)).unwrap();

    // `a` in the dashboard: a diagnostic's action, recorded as a hand change with its reason
    let action = Action {
        rollback: None,
        knob: Some(KnobSetting {
            knob: Knob::LearningRate,
            value: 0.05,
        }),
    };
    commands
        .send(Command::ApplyAdvice {
            action,
            reason: Some("plateau".into()),
        })
        .unwrap();
    let d = step_until(&mut bridge, 0.1);
    assert_eq!(d.knobs, vec![(Knob::LearningRate, 0.05)]);
    assert_eq!(d.rollback, None);

    // `A`: the autopilot rescues a divergence at once: the starting weights and a lower rate
    commands.send(Command::SetAutopilot { on: true }).unwrap();
    assert!(step_until_autopilot(&mut bridge));
    wait_event(&events, |e| *e == Event::Autopilot { on: true });
    let d = bridge.step(&StepInput {
        loss: f32::NAN,
        ..input(0.05)
    });
    assert_eq!(d.rollback, Some(Restore::Start), "{d:?}");
    let (knob, lr) = d.knobs[0];
    assert!(knob == Knob::LearningRate && lr < 0.05, "{d:?}");
    assert!(!d.is_paused, "a rescued run goes on");
    assert_eq!(bridge.state(), RunState::Running);
    bridge.close(true).unwrap();

    let records = read_metrics(&dir.join(METRICS_FILE)).unwrap();
    let diverged = records
        .iter()
        .find_map(|r| match r {
            Record::Diagnostic(d) if d.kind == DiagnosticKind::Divergence => Some(d.title.clone()),
            _ => None,
        })
        .expect("the divergence is recorded");
    let knobs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Knob(k) => Some((k.source, k.reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        knobs,
        vec![
            (KnobSource::Hand, Some("plateau".to_string())),
            (KnobSource::Autopilot, Some(diverged)),
        ]
    );
    // the switch is in metrics.jsonl as the native trainer writes it, at the iteration it came
    let switches: Vec<(u64, bool)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Autopilot { iteration, on } => Some((*iteration, *on)),
            _ => None,
        })
        .collect();
    assert!(
        matches!(switches[..], [(it, true)] if it >= 1),
        "{switches:?}"
    );
}

/// Steps until the bridge says its autopilot is on (the command crosses two threads).
fn step_until_autopilot(bridge: &mut Bridge) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !bridge.is_autopilot_on() {
        if Instant::now() > deadline {
            return false;
        }
        bridge.step(&input(0.05));
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn an_evaluation_without_training_figures_takes_the_steps_since_the_last_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut bridge = Bridge::start(spec(tmp.path())).unwrap();
    let dir = bridge.run_dir().to_path_buf();
    let step = |bridge: &mut Bridge, loss: f32, accuracy: f32| {
        bridge.step(&StepInput {
            loss,
            accuracy,
            ..input(0.1)
        });
    };
    // a non-finite step (a diverging batch) is left out of the means
    for (loss, accuracy) in [(2.0, 0.25), (1.0, 0.75), (f32::NAN, 0.5)] {
        step(&mut bridge, loss, accuracy);
    }
    let val = EvalInput {
        val_loss: 1.2,
        val_accuracy: 0.6,
        ..EvalInput::default()
    };
    bridge.evaluate(&val);
    // the next evaluation counts only the steps after this one; the loop's own figures win
    step(&mut bridge, 0.5, 0.9);
    bridge.evaluate(&val);
    step(&mut bridge, 0.4, 0.95);
    bridge.evaluate(&EvalInput {
        train_loss: Some(0.3),
        train_accuracy: Some(0.97),
        ..val.clone()
    });
    bridge.close(true).unwrap();
    let evals: Vec<(f32, f32)> = read_metrics(&dir.join(METRICS_FILE))
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            Record::Eval(e) => Some((e.train_loss, e.train_accuracy)),
            _ => None,
        })
        .collect();
    assert_eq!(evals, vec![(1.5, 0.5), (0.5, 0.9), (0.3, 0.97)]);
}

#[test]
fn the_loop_reports_its_process_resources_as_the_native_trainer_does() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut bridge = Bridge::start(spec(tmp.path())).unwrap();
    let dir = bridge.run_dir().to_path_buf();
    let (events, _commands) = convtop::remote::client::connect(&dir.join(SOCKET_FILE)).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        bridge.step(&input(0.1));
        std::thread::sleep(Duration::from_millis(20));
    }
    let Event::Resources(r) = wait_event(&events, |e| matches!(e, Event::Resources(_))) else {
        unreachable!()
    };
    assert!(r.elapsed_secs >= 1.0, "{r:?}");
    let usage = r.usage.expect("/proc is readable here");
    assert!(usage.threads >= 3 && usage.rss_bytes > 0, "{usage:?}");
    bridge.close(true).unwrap();
}
