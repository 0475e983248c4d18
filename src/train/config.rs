//! The run configuration: every flag of `convtop train`, also readable from a TOML file (flags
//! override it) and written, resolved, into the run directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::diagnostics::DecaySchedule;
use super::error::TrainError;
use super::events::{Knob, Knobs};
use super::knobs;
pub use super::knobs::MAX_BATCH;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// `embedded`, `idx:DIR`, `cifar10:DIR` or `folder:DIR`.
    pub data: String,
    /// A preset (`mnist`, `cifar`, `seed`, `vggish`) or a spec such as `conv8k5p2 relu pool2 fc10`;
    /// empty picks `mnist` for grey 28×28 data and `cifar` otherwise.
    pub net: String,
    pub epochs: u32,
    pub lr: f32,
    pub lambda: f32,
    pub momentum: f32,
    pub nesterov: bool,
    pub batch: usize,
    /// Crop mode: `none`, `padN` (pad and crop back) or `WxH` (a smaller window; centre at evaluation).
    pub crop: String,
    /// Horizontal flips; unset: on for colour images, off for grey digits.
    pub flip: Option<bool>,
    /// `none`, `mean-image`, `channel-mean`, `standardize`, `pca-whiten`, `zca-whiten`.
    pub preprocess: String,
    pub val_frac: f64,
    pub seed: u64,
    /// Where run directories are created.
    pub run_dir: PathBuf,
    /// Evaluate every this many iterations; 0 = once an epoch.
    pub eval_every: u64,
    /// Resize every image of a folder source to `WxH`.
    pub resize: Option<String>,
    /// Also write the last checkpoint every this many iterations; 0 = only at the end of each
    /// epoch, on request and when stopping.
    pub checkpoint_every: u64,
    /// The learning rate is multiplied by this at the end of every epoch (recorded as a knob
    /// change, so a rate set by hand decays too); unset: the factor that brings it down ×10 over
    /// the planned epochs; 1 turns decay off.
    pub lr_decay: Option<f32>,
    /// Stop after this many iterations even mid-epoch (short search trials); 0 = no cap.
    pub max_iterations: u64,
    /// Cross-validation fold `[k, i]`: validate on fold i of a stratified k-fold split of the
    /// training data instead of a `val_frac` hold-out.
    pub fold: Option<[usize; 2]>,
    /// Apply the diagnostics' advice automatically (`train/autopilot.rs`); off by default.
    pub autopilot: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: "embedded".into(),
            net: String::new(),
            epochs: 3,
            lr: 0.05,
            lambda: 1e-4,
            momentum: 0.9,
            nesterov: false,
            batch: 32,
            crop: "none".into(),
            flip: None,
            preprocess: "channel-mean".into(),
            val_frac: 0.1,
            seed: 1,
            run_dir: PathBuf::from("runs"),
            eval_every: 0,
            resize: None,
            checkpoint_every: 0,
            lr_decay: None,
            max_iterations: 0,
            fold: None,
            autopilot: false,
        }
    }
}

