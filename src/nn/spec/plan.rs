//! The planner: every layer's output shape resolved against the input and checked, with the
//! output-size rule, before any weight is drawn.

use super::{LayerInfo, LayerSpec};
use crate::nn::error::NnError;
use crate::nn::shape::{AxisOut, formula_ceil, out_size, out_size_ceil};

/// A layer with its geometry resolved against the input.
#[derive(Debug, Clone)]
pub struct PlannedLayer {
    pub spec: LayerSpec,
    pub info: LayerInfo,
    pub in_shape: [usize; 3],
    /// The next layer is a ReLU: initialise with He rather than Glorot.
    pub is_followed_by_relu: bool,
}

/// What an "uncovered pixels" warning asks of the person (a deliberate preset is not asked).
pub const TILE_FIX: &str = "pick a kernel, stride or pad that tiles it";

/// Every shape inferred and checked up front.
#[derive(Debug, Clone)]
pub struct Plan {
    pub input: [usize; 3],
    pub layers: Vec<PlannedLayer>,
    /// Legal but probably unintended (windows that leave pixels uncovered).
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn num_classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.info.out_shape[0])
    }
    pub fn params(&self) -> usize {
        self.layers.iter().map(|l| l.info.params).sum()
    }
    pub fn flops(&self) -> u64 {
        self.layers.iter().map(|l| l.info.flops).sum()
    }
}

/// Resolves every layer's output shape with the output-size rule; an impossible layer is an
/// error naming it, its numbers and the formula.
pub fn plan(layers: &[LayerSpec], input: [usize; 3]) -> Result<Plan, NnError> {
    if input.contains(&0) {
        return Err(NnError::Shape {
            layer: "input".into(),
            expected: "c, h, w ≥ 1".into(),
            got: format!("{}×{}×{}", input[0], input[1], input[2]),
        });
    }
    match layers.last() {
        Some(LayerSpec::Fc { .. }) => {}
        _ => {
            return Err(NnError::Impossible {
                layer: "output".into(),
                problem: "the spec must end with a classifier `fcN` (N = number of classes)".into(),
            });
        }
    }
    let mut counts = [0usize; 7];
    let mut shape = input;
    let mut planned = Vec::with_capacity(layers.len());
    let mut warnings = Vec::new();
    for (i, &spec) in layers.iter().enumerate() {
        let [c, h, w] = shape;
        let slot = match spec {
            LayerSpec::Conv { .. } => 0,
            LayerSpec::Relu => 1,
            LayerSpec::MaxPool { .. } | LayerSpec::AvgPool { .. } => 2,
            LayerSpec::Fc { .. } => 3,
            LayerSpec::Norm { .. } => 4,
            LayerSpec::Dropout { .. } => 5,
            LayerSpec::BatchNorm => 6,
        };
        counts[slot] += 1;
        let kinds = ["conv", "relu", "pool", "fc", "norm", "dropout", "bn"];
        let name = format!("{}{}", kinds[slot], counts[slot]);
        let mut window = |kh: usize,
                          kw: usize,
                          s: usize,
                          p: usize,
                          is_ceil: bool,
                          what: &str|
         -> Result<(usize, usize, String), NnError> {
            let axis = |input: usize, k: usize| -> (Option<AxisOut>, String) {
                if is_ceil {
                    (out_size_ceil(input, k, s), formula_ceil(input, k, s))
                } else {
                    (
                        out_size(input, k, s, p),
                        crate::nn::shape::formula(input, k, s, p),
                    )
                }
            };
            let ((oy, fh), (ox, fw)) = (axis(h, kh), axis(w, kw));
            let (Some(oy), Some(ox)) = (oy, ox) else {
                return Err(NnError::Impossible {
                    layer: name.clone(),
                    problem: format!(
                        "the {kh}×{kw} {what} does not fit the {h}×{w} input padded by {p} ({}×{}); \
                         out = ⌊(in + 2·pad − k)/stride⌋ + 1: height {fh}, width {fw}",
                        h + 2 * p,
                        w + 2 * p
                    ),
                });
            };
            if oy.dropped > 0 || ox.dropped > 0 {
                // named as the person wrote it, and which of its kind it is
                warnings.push(format!(
                    "`{}` (the {} {}, {name} in `convtop inspect`): stride {s} leaves {} row(s) and \
                     {} column(s) of the {h}×{w} input uncovered ((in + 2·pad − k) mod stride); \
                     {TILE_FIX}",
                    token(&spec),
                    ordinal(counts[slot]),
                    kinds[slot],
                    oy.dropped,
                    ox.dropped
                ));
            }
            let formula = if h == w && kh == kw {
                fh
            } else {
                format!("h: {fh}; w: {fw}")
            };
            Ok((oy.out, ox.out, formula))
        };
        let (out_shape, kind, formula, params, flops) = match spec {
            LayerSpec::Conv {
                c_out,
                kh,
                kw,
                stride,
                pad,
                wd_mult,
            } => {
                let (oh, ow, formula) = window(kh, kw, stride, pad, false, "kernel")?;
                let k = c * kh * kw;
                let flops = 2 * (c_out * oh * ow * k) as u64;
                (
                    [c_out, oh, ow],
                    format!(
                        "conv {c_out} {kh}×{kw} s{stride} p{pad}{}",
                        wd_kind(wd_mult)
                    ),
                    formula,
                    c_out * k + c_out,
                    flops,
                )
            }
            LayerSpec::Relu => (shape, "relu".to_string(), String::new(), 0, 0),
            LayerSpec::MaxPool { k, stride, is_ceil }
            | LayerSpec::AvgPool { k, stride, is_ceil } => {
                let (oh, ow, formula) = window(k, k, stride, 0, is_ceil, "pooling window")?;
                let what = if matches!(spec, LayerSpec::MaxPool { .. }) {
                    "maxpool"
                } else {
                    "avgpool"
                };
                let ceil = if is_ceil { " ceil" } else { "" };
                (
                    [c, oh, ow],
                    format!("{what} {k}×{k} s{stride}{ceil}"),
                    formula,
                    0,
                    0,
                )
            }
            LayerSpec::Norm {
                n,
                k,
                alpha,
                beta,
                within,
            } => {
                let (count, window, kind) = if within {
                    (
                        format!("{n}²"),
                        format!("{n}×{n}"),
                        format!("norm {n}×{n} in channel"),
                    )
                } else {
                    (n.to_string(), n.to_string(), format!("norm {n} channels"))
                };
                let formula = format!("x / ({k} + {alpha:e}/{count}·Σ{window} x²)^{beta}");
                (shape, kind, formula, 0, 0)
            }
            LayerSpec::Dropout { p } => (shape, format!("dropout {p}"), String::new(), 0, 0),
            LayerSpec::BatchNorm => (
                shape,
                "batchnorm".to_string(),
                "γ·(x − μ)/√(σ² + 1e-5) + β".to_string(),
                2 * c,
                0,
            ),
            LayerSpec::Fc { d_out, wd_mult } => {
                let d_in = c * h * w;
                let formula = format!("{c}·{h}·{w} = {d_in} → {d_out}");
                (
                    [d_out, 1, 1],
                    format!("fc {d_out}{}", wd_kind(wd_mult)),
                    formula,
                    d_in * d_out + d_out,
                    2 * (d_in * d_out) as u64,
                )
            }
        };
        // a batch norm between a layer and its ReLU passes the ReLU's halving of the variance on
        let is_followed_by_relu = matches!(
            layers.get(i + 1..),
            Some([LayerSpec::Relu, ..] | [LayerSpec::BatchNorm, LayerSpec::Relu, ..])
        );
        planned.push(PlannedLayer {
            spec,
            info: LayerInfo {
                name,
                kind,
                formula,
                out_shape,
                params,
                flops,
            },
            in_shape: shape,
            is_followed_by_relu,
        });
        shape = out_shape;
    }
    Ok(Plan {
        input,
        layers: planned,
        warnings,
    })
}

