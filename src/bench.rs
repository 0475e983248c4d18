//! `convtop bench`: training and evaluation throughput of the presets (or any spec) on random
//! data, in images per second and GFLOP/s (training counted as 3× the forward FLOPs), plus
//! heap allocations per training iteration when the binary installs [`CountingAlloc`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use ndarray::Array4;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::nn::{Network, Sgd, SgdConfig};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Presets or specs; empty = mnist, cifar, vggish.
    pub nets: Vec<String>,
    /// Training batch sizes; empty = 20, 64, 128.
    pub batches: Vec<usize>,
    pub eval_batch: usize,
    /// Rayon threads; None = rayon's default (one a core).
    pub threads: Option<usize>,
    /// Seconds per measurement (after one warm-up iteration).
    pub seconds: f64,
    /// One JSON object a line instead of the table.
    pub json: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            nets: Vec::new(),
            batches: Vec::new(),
            eval_batch: 256,
            threads: None,
            seconds: 2.0,
            json: false,
        }
    }
}

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static FREED_BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting calls and bytes. A binary opts in with
/// `#[global_allocator] static A: convtop::bench::CountingAlloc = convtop::bench::CountingAlloc;`
/// (cost: three relaxed atomic adds per allocation).
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees carry over; the counters are plain atomics and never touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded contract (layout has non-zero size).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded contract (ptr came from this allocator with this layout).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        FREED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// (allocations, bytes allocated, bytes freed) so far; all zero without [`CountingAlloc`].
pub fn alloc_counts() -> (u64, u64, u64) {
    (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
        FREED_BYTES.load(Ordering::Relaxed),
    )
}

/// Whether [`CountingAlloc`] is this process's global allocator.
pub fn is_counting() -> bool {
    let before = alloc_counts().0;
    let v = std::hint::black_box(Vec::<u8>::with_capacity(16));
    drop(v);
    alloc_counts().0 > before
}

/// Peak resident set size of this process in MB (Linux `VmHWM`), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// One measured row of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchRow {
    pub net: String,
    pub threads: usize,
    pub batch: usize,
    pub train_img_s: f64,
    pub train_gflops: f64,
    pub eval_batch: usize,
    pub eval_img_s: f64,
    pub eval_gflops: f64,
    /// Heap allocations per training iteration (train_batch + SGD step), steady state.
    pub allocs_per_iter: Option<f64>,
    /// Growth of live heap bytes per iteration, steady state (0 = flat).
    pub live_bytes_growth_per_iter: Option<f64>,
    pub peak_rss_mb: Option<f64>,
}

fn random_batch(
    n: usize,
    shape: [usize; 3],
    classes: usize,
    seed: u64,
) -> (Array4<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let [c, h, w] = shape;
    let x = Array4::from_shape_fn((n, c, h, w), |_| rng.random_range(-1.0..1.0));
    let y = (0..n).map(|_| rng.random_range(0..classes)).collect();
    (x, y)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `f` once to warm up, then repeatedly for `seconds` (at least 3 times); median seconds.
fn time_median(seconds: f64, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    f()?;
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(median(times))
}

const SGD: SgdConfig = SgdConfig {
    learning_rate: 0.01,
    momentum: 0.9,
    is_nesterov: false,
    lambda: 1e-4,
};

/// Measures one network at one training batch size.
pub fn measure(name: &str, batch: usize, opts: &BenchOptions) -> anyhow::Result<BenchRow> {
    let (spec, input) = match crate::nn::preset(name) {
        Some(p) => (p.spec, p.input),
        None => (name, [3, 32, 32]),
    };
    let mut net = Network::<f32>::build(spec, input, 1).with_context(|| format!("net {name}"))?;
    let flops = net.plan.flops() as f64;
    let classes = net.num_classes();
    let mut sgd = Sgd::default();
    let (x, y) = random_batch(batch, input, classes, 2);
    let mut train = || -> anyhow::Result<()> {
        net.train_batch(&x, &y, SGD.lambda)?;
        sgd.step(&mut net, &SGD);
        Ok(())
    };
    let t_train = time_median(opts.seconds, &mut train)?;
    let (allocs_per_iter, live_bytes_growth_per_iter) = if is_counting() {
        const ITERS: u64 = 5;
        let (a0, b0, f0) = alloc_counts();
        for _ in 0..ITERS {
            train()?;
        }
        let (a1, b1, f1) = alloc_counts();
        let growth = (b1 as f64 - b0 as f64) - (f1 as f64 - f0 as f64);
        (
            Some((a1 - a0) as f64 / ITERS as f64),
            Some(growth / ITERS as f64),
        )
    } else {
        (None, None)
    };
    let (xe, ye) = random_batch(opts.eval_batch, input, classes, 3);
    let t_eval = time_median(opts.seconds, || {
        net.evaluate(&xe, &ye)?;
        Ok(())
    })?;
    let (train_img_s, eval_img_s) = (batch as f64 / t_train, opts.eval_batch as f64 / t_eval);
    Ok(BenchRow {
        net: name.to_string(),
        threads: rayon::current_num_threads(),
        batch,
        train_img_s,
        train_gflops: 3.0 * flops * train_img_s / 1e9,
        eval_batch: opts.eval_batch,
        eval_img_s,
        eval_gflops: flops * eval_img_s / 1e9,
        allocs_per_iter,
        live_bytes_growth_per_iter,
        peak_rss_mb: peak_rss_mb(),
    })
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.0}"))
}

/// Builds a rayon pool with `opts.threads`, measures every net at every batch size and prints
/// the table (or JSON lines) to `out`.
pub fn run(opts: &BenchOptions, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let nets: Vec<String> = if opts.nets.is_empty() {
        ["mnist", "cifar", "vggish"].map(String::from).to_vec()
    } else {
        opts.nets.clone()
    };
    let batches = if opts.batches.is_empty() {
        vec![20, 64, 128]
    } else {
        opts.batches.clone()
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = opts.threads {
        builder = builder.num_threads(t);
    }
    let pool = builder.build().context("building the rayon thread pool")?;
    if !opts.json {
        writeln!(
            out,
            "{:<8} {:>3} {:>5} {:>10} {:>8} {:>10} {:>8} {:>11} {:>9}",
            "net",
            "thr",
            "batch",
            "train im/s",
            "GFLOP/s",
            "eval im/s",
            "GFLOP/s",
            "allocs/iter",
            "live B/it"
        )?;
    }
    for name in &nets {
        for &batch in &batches {
            let row = pool.install(|| measure(name, batch, opts))?;
            if opts.json {
                writeln!(out, "{}", serde_json::to_string(&row)?)?;
            } else {
                writeln!(
                    out,
                    "{:<8} {:>3} {:>5} {:>10.0} {:>8.1} {:>10.0} {:>8.1} {:>11} {:>9}",
                    row.net,
                    row.threads,
                    row.batch,
                    row.train_img_s,
                    row.train_gflops,
                    row.eval_img_s,
                    row.eval_gflops,
                    opt(row.allocs_per_iter),
                    opt(row.live_bytes_growth_per_iter),
                )?;
            }
            out.flush()?;
        }
    }
    if !opts.json
        && let Some(mb) = peak_rss_mb()
    {
        writeln!(out, "peak RSS {mb:.0} MB")?;
    }
    Ok(())
}
