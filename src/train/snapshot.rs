//! Owned views of the network and the data for viewers: evaluation over a split, layer health,
//! filters and activation maps, sample predictions.

use ndarray::Array4;

use super::events::*;
use super::setup::Run;
use crate::data::{PreprocessKind, augment_example, class_counts, eval_batch};
use crate::nn::loss::softmax_into;
use crate::nn::{Layer, ParamUpdate};

/// Loss, accuracy and confusion matrix (true × predicted) over training images `idx`
/// (validation or a training probe), in batches, without augmentation.
pub fn evaluate_split(
    run: &mut Run,
    idx: &[usize],
    batch: usize,
    classes: usize,
) -> (f32, f32, Vec<Vec<u32>>) {
    let mut confusion = vec![vec![0u32; classes]; classes];
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut x = Array4::zeros((0, 0, 0, 0));
    let mut labels = Vec::new();
    for chunk in idx.chunks(batch.max(1)) {
        eval_batch(
            &run.data,
            &run.data.train,
            chunk,
            &run.preprocess,
            &run.augment,
            &mut x,
            &mut labels,
        );
        let Ok(out) = run.net.evaluate(&x, &labels) else {
            return (f32::NAN, 0.0, confusion);
        };
        loss_sum += out.loss * chunk.len() as f64;
        correct += out.correct;
        for (row, &y) in out.probs.chunks(classes).zip(&labels) {
            confusion[y][crate::nn::loss::argmax(row)] += 1;
        }
    }
    let n = idx.len().max(1) as f64;
    (
        (loss_sum / n) as f32,
        (correct as f64 / n) as f32,
        confusion,
    )
}

/// Weight norm, gradient norm and update/weight ratio of each conv and fc layer (from its weight
/// tensor), the dead fraction of each ReLU and the divisor of each norm.
pub fn layer_stats(net: &crate::nn::Network, updates: &[ParamUpdate]) -> Vec<LayerStats> {
    let dead = net.dead_fractions();
    let divisors = net.norm_divisors();
    let mut out = Vec::new();
    for ((pl, dead), divisor) in net.plan.layers.iter().zip(dead).zip(divisors) {
        let name = pl.info.name.clone();
        if let Some(u) = updates.iter().find(|u| u.name == format!("{name}.weight")) {
            out.push(LayerStats {
                name,
                weight_norm: u.weight_norm,
                grad_norm: u.grad_norm,
                update_ratio: u.update_norm / u.weight_norm.max(f32::MIN_POSITIVE),
                dead_fraction: None,
                norm_divisor: None,
            });
        } else if dead.is_some() || divisor.is_some() {
            out.push(LayerStats {
                name,
                weight_norm: 0.0,
                grad_norm: 0.0,
                update_ratio: 0.0,
                dead_fraction: dead,
                norm_divisor: divisor,
            });
        }
    }
    out
}

fn planes(shape: (usize, usize, usize), data: Vec<f32>) -> Planes {
    Planes {
        c: shape.0,
        h: shape.1,
        w: shape.2,
        data,
    }
}