impl TrainConfig {
    /// A configuration file given by a person (`--config`); an empty one is refused, since
    /// it would silently mean every default.
    pub fn from_toml_file(path: &Path) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_text(path, &text)
    }

    /// A run directory's `config.toml`: a symlink is refused, not followed (O_NOFOLLOW).
    pub fn from_run_file(path: &Path) -> Result<TrainConfig, TrainError> {
        use std::io::Read;
        let io = |source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::symlink_metadata(path).map_err(io)?;
        if meta.file_type().is_symlink() {
            return Err(TrainError::Config {
                problem: format!(
                    "{} is a symbolic link; a run's configuration must be a plain file \
                     (replace the link with the file it points to)",
                    path.display()
                ),
            });
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let mut text = String::new();
        options
            .open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(io)?;
        Self::from_toml_text(path, &text)
    }

    fn from_toml_text(path: &Path, text: &str) -> Result<TrainConfig, TrainError> {
        if text.trim().is_empty() {
            return Err(TrainError::Config {
                problem: format!(
                    "{} is empty; write the settings into it (convtop writes every one into a \
                     run's config.toml), or leave the flag out for the defaults",
                    path.display()
                ),
            });
        }
        toml::from_str(text).map_err(|e| TrainError::Config {
            problem: format!("{}: {e}", path.display()),
        })
    }

    /// A hash (CRC-32 of the TOML) of everything that fixes what a run computes: all of the
    /// configuration except what a resumed run may change (epochs, the knobs, the iteration cap,
    /// how often it evaluates and saves) and where runs are kept.
    pub fn hash(&self) -> String {
        let fixed = TrainConfig {
            epochs: 0,
            lr: 0.0,
            lambda: 0.0,
            momentum: 0.0,
            nesterov: false,
            batch: 0,
            flip: None,
            run_dir: PathBuf::new(),
            eval_every: 0,
            checkpoint_every: 0,
            max_iterations: 0,
            lr_decay: None,
            ..self.clone()
        };
        format!("{:08x}", crc32fast::hash(fixed.to_toml().as_bytes()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# could not serialise the configuration: {e}\n"))
    }

    /// The knob values a run starts with.
    pub fn knobs(&self, is_flip_on: bool, is_crop_on: bool) -> Knobs {
        Knobs {
            learning_rate: self.lr,
            lambda: self.lambda,
            momentum: self.momentum,
            is_nesterov: self.nesterov,
            batch_size: self.batch,
            augment_crop: is_crop_on,
            augment_flip: is_flip_on,
        }
    }

    /// The per-epoch learning-rate factor in force: 0.1^(1/(epochs − 1)) unless set.
    pub fn lr_decay_factor(&self) -> f32 {
        match self.lr_decay {
            Some(f) => f,
            None if self.epochs > 1 => 0.1f32.powf(1.0 / (self.epochs - 1) as f32),
            None => 1.0,
        }
    }

    /// The decay schedule the diagnostics judge a plateau against: the per-epoch factor, until the
    /// last epoch or the iteration cap if it comes sooner; `None` for a constant rate.
    pub fn decay_schedule(&self, iters_per_epoch: usize) -> Option<DecaySchedule> {
        let per_epoch = self.lr_decay_factor();
        let mut end_epoch = f64::from(self.epochs);
        if self.max_iterations > 0 {
            end_epoch = end_epoch.min(self.max_iterations as f64 / iters_per_epoch.max(1) as f64);
        }
        (per_epoch < 1.0).then_some(DecaySchedule {
            per_epoch,
            end_epoch,
        })
    }

    /// Checks an epoch count given on resume.
    pub fn validate_epochs(&self, epochs: u32) -> Result<(), TrainError> {
        if epochs == 0 {
            return Err(TrainError::Config {
                problem: "epochs must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Checks the numbers before anything is loaded.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |problem: String| Err(TrainError::Config { problem });
        for (knob, value) in [
            (Knob::LearningRate, f64::from(self.lr)),
            (Knob::Lambda, f64::from(self.lambda)),
            (Knob::Momentum, f64::from(self.momentum)),
            (Knob::BatchSize, self.batch as f64),
        ] {
            if let Err(e) = knobs::validate(knob, value) {
                return bad(e.to_string());
            }
        }
        if !(0.0..1.0).contains(&self.val_frac) {
            return bad(format!(
                "validation fraction {} must be in [0, 1) (try 0.1)",
                self.val_frac
            ));
        }
        if let Some(f) = self.lr_decay
            && !(f > 0.0 && f <= 1.0)
        {
            return bad(format!(
                "learning-rate decay {f} must be in (0, 1] (1 turns it off)"
            ));
        }
        if let Some([k, i]) = self.fold
            && (k < 2 || i >= k)
        {
            return bad(format!("fold {i} of {k}: need k >= 2 and a fold below k"));
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decay_schedule_ends_at_the_last_epoch_or_the_cap() {
        let three = TrainConfig {
            epochs: 3,
            ..TrainConfig::default()
        };
        let s = three.decay_schedule(563).expect("down ×10 over the run");
        assert!((s.per_epoch - 0.1f32.sqrt()).abs() < 1e-6);
        assert_eq!(s.end_epoch, 3.0);
        assert!((s.remaining(1.0) - 0.1).abs() < 1e-6);
        assert_eq!(s.remaining(3.0), 1.0);
        let capped = TrainConfig {
            max_iterations: 1126,
            ..three.clone()
        };
        assert_eq!(capped.decay_schedule(563).map(|s| s.end_epoch), Some(2.0));
        let constant = TrainConfig {
            lr_decay: Some(1.0),
            ..three
        };
        assert_eq!(constant.decay_schedule(563), None);
    }
}
