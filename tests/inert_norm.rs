//! A `norm` layer whose α is too small for its activations divides by a constant: real short
//! trainings on the embedded digits, where the diagnostic must fire on the inert layer and stay
//! silent on one that normalises.

use std::time::{Duration, Instant};

use convtop::train::{self, Command, Diagnostic, DiagnosticKind, Event, RunState, TrainConfig};

/// Trains `net` for 400 iterations and returns what the trainer said.
fn diagnostics_of(net: &str) -> Vec<Diagnostic> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        run_dir: dir.path().to_path_buf(),
        net: net.into(),
        max_iterations: 400,
        // evaluations every 50 iterations: enough for the other checks' reminders to come due
        eval_every: 50,
        ..TrainConfig::default()
    };
    let h = train::spawn(train::new_run(cfg).unwrap()).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut has_asked_stop = false;
    while Instant::now() < deadline {
        let Ok(ev) = h.events.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        match ev {
            Event::Diagnostic(d) => out.push(d),
            Event::State(RunState::Finished) if !has_asked_stop => {
                has_asked_stop = true;
                h.commands.send(Command::Stop).unwrap();
            }
            Event::State(RunState::Stopped) => break,
            _ => {}
        }
    }
    assert!(has_asked_stop, "the run did not finish in time");
    h.thread.join().unwrap().unwrap();
    out
}

fn inert(ds: &[Diagnostic]) -> Vec<&Diagnostic> {
    ds.iter()
        .filter(|d| d.kind == DiagnosticKind::InertNorm)
        .collect()
}

#[test]
fn a_norm_with_the_papers_alpha_on_small_activations_is_called_inert() {
    // `norm3`: k 2, α 1e-4, made for 0–255 pixels; the digits here are 0–1 with the mean removed
    let ds = diagnostics_of("conv8k5p2 relu norm3 pool2 fc10");
    let found = inert(&ds);
    // once: six more layer checks and eight evaluations follow, and α cannot change mid-run
    assert_eq!(found.len(), 1, "{ds:#?}");
    let d = found[0];
    assert!(d.title.starts_with("norm1:"), "{d:?}");
    assert!(
        (100..=150).contains(&d.iteration),
        "first layer check after the warm-up: {d:?}"
    );
    assert!(d.suggestion.contains("about ×"), "{d:?}");
    assert!(d.action.is_none(), "α is no knob: {d:?}");
}

#[test]
fn a_norm_that_divides_is_not_called_inert() {
    let ds = diagnostics_of("conv8k5p2 relu norm3a1k1 pool2 fc10");
    assert!(inert(&ds).is_empty(), "{ds:#?}");
}
