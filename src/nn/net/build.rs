//! Building a network from its spec: every layer's shapes checked, its weights drawn from the
//! seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

impl<F: Float> Network<F> {
    /// Parses `spec` (or a preset name), checks every shape against `input` (c, h, w) and draws
    /// the initial weights from `seed`.
    pub fn build(spec: &str, input: [usize; 3], seed: u64) -> Result<Network<F>, NnError> {
        let plan = plan(&parse(spec)?, input)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layers = Vec::with_capacity(plan.layers.len());
        for pl in &plan.layers {
            let [c, h, w] = pl.in_shape;
            let [c_out, oh, ow] = pl.info.out_shape;
            let init = if pl.is_followed_by_relu {
                Init::He
            } else {
                Init::Glorot
            };
            let layer = match pl.spec {
                LayerSpec::Conv {
                    kh,
                    kw,
                    stride,
                    pad,
                    ..
                } => {
                    let geom = ConvGeom {
                        c_in: c,
                        h,
                        w,
                        kh,
                        kw,
                        stride,
                        pad,
                        oh,
                        ow,
                    };
                    let mut conv = Conv2d::new(geom, c_out);
                    let std = init.std(c * kh * kw, c_out * kh * kw);
                    draw(&mut rng, std, contiguous_mut(&mut conv.w));
                    Layer::Conv(conv)
                }
                LayerSpec::Relu => Layer::Relu(Relu::default()),
                LayerSpec::MaxPool { k, stride, .. } => Layer::MaxPool(MaxPool2d::new(PoolGeom {
                    c,
                    h,
                    w,
                    k,
                    stride,
                    oh,
                    ow,
                })),
                LayerSpec::AvgPool { k, stride, .. } => Layer::AvgPool(AvgPool2d::new(PoolGeom {
                    c,
                    h,
                    w,
                    k,
                    stride,
                    oh,
                    ow,
                })),
                LayerSpec::Norm {
                    n,
                    k,
                    alpha,
                    beta,
                    within,
                } => Layer::Norm(if within {
                    LocalResponseNorm::within_channel(n, k, alpha, beta)
                } else {
                    LocalResponseNorm::new(n, k, alpha, beta)
                }),
                LayerSpec::Dropout { p } => Layer::Dropout(Dropout::new(p)),
                LayerSpec::BatchNorm => Layer::BatchNorm(BatchNorm::new(c)),
                LayerSpec::Fc { d_out, .. } => {
                    let mut fc = Linear::new(c * h * w, d_out);
                    let is_classifier = layers.len() + 1 == plan.layers.len();
                    // the classifier starts at a tenth of Glorot so the initial logits are small
                    // and the initial loss is ≈ ln C, whatever the scale of the features below it
                    let scale = if is_classifier {
                        CLASSIFIER_INIT_SCALE
                    } else {
                        1.0
                    };
                    let std = init.std(c * h * w, d_out) * scale;
                    draw(&mut rng, std, contiguous_mut(&mut fc.w));
                    Layer::Linear(fc)
                }
            };
            layers.push(layer);
        }
        Ok(Network {
            spec: spec.to_string(),
            plan,
            layers,
            step_seed: mix(seed),
        })
    }
}

fn draw<F: Float>(rng: &mut ChaCha8Rng, std: f32, out: &mut [F]) {
    let mut tmp = vec![0.0f32; out.len()];
    fill_normal(rng, std, &mut tmp);
    out.iter_mut()
        .zip(&tmp)
        .for_each(|(o, &v)| *o = F::of(v as f64));
}
