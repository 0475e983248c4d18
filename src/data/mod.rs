//! Data: loaders, splits, preprocessing, augmentation and batching. No UI dependency.
//! Files on disk (or the embedded MNIST subset) -> [`Dataset`] of u8 images (n, c, h, w) ->
//! [`Split`] of the training indices -> [`Preprocessor`] fitted on the training split ->
//! [`Batcher`] / [`eval_batch`] -> f32 batches (n, c, h, w) for the engine.

mod augment;
mod batch;
mod cifar;
mod embedded;
mod error;
mod folder;
mod idx;
mod preprocess;
mod source;
mod split;
mod whiten;

pub use augment::{Augment, CropMode};
pub use batch::{Batcher, BatcherState, augment_example, eval_batch};
pub use error::DataError;
pub use folder::{FOLDER_TEST_FRACTION, FOLDER_TEST_SEED};
pub use preprocess::{
    DEFAULT_WHITEN_EPS, NamedTensor, PCA_MAX_DIM, PCA_MAX_SAMPLES, PreprocessKind, Preprocessor,
};
pub use source::{DataSource, Dataset, ImageSet, LoadOptions, load};
pub use split::{Split, class_counts, kfold, stratified_split};
