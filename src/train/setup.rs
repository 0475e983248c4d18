//! Building a run: load the data, split it, fit the preprocessing, build the network, open the
//! run directory. Everything that can be wrong with a configuration fails here, before the
//! trainer thread starts.

use std::path::Path;
use std::str::FromStr;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::checkpoint::Checkpoint;
use super::config::TrainConfig;
use super::error::TrainError;
use super::events::{Knobs, RunInfo};
use super::rundir::{CONFIG_FILE, LAST_CHECKPOINT, RunDir, atomic_write};
use crate::data::{
    self, Augment, Batcher, CropMode, DataSource, Dataset, LoadOptions, PreprocessKind,
    Preprocessor, Split,
};
use crate::nn::{Network, Sgd};

/// A run ready to train: the trainer thread takes it over.
pub struct Run {
    pub config: TrainConfig,
    pub dir: RunDir,
    pub data: Dataset,
    pub split: Split,
    /// A fixed sample of training indices, as large as the validation split, for evaluation.
    pub train_probe: Vec<usize>,
    pub preprocess: Preprocessor,
    pub augment: Augment,
    pub net: Network,
    pub sgd: Sgd,
    pub batcher: Batcher,
    pub knobs: Knobs,
    pub iteration: u64,
    pub best: Option<(f32, u64)>,
    pub info: RunInfo,
    pub warnings: Vec<String>,
    /// Start paused (tests and step-by-step sessions drive it with `Command::Step`).
    pub is_start_paused: bool,
}

impl Run {
    /// Batches in an epoch at the current batch size (the last one may be short).
    pub fn iters_per_epoch(&self) -> usize {
        self.split
            .train
            .len()
            .div_ceil(self.knobs.batch_size.max(1))
    }
}

fn parse_resize(text: &str) -> Result<(usize, usize), TrainError> {
    let bad = || TrainError::Config {
        problem: format!("--resize {text}: expected WxH, e.g. 32x32"),
    };
    let (w, h) = text.split_once('x').ok_or_else(bad)?;
    let (w, h) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if w == 0 || h == 0 {
        return Err(bad());
    }
    Ok((w, h))
}

/// The data, split and preprocessing of a configuration (shared by new and resumed runs).
fn load_data(cfg: &TrainConfig) -> Result<(Dataset, Split, Augment, PreprocessKind), TrainError> {
    let source = DataSource::from_str(&cfg.data)?;
    let resize = cfg.resize.as_deref().map(parse_resize).transpose()?;
    let data = data::load(&source, &LoadOptions { resize })?;
    let split = match cfg.fold {
        Some([k, i]) => {
            data::kfold(&data.train.labels, data.num_classes(), k, cfg.seed)?.swap_remove(i)
        }
        None => data::stratified_split(
            &data.train.labels,
            data.num_classes(),
            cfg.val_frac,
            cfg.seed,
        )?,
    };
    let crop = CropMode::from_str(&cfg.crop)?;
    let mut augment = Augment::new(crop, &data);
    if let Some(flip) = cfg.flip {
        augment.is_flip_on = flip;
    }
    augment.validate(data.h, data.w)?;
    let kind = PreprocessKind::from_str(&cfg.preprocess)?;
    Ok((data, split, augment, kind))
}

fn default_net(data: &Dataset) -> &'static str {
    if data.c == 1 { "mnist" } else { "cifar" }
}

fn train_probe(split: &Split, seed: u64) -> Vec<usize> {
    let mut probe = split.train.clone();
    probe.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x0070_726f_6265));
    probe.truncate(split.val.len().max(1).min(split.train.len()));
    probe
}

