//! Symlinks, owners, modes, the one-trainer lock, concurrent test looks, hostile metrics and
//! test records, non-finite values.

use std::os::unix::fs::{PermissionsExt, symlink};

use convtop::train::rundir::{
    DirHandle, DirPolicy, LAST_CHECKPOINT, METRICS_FILE, MetricsLog, ensure_dir,
};
use convtop::train::vault::{TEST_RECORD, read_record};

use crate::common::*;

const VICTIM: &str = "the victim's own bytes\n";

fn assert_refused(out: &std::process::Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: accepted\n{}", text(out));
    assert!(err.contains("symbolic link"), "{what}: {}", text(out));
}

#[test]
fn a_symlink_on_any_file_a_run_writes_is_refused_and_never_followed() {
    let base = tempfile::tempdir().unwrap();
    let run = short_run(&base.path().join("runs"), 10);
    let victim = base.path().join("victim");
    let victim_dir = base.path().join("victim-dir");
    std::fs::write(&victim, VICTIM).unwrap();
    std::fs::create_dir(&victim_dir).unwrap();
    let names = [
        ".checkpoint-last.safetensors.tmp",
        ".checkpoint-best.safetensors.tmp",
        ".config.toml.tmp",
        "checkpoint-last.safetensors",
        "config.toml",
        "metrics.jsonl",
        "test-record.jsonl",
        "convtop.log",
        "control.sock",
        "lock",
        "export",
    ];
    let mut tried = 0;
    for name in names {
        let link = run.join(name);
        let aside = base.path().join("aside");
        let had = link.exists();
        if had {
            std::fs::rename(&link, &aside).unwrap();
        }
        let target = if name == "export" {
            &victim_dir
        } else {
            &victim
        };
        symlink(target, &link).unwrap();
        let resume = convtop()
            .args(["train", "--headless", "--max-iterations", "20", "--resume"])
            .arg(&run)
            .output()
            .unwrap();
        assert_refused(&resume, &format!("--resume with {name} a symlink"));
        let test = convtop().arg("test").arg(&run).output().unwrap();
        assert_refused(&test, &format!("test with {name} a symlink"));
        if name == "export" || name == "metrics.jsonl" {
            let export = convtop().arg("export").arg(&run).output().unwrap();
            assert_refused(&export, &format!("export with {name} a symlink"));
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), VICTIM, "{name}");
        assert_eq!(std::fs::read_dir(&victim_dir).unwrap().count(), 0, "{name}");
        std::fs::remove_file(&link).unwrap();
        if had {
            std::fs::rename(&aside, &link).unwrap();
        }
        tried += 1;
    }
    eprintln!("faults: symlink attacks tried {tried}, refused {tried}");
}

#[test]
fn writes_made_after_the_checks_still_never_follow_a_symlink() {
    // a symlink planted between the directory scan and the write (a race) meets O_NOFOLLOW
    let base = tempfile::tempdir().unwrap();
    let victim = base.path().join("victim");
    std::fs::write(&victim, VICTIM).unwrap();
    let dir = base.path().join("run");
    std::fs::create_dir(&dir).unwrap();
    symlink(&victim, dir.join(".config.toml.tmp")).unwrap();
    let handle = DirHandle::open(&dir, DirPolicy::Run).unwrap();
    handle.write_atomic("config.toml", b"new").unwrap();
    assert_eq!(std::fs::read(dir.join("config.toml")).unwrap(), b"new");
    assert!(!dir.join(".config.toml.tmp").exists());
    symlink(&victim, dir.join(METRICS_FILE)).unwrap();
    let err = MetricsLog::open(dir.join(METRICS_FILE)).err().unwrap();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    symlink(&victim, dir.join("export")).unwrap();
    let err = ensure_dir(&dir.join("export")).err().unwrap();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    // the directory itself, swapped for a symlink, is refused by its handle
    let swapped = base.path().join("swapped");
    symlink(&dir, &swapped).unwrap();
    assert!(DirHandle::open(&swapped, DirPolicy::Run).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), VICTIM);
}

#[test]
fn a_loose_run_dir_of_ours_is_tightened() {
    let base = tempfile::tempdir().unwrap();
    let run = short_run(&base.path().join("runs"), 10);
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = convtop().arg("test").arg(&run).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mode = std::fs::metadata(&run).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the loose run dir was not tightened");
    // a foreign-owned run dir, tight or loose: tests/faults/users.rs, with a real second user
    // a shared sticky directory (/tmp as root) given as a run dir is refused, never tightened
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let err = DirHandle::open(shared.path(), DirPolicy::Run)
        .err()
        .unwrap();
    assert!(err.to_string().contains("sticky"), "{err}");
    let mode = std::fs::metadata(shared.path())
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o1777, "a shared directory was changed");
}

