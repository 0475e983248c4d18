//! A run's past from its files as one `RunHistory`: what `attach` shows before the live stream,
//! what a resumed dashboard shows before its first new iteration, and all that `replay` shows.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};

use crate::train::history::RunHistory;
use crate::train::rundir::{LAST_CHECKPOINT, METRICS_FILE, Record, read_metrics};
use crate::train::{Command, Event, RunState, Severity, TrainError, load_run, snapshot};

/// The history in `dir`'s metrics.jsonl (empty when the run has not written one yet); with
/// `until`, what came after that iteration is left out (a resume does it again).
pub fn load(dir: &Path, until: Option<u64>) -> Result<RunHistory, TrainError> {
    let path = dir.join(METRICS_FILE);
    if !path.exists() {
        return Ok(RunHistory::default());
    }
    let mut history = RunHistory::from_records(&read_metrics(&path)?);
    if let Some(iteration) = until {
        history.truncate_after(iteration);
    }
    Ok(history)
}

/// Attaches: the file's history, and the live `events` (the training's backlog overlaps the
/// history; `RunHistory` ignores what it already holds).
pub fn attach_stream(
    dir: &Path,
    live: Receiver<Event>,
) -> Result<(RunHistory, Receiver<Event>), TrainError> {
    let history = load(dir, None)?;
    let (tx, rx) = mpsc::channel();
    let dir_text = dir.display().to_string();
    std::thread::Builder::new()
        .name("convtop-attach".into())
        .spawn(move || {
            for e in live {
                let e = match e {
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
    Ok((history, rx))
}

/// What `replay` runs: the history to show and a stand-in trainer's channels.
pub struct Replay {
    pub history: RunHistory,
    pub events: Receiver<Event>,
    pub commands: Sender<Command>,
}

/// A stand-in trainer for `replay`: the run's history, then answers to requests for filters,
/// activations and data from the last checkpoint until told to stop.
pub fn replay(dir: &Path) -> Result<Replay, TrainError> {
    let records = read_metrics(&dir.join(METRICS_FILE))?;
    let history = RunHistory::from_records(&records);
    let mut run = load_run(dir, None, LAST_CHECKPOINT).ok();
    let (ev_tx, ev_rx) = mpsc::channel();
    let (cmd_tx, cmd_rx) = mpsc::channel();
    // a PyTorch run has no config convtop can rebuild: its header comes from run-info.json
    let info = run
        .as_ref()
        .map(|r| r.info.clone())
        .or_else(|| crate::bridge::read_run_info(dir));
    if let Some(info) = info {
        let _ = ev_tx.send(Event::Started(Box::new(info)));
    }
    if !history.autopilot.is_empty() {
        let on = history.is_autopilot_on();
        let _ = ev_tx.send(Event::Autopilot { on });
    }
    // the last evaluation carries the confusion matrix the Data tab shows
    if let Some(Record::Eval(e)) = records.iter().rev().find(|r| matches!(r, Record::Eval(_))) {
        let _ = ev_tx.send(Event::Evaluation(e.clone()));
    }
    let last_state = records.iter().rev().find_map(|r| match r {
        Record::State { state, .. } => Some(*state),
        _ => None,
    });
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
    let is_foreign = crate::bridge::is_foreign(dir);
    let last_iteration = records.iter().rev().find_map(|r| match r {
        Record::Iter(s) => Some(s.iteration),
        _ => None,
    });
    let foreign_view = is_foreign
        .then(|| crate::bridge::replay_snapshot(dir, LAST_CHECKPOINT, last_iteration.unwrap_or(0)))
        .flatten();
    if run.is_none() && !is_foreign {
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
                    (Command::RequestSnapshot { .. }, None) => match &foreign_view {
                        Some(view) => Event::Snapshot(Box::new(view.clone())),
                        None => continue,
                    },
                    (Command::RequestDataView, None) => continue,
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
    Ok(Replay {
        history,
        events: ev_rx,
        commands: cmd_tx,
    })
}
