//! Preprocessing fitted on the training split only and saved with a run, so evaluation matches.
//! Pixels are scaled to 0..1 first; every statistic is in those units.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1};
use rayon::prelude::*;

use super::error::DataError;
use super::source::Dataset;
use super::whiten::whitening_matrix;

/// Largest input (c * h * w) PCA/ZCA whitening accepts: the covariance is d x d and its
/// eigen-decomposition O(d³) (seconds at 3,072 with faer), the matrix d² floats (38 MB at
/// 3,072, saved in every checkpoint), and applying it d² multiply-adds an image.
/// CIFAR-10's 3x32x32 = 3,072 fits.
pub const PCA_MAX_DIM: usize = 3 * 32 * 32;
/// At most this many training images (evenly spaced) estimate the whitening covariance.
pub const PCA_MAX_SAMPLES: usize = 10_000;
pub const DEFAULT_WHITEN_EPS: f32 = 0.1;
/// Standard deviations below one grey level divide by one grey level instead (a constant channel).
const STD_FLOOR: f32 = 1.0 / 255.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PreprocessKind {
    None,
    /// Subtract the per-pixel mean image.
    MeanImage,
    /// Subtract one mean per channel (the ConvNet default).
    ChannelMean,
    /// Subtract the per-channel mean, divide by the per-channel std.
    Standardize,
    /// Centre, rotate onto the principal components, scale each by 1/sqrt(λ + eps); ZCA rotates back.
    PcaWhiten {
        eps: f32,
        zca: bool,
    },
}

const KINDS: &str =
    "none, mean-image, channel-mean, standardize, pca-whiten[:EPS] or zca-whiten[:EPS]";

impl FromStr for PreprocessKind {
    type Err = DataError;

    fn from_str(s: &str) -> Result<PreprocessKind, DataError> {
        let error = |problem: String| DataError::Spec {
            what: "preprocessing",
            value: s.to_string(),
            problem,
        };
        let (name, eps) = match s.split_once(':') {
            Some((name, eps)) => {
                let eps: f32 = eps
                    .parse()
                    .ok()
                    .filter(|e: &f32| e.is_finite() && *e > 0.0)
                    .ok_or_else(|| error(format!("epsilon {eps:?} is not a positive number")))?;
                (name, Some(eps))
            }
            None => (s, None),
        };
        let kind = match name {
            "none" => PreprocessKind::None,
            "mean-image" => PreprocessKind::MeanImage,
            "channel-mean" => PreprocessKind::ChannelMean,
            "standardize" => PreprocessKind::Standardize,
            "pca-whiten" | "zca-whiten" => PreprocessKind::PcaWhiten {
                eps: eps.unwrap_or(DEFAULT_WHITEN_EPS),
                zca: name == "zca-whiten",
            },
            _ => return Err(error(format!("expected {KINDS}"))),
        };
        if eps.is_some() && !matches!(kind, PreprocessKind::PcaWhiten { .. }) {
            return Err(error(format!(
                "only whitening takes an epsilon; expected {KINDS}"
            )));
        }
        Ok(kind)
    }
}

impl fmt::Display for PreprocessKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreprocessKind::None => write!(f, "none"),
            PreprocessKind::MeanImage => write!(f, "mean-image"),
            PreprocessKind::ChannelMean => write!(f, "channel-mean"),
            PreprocessKind::Standardize => write!(f, "standardize"),
            PreprocessKind::PcaWhiten { eps, zca } => {
                write!(f, "{}-whiten", if *zca { "zca" } else { "pca" })?;
                if *eps != DEFAULT_WHITEN_EPS {
                    write!(f, ":{eps}")?;
                }
                Ok(())
            }
        }
    }
}

/// A tensor saved with a checkpoint: (name, shape, data).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessor {
    kind: PreprocessKind,
    image_shape: Vec<usize>, // [c, h, w], or [] when restored without a mean image
    mean_image: Option<Vec<f32>>, // (c, h, w)
    channel_mean: Vec<f32>,  // (c)
    channel_std: Vec<f32>,   // (c)
    whiten: Option<Array2<f32>>, // (d, d), d = c*h*w: out = whiten · (x - mean_image)
    table: Vec<f32>,         // (c, 256): the output for each byte, for the per-channel kinds
}

const MEAN_IMAGE: &str = "preprocess.mean_image";
const CHANNEL_MEAN: &str = "preprocess.channel_mean";
const CHANNEL_STD: &str = "preprocess.channel_std";
const WHITEN: &str = "preprocess.whiten";

