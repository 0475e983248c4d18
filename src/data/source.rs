//! Where a dataset comes from (`--data SPEC`), and the in-memory form every loader produces.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::error::DataError;
use super::{cifar, embedded, folder, idx};

/// `--data SPEC`: `embedded` | `idx:DIR` | `cifar10:DIR` | `folder:DIR`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DataSource {
    /// The MNIST subset compiled into the binary (20,000 training, 2,000 test images).
    #[default]
    Embedded,
    /// A folder holding the four standard IDX files, gzipped or raw.
    Idx(PathBuf),
    /// A folder holding the CIFAR-10 binary batches.
    Cifar10(PathBuf),
    /// `ROOT/train/<class>/*` and `ROOT/test/<class>/*`, or `ROOT/<class>/*` split here.
    Folder(PathBuf),
}

const ACCEPTED: &str = "expected `embedded`, `idx:DIR`, `cifar10:DIR` or `folder:DIR`";

impl FromStr for DataSource {
    type Err = DataError;

    fn from_str(s: &str) -> Result<DataSource, DataError> {
        let spec_error = |problem: &str| DataError::Spec {
            what: "data source",
            value: s.to_string(),
            problem: problem.to_string(),
        };
        if s == "embedded" {
            return Ok(DataSource::Embedded);
        }
        let (kind, dir) = s.split_once(':').ok_or_else(|| spec_error(ACCEPTED))?;
        if dir.is_empty() {
            return Err(spec_error(&format!("the folder is missing; {ACCEPTED}")));
        }
        let dir = PathBuf::from(dir);
        match kind {
            "idx" => Ok(DataSource::Idx(dir)),
            "cifar10" => Ok(DataSource::Cifar10(dir)),
            "folder" => Ok(DataSource::Folder(dir)),
            _ => Err(spec_error(ACCEPTED)),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Embedded => write!(f, "embedded"),
            DataSource::Idx(dir) => write!(f, "idx:{}", dir.display()),
            DataSource::Cifar10(dir) => write!(f, "cifar10:{}", dir.display()),
            DataSource::Folder(dir) => write!(f, "folder:{}", dir.display()),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `--resize WxH`: (w, h). Only the image-folder loader resizes.
    pub resize: Option<(usize, usize)>,
}

/// Images of one split, 1 byte a pixel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageSet {
    pub images: Vec<u8>, // (n, c, h, w) row-major, NCHW
    pub labels: Vec<u8>, // (n)
    pub n: usize,
}

impl ImageSet {
    /// The images at `idx`, in that order; `chw` bytes each.
    pub(crate) fn gather(&self, idx: &[usize], chw: usize) -> ImageSet {
        let mut images = Vec::with_capacity(idx.len() * chw);
        for &i in idx {
            images.extend_from_slice(&self.images[i * chw..(i + 1) * chw]);
        }
        ImageSet {
            images,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            n: idx.len(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Dataset {
    pub name: String,
    pub classes: Vec<String>,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub train: ImageSet,
    pub test: ImageSet,
    /// What the loader did that a person should know (a test split carved from training data).
    pub notes: Vec<String>,
    /// What the loader skipped (files that are not images), with counts.
    pub warnings: Vec<String>,
}

impl Dataset {
    /// Image `i` of `set`, (c, h, w) bytes.
    pub fn image<'a>(&self, set: &'a ImageSet, i: usize) -> &'a [u8] {
        let chw = self.image_len();
        &set.images[i * chw..(i + 1) * chw]
    }

    /// Colour images of natural scenes: horizontal flips are on by default.
    pub fn is_natural_images(&self) -> bool {
        self.c == 3
    }

    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// c * h * w.
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Bytes held by the pixels and labels of both splits.
    pub fn memory_bytes(&self) -> usize {
        self.train.images.len()
            + self.train.labels.len()
            + self.test.images.len()
            + self.test.labels.len()
    }
}

/// Loads a whole dataset into memory, checking every file on the way.
pub fn load(source: &DataSource, opts: &LoadOptions) -> Result<Dataset, DataError> {
    match source {
        DataSource::Embedded => embedded::load(),
        DataSource::Idx(dir) => idx::load_dir(dir),
        DataSource::Cifar10(dir) => cifar::load_dir(dir),
        DataSource::Folder(dir) => folder::load_dir(dir, opts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_source_round_trips() {
        for spec in [
            "embedded",
            "idx:/data/mnist",
            "cifar10:c10",
            "folder:some dir/x",
        ] {
            let source: DataSource = spec.parse().unwrap();
            assert_eq!(source.to_string(), spec);
        }
        assert_eq!(
            "idx:m".parse::<DataSource>().unwrap(),
            DataSource::Idx("m".into())
        );
    }

    #[test]
    fn bad_data_source_names_the_accepted_forms() {
        for spec in ["mnist", "png:dir", "idx:", ""] {
            let message = spec.parse::<DataSource>().unwrap_err().to_string();
            assert!(
                message.contains("idx:DIR") && message.contains("embedded"),
                "{message}"
            );
        }
    }
}
