//! `convtop export` on a real (short) run: the PNGs exist, have a sensible size and are not blank.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_convtop");

/// (width, height, fraction of non-white pixels, distinct colours seen).
fn inspect(path: &Path) -> (u32, u32, f64, usize) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = img.dimensions();
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    for p in img.pixels() {
        if p.0 != [255, 255, 255] {
            inked += 1;
        }
        if colours.len() < 10_000 {
            colours.insert(p.0);
        }
    }
    (w, h, inked as f64 / f64::from(w * h), colours.len())
}

#[test]
fn export_writes_report_pngs_and_csv_of_a_real_run() {
    let base = tempfile::tempdir().unwrap();
    let train = Command::new(BIN)
        .args(["train", "--headless", "--epochs", "1", "--eval-every", "60"])
        .arg("--run-dir")
        .arg(base.path())
        .output()
        .unwrap();
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let run = std::fs::read_dir(base.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let export = Command::new(BIN).arg("export").arg(&run).output().unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let out = run.join("export");

    for (name, min_w, min_h) in [
        ("loss.png", 1000, 600),
        ("accuracy.png", 1000, 600),
        ("filters.png", 300, 150),
        ("activations.png", 600, 300),
    ] {
        let (w, h, inked, colours) = inspect(&out.join(name));
        assert!(w >= min_w && h >= min_h, "{name} is {w}×{h}");
        // text, axes and curves cover a few percent at least; a blank or black image fails
        assert!(
            inked > 0.02 && inked < 0.95,
            "{name}: {inked:.3} of its pixels inked"
        );
        assert!(colours > 20, "{name}: only {colours} colours");
    }
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("type,iteration,epoch,data_loss")
    );
    assert!(csv.lines().filter(|l| l.starts_with("iter,")).count() > 100);
    assert!(csv.lines().any(|l| l.starts_with("eval,")));

    let compare = Command::new(BIN)
        .arg("compare")
        .arg(&run)
        .arg(&run)
        .arg("--out")
        .arg(base.path())
        .output()
        .unwrap();
    assert!(
        compare.status.success(),
        "{}",
        String::from_utf8_lossy(&compare.stderr)
    );
    let (w, _, inked, _) = inspect(&base.path().join("compare-loss.png"));
    assert!(w >= 1000 && inked > 0.02);
}
