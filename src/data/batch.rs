//! NCHW f32 batches: a seeded, resumable stream of augmented training batches, evaluation batches
//! (centre crop only), and one before/after augmentation example for display.

use ndarray::Array4;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::augment::{Augment, Jitter};
use super::preprocess::Preprocessor;
use super::source::{Dataset, ImageSet};
use super::whiten::whiten_batch;

const SHUFFLE_STREAM: u64 = 0;
const AUGMENT_STREAM: u64 = 1;

/// Shuffles the training indices each epoch and hands out augmented, preprocessed batches.
/// Two ChaCha8 streams of one seed: one shuffles, one draws a jitter per image.
#[derive(Clone, Debug)]
pub struct Batcher {
    seed: u64,
    order: Vec<usize>, // (n_train) this epoch's permutation of the training indices
    position: usize,   // next place in `order`
    epoch: u64,
    shuffle_rng: ChaCha8Rng,
    augment_rng: ChaCha8Rng,
    jitters: Vec<Jitter>, // (batch) scratch
}

/// Everything needed to continue a `Batcher` exactly where it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatcherState {
    pub seed: u64,
    pub epoch: u64,
    pub position: usize,
    pub order: Vec<usize>,
    /// ChaCha word positions; a u128 in rand_chacha, but 2^64 words are never reached.
    pub shuffle_word_pos: u64,
    pub augment_word_pos: u64,
}

fn rng(seed: u64, stream: u64, word_pos: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng.set_word_pos(word_pos as u128);
    rng
}

impl Batcher {
    pub fn new(train_idx: Vec<usize>, seed: u64) -> Batcher {
        let mut batcher = Batcher {
            seed,
            order: train_idx,
            position: 0,
            epoch: 0,
            shuffle_rng: rng(seed, SHUFFLE_STREAM, 0),
            augment_rng: rng(seed, AUGMENT_STREAM, 0),
            jitters: Vec::new(),
        };
        batcher.order.shuffle(&mut batcher.shuffle_rng);
        batcher
    }

    /// Next training batch, augmented and preprocessed into `x` (n, c, oh, ow) and `labels` (n).
    /// Returns fewer than `batch_size` images at the end of an epoch (never mixes two epochs); the
    /// epoch counter advances and the order is reshuffled as soon as its last image is handed out.
    pub fn next_batch(
        &mut self,
        ds: &Dataset,
        pre: &Preprocessor,
        aug: &Augment,
        batch_size: usize,
        x: &mut Array4<f32>,
        labels: &mut Vec<usize>,
    ) {
        let take = batch_size.min(self.order.len() - self.position);
        let idx = &self.order[self.position..self.position + take];
        self.jitters.clear();
        for _ in 0..take {
            self.jitters
                .push(aug.draw(&mut self.augment_rng, ds.h, ds.w));
        }
        fill(ds, &ds.train, idx, &self.jitters, pre, aug, x, labels);
        self.position += take;
        if self.position == self.order.len() && take > 0 {
            self.position = 0;
            self.epoch += 1;
            self.order.shuffle(&mut self.shuffle_rng);
        }
    }

    /// Completed epochs.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Images of the current epoch already handed out.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The seed both streams were drawn from (restored with the rest on resume).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn epoch_len(&self) -> usize {
        self.order.len()
    }

    pub fn rng_state(&self) -> BatcherState {
        BatcherState {
            seed: self.seed,
            epoch: self.epoch,
            position: self.position,
            order: self.order.clone(),
            shuffle_word_pos: self.shuffle_rng.get_word_pos() as u64,
            augment_word_pos: self.augment_rng.get_word_pos() as u64,
        }
    }

    pub fn restore(state: BatcherState) -> Batcher {
        Batcher {
            seed: state.seed,
            position: state.position.min(state.order.len()),
            order: state.order,
            epoch: state.epoch,
            shuffle_rng: rng(state.seed, SHUFFLE_STREAM, state.shuffle_word_pos),
            augment_rng: rng(state.seed, AUGMENT_STREAM, state.augment_word_pos),
            jitters: Vec::new(),
        }
    }
}

/// Evaluation batch of `set` at `idx`: no augmentation except the centre crop of window mode.
pub fn eval_batch(
    ds: &Dataset,
    set: &ImageSet,
    idx: &[usize],
    pre: &Preprocessor,
    aug: &Augment,
    x: &mut Array4<f32>,
    labels: &mut Vec<usize>,
) {
    let jitters = vec![aug.centre(ds.h, ds.w); idx.len()];
    fill(ds, set, idx, &jitters, pre, aug, x, labels);
}

/// For display: image `i` of `set` before and after one random augmentation drawn from `seed`,
/// as 0..1 pixels; before is (c, h, w), after is `aug.output_shape(c, h, w)`. No preprocessing.
pub fn augment_example(
    ds: &Dataset,
    set: &ImageSet,
    i: usize,
    aug: &Augment,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let before: Vec<f32> = ds.image(set, i).iter().map(|&p| p as f32 / 255.0).collect();
    let (c, oh, ow) = aug.output_shape(ds.c, ds.h, ds.w);
    let mut after = vec![0.0; c * oh * ow];
    let jitter = aug.draw(&mut rng(seed, AUGMENT_STREAM, 0), ds.h, ds.w);
    aug.crop_into(&before, (ds.c, ds.h, ds.w), jitter, &mut after);
    (before, after)
}

/// Preprocesses and crops each image of `set` at `idx` into `x` (n, c, oh, ow), in parallel.
#[allow(clippy::too_many_arguments)]
fn fill(
    ds: &Dataset,
    set: &ImageSet,
    idx: &[usize],
    jitters: &[Jitter],
    pre: &Preprocessor,
    aug: &Augment,
    x: &mut Array4<f32>,
    labels: &mut Vec<usize>,
) {
    let (c, oh, ow) = aug.output_shape(ds.c, ds.h, ds.w);
    let shape = (idx.len(), c, oh, ow);
    if x.dim() != shape || !x.is_standard_layout() {
        *x = Array4::zeros(shape);
    }
    labels.clear();
    labels.extend(idx.iter().map(|&i| set.labels[i] as usize));
    let Some(xs) = x.as_slice_mut() else {
        return; // unreachable: x is in standard layout
    };
    let chw = ds.image_len();
    if let (Some(whiten), Some(mean)) = (pre.whitening_matrix(), pre.mean_image()) {
        let mut white = vec![0.0f32; idx.len() * chw];
        let images = idx.iter().map(|&i| ds.image(set, i));
        whiten_batch(whiten, &mean, images, &mut white);
        xs.par_chunks_mut(c * oh * ow)
            .zip(white.par_chunks(chw).zip(jitters))
            .for_each(|(out, (image, &jitter))| {
                if aug.is_identity(jitter, ds.h, ds.w) {
                    out.copy_from_slice(image);
                } else {
                    aug.crop_into(image, (ds.c, ds.h, ds.w), jitter, out);
                }
            });
        return;
    }
    xs.par_chunks_mut(c * oh * ow)
        .zip(idx.par_iter().zip(jitters))
        .for_each_init(
            || vec![0.0f32; chw],
            |scratch, (out, (&i, &jitter))| {
                let pixels = ds.image(set, i);
                if aug.is_identity(jitter, ds.h, ds.w) {
                    pre.apply(pixels, out);
                } else {
                    pre.apply(pixels, scratch);
                    aug.crop_into(scratch, (ds.c, ds.h, ds.w), jitter, out);
                }
            },
        );
}
