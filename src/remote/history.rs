//! A run's past from its files, as the events a dashboard would have seen live: what `attach`
//! shows before the live stream, and all that `replay` shows.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};

use crate::train::rundir::{LAST_CHECKPOINT, METRICS_FILE, Record, read_metrics};
use crate::train::{Command, Event, IterStats, RunState, Severity, TrainError, load_run, snapshot};

/// Iterations per replayed event: the dashboard drains a bounded number of events a turn.
const CHUNK: usize = 4096;

/// The events of `records`, in order; consecutive iterations are batched.
pub fn events_from_records(records: &[Record]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut iters: Vec<IterStats> = Vec::new();
    let flush = |iters: &mut Vec<IterStats>, out: &mut Vec<Event>| {
        for chunk in iters.chunks(CHUNK) {
            out.push(Event::Iterations(chunk.to_vec()));
        }
        iters.clear();
    };
    for r in records {
        if let Record::Iter(s) = r {
            iters.push(*s);
            continue;
        }
        flush(&mut iters, &mut out);
        match r {
            Record::Eval(e) => out.push(Event::Evaluation(e.clone())),
            Record::Knob(k) => out.push(Event::KnobChanged(k.clone())),
            Record::Diagnostic(d) => out.push(Event::Diagnostic(d.clone())),
            Record::State { state, .. } => out.push(Event::State(*state)),
            Record::Checkpoint { iteration, path } => out.push(Event::CheckpointSaved {
                iteration: *iteration,
                path: path.clone(),
            }),
            Record::Iter(_) | Record::Resume { .. } => {}
        }
    }
    flush(&mut iters, &mut out);
    out
}

/// Attaches: the file's history first, then the live `events` without what the file already
/// held (the training sends a backlog on connect that overlaps it).
pub fn attach_stream(dir: &Path, live: Receiver<Event>) -> Result<Receiver<Event>, TrainError> {
    // a run that has only just started may not have opened its metrics.jsonl yet: no history
    let path = dir.join(METRICS_FILE);
    let records = if path.exists() {
        read_metrics(&path)?
    } else {
        Vec::new()
    };
    let (tx, rx) = mpsc::channel();
    let mut last_iter = 0;
    let mut seen_knobs = HashSet::new();
    let dir_text = dir.display().to_string();
    let mut past = events_from_records(&records);
    // the live stream says what the state is now
    past.retain(|e| !matches!(e, Event::State(_) | Event::CheckpointSaved { .. }));
    for e in past {
        match &e {
            Event::Iterations(b) => last_iter = b.last().map_or(last_iter, |s| s.iteration),
            Event::KnobChanged(k) => {
                seen_knobs.insert(serde_json::to_string(k).unwrap_or_default());
            }
            _ => {}
        }
        let _ = tx.send(e);
    }
    std::thread::Builder::new()
        .name("convtop-attach".into())
        .spawn(move || {
            for e in live {
                let e = match e {
                    Event::Iterations(b) => {
                        let fresh: Vec<_> =
                            b.into_iter().filter(|s| s.iteration > last_iter).collect();
                        let Some(last) = fresh.last() else { continue };
                        last_iter = last.iteration;
                        Event::Iterations(fresh)
                    }
                    Event::KnobChanged(k) => {
                        if !seen_knobs.insert(serde_json::to_string(&k).unwrap_or_default()) {
                            continue;
                        }
                        Event::KnobChanged(k)
                    }
                    // the training's own path may be relative to another working directory
                    Event::Started(mut info) => {
                        info.run_dir.clone_from(&dir_text);
                        Event::Started(info)
                    }
                    e => e,
                };
                if tx.send(e).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| TrainError::Thread(e.to_string()))?;
    Ok(rx)
}

/// A stand-in trainer for `replay`: sends the run's history, then answers requests for filters,
/// activations and data from the last checkpoint until told to stop.
pub fn replay(dir: &Path) -> Result<(Receiver<Event>, Sender<Command>), TrainError> {
    let records = read_metrics(&dir.join(METRICS_FILE))?;
    let mut run = load_run(dir, None, LAST_CHECKPOINT).ok();
    let (ev_tx, ev_rx) = mpsc::channel();
    let (cmd_tx, cmd_rx) = mpsc::channel();
    if let Some(run) = &run {
        let _ = ev_tx.send(Event::Started(Box::new(run.info.clone())));
    }
    let events = events_from_records(&records);
    let last_state = events.iter().rev().find_map(|e| match e {
        Event::State(s) => Some(*s),
        _ => None,
    });
    for e in events {
        let _ = ev_tx.send(e);
    }
    let end = match last_state {
        Some(RunState::Finished) => RunState::Finished,
        Some(RunState::Stopped) => RunState::Stopped,
        _ => {
            let _ = ev_tx.send(Event::Message {
                level: Severity::Warn,
                text: "no final state in metrics.jsonl: the run crashed or is still going".into(),
            });
            RunState::Stopped
        }
    };
    let _ = ev_tx.send(Event::State(end));
    if run.is_none() {
        let _ = ev_tx.send(Event::Message {
            level: Severity::Warn,
            text: format!("no readable {LAST_CHECKPOINT}: curves only"),
        });
    }
    std::thread::Builder::new()
        .name("convtop-replay".into())
        .spawn(move || {
            for cmd in cmd_rx {
                let event = match (cmd, run.as_mut()) {
                    (Command::Stop, _) => return,
                    (Command::RequestSnapshot { input_index }, Some(run)) => {
                        Event::Snapshot(Box::new(snapshot::snapshot(run, &[], input_index)))
                    }
                    (Command::RequestDataView, Some(run)) => {
                        Event::DataView(Box::new(snapshot::data_view(run)))
                    }
                    (Command::RequestSnapshot { .. } | Command::RequestDataView, None) => continue,
                    _ => Event::Message {
                        level: Severity::Info,
                        text: "a replay shows the run's files: there is nothing to steer".into(),
                    },
                };
                if ev_tx.send(event).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| TrainError::Thread(e.to_string()))?;
    Ok((ev_rx, cmd_tx))
}
