//! The command line.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::train::TrainConfig;

#[derive(Debug, Parser)]
#[command(
    name = "convtop",
    version,
    about = "top for ConvNet training: train a small ConvNet on the CPU and watch and steer it live",
    long_about = "With no subcommand, convtop opens the dashboard and trains the `mnist` network on the embedded \
                  MNIST subset. Every `train` flag works here too, e.g. `convtop --net cifar --data folder:DIR`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Train a network (the dashboard on a terminal, headless otherwise or with --headless).
    Train(Box<TrainArgs>),
    /// Print every layer of a network spec: the output-size formula, shape, parameters, FLOPs.
    Inspect {
        /// A preset (mnist, cifar, seed, vggish, vggish-bn, vggish-wide-bn, cudaconvnet,
        /// alexnet) or a spec such as "conv8k5p2 relu pool2 fc10".
        #[arg(long, default_value = "mnist")]
        net: String,
        /// Input shape CxHxW; defaults to the preset's, or 1x28x28.
        #[arg(long)]
        input: Option<String>,
    },
    /// Check analytic gradients against f64 central differences, layer by layer.
    Gradcheck {
        #[arg(long, default_value = "mnist")]
        net: String,
        #[arg(long)]
        input: Option<String>,
        #[arg(long, default_value_t = 2)]
        batch: usize,
        /// Largest worst-case relative error accepted (deep nets cross ReLU kinks: ~1e-4 is normal).
        #[arg(long, default_value_t = 1e-3)]
        tolerance: f64,
        /// At most this many entries checked per tensor.
        #[arg(long, default_value_t = 100)]
        samples: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Training and evaluation throughput (images/s, GFLOP/s, allocations) of each preset.
    Bench {
        /// Presets or specs (repeatable); default mnist, cifar, vggish.
        #[arg(long)]
        net: Vec<String>,
        /// Training batch sizes (repeatable); default 20, 64, 128.
        #[arg(long)]
        batch: Vec<usize>,
        #[arg(long, default_value_t = 256)]
        eval_batch: usize,
        /// Worker threads (default: one a core).
        #[arg(long)]
        threads: Option<usize>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the TEST set of a run (recorded in test-record.jsonl; every look is counted).
    Test(super::methodology::TestArgs),
    /// K-fold cross-validation of one setting: a short training per fold, mean ± std.
    Cv(Box<super::methodology::CvArgs>),
    /// Random search over lr and λ (log-uniform), short trials ranked on validation data.
    Search(Box<super::methodology::SearchArgs>),
    /// Loss and accuracy of a checkpoint on the validation (or training) split.
    Eval {
        /// A run directory or a checkpoint file inside one.
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, default_value = "val", value_parser = ["val", "train"])]
        split: String,
    },
    /// List runs: id, data, network, state (live, finished, stopped, crashed), epochs, best
    /// validation accuracy, test evaluations.
    Ls {
        #[arg(long, default_value = "runs")]
        run_dir: PathBuf,
    },
    /// Open the dashboard on a detached training (the latest live run under --run-dir by default).
    Attach {
        run: Option<PathBuf>,
        #[arg(long, default_value = "runs")]
        run_dir: PathBuf,
        #[arg(long)]
        ascii: bool,
        #[arg(long, default_value_t = 10)]
        fps: u32,
    },
    /// Open a finished (or crashed) run in the dashboard from its files.
    Replay {
        run: PathBuf,
        #[arg(long)]
        ascii: bool,
        #[arg(long, default_value_t = 10)]
        fps: u32,
    },
    /// Overlay the curves of several runs (PNGs) and print their settings and best scores.
    Compare {
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Where the PNGs go (default: the current directory).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Write PNGs (curves, filters, activations) and metrics.csv of a run.
    Export {
        run: PathBuf,
        /// Default: runs/<id>/export.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct TrainArgs {
    /// Data: embedded, idx:DIR, cifar10:DIR or folder:DIR.
    #[arg(long)]
    pub data: Option<String>,
    /// Network: a preset (mnist, cifar, seed, vggish, vggish-bn, vggish-wide-bn, cudaconvnet,
    /// alexnet) or a spec
    /// ("conv8k5p2 relu pool2 fc10").
    #[arg(long)]
    pub net: Option<String>,
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Learning rate.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// L2 regularisation strength λ (loss += λ/2·Σ‖W‖²).
    #[arg(long, allow_negative_numbers = true)]
    pub lambda: Option<f32>,
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f32>,
    /// Nesterov momentum instead of classical.
    #[arg(long)]
    pub nesterov: bool,
    #[arg(long)]
    pub batch: Option<usize>,
    /// Augmentation: comma-separated crop mode and flips, e.g. "pad2", "24x24,flip", "none", "noflip".
    #[arg(long)]
    pub augment: Option<String>,
    /// none, mean-image, channel-mean, standardize, pca-whiten, zca-whiten.
    #[arg(long)]
    pub preprocess: Option<String>,
    /// Fraction of the training data held out for validation (stratified).
    #[arg(long, allow_negative_numbers = true)]
    pub val_frac: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run directories are created.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Evaluate every N iterations instead of once an epoch.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Multiply the learning rate by F at each epoch end (1 = off).
    #[arg(long, allow_negative_numbers = true)]
    pub lr_decay: Option<f32>,
    /// Also write the last checkpoint every N iterations.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Stop after N iterations even mid-epoch (short trials); 0 or unset: no cap.
    #[arg(long)]
    pub max_iterations: Option<u64>,
    /// Resize the images of a folder source to WxH.
    #[arg(long)]
    pub resize: Option<String>,
    /// Apply the diagnostics' advice automatically (at most one change per 2 evaluations; a
    /// change that makes validation worse is reverted). `A` toggles it in the dashboard.
    #[arg(long)]
    pub autopilot: bool,
    /// A TOML file with any of these settings; flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// No dashboard: progress to stdout, warnings to stderr.
    #[arg(long)]
    pub headless: bool,
    /// Plain ASCII drawing, no colour (NO_COLOR alone removes only the colour).
    #[arg(long)]
    pub ascii: bool,
    /// Dashboard frame rate limit.
    #[arg(long, default_value_t = 10)]
    pub fps: u32,
    /// Train in a background process of its own, steered over a socket in the run directory;
    /// then attach a dashboard to it.
    #[arg(long)]
    pub detach: bool,
    /// With --detach: print the run directory and return.
    #[arg(long, requires = "detach")]
    pub no_attach: bool,
    /// Internal: be the detached training process (what --detach starts).
    #[arg(long, hide = true)]
    pub serve: bool,
}

/// The defaults of `train`'s flags, from `TrainConfig::default()` where it has one: they are
/// `Option`s (so a `--config` file can set them too), so clap cannot show them by itself.
pub fn train_defaults() -> Vec<(&'static str, String)> {
    let d = TrainConfig::default();
    let text = |s: &str| s.to_string();
    vec![
        ("data", d.data.clone()),
        ("net", text("mnist for grey data, cifar for colour")),
        ("epochs", d.epochs.to_string()),
        ("lr", d.lr.to_string()),
        ("lambda", format!("{:e}", d.lambda)),
        ("momentum", d.momentum.to_string()),
        ("nesterov", text("off")),
        ("batch", d.batch.to_string()),
        ("augment", text("none; flips on for colour images")),
        ("preprocess", d.preprocess.clone()),
        ("val_frac", d.val_frac.to_string()),
        ("seed", d.seed.to_string()),
        ("run_dir", d.run_dir.display().to_string()),
        ("eval_every", text("once an epoch")),
        ("lr_decay", text("down ×10 over the run")),
        ("checkpoint_every", text("each epoch and on stop")),
        ("max_iterations", text("no cap")),
        ("resize", text("off: all images the size of the first")),
        ("autopilot", text("off")),
        ("config", text("none")),
        ("resume", text("none: a new run")),
        ("headless", text("off; on when stdout is not a terminal")),
        ("ascii", text("off; on with TERM=dumb")),
        ("detach", text("off")),
        ("no_attach", text("off")),
    ]
}

fn with_defaults(mut cmd: clap::Command) -> clap::Command {
    for (id, default) in train_defaults() {
        cmd = cmd.mut_arg(id, |arg| {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let sep = if help.is_empty() { "" } else { " " };
            arg.help(format!("{help}{sep}[default: {default}]"))
        });
    }
    cmd
}

/// The command line as clap parses it, with every default shown in `--help`.
pub fn command() -> clap::Command {
    with_defaults(Cli::command()).mut_subcommand("train", with_defaults)
}

/// Parses the process's arguments; exits with clap's message on bad ones.
pub fn parse() -> Cli {
    Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit())
}
