//! A network: a sequence of layers built from a spec, every shape checked when it is built.
//!
//! Tensors between layers are (n, c, h, w); a fully connected layer's output is (n, d, 1, 1).

use ndarray::Array4;

use super::batchnorm::BatchNorm;
use super::conv::{Conv2d, ConvGeom};
use super::dropout::Dropout;
use super::error::NnError;
use super::gemm::Float;
use super::init::{Init, fill_normal};
use super::linear::Linear;
use super::loss::{SoftmaxLoss, softmax_cross_entropy};
use super::lrn::LocalResponseNorm;
use super::pool::{AvgPool2d, MaxPool2d, PoolGeom};
use super::relu::Relu;
use super::spec::{LayerInfo, LayerSpec, Plan, parse, plan};

mod build;
mod params;

/// The classifier layer's initial std relative to Glorot.
const CLASSIFIER_INIT_SCALE: f32 = 0.1;

// a net holds a handful of layers, so the size of the largest variant does not matter
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Layer<F: Float> {
    Conv(Conv2d<F>),
    MaxPool(MaxPool2d),
    AvgPool(AvgPool2d),
    Relu(Relu<F>),
    Linear(Linear<F>),
    Norm(LocalResponseNorm<F>),
    Dropout(Dropout<F>),
    BatchNorm(BatchNorm<F>),
}

/// What a forward pass is for: training keeps what backward reads and draws dropout masks from
/// the step's seed; evaluation keeps nothing and passes dropout through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// One parameter tensor with its gradient and its L2 multiplier (1 for weights, 0 for biases).
pub struct ParamMut<'a, F: Float> {
    /// PyTorch-style name: `conv1.weight`, `conv1.bias`, `fc1.weight`, …
    pub name: String,
    pub shape: Vec<usize>,
    pub w: &'a mut [F],
    pub dw: &'a [F],
    pub l2: F,
}

/// The losses of one training batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLoss {
    pub data_loss: f64,
    /// λ/2 · Σ‖W‖² over weights (not biases).
    pub reg_loss: f64,
    pub correct: usize,
}

#[derive(Debug, Clone)]
pub struct Network<F: Float = f32> {
    pub spec: String,
    pub plan: Plan,
    pub layers: Vec<Layer<F>>,
    /// The current training step's random seed (dropout masks): see `set_step`.
    step_seed: u64,
}

/// SplitMix64's finaliser: neighbouring (seed, step) pairs give unrelated seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn contiguous_mut<F: Float, D: ndarray::Dimension>(a: &mut ndarray::Array<F, D>) -> &mut [F] {
    a.as_slice_mut()
        .expect("parameters are kept in standard layout")
}

fn contiguous<F: Float, D: ndarray::Dimension>(a: &ndarray::Array<F, D>) -> &[F] {
    a.as_slice()
        .expect("parameters are kept in standard layout")
}

impl<F: Float> Network<F> {
    /// Sets the random seed of the next training steps from the run's seed and the iteration,
    /// so a run resumed at iteration t draws the dropout masks an unbroken run draws there.
    pub fn set_step(&mut self, run_seed: u64, iteration: u64) {
        self.step_seed = mix(run_seed ^ mix(iteration));
    }

    /// Layer i's dropout seed in a training pass.
    fn layer_seed(&self, mode: Mode, i: usize) -> Option<u64> {
        (mode == Mode::Train).then(|| mix(self.step_seed ^ i as u64))
    }

    pub fn input_shape(&self) -> [usize; 3] {
        self.plan.input
    }

    pub fn num_classes(&self) -> usize {
        self.plan.num_classes()
    }

    pub fn infos(&self) -> Vec<LayerInfo> {
        self.plan.layers.iter().map(|l| l.info.clone()).collect()
    }

    fn check_input(&self, x: &Array4<F>) -> Result<(), NnError> {
        let (_, c, h, w) = x.dim();
        if [c, h, w] != self.plan.input {
            let [ec, eh, ew] = self.plan.input;
            return Err(NnError::Shape {
                layer: "input".into(),
                expected: format!("(n, {ec}, {eh}, {ew})"),
                got: format!("(n, {c}, {h}, {w})"),
            });
        }
        Ok(())
    }

    /// x: (n, c, h, w) -> logits (n, classes, 1, 1), a training pass: saves what backward
    /// needs and applies dropout.
    pub fn forward(&mut self, x: &Array4<F>) -> Result<Array4<F>, NnError> {
        self.forward_mode(x, Mode::Train)
    }

