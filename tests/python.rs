//! The Python package (`python/`) against real PyTorch: a venv with the requirements (torch,
//! numpy, safetensors, maturin, pytest, jsonschema from PyPI) made once per machine in the user's
//! cache and shared by every clone, the package built by maturin into this target directory, and
//! `pytest python/tests` run with this build's `convtop` binary. Skips with a reason when python3
//! is missing or PyPI cannot be reached, except under `CI=true`, where that fails.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// What the venv holds; a change makes a new venv (the key hashes this list).
const REQUIREMENTS: &[&str] = &[
    "torch>=2.1,<3",
    "numpy>=1.24",
    "safetensors>=0.4",
    "maturin>=1.9,<2",
    "pytest>=7",
    "jsonschema>=4.18",
];
/// Written into a venv once every requirement is installed; a venv without it is not used.
const READY: &str = "convtop-venv-ready";
/// Run by a marked venv's python with the requirements as arguments: fails when a requirement's
/// distribution, or a file its RECORD lists, is gone (a package removed or half-deleted since).
const CHECK: &str = r#"
import importlib.metadata as md, re, sys
for req in sys.argv[1:]:
    name = re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0]
    files = md.distribution(name).files or []
    gone = [f for f in files if f.suffix != ".pyc" and not f.locate().exists()]
    if gone:
        sys.exit(f"{name}: {gone[0]} is missing")
"#;

fn is_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Prints why the Python tests do not run; under CI that is a failure.
fn skip(reason: &str) {
    assert!(!is_ci(), "under CI the Python tests must run: {reason}");
    println!("skipped: {reason}");
}

fn output(what: &str, cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if out.status.success() {
        return Ok(out);
    }
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        out.status,
        tail(&out.stdout),
        tail(&out.stderr)
    ))
}

fn run(what: &str, cmd: &mut Command) {
    match output(what, cmd) {
        Ok(out) => print!("{}", String::from_utf8_lossy(&out.stdout)),
        Err(e) => panic!("{e}"),
    }
}

/// python3 (>= 3.9, with venv) and what identifies it: its real path and version.
fn python3() -> Option<(PathBuf, String)> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, sys, venv; assert sys.version_info >= (3, 9); \
             print(os.path.realpath(sys.executable), sys.version)",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Some((PathBuf::from("python3"), id))
}

/// FNV-1a, 64 bits: a stable name for the venv (std's hasher may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `$CONVTOP_PYVENV_CACHE`, else `${XDG_CACHE_HOME:-$HOME/.cache}/convtop`, else the target dir.
fn cache_dir(target: &Path) -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("CONVTOP_PYVENV_CACHE") {
        return PathBuf::from(dir);
    }
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))
        .map_or_else(|| target.to_path_buf(), |c| c.join("convtop"))
}

/// Holds an exclusive `flock` on a file while it lives (the kernel drops it with the process).
struct Locked(#[allow(dead_code)] File);

fn lock(path: &Path) -> Locked {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    convtop::train::rundir::flock(&f, libc::LOCK_EX)
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    Locked(f)
}

/// Whether the venv at `dir` was finished for `wanted` and still holds every requirement; if
/// not, why.
fn check(dir: &Path, wanted: &str) -> Result<(), String> {
    if !std::fs::read_to_string(dir.join(READY)).is_ok_and(|s| s == wanted) {
        return Err("not built yet (or its build did not finish)".into());
    }
    output(
        "the venv check",
        Command::new(dir.join("bin").join("python"))
            .args(["-c", CHECK])
            .args(REQUIREMENTS),
    )
    .map(|_| ())
}

/// The venv for these requirements and this python3, built once per machine: in a temporary
/// directory, then renamed into place, under a lock so concurrent test runs build it once.
/// Everything runs through `bin/python -m …`, which a renamed venv keeps working.
fn venv(python: &Path, python_id: &str, target: &Path) -> Result<PathBuf, String> {
    let wanted = format!("{}\n{python_id}\n", REQUIREMENTS.join("\n"));
    let cache = cache_dir(target);
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let name = format!("pyvenv-{:016x}", fnv1a(wanted.as_bytes()));
    let dir = cache.join(&name);
    if check(&dir, &wanted).is_ok() {
        return Ok(dir);
    }
    let _held = lock(&cache.join(format!("{name}.lock")));
    // another test run may have built it while this one waited
    let Err(why) = check(&dir, &wanted) else {
        return Ok(dir);
    };
    let started = Instant::now();
    println!(
        "building the Python test venv {} (torch is a large download the first time): {why}",
        dir.display()
    );
    let tmp = cache.join(format!("{name}.tmp"));
    for stale in [&tmp, &dir] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(|e| format!("{}: {e}", stale.display()))?;
        }
    }
    output(
        "python3 -m venv",
        Command::new(python).args(["-m", "venv"]).arg(&tmp),
    )?;
    output(
        "pip install of the test requirements",
        Command::new(tmp.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                // the venv is the cache: pip's own would hold a second copy of torch's ~4 GB
                "--no-cache-dir",
            ])
            .args(REQUIREMENTS),
    )?;
    std::fs::write(tmp.join(READY), &wanted).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    println!(
        "built the Python test venv in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(dir)
}

#[test]
fn the_python_package_passes_its_tests_against_pytorch() {
    let Some((python, python_id)) = python3() else {
        skip("no python3 (>= 3.9 with venv) on PATH");
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
    let started = Instant::now();
    let venv = match venv(&python, &python_id, &target) {
        Ok(v) => v,
        Err(e) => {
            skip(&format!("the Python test venv could not be made: {e}"));
            return;
        }
    };
    let bin = venv.join("bin");
    let py = bin.join("python");
    // maturin is found on PATH by its build backend
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH joins");
    // this clone's package goes beside its build, not into the shared venv
    let site = target.join("pyconvtop");
    let _held = lock(&target.join("pyconvtop.lock"));
    run(
        "pip install ./python",
        Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-build-isolation", "--no-deps", "--upgrade", "--target"])
            .arg(&site)
            .arg(root.join("python"))
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target),
    );
    println!(
        "venv and package ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    run(
        "pytest python/tests",
        Command::new(&py)
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--durations=5",
            ])
            .arg(root.join("python").join("tests"))
            .current_dir(root)
            .env("PATH", &path)
            .env("PYTHONPATH", &site)
            .env("CONVTOP_BIN", env!("CARGO_BIN_EXE_convtop"))
            .env("CONVTOP_REPO", root),
    );
}