fn build_net(
    cfg: &TrainConfig,
    data: &Dataset,
    augment: &Augment,
) -> Result<(Network, String), TrainError> {
    let spec = if cfg.net.trim().is_empty() {
        default_net(data).to_string()
    } else {
        cfg.net.clone()
    };
    let (c, h, w) = augment.output_shape(data.c, data.h, data.w);
    let net = Network::build(&spec, [c, h, w], cfg.seed)
        .map_err(|e| e.because(crate::nn::spec::off_its_input(&spec, [c, h, w])))?;
    if net.num_classes() != data.num_classes() {
        return Err(TrainError::Config {
            problem: format!(
                "the network ends in fc{} but the data has {} classes; end the spec with fc{}",
                net.num_classes(),
                data.num_classes(),
                data.num_classes()
            ),
        });
    }
    Ok((net, spec))
}

/// The planner's warnings about a spec the person wrote; a preset on its own input is deliberate
/// (`convtop inspect` still shows them, as notes).
fn plan_warnings(spec: &str, net: &Network) -> Vec<String> {
    if crate::nn::spec::is_preset_on_its_input(spec, net.input_shape()) {
        return Vec::new();
    }
    net.plan.warnings.clone()
}

fn run_info(run: &Run, spec: &str) -> RunInfo {
    let iters_per_epoch = run.iters_per_epoch() as u64;
    RunInfo {
        run_id: run.dir.id.clone(),
        run_dir: run.dir.path.display().to_string(),
        data_name: run.data.name.clone(),
        net_spec: spec.to_string(),
        net_resolved: crate::nn::spec::resolve(spec).to_string(),
        classes: run.data.classes.clone(),
        input_shape: run.net.input_shape(),
        train_size: run.split.train.len(),
        val_size: run.split.val.len(),
        test_size: run.data.test.n,
        iters_per_epoch,
        total_epochs: run.config.epochs,
        knobs: run.knobs,
        preprocess: run.config.preprocess.clone(),
        seed: run.config.seed,
        layers: run.net.infos(),
    }
}

/// A new run from a configuration.
pub fn new_run(cfg: TrainConfig) -> Result<Run, TrainError> {
    cfg.validate()?;
    let (data, split, augment, kind) = load_data(&cfg)?;
    let (net, spec) = build_net(&cfg, &data, &augment)?;
    let preprocess = Preprocessor::fit(kind, &data, &split.train)?;
    let dir = RunDir::create(&cfg.run_dir, &spec)?;
    let mut resolved = cfg.clone();
    resolved.net = spec.clone();
    resolved.flip = Some(augment.is_flip_on);
    atomic_write(&dir.file(CONFIG_FILE), resolved.to_toml().as_bytes())?;
    let knobs = cfg.knobs(augment.is_flip_on, augment.is_crop_on);
    let batcher = Batcher::new(split.train.clone(), cfg.seed);
    let mut warnings = data.warnings.clone();
    warnings.extend(plan_warnings(&spec, &net));
    let mut run = Run {
        train_probe: train_probe(&split, cfg.seed),
        config: resolved,
        dir,
        data,
        split,
        preprocess,
        augment,
        net,
        sgd: Sgd::default(),
        batcher,
        knobs,
        iteration: 0,
        best: None,
        info: RunInfo::default(),
        warnings,
        is_start_paused: false,
    };
    run.info = run_info(&run, &spec);
    Ok(run)
}

/// Continues a run from its directory's last checkpoint; `epochs` may raise the epoch count.
/// A run with nothing left to train is refused rather than trained past its end.
pub fn resume_run(path: &Path, epochs: Option<u32>) -> Result<Run, TrainError> {
    // one trainer per run: the lock is taken before the checkpoint is read
    let mut dir = RunDir::open(path)?;
    dir.lock()?;
    let mut run = load_run(path, epochs, LAST_CHECKPOINT)?;
    run.dir = dir;
    let done = run.batcher.epoch();
    let planned = u64::from(run.config.epochs);
    if done >= planned && run.batcher.position() == 0 {
        return Err(TrainError::Config {
            problem: format!(
                "{} already finished {done}/{planned} epochs; pass --epochs N (N > {done}) to \
                 extend it",
                path.display()
            ),
        });
    }
    let cap = run.config.max_iterations;
    if cap > 0 && run.iteration >= cap {
        return Err(TrainError::Config {
            problem: format!(
                "{} already stopped at its cap of {cap} iterations (max_iterations in its \
                 {CONFIG_FILE}); start a new run to train further",
                path.display()
            ),
        });
    }
    Ok(run)
}