    /// x: (n, c, h, w) -> logits (n, classes, 1, 1), an evaluation pass: keeps no activation,
    /// so its memory is about two layers' outputs, and dropout passes its input through.
    pub fn infer(&mut self, x: &Array4<F>) -> Result<Array4<F>, NnError> {
        self.forward_mode(x, Mode::Eval)
    }

    pub fn forward_mode(&mut self, x: &Array4<F>, mode: Mode) -> Result<Array4<F>, NnError> {
        self.check_input(x)?;
        let mut a = x.to_owned();
        let mut i = 0;
        while i < self.layers.len() {
            let next_seed = self.layer_seed(mode, i + 1);
            // a ReLU whose output the next layer only borrows keeps it instead of copying it
            if mode == Mode::Train
                && let [Layer::Relu(relu), next, ..] = &mut self.layers[i..]
                && borrows_input(next)
            {
                relu.forward_keep(a);
                a = forward_layer_ref(next, relu.output(), next_seed);
                i += 2;
                continue;
            }
            let seed = self.layer_seed(mode, i);
            a = forward_layer(&mut self.layers[i], a, mode, seed);
            i += 1;
        }
        Ok(a)
    }

    /// Like `infer`, also returning every layer's output (for activation maps).
    pub fn forward_collect(&mut self, x: &Array4<F>) -> Result<Vec<Array4<F>>, NnError> {
        self.check_input(x)?;
        let mut outs = Vec::with_capacity(self.layers.len());
        let mut a = x.to_owned();
        for layer in &mut self.layers {
            a = forward_layer(layer, a, Mode::Eval, None);
            outs.push(a.clone());
        }
        Ok(outs)
    }

    /// dlogits: (n, classes, 1, 1) -> dx: (n, c, h, w); adds into every parameter gradient.
    /// With `need_dx` false the first layer skips its input gradient.
    pub fn backward(&mut self, dlogits: Array4<F>, need_dx: bool) -> Array4<F> {
        let mut d = dlogits;
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter_mut().rev().enumerate() {
            let is_first = i == last;
            d = match layer {
                Layer::Conv(l) => l.backward(&d, need_dx || !is_first),
                Layer::MaxPool(l) => l.backward(&d),
                Layer::AvgPool(l) => l.backward(&d),
                Layer::Relu(l) => l.backward(&d),
                Layer::Linear(l) => l.backward(&d),
                Layer::Norm(l) => l.backward(&d),
                Layer::Dropout(l) => l.backward(&d),
                Layer::BatchNorm(l) => l.backward(std::mem::take(&mut d)),
            };
        }
        d
    }

    pub fn zero_grad(&mut self) {
        for layer in &mut self.layers {
            match layer {
                Layer::Conv(l) => l.zero_grad(),
                Layer::Linear(l) => l.zero_grad(),
                Layer::BatchNorm(l) => l.zero_grad(),
                _ => {}
            }
        }
    }

    fn check_labels(&self, n: usize, labels: &[usize]) -> Result<(), NnError> {
        let classes = self.num_classes();
        if labels.len() != n {
            return Err(NnError::Shape {
                layer: "labels".into(),
                expected: format!("{n} labels"),
                got: labels.len().to_string(),
            });
        }
        if let Some(bad) = labels.iter().find(|&&y| y >= classes) {
            return Err(NnError::Shape {
                layer: "labels".into(),
                expected: format!("labels in 0..{classes} (the last layer is fc{classes})"),
                got: format!("label {bad}"),
            });
        }
        Ok(())
    }

    /// Forward and loss only (evaluation: nothing kept, no dropout).
    pub fn evaluate(&mut self, x: &Array4<F>, labels: &[usize]) -> Result<SoftmaxLoss<F>, NnError> {
        self.evaluate_mode(x, labels, Mode::Eval)
    }

    /// Forward and loss in either mode (gradient checks need the training pass's loss).
    pub fn evaluate_mode(
        &mut self,
        x: &Array4<F>,
        labels: &[usize],
        mode: Mode,
    ) -> Result<SoftmaxLoss<F>, NnError> {
        self.check_labels(x.dim().0, labels)?;
        let logits = self.forward_mode(x, mode)?;
        Ok(softmax_cross_entropy(
            contiguous(&logits),
            self.num_classes(),
            labels,
        ))
    }