/// The spec token that builds `layer`, as a person would write it (`pool3`, `conv16k5p2`).
fn token(layer: &LayerSpec) -> String {
    let window = |name: &str, k: usize, stride: usize, is_ceil: bool| {
        let s = if stride == k {
            String::new()
        } else {
            format!("s{stride}")
        };
        format!("{name}{k}{s}{}", if is_ceil { "ceil" } else { "" })
    };
    match *layer {
        LayerSpec::Conv {
            c_out,
            kh,
            kw,
            stride,
            pad,
            wd_mult,
        } => {
            let kw = if kw == kh {
                String::new()
            } else {
                format!("x{kw}")
            };
            let s = if stride == 1 {
                String::new()
            } else {
                format!("s{stride}")
            };
            let p = if pad == 0 {
                String::new()
            } else {
                format!("p{pad}")
            };
            format!("conv{c_out}k{kh}{kw}{s}{p}{}", wd_token(wd_mult))
        }
        LayerSpec::MaxPool { k, stride, is_ceil } => window("pool", k, stride, is_ceil),
        LayerSpec::AvgPool { k, stride, is_ceil } => window("avgpool", k, stride, is_ceil),
        LayerSpec::Relu => "relu".into(),
        LayerSpec::Norm { n, within, .. } => format!("norm{n}{}", if within { "w" } else { "" }),
        LayerSpec::Dropout { .. } => "dropout".into(),
        LayerSpec::BatchNorm => "bn".into(),
        LayerSpec::Fc { d_out, wd_mult } => format!("fc{d_out}{}", wd_token(wd_mult)),
    }
}

/// A conv or fc layer's weight-decay multiplier as `inspect` shows it: nothing when it is 1.
fn wd_kind(wd_mult: f64) -> String {
    if wd_mult == 1.0 {
        String::new()
    } else {
        format!(" wd×{wd_mult}")
    }
}

/// ... and as its spec token ends: `wd250`.
fn wd_token(wd_mult: f64) -> String {
    if wd_mult == 1.0 {
        String::new()
    } else {
        format!("wd{wd_mult}")
    }
}

/// 1 → "1st", 2 → "2nd", 3 → "3rd", 11 → "11th".
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