#[test]
fn a_second_trainer_is_refused_naming_the_first() {
    let base = tempfile::tempdir().unwrap();
    let runs = base.path().join("runs");
    let mut first = convtop()
        .args(short_args(&runs, 100_000))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        assert!(std::time::Instant::now() < deadline, "no checkpoint");
        if let Some(Ok(d)) = std::fs::read_dir(&runs).ok().and_then(|mut d| d.next())
            && d.path().join(LAST_CHECKPOINT).exists()
        {
            break d.path();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let second = convtop()
        .args(["train", "--headless", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    let _ = first.kill();
    let _ = first.wait();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{}", text(&second));
    assert!(
        err.contains(&format!("is being trained by process {}", first.id())),
        "{}",
        text(&second)
    );
    assert_exactly_once(
        &run,
        checkpoint_iteration(&run).unwrap(),
        "after one trainer",
    );
}

#[test]
fn concurrent_test_looks_are_counted_one_and_two() {
    let base = tempfile::tempdir().unwrap();
    let run = short_run(&base.path().join("runs"), 10);
    let children: Vec<_> = (0..2)
        .map(|_| {
            convtop()
                .arg("test")
                .arg(&run)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut counts: Vec<u32> = read_record(&run).unwrap().iter().map(|r| r.count).collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2]);
}

#[test]
fn damaged_lines_are_skipped_counted_and_warned_about_once() {
    let base = tempfile::tempdir().unwrap();
    let runs = base.path().join("runs");
    let run = short_run(&runs, 20);
    let look = convtop().arg("test").arg(&run).output().unwrap();
    assert!(look.status.success(), "{}", text(&look));
    let iters = iterations(&run).len();
    for name in [METRICS_FILE, TEST_RECORD] {
        let path = run.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        let first_newline = bytes.iter().position(|&b| b == b'\n').unwrap();
        bytes.splice(
            first_newline + 1..first_newline + 1,
            *b"{\"type\":\"iter\xff\xfe\n",
        );
        bytes.extend_from_slice(b"\x80\x81 not even JSON\n");
        std::fs::write(&path, bytes).unwrap();
    }
    let ls = convtop()
        .arg("ls")
        .arg("--run-dir")
        .arg(&runs)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&ls.stdout);
    assert!(
        ls.status.success() && out.contains("finished"),
        "{}",
        text(&ls)
    );
    assert!(!out.contains("crashed"), "{out}");
    let export = convtop().arg("export").arg(&run).output().unwrap();
    assert!(export.status.success(), "{}", text(&export));
    let err = String::from_utf8_lossy(&export.stderr);
    assert_eq!(err.matches("damaged line").count(), 1, "{err}");
    assert!(err.contains("2 damaged line(s)"), "{err}");
    let csv = std::fs::read_to_string(run.join("export/metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("iter,")).count(),
        iters
    );
    let look = convtop().arg("test").arg(&run).output().unwrap();
    assert!(look.status.success(), "{}", text(&look));
    assert!(
        String::from_utf8_lossy(&look.stdout).contains("look 2"),
        "{}",
        text(&look)
    );
}

#[test]
fn non_finite_values_are_kept_through_metrics_and_export() {
    use convtop::train::rundir::Record;
    let base = tempfile::tempdir().unwrap();
    let run = short_run(&base.path().join("runs"), 10);
    let mut log = MetricsLog::open(run.join(METRICS_FILE)).unwrap();
    let mut stats = match read_metrics_last_iter(&run) {
        Record::Iter(s) => s,
        _ => unreachable!(),
    };
    for (i, v) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
        .into_iter()
        .enumerate()
    {
        stats.iteration = 11 + i as u64;
        stats.data_loss = v;
        stats.images_per_sec = v;
        log.write(&Record::Iter(stats)).unwrap();
    }
    log.sync().unwrap();
    let text_of = std::fs::read_to_string(run.join(METRICS_FILE)).unwrap();
    assert!(!text_of.contains("null"), "a value was written as null");
    for s in ["\"NaN\"", "\"inf\"", "\"-inf\""] {
        assert!(text_of.contains(s), "{s} missing");
    }
    let back = iterations(&run);
    assert_eq!(
        back,
        (1..=13).collect::<Vec<u64>>(),
        "a reader dropped an iteration"
    );
    let export = convtop().arg("export").arg(&run).output().unwrap();
    assert!(export.status.success(), "{}", text(&export));
    let csv = std::fs::read_to_string(run.join("export/metrics.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().filter(|l| l.starts_with("iter,")).collect();
    assert_eq!(rows.len(), 13);
    assert!(
        rows[10].starts_with("iter,11,") && rows[10].contains(",NaN,"),
        "{}",
        rows[10]
    );
    assert!(rows[11].contains(",inf,") && rows[12].contains(",-inf,"));
}

fn read_metrics_last_iter(run: &std::path::Path) -> convtop::train::rundir::Record {
    convtop::train::rundir::read_metrics(&run.join(METRICS_FILE))
        .unwrap()
        .into_iter()
        .rfind(|r| matches!(r, convtop::train::rundir::Record::Iter(_)))
        .unwrap()
}

#[test]
fn metrics_is_cut_back_to_the_checkpoint_including_a_torn_tail() {
    use convtop::train::rundir::keep_until;
    let file = b"{\"type\":\"iter\",\"iteration\":1}\n\xff bad\n{\"type\":\"iter\",\"iteration\":2}\n{\"type\":\"iter\",\"iteration\":3}\n{\"type\":\"it";
    let keep = keep_until(file, 2);
    assert!(file[..keep].ends_with(b"\"iteration\":2}\n"));
    let keep = keep_until(file, 9);
    assert!(
        file[..keep].ends_with(b"\"iteration\":3}\n"),
        "the torn tail stays"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(METRICS_FILE);
    std::fs::write(&path, file).unwrap();
    let mut log = MetricsLog::resume(path.clone(), 2).unwrap();
    log.write(&convtop::train::rundir::Record::Resume { iteration: 2 })
        .unwrap();
    log.sync().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.ends_with(b"\"iteration\":2}\n{\"type\":\"resume\",\"iteration\":2}\n"));
}
