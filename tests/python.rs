//! The Python package (`python/`) against real PyTorch: builds a cached venv under
//! `target/pyvenv` (torch, numpy, safetensors, maturin, pytest, jsonschema from PyPI; reused
//! while its requirements are unchanged), installs the package into it with maturin sharing this
//! target directory, and runs `pytest python/tests` with this build's `convtop` binary. Skips
//! with a reason when python3 is missing, except under `CI=true`, where that fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Bumped when the list changes, so a cached venv is rebuilt.
const REQUIREMENTS: &[&str] = &[
    "torch",
    "numpy",
    "safetensors",
    "maturin>=1.9,<2",
    "pytest",
    "jsonschema",
];

fn run(what: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn python3() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .args(["-c", "import sys, venv; assert sys.version_info >= (3, 9)"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("python3"))
}

/// A venv with the requirements, made once and kept while they are unchanged.
fn venv(python: &Path, target: &Path) -> PathBuf {
    let dir = target.join("pyvenv");
    let stamp = dir.join("convtop-requirements.txt");
    let wanted = REQUIREMENTS.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    run(
        "python3 -m venv",
        Command::new(python).args(["-m", "venv"]).arg(&dir),
    );
    let pip = dir.join("bin").join("pip");
    run(
        "pip install (torch takes a few minutes the first time)",
        Command::new(&pip)
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(REQUIREMENTS),
    );
    std::fs::write(&stamp, wanted).expect("the venv's stamp is written");
    dir
}

#[test]
fn the_python_package_passes_its_tests_against_pytorch() {
    let Some(python) = python3() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 (>= 3.9 with venv) is required under CI"
        );
        println!("skipped: no python3 (>= 3.9 with venv) on PATH");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    let venv = venv(&python, &target);
    let bin = venv.join("bin");
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH joins");
    run(
        "pip install ./python",
        Command::new(bin.join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-build-isolation",
                "--no-deps",
            ])
            .arg(root.join("python"))
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target),
    );
    run(
        "pytest python/tests",
        Command::new(bin.join("python"))
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(root.join("python").join("tests"))
            .current_dir(root)
            .env("PATH", &path)
            .env("CONVTOP_BIN", env!("CARGO_BIN_EXE_convtop"))
            .env("CONVTOP_REPO", root),
    );
}