/// A run as saved in checkpoint file `checkpoint` of run directory `path`.
pub fn load_run(path: &Path, epochs: Option<u32>, checkpoint: &str) -> Result<Run, TrainError> {
    let dir = RunDir::open(path)?;
    let config_path = dir.file(CONFIG_FILE);
    let mut cfg = TrainConfig::from_run_file(&config_path)?;
    if let Some(e) = epochs {
        cfg.validate_epochs(e)?;
        cfg.epochs = e;
    }
    let ckpt_path = dir.file(checkpoint);
    let ckpt = Checkpoint::load(&ckpt_path)?;
    let bad = |problem: String| TrainError::Checkpoint {
        path: ckpt_path.clone(),
        problem,
    };
    let mut warnings = Vec::new();
    match &ckpt.state.config_hash {
        Some(h) if *h != cfg.hash() => {
            return Err(TrainError::Config {
                problem: format!(
                    "{} has changed since {checkpoint} was written (only epochs and knob values \
                     may change on resume; the data, network, split, seed and preprocessing may \
                     not): restore it, or start a new run",
                    config_path.display()
                ),
            });
        }
        Some(_) => {}
        None => warnings.push(format!(
            "{checkpoint} predates configuration hashes: {CONFIG_FILE} is trusted unchecked"
        )),
    }
    if !ckpt.is_verified {
        warnings.push(format!(
            "{checkpoint} predates checksums: its tensors are loaded unverified"
        ));
    }
    let (data, split, mut augment, kind) = load_data(&cfg)?;
    // the saved data order must be this split's training images, each once
    let mut order = ckpt.state.batcher.order.clone();
    let mut train = split.train.clone();
    order.sort_unstable();
    train.sort_unstable();
    if order != train {
        return Err(bad(format!(
            "its data order ({} images) is not the training split of {} ({} images)",
            order.len(),
            config_path.display(),
            train.len()
        )));
    }
    let (mut net, spec) = build_net(&cfg, &data, &augment)?;
    net.load_tensors(|name| ckpt.find(name))?;
    let mut sgd = Sgd::default();
    let names: Vec<String> = net.params_mut().into_iter().map(|p| p.name).collect();
    if !ckpt.velocity.is_empty() {
        sgd.velocity = names
            .iter()
            .map(|n| {
                ckpt.velocity
                    .iter()
                    .find(|(v, _, _)| v == n)
                    .map(|(_, _, d)| d.clone())
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| TrainError::Checkpoint {
                path: ckpt_path.clone(),
                problem: "optimiser velocity incomplete".into(),
            })?;
    }
    let preprocess = Preprocessor::from_tensors(kind, &ckpt.preprocess)?;
    let knobs = ckpt.state.knobs;
    augment.is_crop_on = knobs.augment_crop;
    augment.is_flip_on = knobs.augment_flip;
    let batcher = Batcher::restore(ckpt.state.batcher.clone());
    warnings.extend(data.warnings.clone());
    warnings.extend(plan_warnings(&spec, &net));
    let mut run = Run {
        train_probe: train_probe(&split, cfg.seed),
        config: cfg,
        dir,
        data,
        split,
        preprocess,
        augment,
        net,
        sgd,
        batcher,
        knobs,
        iteration: ckpt.state.iteration,
        best: ckpt.state.best_val_accuracy.zip(ckpt.state.best_iteration),
        info: RunInfo::default(),
        warnings,
        is_start_paused: false,
    };
    run.info = run_info(&run, &spec);
    Ok(run)
}
