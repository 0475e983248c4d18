//! The few /proc files the resource pane reads, parsed: `stat`, `status` and the machine's `stat`.

use std::path::Path;

use super::ReadError;

/// The fields of `/proc/<pid>/stat` (or a task's) that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 14: user-mode CPU time, in clock ticks.
    pub utime: u64,
    /// Field 15: kernel-mode CPU time, in clock ticks.
    pub stime: u64,
    /// Field 20.
    pub num_threads: u32,
    /// Field 39: the core it last ran on.
    pub processor: usize,
}

impl ProcStat {
    /// Parses one stat line. The command name (field 2) may hold spaces and parentheses, so the
    /// fields are counted from the last `)`.
    pub fn parse(text: &str, path: &Path) -> Result<ProcStat, ReadError> {
        let bad = |what: &str| ReadError::Format {
            path: path.to_path_buf(),
            what: what.to_string(),
        };
        let rest = text
            .rfind(')')
            .map(|i| &text[i + 1..])
            .ok_or_else(|| bad("no `)` after the command name"))?;
        // rest starts at field 3 (the state), so field N is at index N - 3
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| -> Result<u64, ReadError> {
            fields
                .get(n - 3)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| bad(&format!("field {n} is missing or not a number")))
        };
        Ok(ProcStat {
            utime: field(14)?,
            stime: field(15)?,
            num_threads: field(20)? as u32,
            processor: field(39)? as usize,
        })
    }

    pub fn ticks(&self) -> u64 {
        self.utime + self.stime
    }
}

/// The fields of `/proc/<pid>/status` that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    pub threads: u32,
}

impl Status {
    pub fn parse(text: &str, path: &Path) -> Result<Status, ReadError> {
        let value = |key: &str| -> Result<u64, ReadError> {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ReadError::Format {
                    path: path.to_path_buf(),
                    what: format!("no `{key}` line"),
                })
        };
        Ok(Status {
            rss_kib: value("VmRSS:")?,
            peak_rss_kib: value("VmHWM:")?,
            threads: value("Threads:")? as u32,
        })
    }
}

/// Per core (`cpuN` lines of /proc/stat): (busy ticks, all ticks); idle and iowait are not busy.
pub fn core_ticks(text: &str, path: &Path) -> Result<Vec<(u64, u64)>, ReadError> {
    let mut cores = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let is_core = name.len() > 3
            && name.starts_with("cpu")
            && name[3..].bytes().all(|b| b.is_ascii_digit());
        if !is_core {
            continue;
        }
        let ticks: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
        if ticks.len() < 4 {
            return Err(ReadError::Format {
                path: path.to_path_buf(),
                what: format!("`{name}` has {} counters, not at least 4", ticks.len()),
            });
        }
        // user nice system idle iowait irq softirq steal (guest time is inside user already)
        let all: u64 = ticks.iter().take(8).sum();
        let idle = ticks[3] + ticks.get(4).copied().unwrap_or(0);
        cores.push((all - idle, all));
    }
    if cores.is_empty() {
        return Err(ReadError::Format {
            path: path.to_path_buf(),
            what: "no `cpuN` lines".into(),
        });
    }
    Ok(cores)
}
