//! The ConvNet engine: layers with forward and backward, network specs, SGD. No UI dependency.
//!
//! Tensors are ndarray arrays in NCHW order: n = batch, c = channels, h w = height and width.
//! Each layer's forward saves what its backward reads; backward adds into the parameter
//! gradients, which `Network::zero_grad` clears.

pub mod batchnorm;
pub mod conv;
pub mod dropout;
pub mod error;
pub mod gemm;
pub mod gradcheck;
pub mod init;
pub mod kernel;
pub mod linear;
pub mod loss;
pub mod lrn;
pub mod net;
pub mod optim;
pub mod pool;
pub mod relu;
pub mod shape;
pub mod spec;

pub use error::NnError;
pub use gemm::Float;
pub use net::{BatchLoss, Layer, Mode, Network, ParamMut};
pub use optim::{ParamUpdate, Sgd, SgdConfig};
pub use spec::{LayerInfo, PRESETS, Plan, Preset, parse, plan, preset};

/// A zeroed (n, c, h, w) array, zeroed by every rayon thread in parallel: a batch's activations
/// run to megabytes, and one thread clearing them alone leaves the others waiting.
pub(crate) fn zeros_par<F: Float>(shape: (usize, usize, usize, usize)) -> ndarray::Array4<F> {
    use rayon::prelude::*;
    let len = shape.0 * shape.1 * shape.2 * shape.3;
    let data: Vec<F> = (0..len).into_par_iter().map(|_| F::zero()).collect();
    ndarray::Array4::from_shape_vec(shape, data).expect("the length is the shape's product")
}
