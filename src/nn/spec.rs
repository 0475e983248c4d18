//! The one-line network spec and the presets.
//!
//! ```text
//! spec   := item { item }                      items separated by spaces or commas
//! item   := layer | "(" spec ")x" N            a group repeated N times
//! layer  := "conv" F ["k" K ["x" K]] ["s" S] ["p" P]    F filters, K×K kernel (default 3), stride (1), pad (0)
//!         | "relu"
//!         | ("pool" | "maxpool") K ["s" S] ["ceil"]   max pooling, stride defaults to K
//!         | "avgpool" K ["s" S] ["ceil"]       average pooling; `ceil` rounds the output size up
//!         | "norm" [N] ["a" A] ["b" B] ["k" K]  local response normalisation across N channels
//!         | "dropout" [P]                      inverted dropout of a fraction P (default 0.5)
//!         | "bn"                               batch normalisation of each channel (PyTorch's BatchNorm2d)
//!         | "fc" N                             fully connected; the last layer sets the class count
//! ```
//! A conv or fc token may end in `wd` M: that layer's weights decay with M·λ rather than λ
//! (Caffe's `decay_mult`, cuda-convnet's per-layer `wc`), e.g. `fc10wd250`; M is a decimal ≥ 0.
//! Example: `conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10`. `norm` defaults to Krizhevsky's
//! N = 5, A = 1e-4, B = 0.75, K = 2 (A divided by N as in PyTorch and Caffe: see `lrn`); A, B,
//! K and P are decimals (`norm3a5e-5b0.75`, `dropout0.5`).

use serde::{Deserialize, Serialize};

use super::error::NnError;

mod plan;
mod presets;
mod real;
pub use plan::{Plan, PlannedLayer, TILE_FIX, plan};
pub use presets::{PRESETS, Preset, is_preset_on_its_input, off_its_input, preset, resolve};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerSpec {
    Conv {
        c_out: usize,
        kh: usize,
        kw: usize,
        stride: usize,
        pad: usize,
        /// The weights decay with wd_mult·λ (Caffe's `decay_mult`; 1 unless `wd` is given).
        wd_mult: f64,
    },
    Relu,
    MaxPool {
        k: usize,
        stride: usize,
        is_ceil: bool,
    },
    AvgPool {
        k: usize,
        stride: usize,
        is_ceil: bool,
    },
    /// out_c = x_c / (k + alpha/n · Σ x_j²)^beta over the n channels around c; `within`:
    /// over the n×n positions around each one in its own channel, alpha/n² (Caffe's
    /// WITHIN_CHANNEL, `cifar10_full`'s norm).
    Norm {
        n: usize,
        k: f64,
        alpha: f64,
        beta: f64,
        within: bool,
    },
    /// Inverted dropout of a fraction p of the units, in training only.
    Dropout {
        p: f64,
    },
    /// Batch normalisation of each channel with its own γ and β (`batchnorm`).
    BatchNorm,
    Fc {
        d_out: usize,
        /// As `Conv`'s.
        wd_mult: f64,
    },
}

impl LayerSpec {
    /// How strongly the layer's weights decay, as a multiple of λ (0 for layers without any).
    pub fn wd_mult(&self) -> f64 {
        match *self {
            LayerSpec::Conv { wd_mult, .. } | LayerSpec::Fc { wd_mult, .. } => wd_mult,
            _ => 0.0,
        }
    }
}

/// One layer as built: what `convtop inspect` prints and the dashboard's network view shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// For example `conv1`, `relu1`, `pool1`, `fc1`.
    pub name: String,
    /// For example `conv 8 5×5 s1 p2`.
    pub kind: String,
    /// The output-size formula with the numbers filled in; empty where it does not apply.
    pub formula: String,
    pub out_shape: [usize; 3],
    pub params: usize,
    /// Forward multiply-adds × 2 for one image (conv and fc; ReLU and pooling count 0).
    pub flops: u64,
}

