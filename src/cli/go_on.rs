//! The dashboard session's last line: how to go on with the run.

use crate::train;

/// The last line of a dashboard session: how to go on with the run. A finished run is resumed
/// only with more epochs (`--resume` alone refuses it), one stopped at its iteration cap not at
/// all, a stopped one as it is.
pub(super) fn how_to_go_on(run_dir: &std::path::Path) -> String {
    let d = run_dir.display();
    match train::summary::summarize(run_dir) {
        Ok(s) if s.status == train::summary::RunStatus::Finished => {
            let (epochs, cap) = (s.config.epochs, s.config.max_iterations);
            if cap > 0 && s.iterations >= cap {
                format!("run {d} finished at its cap of {cap} iterations")
            } else {
                let noun = if epochs == 1 { "epoch" } else { "epochs" };
                format!(
                    "run {d} finished its {epochs} {noun} (train it longer with: convtop train \
                     --resume {d} --epochs {})",
                    2 * epochs
                )
            }
        }
        _ => format!("run {d} (resume with: convtop train --resume {d})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run directory with a config and the given metrics records.
    fn run_with(cfg: &train::TrainConfig, records: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("config.toml"), cfg.to_toml()).expect("config written");
        std::fs::write(dir.path().join("metrics.jsonl"), records.join("\n")).expect("metrics");
        dir
    }

    #[test]
    fn the_last_line_says_how_a_finished_capped_or_stopped_run_goes_on() {
        let iter = r#"{"type":"iter","iteration":1689,"epoch":3.0}"#;
        let finished = r#"{"type":"state","iteration":1689,"state":"finished"}"#;
        let stopped = r#"{"type":"state","iteration":1689,"state":"stopped"}"#;
        let three = train::TrainConfig {
            epochs: 3,
            ..train::TrainConfig::default()
        };
        let dir = run_with(&three, &[iter, finished, stopped]);
        let line = how_to_go_on(dir.path());
        assert!(line.contains("finished its 3 epochs"), "{line}");
        assert!(
            line.contains("--resume") && line.contains("--epochs 6"),
            "{line}"
        );
        let one = train::TrainConfig {
            epochs: 1,
            ..train::TrainConfig::default()
        };
        let line = how_to_go_on(run_with(&one, &[iter, finished]).path());
        assert!(line.contains("finished its 1 epoch ("), "{line}");
        let dir = run_with(&three, &[iter, stopped]);
        let line = how_to_go_on(dir.path());
        assert!(
            line.ends_with(&format!("--resume {})", dir.path().display())),
            "{line}"
        );
        let capped = train::TrainConfig {
            max_iterations: 1689,
            ..three
        };
        let dir = run_with(&capped, &[iter, finished]);
        let line = how_to_go_on(dir.path());
        assert!(
            line.contains("finished at its cap of 1689 iterations"),
            "{line}"
        );
        assert!(!line.contains("--resume"), "{line}");
    }
}
