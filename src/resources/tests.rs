//! The /proc parsers on fixed text, and a live sampler on this process.

use std::path::Path;

use super::*;

#[test]
fn stat_counts_fields_from_the_last_parenthesis() {
    // a command name with a space and a `)` inside; utime 150, stime 30, 7 threads, core 1
    let line = "4242 (convtop (x) y) R 1 4242 4242 0 -1 4194304 900 0 0 0 150 30 0 0 20 0 7 0 \
                1000 12345678 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
    let s = ProcStat::parse(line, Path::new("stat")).expect("parses");
    assert_eq!(
        (s.utime, s.stime, s.num_threads, s.processor),
        (150, 30, 7, 1)
    );
    assert_eq!(s.ticks(), 180);
}

#[test]
fn a_torn_stat_line_is_an_error_naming_the_file() {
    let e = ProcStat::parse("4242 (convtop) R 1 2", Path::new("/proc/self/stat")).unwrap_err();
    assert!(e.to_string().contains("/proc/self/stat"), "{e}");
}

#[test]
fn status_reads_rss_peak_and_threads() {
    let text = "Name:\tconvtop\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t5\n";
    let s = Status::parse(text, Path::new("status")).expect("parses");
    assert_eq!(
        (s.rss_kib, s.peak_rss_kib, s.threads),
        (102_400, 204_800, 5)
    );
    assert!(Status::parse("Name: x\n", Path::new("status")).is_err());
}

#[test]
fn machine_stat_gives_busy_and_all_ticks_per_core() {
    // cpu0: busy = 10 + 0 + 5 + 1 + 1 + 0 = 17 of 17 + 80 + 3 = 100
    let text = "cpu  20 0 10 160 6 2 2 0 0 0\ncpu0 10 0 5 80 3 1 1 0 0 0\n\
                cpu1 10 0 5 80 3 1 1 0 0 0\nintr 1 2\n";
    let cores = parse::core_ticks(text, Path::new("stat")).expect("parses");
    assert_eq!(cores, vec![(17, 100), (17, 100)]);
}

#[test]
fn a_missing_proc_says_what_it_needs() {
    let e = Sampler::at(Path::new("/nonexistent-proc"), "self").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("/nonexistent-proc/self/stat") && text.contains("/proc"),
        "{text}"
    );
}

#[test]
fn rates_divide_ticks_by_the_interval() {
    let at = Instant::now();
    let status = Status {
        rss_kib: 1000,
        peak_rss_kib: 2000,
        threads: 2,
    };
    let before = Reading {
        at,
        process_ticks: 100,
        tasks: HashMap::from([(1, (60, 0)), (2, (40, 1))]),
        cores: vec![(0, 0), (0, 0)],
        status,
    };
    // one second at 100 ticks/s: thread 1 used 50 ticks on core 0, thread 3 (new) 25 on core 1
    let now = Reading {
        at: at + std::time::Duration::from_secs(1),
        process_ticks: 175,
        tasks: HashMap::from([(1, (110, 0)), (3, (25, 1))]),
        cores: vec![(80, 100), (30, 100)],
        status,
    };
    let u = usage(&before, &now, 100.0);
    assert!((u.cpu_cores - 0.75).abs() < 1e-6, "{}", u.cpu_cores);
    assert_eq!(u.per_core, vec![0.5, 0.25]);
    assert_eq!(u.machine_per_core, vec![0.8, 0.3]);
    assert_eq!(
        (u.rss_bytes, u.peak_rss_bytes, u.threads),
        (1_024_000, 2_048_000, 2)
    );
}

#[test]
fn two_threads_last_seen_on_one_core_are_not_clamped_to_one() {
    let at = Instant::now();
    let status = Status {
        rss_kib: 1,
        peak_rss_kib: 1,
        threads: 2,
    };
    let reading = |secs: u64, ticks: u64| Reading {
        at: at + std::time::Duration::from_secs(secs),
        process_ticks: 2 * ticks,
        tasks: HashMap::from([(1, (ticks, 0)), (2, (ticks, 0))]),
        cores: vec![(0, 0), (0, 0), (0, 0)],
        status,
    };
    // both busy for the whole second, both last seen on core 0
    let u = usage(&reading(0, 0), &reading(1, 100), 100.0);
    assert!((u.cpu_cores - 2.0).abs() < 1e-6);
    assert_eq!(u.per_core, vec![1.0, 1.0, 0.0]);
}
