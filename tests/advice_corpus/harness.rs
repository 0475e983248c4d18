//! Runs a scenario (a real training) through the library, with and without the autopilot, and
//! scores its diagnostics against the scenario's labels.

use std::time::{Duration, Instant};

use convtop::train::{
    Command, Diagnostic, DiagnosticKind, Event, KnobChange, KnobSource, RunState, Severity,
    TrainConfig, new_run, spawn,
};

/// One labelled scenario: what must fire (by which iteration) and what must not.
pub struct Scenario {
    pub name: &'static str,
    /// The flags that make it, for the README table.
    pub flags: &'static str,
    pub cfg: TrainConfig,
    pub must: Vec<(DiagnosticKind, u64)>,
    /// Kinds that may fire without counting as false alarms (a plateau beside overfitting).
    pub allowed: Vec<DiagnosticKind>,
    /// Sick scenarios must do at least as well with the autopilot; healthy ones lose ≤ 0.2 points.
    pub is_healthy: bool,
    /// Must end within 1 point of this (the healthy recipe's accuracy), with the autopilot.
    pub near_healthy: bool,
}

/// What a run produced.
pub struct Outcome {
    pub diagnostics: Vec<Diagnostic>,
    pub autopilot_changes: Vec<KnobChange>,
    /// Validation accuracy of the last evaluation (chance if it diverged before one).
    pub final_val: f32,
    /// Validation loss of the last evaluation.
    pub final_val_loss: f32,
    pub is_diverged: bool,
    pub secs: f32,
}

impl Outcome {
    pub fn first(&self, kind: DiagnosticKind) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.kind == kind)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity >= Severity::Warn)
    }
}

/// Trains `cfg` to its end (or its divergence) and collects what the trainer said.
pub fn run(mut cfg: TrainConfig, autopilot: bool) -> Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    cfg.run_dir = dir.path().to_path_buf();
    cfg.autopilot = autopilot;
    let started = Instant::now();
    let h = spawn(new_run(cfg).expect("the scenario builds")).expect("the trainer starts");
    let mut out = Outcome {
        diagnostics: Vec::new(),
        autopilot_changes: Vec::new(),
        final_val: 0.1,
        final_val_loss: f32::NAN,
        is_diverged: false,
        secs: 0.0,
    };
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut has_asked_stop = false;
    while Instant::now() < deadline {
        let Ok(ev) = h.events.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        match ev {
            Event::Diagnostic(d) => out.diagnostics.push(d),
            Event::Evaluation(e) => {
                out.final_val = e.val_accuracy;
                out.final_val_loss = e.val_loss;
            }
            Event::KnobChanged(k) if k.source == KnobSource::Autopilot => {
                out.autopilot_changes.push(k)
            }
            Event::State(s @ (RunState::Finished | RunState::Diverged)) if !has_asked_stop => {
                out.is_diverged = s == RunState::Diverged;
                has_asked_stop = true;
                let _ = h.commands.send(Command::Stop);
            }
            Event::State(RunState::Stopped) => break,
            _ => {}
        }
    }
    let _ = h.thread.join();
    if out.is_diverged {
        // The run stops there, as a headless run does: what it leaves is no model.
        out.final_val = 0.1;
    }
    out.secs = started.elapsed().as_secs_f32();
    out
}

/// The kinds a scorecard covers.
pub const KINDS: [DiagnosticKind; 9] = [
    DiagnosticKind::Divergence,
    DiagnosticKind::DeadRelu,
    DiagnosticKind::UpdateRatio,
    DiagnosticKind::LearningRateTooLow,
    DiagnosticKind::Overfitting,
    DiagnosticKind::Underfitting,
    DiagnosticKind::Plateau,
    DiagnosticKind::InitialLoss,
    DiagnosticKind::Preprocessing,
];

/// Per kind: (true positives, false positives, false negatives) over the scenarios' plain runs.
pub fn score(results: &[(&Scenario, &Outcome)]) -> Vec<(DiagnosticKind, u32, u32, u32)> {
    KINDS
        .iter()
        .map(|&kind| {
            let (mut tp, mut fp, mut fneg) = (0, 0, 0);
            for (s, o) in results {
                let fired = o.warnings().find(|d| d.kind == kind);
                match s.must.iter().find(|(k, _)| *k == kind) {
                    Some((_, by)) if fired.is_some_and(|d| d.iteration <= *by) => tp += 1,
                    Some(_) => fneg += 1,
                    None if fired.is_some() && !s.allowed.contains(&kind) => fp += 1,
                    None => {}
                }
            }
            (kind, tp, fp, fneg)
        })
        .collect()
}

/// "1.00" or "–" when undefined.
pub fn ratio(num: u32, den: u32) -> String {
    if den == 0 {
        "–".to_string()
    } else {
        format!("{:.2}", f64::from(num) / f64::from(den))
    }
}

/// One README row: scenario, flags, what fired (kind @iteration), the advice, val without/with.
pub fn table_row(s: &Scenario, plain: &Outcome, auto: &Outcome) -> String {
    let mut fired: Vec<String> = Vec::new();
    for d in plain.warnings() {
        let tag = format!("{:?}", d.kind);
        if !fired.iter().any(|f| f.starts_with(&tag)) {
            fired.push(format!("{tag} @{}", d.iteration));
        }
    }
    let advice = plain
        .warnings()
        .find_map(|d| d.action.as_ref().map(convtop::train::advice::describe))
        .unwrap_or_else(|| "–".to_string());
    let changes: Vec<String> = auto
        .autopilot_changes
        .iter()
        .map(|k| {
            format!(
                "{:?} {} → {} @{}",
                k.knob,
                short(k.old),
                short(k.new),
                k.iteration
            )
        })
        .collect();
    format!(
        "| {} | `{}` | {} | {} | {:.2}% | {:.2}% | {} |",
        s.name,
        s.flags,
        if fired.is_empty() {
            "none".to_string()
        } else {
            fired.join(", ")
        },
        advice,
        100.0 * plain.final_val,
        100.0 * auto.final_val,
        if changes.is_empty() {
            "none".to_string()
        } else {
            changes.join("; ")
        },
    )
}

fn short(v: f64) -> String {
    convtop::train::advice::short(v)
}
