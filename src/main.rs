use std::io::IsTerminal;
use std::process::ExitCode;

use convtop::cli::{self, args::Cmd};
use convtop::nn::gradcheck::CheckSetup;

/// Counts allocations so `convtop bench` can report allocations per iteration.
#[global_allocator]
static ALLOC: convtop::bench::CountingAlloc = convtop::bench::CountingAlloc;

fn main() -> ExitCode {
    keep_memory_in_the_heap();
    let cli = cli::args::parse();
    let result = match cli.command {
        None if cli.train.serve => cli::detach::serve(&cli.train),
        None if cli.train.detach => cli::detach::detach(&cli.train),
        // every `train` flag works without the subcommand, --headless included
        None if cli.train.headless || !std::io::stdout().is_terminal() => {
            cli::train_headless(&cli.train)
        }
        None => cli::train_interactive(&cli.train),
        Some(Cmd::Train(a)) if a.serve => cli::detach::serve(&a),
        Some(Cmd::Train(a)) if a.detach => cli::detach::detach(&a),
        Some(Cmd::Train(a)) => {
            if a.headless || !std::io::stdout().is_terminal() {
                cli::train_headless(&a)
            } else {
                cli::train_interactive(&a)
            }
        }
        Some(Cmd::Inspect { net, input }) => ended_by_reader(
            cli::inspect(&net, input.as_deref(), &mut std::io::stdout()).map(|()| 0),
        ),
        Some(Cmd::Gradcheck {
            net,
            input,
            batch,
            tolerance,
            samples,
            seed,
        }) => {
            let setup = CheckSetup {
                batch,
                lambda: 1e-3,
                seed,
                max_per_tensor: samples,
            };
            cli::gradcheck(
                &net,
                input.as_deref(),
                &setup,
                tolerance,
                &mut std::io::stdout(),
            )
            .map(|ok| if ok { 0 } else { 1 })
        }
        Some(Cmd::Bench {
            net,
            batch,
            eval_batch,
            threads,
            seconds,
            json,
        }) => {
            let opts = convtop::bench::BenchOptions {
                nets: net,
                batches: batch,
                eval_batch,
                threads,
                seconds,
                json,
            };
            ended_by_reader(convtop::bench::run(&opts, &mut std::io::stdout()).map(|()| 0))
        }
        Some(Cmd::Test(a)) => {
            cli::methodology::test(&a, &mut std::io::stdout(), &mut std::io::stderr()).map(|()| 0)
        }
        Some(Cmd::Cv(a)) => cli::methodology::cv(&a, &mut std::io::stdout()).map(|()| 0),
        Some(Cmd::Search(a)) => cli::methodology::search(&a, &mut std::io::stdout()),
        Some(Cmd::Eval { checkpoint, split }) => {
            ended_by_reader(cli::eval(&checkpoint, &split, &mut std::io::stdout()).map(|()| 0))
        }
        Some(Cmd::Ls { run_dir }) => {
            ended_by_reader(cli::runs::ls(&run_dir, &mut std::io::stdout()).map(|()| 0))
        }
        Some(Cmd::Export { run, out }) => cli::runs::export(&run, out.as_deref()).map(|()| 0),
        Some(Cmd::Compare { runs, out }) => cli::runs::compare(&runs, &out).map(|()| 0),
        Some(Cmd::Attach {
            run,
            run_dir,
            ascii,
            fps,
        }) => cli::detach::attach(run.as_deref(), &run_dir, ascii, fps),
        Some(Cmd::Replay { run, ascii, fps }) => cli::runs::replay(&run, ascii, fps),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "convtop: {}", cli::error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// A report cut short because its reader went away (`convtop inspect vggish | head`) ends
/// quietly and successfully, as `ls | head` does: the reader had what it wanted. Only for the
/// commands that do nothing but print, so a closed socket or file elsewhere stays an error.
fn ended_by_reader(result: anyhow::Result<i32>) -> anyhow::Result<i32> {
    match result {
        Err(e) if cli::is_closed_pipe(&e) => Ok(0),
        other => other,
    }
}

/// Every step frees and allocates the same activation arrays, some larger than glibc's largest
/// mmap threshold (32 MB: vggish at batch 256). Mapped and unmapped each step, they cost page
/// faults, zeroing and, with several threads, a TLB shootdown per munmap. Served from the heap
/// and never trimmed, they are reused instead.
fn keep_memory_in_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called first thing, before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
