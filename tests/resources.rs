//! The resource pane's figures against independent readings of the same process: the kernel's
//! getrusage for CPU time, /proc/self/statm and `ps` for RSS, the task directory and `ps` for
//! threads; and the figures a real trainer sends. One test, so no other test shares the process.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use convtop::resources::Sampler;
use convtop::train::{self, Command, Event, RunState, TrainConfig};

/// CPU time (user + system) of the whole process so far, from getrusage: not from /proc.
fn rusage_secs() -> f64 {
    // SAFETY: getrusage only writes the struct it is given, which lives on this stack
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// RSS in bytes from /proc/self/statm (pages) and the page size.
fn statm_rss_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

fn task_count() -> u32 {
    std::fs::read_dir("/proc/self/task").unwrap().count() as u32
}

/// `ps -o rss=,nlwp=` of this process: (RSS bytes, threads), or None without ps.
fn ps_rss_threads() -> Option<(u64, u32)> {
    let pid = std::process::id().to_string();
    let out = std::process::Command::new("ps")
        .args(["-o", "rss=,nlwp=", "-p", &pid])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let rss: u64 = words.next()?.parse().ok()?;
    let threads: u32 = words.next()?.parse().ok()?;
    Some((rss * 1024, threads))
}

fn within(a: f64, b: f64, fraction: f64) -> bool {
    (a - b).abs() <= fraction * a.abs().max(b.abs())
}

#[test]
fn the_pane_figures_agree_with_proc_and_a_real_trainer_sends_them() {
    if !std::path::Path::new("/proc/self/stat").exists() {
        eprintln!("skipped: no /proc on this system (the pane says so instead)");
        return;
    }
    // a known workload: 64 MiB touched, and two threads kept busy for 1.5 s
    let ballast: Vec<u8> = (0..64 << 20).map(|i| (i % 251) as u8).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                x
            })
        })
        .collect();
    let cpu0 = rusage_secs();
    let t0 = Instant::now();
    let mut sampler = Sampler::new().expect("reads /proc/self");
    std::thread::sleep(Duration::from_millis(1500));
    let usage = sampler.sample().expect("samples");
    let wall = t0.elapsed().as_secs_f64();
    let cores_by_rusage = (rusage_secs() - cpu0) / wall;
    let (statm, tasks, ps) = (statm_rss_bytes(), task_count(), ps_rss_threads());
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    assert!(ballast.iter().map(|&b| b as u64).sum::<u64>() > 0);

    let cpu = f64::from(usage.cpu_cores);
    assert!(
        within(cpu, cores_by_rusage, 0.10),
        "cpu {cpu:.3} cores, getrusage says {cores_by_rusage:.3}"
    );
    let per_core: f64 = usage.per_core.iter().map(|&c| f64::from(c)).sum();
    assert!(
        within(per_core, cpu, 0.10),
        "per-core shares sum to {per_core:.3}, the process used {cpu:.3} cores"
    );
    let rss = usage.rss_bytes as f64;
    assert!(
        rss >= (64 << 20) as f64,
        "rss {rss} below the 64 MiB touched"
    );
    assert!(within(rss, statm as f64, 0.10), "rss {rss}, statm {statm}");
    assert!(usage.peak_rss_bytes >= usage.rss_bytes);
    // main, the two spinners and the test harness's threads
    assert_eq!(usage.threads, tasks, "threads");
    if let Some((ps_rss, ps_threads)) = ps {
        assert!(within(rss, ps_rss as f64, 0.10), "rss {rss}, ps {ps_rss}");
        assert_eq!(usage.threads, ps_threads, "threads by ps");
    } else {
        eprintln!("ps is missing: RSS and threads checked against /proc/self/statm and task/");
    }
    drop(ballast);

    // a real trainer sends the same figures about itself once a second
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        run_dir: dir.path().to_path_buf(),
        batch: 32,
        epochs: 50,
        ..TrainConfig::default()
    };
    let h = train::spawn(train::new_run(config).unwrap()).unwrap();
    let report = common::wait_for(&h.events, 30, |e| match e {
        Event::Resources(r) if r.elapsed_secs >= 1.5 => Some((**r).clone()),
        _ => None,
    });
    let (statm, tasks) = (statm_rss_bytes(), task_count());
    let usage = report.usage.expect("the trainer reads /proc");
    assert!(
        within(usage.rss_bytes as f64, statm as f64, 0.10),
        "trainer says rss {}, statm {statm}",
        usage.rss_bytes
    );
    assert!(
        usage.threads.abs_diff(tasks) <= 1,
        "trainer says {} threads, task/ lists {tasks}",
        usage.threads
    );
    assert!(usage.cpu_cores > 0.0, "a training process uses CPU");
    h.commands.send(Command::Stop).unwrap();
    common::wait_for(&h.events, 30, |e| {
        matches!(e, Event::State(RunState::Stopped)).then_some(())
    });
    h.thread.join().unwrap().unwrap();
}
