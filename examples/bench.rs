//! Stand-in for `convtop bench` until main.rs wires it up:
//! `cargo run --release --example bench -- [--net P]... [--batch B]... [--threads T] [--seconds S] [--eval-batch E] [--json]`

use convtop::bench::{BenchOptions, CountingAlloc, run};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() -> anyhow::Result<()> {
    let mut opts = BenchOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--net" => opts.nets.push(val()?),
            "--batch" => opts.batches.push(val()?.parse()?),
            "--threads" => opts.threads = Some(val()?.parse()?),
            "--seconds" => opts.seconds = val()?.parse()?,
            "--eval-batch" => opts.eval_batch = val()?.parse()?,
            "--json" => opts.json = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    run(&opts, &mut std::io::stdout())
}