fn spec_err(token: &str, position: usize, problem: impl Into<String>) -> NnError {
    NnError::Spec {
        token: token.to_string(),
        position,
        problem: problem.into(),
    }
}

/// A token taken apart: `conv8k5x3p2` → ("conv", Some(8), [(k, 5), (x, 3), (p, 2)]).
type TokenParts<'a> = (&'a str, Option<usize>, Vec<(char, usize)>);

/// Reads `letters digits` and then `letter digits` pairs.
fn split_token(tok: &str) -> Option<TokenParts<'_>> {
    let head_end = tok
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(tok.len());
    let (head, mut rest) = tok.split_at(head_end);
    let number = |s: &str| -> Option<(usize, usize)> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        if end == 0 {
            None
        } else {
            s[..end].parse().ok().map(|v| (v, end))
        }
    };
    let mut first = None;
    if let Some((v, used)) = number(rest) {
        first = Some(v);
        rest = &rest[used..];
    }
    let mut pairs = Vec::new();
    while let Some(c) = rest.chars().next() {
        let (v, used) = number(&rest[1..])?;
        pairs.push((c, v));
        rest = &rest[1 + used..];
    }
    Some((head, first, pairs))
}

fn parse_layer(tok: &str, position: usize) -> Result<LayerSpec, NnError> {
    let lower = tok.to_ascii_lowercase();
    if let Some(layer) = real::parse_real(&lower).map_err(|p| spec_err(tok, position, p))? {
        return Ok(layer);
    }
    // `wd` M ends a conv or fc token: fc10wd250
    let (lower, wd_mult) = match lower.split_once("wd") {
        Some((head, m)) if head.starts_with("conv") || head.starts_with("fc") => {
            let m = real::decimal(m)
                .filter(|&(v, used)| used == m.len() && v.is_finite() && v >= 0.0)
                .map(|(v, _)| v)
                .ok_or_else(|| {
                    spec_err(
                        tok,
                        position,
                        format!("`wd` needs a decay multiplier ≥ 0, e.g. {head}wd250 (got `{m}`)"),
                    )
                })?;
            (head.to_string(), m)
        }
        Some(_) => {
            return Err(spec_err(
                tok,
                position,
                "`wd` (a weight-decay multiplier) goes on conv and fc layers only",
            ));
        }
        None => (lower, 1.0),
    };
    // `ceil` ends a pooling token: pool3s2ceil
    let (lower, is_ceil) = match lower.strip_suffix("ceil") {
        Some(head) if head.contains("pool") => (head.to_string(), true),
        _ => (lower, false),
    };
    let Some((head, first, pairs)) = split_token(&lower) else {
        return Err(spec_err(
            tok,
            position,
            "expected a layer like conv8k5p2, relu, pool2, avgpool2 or fc10",
        ));
    };
    let need = |what: &str| spec_err(tok, position, format!("`{head}` needs {what}"));
    let zero = |what: &str| spec_err(tok, position, format!("{what} must be at least 1"));
    let bad_option =
        |c: char| spec_err(tok, position, format!("unknown option `{c}` for `{head}`"));
    let layer = match head {
        "conv" => {
            let c_out = first.ok_or_else(|| need("a filter count, e.g. conv8k5p2"))?;
            let (mut kh, mut kw, mut stride, mut pad) = (3, 3, 1, 0);
            let mut last = ' ';
            for (c, v) in pairs {
                match (c, last) {
                    ('k', _) => (kh, kw) = (v, v),
                    ('x', 'k') => kw = v,
                    ('s', _) => stride = v,
                    ('p', _) => pad = v,
                    _ => return Err(bad_option(c)),
                }
                last = c;
            }
            if c_out == 0 {
                return Err(zero("the filter count"));
            }
            if kh == 0 || kw == 0 || stride == 0 {
                return Err(zero("kernel size and stride"));
            }
            LayerSpec::Conv {
                c_out,
                kh,
                kw,
                stride,
                pad,
                wd_mult,
            }
        }
        "relu" if first.is_none() && pairs.is_empty() => LayerSpec::Relu,
        "bn" | "batchnorm" if first.is_none() && pairs.is_empty() => LayerSpec::BatchNorm,
        "pool" | "maxpool" | "avgpool" => {
            let k = first.ok_or_else(|| need("a window size, e.g. pool2"))?;
            let mut stride = k;
            for (c, v) in pairs {
                match c {
                    's' => stride = v,
                    _ => return Err(bad_option(c)),
                }
            }
            if k == 0 || stride == 0 {
                return Err(zero("window size and stride"));
            }
            if head == "avgpool" {
                LayerSpec::AvgPool { k, stride, is_ceil }
            } else {
                LayerSpec::MaxPool { k, stride, is_ceil }
            }
        }
        "fc" if pairs.is_empty() => {
            let d_out = first.ok_or_else(|| need("an output count, e.g. fc10"))?;
            if d_out == 0 {
                return Err(zero("the output count"));
            }
            LayerSpec::Fc { d_out, wd_mult }
        }
        _ => {
            return Err(spec_err(
                tok,
                position,
                "unknown layer; expected convF[kK][sS][pP], relu, poolK[sS][ceil], \
                 avgpoolK[sS][ceil], norm[N][aA][bB][kK], dropout[P], bn, fcN or (…)xN",
            ));
        }
    };
    Ok(layer)
}

