//! A real second user (root only): `convtop-fault-PID`, made with useradd and removed afterwards.
//! Its real training meets a read-only run dir (EACCES for real, not as root); its run dir is
//! refused by ours; in a loose run dir of ours it plants its own metrics file and binds a fake
//! `control.sock`, which `ls` and `attach` refuse by the socket's owner (SO_PEERCRED).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use convtop::train::rundir::LAST_CHECKPOINT;

use crate::common::*;

/// The user, removed (userdel) when dropped; named after this process, so that test runs in
/// other worktrees at the same time never share (or delete) it.
struct FaultUser {
    name: String,
    uid: u32,
}

impl FaultUser {
    /// Creates the user, or says why it cannot (not root, no useradd) and returns None.
    fn create() -> Option<FaultUser> {
        if !is_root() {
            eprintln!("faults: second-user tests skipped: not root (useradd needs it)");
            return None;
        }
        let name = format!("convtop-fault-{}", std::process::id());
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(&name)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("faults: second-user tests skipped: useradd {name} failed or is missing");
            return None;
        }
        // from here on, Drop removes the user whatever happens
        let mut user = FaultUser { name, uid: 0 };
        let id = Command::new("id").args(["-u", &user.name]).output().ok()?;
        user.uid = String::from_utf8_lossy(&id.stdout).trim().parse().ok()?;
        Some(user)
    }

    /// `program` run as the user: its uid, its gid, no supplementary groups, HOME at `home`.
    fn command(&self, program: &str, home: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.name,
            "--regid",
            &self.name,
            "--clear-groups",
            "--",
        ])
        .arg("env")
        .arg(format!("HOME={}", home.display()))
        .arg(program);
        c
    }

    fn chown(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), None).unwrap();
    }
}