impl Preprocessor {
    /// Fits the statistics on `ds.train` at `train_idx` only; nothing else is read.
    pub fn fit(
        kind: PreprocessKind,
        ds: &Dataset,
        train_idx: &[usize],
    ) -> Result<Preprocessor, DataError> {
        if train_idx.is_empty() {
            return Err(DataError::Preprocess {
                problem: "the training split is empty".to_string(),
            });
        }
        let (c, plane) = (ds.c, ds.h * ds.w);
        let d = c * plane;
        if matches!(kind, PreprocessKind::PcaWhiten { .. }) && d > PCA_MAX_DIM {
            return Err(DataError::Preprocess {
                problem: format!(
                    "{kind} needs inputs of at most {PCA_MAX_DIM} values (3x32x32 fits); {} images are {c}x{}x{} = {d}; use standardize, or --resize to a smaller size",
                    ds.name, ds.h, ds.w
                ),
            });
        }
        let (sums, squares) = train_idx
            .par_iter()
            .fold(
                || (vec![0u64; d], vec![0u64; c]),
                |(mut sums, mut squares), &i| {
                    let image = ds.image(&ds.train, i);
                    for (s, &p) in sums.iter_mut().zip(image) {
                        *s += p as u64;
                    }
                    for (ch, sq) in squares.iter_mut().enumerate() {
                        *sq += image[ch * plane..(ch + 1) * plane]
                            .iter()
                            .map(|&p| (p as u64) * (p as u64))
                            .sum::<u64>();
                    }
                    (sums, squares)
                },
            )
            .reduce(
                || (vec![0u64; d], vec![0u64; c]),
                |(mut a, mut qa), (b, qb)| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    qa.iter_mut().zip(&qb).for_each(|(x, y)| *x += y);
                    (a, qa)
                },
            );
        let n = train_idx.len() as f64;
        let mean_image: Vec<f32> = sums
            .iter()
            .map(|&s| (s as f64 / (n * 255.0)) as f32)
            .collect();
        let mut channel_mean = Vec::with_capacity(c);
        let mut channel_std = Vec::with_capacity(c);
        for ch in 0..c {
            let count = n * plane as f64;
            let mean =
                sums[ch * plane..(ch + 1) * plane].iter().sum::<u64>() as f64 / (count * 255.0);
            let var = squares[ch] as f64 / (count * 255.0 * 255.0) - mean * mean;
            channel_mean.push(mean as f32);
            channel_std.push(var.max(0.0).sqrt() as f32);
        }
        let whiten = match kind {
            PreprocessKind::PcaWhiten { eps, zca } => {
                Some(whitening_matrix(ds, train_idx, &mean_image, eps, zca)?)
            }
            _ => None,
        };
        let image_shape = vec![c, ds.h, ds.w];
        Ok(Preprocessor::new(
            kind,
            image_shape,
            Some(mean_image),
            channel_mean,
            channel_std,
            whiten,
        ))
    }

    fn new(
        kind: PreprocessKind,
        image_shape: Vec<usize>,
        mean_image: Option<Vec<f32>>,
        channel_mean: Vec<f32>,
        channel_std: Vec<f32>,
        whiten: Option<Array2<f32>>,
    ) -> Preprocessor {
        let c = channel_mean.len().max(1);
        let mut table = Vec::with_capacity(c * 256);
        for ch in 0..c {
            let mean = channel_mean.get(ch).copied().unwrap_or(0.0);
            let std = channel_std.get(ch).copied().unwrap_or(1.0).max(STD_FLOOR);
            for p in 0..256 {
                let x = p as f32 / 255.0;
                table.push(match kind {
                    PreprocessKind::ChannelMean => x - mean,
                    PreprocessKind::Standardize => (x - mean) / std,
                    _ => x,
                });
            }
        }
        Preprocessor {
            kind,
            image_shape,
            mean_image,
            channel_mean,
            channel_std,
            whiten,
            table,
        }
    }

    pub fn kind(&self) -> PreprocessKind {
        self.kind
    }

    /// One image: `pixels` (c, h, w) bytes -> `out` (c, h, w) f32.
    pub fn apply(&self, pixels: &[u8], out: &mut [f32]) {
        match (&self.kind, &self.mean_image, &self.whiten) {
            (PreprocessKind::MeanImage, Some(mean), _) => {
                for ((o, &p), m) in out.iter_mut().zip(pixels).zip(mean) {
                    *o = p as f32 * (1.0 / 255.0) - m;
                }
            }
            (PreprocessKind::PcaWhiten { .. }, Some(mean), Some(whiten)) => {
                let centred: Vec<f32> = pixels
                    .iter()
                    .zip(mean)
                    .map(|(&p, m)| p as f32 * (1.0 / 255.0) - m)
                    .collect();
                let mut out = ArrayViewMut1::from(out);
                ndarray::linalg::general_mat_vec_mul(
                    1.0,
                    whiten,
                    &ArrayView1::from(&centred),
                    0.0,
                    &mut out,
                );
            }
            _ => {
                let c = self.table.len() / 256;
                let plane = pixels.len() / c;
                for ch in 0..c {
                    let table = &self.table[ch * 256..(ch + 1) * 256];
                    let range = ch * plane..(ch + 1) * plane;
                    for (o, &p) in out[range.clone()].iter_mut().zip(&pixels[range]) {
                        *o = table[p as usize];
                    }
                }
            }
        }
    }

    /// The training mean image, (c, h, w) in 0..1 pixel units.
    pub fn mean_image(&self) -> Option<Vec<f32>> {
        self.mean_image.clone()
    }

    /// Per-channel mean and std of the training pixels, in 0..1 units.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        (self.channel_mean.clone(), self.channel_std.clone())
    }

    /// The whitening matrix, (d, d), for display.
    pub fn whitening_matrix(&self) -> Option<ArrayView2<'_, f32>> {
        self.whiten.as_ref().map(|w| w.view())
    }

    /// Named tensors (name, shape, data) to save with a checkpoint.
    pub fn tensors(&self) -> Vec<NamedTensor> {
        let c = self.channel_mean.len();
        let mut tensors = vec![
            (CHANNEL_MEAN.to_string(), vec![c], self.channel_mean.clone()),
            (CHANNEL_STD.to_string(), vec![c], self.channel_std.clone()),
        ];
        if let Some(mean) = &self.mean_image {
            tensors.push((
                MEAN_IMAGE.to_string(),
                self.image_shape.clone(),
                mean.clone(),
            ));
        }
        if let Some(whiten) = &self.whiten {
            let (d, _) = whiten.dim();
            tensors.push((
                WHITEN.to_string(),
                vec![d, d],
                whiten.iter().copied().collect(),
            ));
        }
        tensors
    }

    /// Rebuilds a preprocessor from `tensors()`; errors name the missing or malformed tensor.
    pub fn from_tensors(
        kind: PreprocessKind,
        tensors: &[NamedTensor],
    ) -> Result<Preprocessor, DataError> {
        let find = |name: &str| -> Result<Option<&NamedTensor>, DataError> {
            let Some(t) = tensors.iter().find(|t| t.0 == name) else {
                return Ok(None);
            };
            if t.1.iter().product::<usize>() != t.2.len() {
                return Err(DataError::Preprocess {
                    problem: format!("tensor {name} has shape {:?} but {} values", t.1, t.2.len()),
                });
            }
            Ok(Some(t))
        };
        let require = |name: &str| -> Result<&NamedTensor, DataError> {
            find(name)?.ok_or_else(|| DataError::Preprocess {
                problem: format!("{kind} needs the tensor {name}, which the checkpoint lacks"),
            })
        };
        let (channel_mean, channel_std) = match kind {
            PreprocessKind::ChannelMean | PreprocessKind::Standardize => (
                require(CHANNEL_MEAN)?.2.clone(),
                require(CHANNEL_STD)?.2.clone(),
            ),
            _ => (
                find(CHANNEL_MEAN)?.map(|t| t.2.clone()).unwrap_or_default(),
                find(CHANNEL_STD)?.map(|t| t.2.clone()).unwrap_or_default(),
            ),
        };
        let is_whiten = matches!(kind, PreprocessKind::PcaWhiten { .. });
        let mean = match kind {
            PreprocessKind::MeanImage | PreprocessKind::PcaWhiten { .. } => {
                Some(require(MEAN_IMAGE)?)
            }
            _ => find(MEAN_IMAGE)?,
        };
        let image_shape = mean.map(|t| t.1.clone()).unwrap_or_default();
        let mean_image = mean.map(|t| t.2.clone());
        let whiten = if is_whiten {
            let (_, shape, data) = require(WHITEN)?;
            let d = mean_image.as_ref().map_or(0, Vec::len);
            if shape != &[d, d] {
                return Err(DataError::Preprocess {
                    problem: format!(
                        "tensor {WHITEN} has shape {shape:?}, expected [{d}, {d}] to match {MEAN_IMAGE}"
                    ),
                });
            }
            Some(Array2::from_shape_vec((d, d), data.clone()).map_err(|e| {
                DataError::Preprocess {
                    problem: format!("tensor {WHITEN}: {e}"),
                }
            })?)
        } else {
            None
        };
        Ok(Preprocessor::new(
            kind,
            image_shape,
            mean_image,
            channel_mean,
            channel_std,
            whiten,
        ))
    }
}
