//! The training process's resource use read from Linux's /proc: CPU per core, RSS, threads.
//! `nn`, `data` and `train` may use it (no UI crates); on a system without /proc it says so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

mod parse;

pub use parse::{ProcStat, Status};

/// What the trainer reports about itself, about once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Wall-clock seconds since the trainer started (this session of the run).
    pub elapsed_secs: f64,
    /// The figures, or why they cannot be read (no /proc: not Linux, or hidden).
    pub usage: Result<Usage, String>,
}

/// The process's use of the machine over the last interval.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// CPU time per wall time, in cores: 1.0 is one core kept busy.
    pub cpu_cores: f32,
    /// Per core, the share of it this process used (0..1): each thread's CPU time goes to the
    /// core it last ran on, so it is an estimate where threads migrate within the interval.
    pub per_core: Vec<f32>,
    /// Per core, the share busy with anything (this process or others), from /proc/stat.
    pub machine_per_core: Vec<f32>,
    pub rss_bytes: u64,
    /// The peak resident set size so far (`VmHWM`).
    pub peak_rss_bytes: u64,
    pub threads: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source} (the resource figures need Linux's /proc)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not look as expected: {what}")]
    Format { path: PathBuf, what: String },
}

/// One reading of the counters; two readings give rates.
#[derive(Debug, Clone)]
struct Reading {
    at: Instant,
    /// utime + stime of the whole process, in clock ticks (exited threads included).
    process_ticks: u64,
    /// Per thread id: (its utime + stime, the core it last ran on).
    tasks: HashMap<u32, (u64, usize)>,
    /// Per core: (busy ticks, all ticks), from /proc/stat.
    cores: Vec<(u64, u64)>,
    status: Status,
}

/// Reads /proc/self; each `sample` reports the rates since the previous one.
#[derive(Debug)]
pub struct Sampler {
    root: PathBuf,
    ticks_per_sec: f64,
    last: Reading,
}

impl Sampler {
    /// Takes the first reading of this process.
    pub fn new() -> Result<Sampler, ReadError> {
        Sampler::at(Path::new("/proc"), "self")
    }

    /// Reads the process `pid` ("self" or a number) under a /proc mounted at `root`.
    pub fn at(root: &Path, pid: &str) -> Result<Sampler, ReadError> {
        let root = root.join(pid);
        let last = read(&root)?;
        Ok(Sampler {
            root,
            ticks_per_sec: ticks_per_sec(),
            last,
        })
    }

    /// The figures since the last call (or since `new`).
    pub fn sample(&mut self) -> Result<Usage, ReadError> {
        let now = read(&self.root)?;
        let usage = usage(&self.last, &now, self.ticks_per_sec);
        self.last = now;
        Ok(usage)
    }
}

/// A thread's time is put on the core it was last seen on, so two threads that both ended the
/// interval on one core would give it more than the whole interval (and another core nothing).
/// No core can be busier than 1: the excess goes to the least busy cores, so the shares still
/// add up to the process's use.
fn spill_over(mut shares: Vec<f64>) -> Vec<f64> {
    let mut excess: f64 = shares.iter().map(|s| (s - 1.0).max(0.0)).sum();
    for s in &mut shares {
        *s = s.clamp(0.0, 1.0);
    }
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| shares[a].total_cmp(&shares[b]));
    for i in order {
        if excess <= 0.0 {
            break;
        }
        let taken = (1.0 - shares[i]).min(excess);
        shares[i] += taken;
        excess -= taken;
    }
    shares
}

fn usage(before: &Reading, now: &Reading, ticks_per_sec: f64) -> Usage {
    let seconds = now.at.duration_since(before.at).as_secs_f64().max(1e-3);
    let ticks = seconds * ticks_per_sec;
    let cores = now.cores.len().max(1);
    let mut per_core = vec![0.0f64; cores];
    for (tid, &(t, cpu)) in &now.tasks {
        // a thread born within the interval spent all its time in it
        let was = before.tasks.get(tid).map_or(0, |&(t0, _)| t0);
        per_core[cpu.min(cores - 1)] += t.saturating_sub(was) as f64;
    }
    let machine_per_core = now
        .cores
        .iter()
        .zip(&before.cores)
        .map(|(&(busy, all), &(busy0, all0))| {
            let all = all.saturating_sub(all0);
            if all == 0 {
                0.0
            } else {
                (busy.saturating_sub(busy0) as f64 / all as f64) as f32
            }
        })
        .collect();
    Usage {
        cpu_cores: (now.process_ticks.saturating_sub(before.process_ticks) as f64 / ticks) as f32,
        per_core: spill_over(per_core.iter().map(|t| t / ticks).collect())
            .into_iter()
            .map(|share| share as f32)
            .collect(),
        machine_per_core,
        rss_bytes: now.status.rss_kib * 1024,
        peak_rss_bytes: now.status.peak_rss_kib * 1024,
        threads: now.status.threads,
    }
}

fn read_text(path: &Path) -> Result<String, ReadError> {
    std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read(root: &Path) -> Result<Reading, ReadError> {
    let at = Instant::now();
    let stat_path = root.join("stat");
    let stat = ProcStat::parse(&read_text(&stat_path)?, &stat_path)?;
    let status_path = root.join("status");
    let status = Status::parse(&read_text(&status_path)?, &status_path)?;
    let mut tasks = HashMap::new();
    let task_dir = root.join("task");
    let entries = std::fs::read_dir(&task_dir).map_err(|source| ReadError::Io {
        path: task_dir.clone(),
        source,
    })?;
    for entry in entries.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // a thread that ended between the listing and the read is simply not counted
        let path = entry.path().join("stat");
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(task) = ProcStat::parse(&text, &path)
        {
            tasks.insert(tid, (task.ticks(), task.processor));
        }
    }
    let machine = root
        .parent()
        .map_or_else(|| PathBuf::from("/proc/stat"), |p| p.join("stat"));
    let cores = parse::core_ticks(&read_text(&machine)?, &machine)?;
    Ok(Reading {
        at,
        process_ticks: stat.ticks(),
        tasks,
        cores,
        status,
    })
}

/// The peak resident set size of this process so far (`VmHWM`), for the headless summary.
pub fn peak_rss_bytes() -> Result<u64, ReadError> {
    let path = Path::new("/proc/self/status");
    Ok(Status::parse(&read_text(path)?, path)?.peak_rss_kib * 1024)
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf reads a constant of the C library; it has no preconditions
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests;
