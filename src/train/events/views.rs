//! What the dashboard's image tabs draw: filters, per-layer health, activations and data samples,
//! as owned planes of numbers.

use serde::{Deserialize, Serialize};

/// A stack of 2-D planes (c, h, w), row-major, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Planes {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    #[serde(with = "crate::train::finite::vec_f32")]
    pub data: Vec<f32>,
}

impl Planes {
    pub fn plane(&self, i: usize) -> &[f32] {
        let size = self.h * self.w;
        &self.data[i * size..(i + 1) * size]
    }
}

/// The filters of one conv layer: c_out filters of (c_in, kh, kw).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterBank {
    pub layer: String,
    pub c_out: usize,
    pub c_in: usize,
    pub kh: usize,
    pub kw: usize,
    /// (c_out, c_in, kh, kw), row-major.
    #[serde(with = "crate::train::finite::vec_f32")]
    pub weights: Vec<f32>,
    /// Same shape: the gradient of the last iteration.
    #[serde(with = "crate::train::finite::vec_f32")]
    pub grads: Vec<f32>,
}

/// Per-layer health, measured at the last iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    pub name: String,
    #[serde(with = "crate::train::finite::f32s")]
    pub weight_norm: f32,
    #[serde(with = "crate::train::finite::f32s")]
    pub grad_norm: f32,
    /// ‖lr·update‖ / ‖W‖: healthy near 1e-3.
    #[serde(with = "crate::train::finite::f32s")]
    pub update_ratio: f32,
    /// Fraction of channels that were zero everywhere for every input of the last batch (ReLU layers only).
    pub dead_fraction: Option<f32>,
    /// How much more than its constant k^β a `norm` layer divided the last batch, in energy
    /// (norm layers only; 1.00 = it normalised nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm_divisor: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub iteration: u64,
    pub filters: Vec<FilterBank>,
    pub layer_stats: Vec<LayerStats>,
    /// Index of the chosen input within the validation split.
    pub input_index: usize,
    /// The chosen input as the person sees it (raw pixels scaled to 0..1).
    pub input: Planes,
    pub label: usize,
    #[serde(with = "crate::train::finite::vec_f32")]
    pub probabilities: Vec<f32>,
    /// The activation maps of every layer for the chosen input: (layer name, planes).
    pub activations: Vec<(String, Planes)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleImage {
    pub image: Planes,
    pub label: usize,
    pub predicted: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataView {
    pub samples: Vec<SampleImage>,
    /// The preprocessing's mean image (c, h, w) in pixel units 0..1, if it has one.
    pub mean_image: Option<Planes>,
    pub augment_before: Planes,
    pub augment_after: Planes,
    /// The augmentation example as the network sees it after ZCA whitening (pixel space), when
    /// the run whitens; PCA output is not an image and is not shown.
    #[serde(default)]
    pub whitened: Option<Planes>,
    /// Class counts per split: (split name, counts per class).
    pub class_counts: Vec<(String, Vec<usize>)>,
}