/// Parses a spec (or a preset name) into its flat list of layers, groups expanded.
pub fn parse(spec_or_preset: &str) -> Result<Vec<LayerSpec>, NnError> {
    let text = resolve(spec_or_preset)
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace(',', " ");
    let tokens: Vec<&str> = text.split_whitespace().collect();
    // one word that is no layer (`resnet`): most likely a preset name that does not exist
    if let [word] = tokens[..]
        && word
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
        && !matches!(word, "relu" | "norm" | "dropout" | "bn" | "batchnorm")
    {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        return Err(spec_err(
            word,
            1,
            format!(
                "unknown preset ({}); or give a spec such as `conv8k5p2 relu pool2 fc10`",
                names.join(", ")
            ),
        ));
    }
    if tokens.is_empty() {
        return Err(spec_err(
            "",
            0,
            "the spec is empty; try `mnist` or `conv8k5p2 relu pool2 fc10`",
        ));
    }
    // each open group: where its layers start
    let mut stack: Vec<usize> = Vec::new();
    let mut layers = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        let position = i + 1;
        match tok {
            "(" => stack.push(layers.len()),
            ")" => {
                let start = stack
                    .pop()
                    .ok_or_else(|| spec_err(tok, position, "`)` without a matching `(`"))?;
                let times = tokens
                    .get(i + 1)
                    .and_then(|t| t.strip_prefix('x').or_else(|| t.strip_prefix('*')))
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| {
                        spec_err(
                            tok,
                            position,
                            "a group must be followed by its repeat count, e.g. (conv8 relu)x3",
                        )
                    })?;
                let group: Vec<LayerSpec> = layers[start..].to_vec();
                for _ in 1..times {
                    layers.extend_from_slice(&group);
                }
                i += 1;
            }
            _ => layers.push(parse_layer(tok, position)?),
        }
        i += 1;
    }
    if !stack.is_empty() {
        return Err(spec_err("(", tokens.len(), "a `(` is never closed"));
    }
    Ok(layers)
}

/// Parses `CxHxW` (e.g. `3x32x32`) or `HxW` (one channel).
pub fn parse_input(text: &str) -> Result<[usize; 3], NnError> {
    let parts: Vec<Option<usize>> = text
        .split(['x', '×'])
        .map(|p| p.trim().parse().ok())
        .collect();
    match parts.as_slice() {
        [Some(c), Some(h), Some(w)] => Ok([*c, *h, *w]),
        [Some(h), Some(w)] => Ok([1, *h, *w]),
        _ => Err(spec_err(
            text,
            0,
            "an input shape is CxHxW, e.g. 1x28x28 or 3x32x32",
        )),
    }
}

#[cfg(test)]
mod tests;