    /// Zeroes the gradients, then forward, softmax loss and backward: gradients of the data loss
    /// (averaged over the batch). The L2 term's gradient λ·W is added by the optimiser.
    pub fn train_batch(
        &mut self,
        x: &Array4<F>,
        labels: &[usize],
        lambda: F,
    ) -> Result<BatchLoss, NnError> {
        self.check_labels(x.dim().0, labels)?;
        self.zero_grad();
        let logits = self.forward(x)?;
        let loss = softmax_cross_entropy(contiguous(&logits), self.num_classes(), labels);
        let dlogits =
            Array4::from_shape_vec(logits.dim(), loss.dlogits).expect("one gradient a logit");
        self.backward(dlogits, false);
        Ok(BatchLoss {
            data_loss: loss.loss,
            reg_loss: self.reg_loss(lambda),
            correct: loss.correct,
        })
    }

    /// λ/2 · Σ m·‖W‖² over weights, m each layer's `wd` multiplier; independent of the batch
    /// size.
    pub fn reg_loss(&self, lambda: F) -> f64 {
        let sq: f64 = self
            .layers
            .iter()
            .zip(&self.plan.layers)
            .map(|(l, pl)| {
                let sq: f64 = match l {
                    Layer::Conv(c) => c.w.iter().map(|v| v.as_f64() * v.as_f64()).sum(),
                    Layer::Linear(f) => f.w.iter().map(|v| v.as_f64() * v.as_f64()).sum(),
                    _ => 0.0,
                };
                pl.spec.wd_mult() * sq
            })
            .sum();
        0.5 * lambda.as_f64() * sq
    }
}

impl Network<f32> {
    /// Each ReLU layer's dead fraction on the last batch, by layer index (None for other layers).
    pub fn dead_fractions(&self) -> Vec<Option<f32>> {
        self.layers
            .iter()
            .map(|l| match l {
                Layer::Relu(r) => r.dead_fraction(),
                _ => None,
            })
            .collect()
    }

    /// Each norm layer's divisor beyond its constant k^β on the last training batch, by layer
    /// index (None for other layers).
    pub fn norm_divisors(&self) -> Vec<Option<f32>> {
        self.layers
            .iter()
            .map(|l| match l {
                Layer::Norm(n) => n.divisor(),
                _ => None,
            })
            .collect()
    }
}

/// (weight shape, bias length) of a conv, fc or batch-norm layer.
fn layer_ref_shape(spec: &LayerSpec, in_shape: [usize; 3]) -> (Vec<usize>, usize) {
    match *spec {
        LayerSpec::Conv { c_out, kh, kw, .. } => (vec![c_out, in_shape[0], kh, kw], c_out),
        LayerSpec::Fc { d_out, .. } => (vec![d_out, in_shape.iter().product()], d_out),
        LayerSpec::BatchNorm => (vec![in_shape[0]], in_shape[0]),
        _ => (Vec::new(), 0),
    }
}

/// Whether a layer's forward only reads its input (so it can borrow a ReLU's kept output).
fn borrows_input<F: Float>(layer: &Layer<F>) -> bool {
    matches!(
        layer,
        Layer::MaxPool(_) | Layer::AvgPool(_) | Layer::Linear(_)
    )
}

/// A training forward from a borrowed input: in place for the layers `borrows_input` names,
/// through a copy for the others.
fn forward_layer_ref<F: Float>(
    layer: &mut Layer<F>,
    x: &Array4<F>,
    seed: Option<u64>,
) -> Array4<F> {
    match layer {
        Layer::MaxPool(l) => l.forward(x, true),
        Layer::AvgPool(l) => l.forward(x, true),
        Layer::Linear(l) => l.forward(x, true),
        _ => forward_layer(layer, x.clone(), Mode::Train, seed),
    }
}

/// `seed`: the layer's dropout seed in training, None in evaluation.
fn forward_layer<F: Float>(
    layer: &mut Layer<F>,
    a: Array4<F>,
    mode: Mode,
    seed: Option<u64>,
) -> Array4<F> {
    let keep = mode == Mode::Train;
    match layer {
        Layer::Conv(l) => l.forward_mode(a, keep),
        Layer::MaxPool(l) => l.forward(&a, keep),
        Layer::AvgPool(l) => l.forward(&a, keep),
        Layer::Relu(l) => l.forward_mode(a, keep),
        Layer::Linear(l) => l.forward(&a, keep),
        Layer::Norm(l) => l.forward(a, keep),
        Layer::Dropout(l) => l.forward(a, seed),
        Layer::BatchNorm(l) => l.forward(a, keep),
    }
}