impl Drop for FaultUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_convtop")
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn wait_for(path: &Path, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The user trains in its own run dir; after the first checkpoint the dir is made read-only
/// (0500, still the user's): the next save fails with a real EACCES.
fn permission_denied_for_real(user: &FaultUser, base: &Path) -> PathBuf {
    let runs = base.join("runs");
    let mut child = user
        .command(bin(), base)
        .args(["train", "--headless", "--epochs", "1", "--batch", "64"])
        .args(["--checkpoint-every", "5", "--run-dir"])
        .arg(&runs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let found = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|e| e.path());
        if let Some(run) = found
            && run.join(LAST_CHECKPOINT).exists()
        {
            break run;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!(
                "no first checkpoint\n{}",
                text(&child.wait_with_output().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    set_mode(&run, 0o500);
    // no rename can land after the chmod: these bytes must be the ones left at the end
    let before = std::fs::read(run.join(LAST_CHECKPOINT)).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(err.contains("permission denied"), "{}", text(&out));
    assert!(!err.contains("free some space"), "{}", text(&out));
    assert_eq!(
        std::fs::read(run.join(LAST_CHECKPOINT)).unwrap(),
        before,
        "the previous checkpoint changed"
    );
    let at = checkpoint_iteration(&run).expect("the previous checkpoint loads");
    assert_exactly_once(&run, at, "after EACCES");
    // writable again, the user's run resumes from it
    set_mode(&run, 0o700);
    let out = user
        .command(bin(), base)
        .args(["train", "--headless", "--max-iterations", "30", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "resume after EACCES: {}", text(&out));
    eprintln!(
        "faults: EACCES as {}: exit 3, checkpoint of iteration {at} intact, resumed",
        user.name
    );
    run
}

/// Root refuses the user's run dir, tight or loose.
fn foreign_run_dir_refused(user: &FaultUser, run: &Path) {
    for mode in [0o700, 0o777] {
        set_mode(run, mode);
        for args in [&["train", "--headless", "--resume"][..], &["test"][..]] {
            let out = convtop().args(args).arg(run).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} {mode:o}: {}", text(&out));
            let owner = format!("owned by uid {}", user.uid);
            assert!(err.contains(&owner), "{args:?} {mode:o}: {}", text(&out));
        }
        let mode_now = std::fs::metadata(run).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode_now, mode, "a foreign run dir was changed");
    }
}

/// A run of ours killed (-9) after its first checkpoint: one `--resume` would continue.
fn interrupted_run(runs: &Path) -> PathBuf {
    let mut child = convtop()
        .args(["train", "--headless", "--epochs", "1", "--batch", "64"])
        .args(["--checkpoint-every", "5", "--run-dir"])
        .arg(runs)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        if let Some(Ok(d)) = std::fs::read_dir(runs).ok().and_then(|mut d| d.next())
            && d.path().join(LAST_CHECKPOINT).exists()
        {
            break d.path();
        }
        assert!(Instant::now() < deadline, "no first checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = child.kill();
    let _ = child.wait();
    run
}

/// In a loose run dir of ours the user swaps in its own metrics.jsonl: refused on resume.
fn planted_metrics_refused(user: &FaultUser, run: &Path, home: &Path) {
    let swap = "mv metrics.jsonl metrics.old && echo '{}' > metrics.jsonl";
    let out = user
        .command("/bin/sh", home)
        .args(["-c", &format!("cd '{}' && {swap}", run.display())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the user could not plant: {}",
        text(&out)
    );
    let out = convtop()
        .args(["train", "--headless", "--max-iterations", "20", "--resume"])
        .arg(run)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        err.contains(&format!("owned by uid {}", user.uid)),
        "{}",
        text(&out)
    );
    std::fs::remove_file(run.join("metrics.jsonl")).unwrap();
    std::fs::rename(run.join("metrics.old"), run.join("metrics.jsonl")).unwrap();
}

const FAKE_SERVER: &str = "import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
print('bound', flush=True)
kept = []
while True:
    c, _ = s.accept()
    kept.append(c)
    try:
        c.sendall(b'{\"v\":1,\"event\":{\"State\":\"Running\"}}\\n')
    except OSError:
        pass
";

/// The user binds a fake `control.sock` in a loose run dir of ours: `ls` calls it untrusted,
/// `attach` refuses it, both by the peer's uid.
fn fake_socket_refused(user: &FaultUser, run: &Path, home: &Path) {
    let python = Path::new("/usr/bin/python3");
    if !python.exists() {
        eprintln!("faults: fake-socket test skipped: /usr/bin/python3 is missing");
        return;
    }
    let socket = run.join("control.sock");
    let mut fake = user
        .command("/usr/bin/python3", home)
        .args(["-c", FAKE_SERVER])
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(fake.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let bound = line.trim() == "bound" && wait_for(&socket, &mut fake);
    let ls = convtop()
        .args(["ls", "--run-dir"])
        .arg(run.parent().unwrap())
        .output()
        .unwrap();
    let attach = convtop().arg("attach").arg(run).output().unwrap();
    let _ = fake.kill();
    let _ = fake.wait();
    assert!(bound, "the user's fake socket was not bound");
    let owner = std::fs::symlink_metadata(&socket).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    assert_eq!(owner.ok(), Some(user.uid), "the socket is not the user's");
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.status.success(), "{}", text(&ls));
    let id = run.file_name().unwrap().to_string_lossy().into_owned();
    let row = listing
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_default();
    assert!(
        row.contains("untrusted") && !row.contains("live"),
        "{listing}"
    );
    let err = String::from_utf8_lossy(&attach.stderr);
    assert!(
        !attach.status.success(),
        "attached to a fake: {}",
        text(&attach)
    );
    assert!(
        err.contains(&format!("uid {}", user.uid)) && err.contains("not trusted"),
        "{}",
        text(&attach)
    );
    std::fs::remove_file(&socket).unwrap();
    eprintln!(
        "faults: fake socket of {}: ls says untrusted, attach refuses",
        user.name
    );
}

#[test]
fn a_real_second_user_meets_eacces_and_its_run_dir_and_fake_socket_are_refused() {
    let Some(user) = FaultUser::create() else {
        return;
    };
    let theirs = tempfile::tempdir().unwrap();
    user.chown(theirs.path());
    let run = permission_denied_for_real(&user, theirs.path());
    foreign_run_dir_refused(&user, &run);
    // a run of ours in a directory the user can reach, left loose (0777)
    let ours = tempfile::tempdir().unwrap();
    set_mode(ours.path(), 0o755);
    let mine = interrupted_run(&ours.path().join("runs"));
    set_mode(&ours.path().join("runs"), 0o755);
    set_mode(&mine, 0o777);
    planted_metrics_refused(&user, &mine, theirs.path());
    set_mode(&mine, 0o777);
    fake_socket_refused(&user, &mine, theirs.path());
    let out = convtop()
        .args(["test", "--checkpoint", "last"])
        .arg(&mine)
        .output()
        .unwrap();
    assert!(out.status.success(), "our run after it all: {}", text(&out));
    let mode = std::fs::metadata(&mine).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "our loose run dir was not tightened");
}