/// Filters of every conv layer, layer health, and the activations of validation image `input_index`.
pub fn snapshot(run: &mut Run, updates: &[ParamUpdate], input_index: usize) -> Snapshot {
    let layer_stats = layer_stats(&run.net, updates);
    let filters = run
        .net
        .layers
        .iter()
        .zip(&run.net.plan.layers)
        .filter_map(|(l, pl)| match l {
            Layer::Conv(c) => {
                let (c_out, c_in, kh, kw) = c.w.dim();
                Some(FilterBank {
                    layer: pl.info.name.clone(),
                    c_out,
                    c_in,
                    kh,
                    kw,
                    weights: c.w.iter().copied().collect(),
                    grads: c.dw.iter().copied().collect(),
                })
            }
            _ => None,
        })
        .collect();
    let val = &run.split.val;
    let pick = if val.is_empty() {
        0
    } else {
        input_index % val.len()
    };
    let image_idx = val.get(pick).copied().unwrap_or(0);
    let ds = &run.data;
    let raw: Vec<f32> = ds
        .image(&ds.train, image_idx)
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect();
    let mut x = Array4::zeros((0, 0, 0, 0));
    let mut labels = Vec::new();
    eval_batch(
        ds,
        &ds.train,
        &[image_idx],
        &run.preprocess,
        &run.augment,
        &mut x,
        &mut labels,
    );
    let mut activations = Vec::new();
    let mut probabilities = Vec::new();
    if let Ok(outs) = run.net.forward_collect(&x) {
        for (out, pl) in outs.iter().zip(&run.net.plan.layers) {
            let (_, c, h, w) = out.dim();
            activations.push((
                pl.info.name.clone(),
                planes((c, h, w), out.iter().copied().collect()),
            ));
        }
        if let Some(last) = outs.last() {
            let logits: Vec<f32> = last.iter().copied().collect();
            probabilities = vec![0.0; logits.len()];
            softmax_into(&logits, &mut probabilities);
        }
    }
    Snapshot {
        iteration: run.iteration,
        filters,
        layer_stats,
        input_index: pick,
        input: planes((ds.c, ds.h, ds.w), raw),
        label: labels.first().copied().unwrap_or(0),
        probabilities,
        activations,
    }
}

/// How many sample images a data view shows.
const SAMPLES: usize = 16;

/// Sample validation images with predictions, the mean image, an augmentation example, counts.
pub fn data_view(run: &mut Run) -> DataView {
    let classes = run.data.num_classes();
    let val = run.split.val.clone();
    let step = (val.len() / SAMPLES).max(1);
    let picks: Vec<usize> = val.iter().step_by(step).take(SAMPLES).copied().collect();
    let mut x = Array4::zeros((0, 0, 0, 0));
    let mut labels = Vec::new();
    eval_batch(
        &run.data,
        &run.data.train,
        &picks,
        &run.preprocess,
        &run.augment,
        &mut x,
        &mut labels,
    );
    let probs = run
        .net
        .evaluate(&x, &labels)
        .map(|o| o.probs)
        .unwrap_or_default();
    let ds = &run.data;
    let shape = (ds.c, ds.h, ds.w);
    let samples = picks
        .iter()
        .enumerate()
        .map(|(i, &idx)| SampleImage {
            image: planes(
                shape,
                ds.image(&ds.train, idx)
                    .iter()
                    .map(|&p| p as f32 / 255.0)
                    .collect(),
            ),
            label: ds.train.labels[idx] as usize,
            predicted: probs
                .get(i * classes..(i + 1) * classes)
                .map_or(0, crate::nn::loss::argmax),
        })
        .collect();
    let example = run.split.train.first().copied().unwrap_or(0);
    let (before, after) = augment_example(
        ds,
        &ds.train,
        example,
        &run.augment,
        run.config.seed ^ run.iteration,
    );
    let out_shape = run.augment.output_shape(ds.c, ds.h, ds.w);
    let whitened = matches!(
        run.preprocess.kind(),
        PreprocessKind::PcaWhiten { zca: true, .. }
    )
    .then(|| {
        let mut out = vec![0.0; ds.image_len()];
        run.preprocess.apply(ds.image(&ds.train, example), &mut out);
        planes(shape, out)
    });
    DataView {
        samples,
        mean_image: run.preprocess.mean_image().map(|m| planes(shape, m)),
        augment_before: planes(shape, before),
        augment_after: planes(out_shape, after),
        whitened,
        class_counts: vec![
            (
                "train".into(),
                class_counts(&ds.train.labels, &run.split.train, classes),
            ),
            (
                "val".into(),
                class_counts(&ds.train.labels, &run.split.val, classes),
            ),
            (
                "test".into(),
                class_counts(
                    &ds.test.labels,
                    &(0..ds.test.n).collect::<Vec<_>>(),
                    classes,
                ),
            ),
        ],
    }
}
