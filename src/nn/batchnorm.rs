//! Batch normalisation (Ioffe & Szegedy 2015), as PyTorch's `nn.BatchNorm2d` (and
//! `nn.BatchNorm1d` after an fc layer, whose output is (n, d, 1, 1)): each channel is
//! standardised over the batch and the plane, then scaled and shifted by its own γ and β.
//!
//! ```text
//! training:   y = γ_c · (x − μ_B) / √(σ²_B + ε) + β_c    μ_B, σ²_B over (n, h, w) of channel c
//!             running_mean ← (1 − m)·running_mean + m·μ_B
//!             running_var  ← (1 − m)·running_var  + m·σ²_B · N/(N − 1)     N = n·h·w
//! evaluation: y = γ_c · (x − running_mean) / √(running_var + ε) + β_c
//! ```
//!
//! σ²_B is the biased variance (divided by N) in the output and the unbiased one in the running
//! estimate, m = 0.1 and ε = 1e-5: PyTorch's defaults, so its state dict (`bn1.weight`,
//! `bn1.bias`, `bn1.running_mean`, `bn1.running_var`) loads as it is. γ and β do not decay with
//! λ, like biases.

use ndarray::Array4;
use rayon::prelude::*;

use super::gemm::Float;

/// PyTorch's `momentum`: the weight of the newest batch in the running statistics.
pub const MOMENTUM: f64 = 0.1;
/// PyTorch's `eps`, added to the variance before its square root.
pub const EPS: f64 = 1e-5;

#[derive(Debug, Clone)]
pub struct BatchNorm<F: Float> {
    /// γ, one per channel, starting at 1.
    pub gamma: Vec<F>,
    /// β, one per channel, starting at 0.
    pub beta: Vec<F>,
    pub dgamma: Vec<F>,
    pub dbeta: Vec<F>,
    pub running_mean: Vec<F>,
    pub running_var: Vec<F>,
    xhat: Array4<F>, // (n, c, h, w): (x − μ_B)/√(σ²_B + ε), saved by a training forward
    inv_std: Vec<F>, // (c): 1/√(σ²_B + ε) of that batch
}

/// Independent partial sums a plane is summed in: eight chains the compiler can keep in one
/// vector register, instead of one add waiting on the last.
const LANES: usize = 8;

/// (Σ a_i, Σ a_i·b_i) over one plane: backward's Σ dy and Σ dy·x̂.
fn plane_sums<F: Float>(a: &[F], b: &[F]) -> (f64, f64) {
    let mut s1 = [F::zero(); LANES];
    let mut s2 = [F::zero(); LANES];
    let (a_blocks, a_tail) = a.split_at(a.len() - a.len() % LANES);
    let (b_blocks, b_tail) = b.split_at(a_blocks.len());
    for (ca, cb) in a_blocks
        .chunks_exact(LANES)
        .zip(b_blocks.chunks_exact(LANES))
    {
        for l in 0..LANES {
            s1[l] += ca[l];
            s2[l] += ca[l] * cb[l];
        }
    }
    let mut t1: f64 = s1.iter().map(|v| v.as_f64()).sum();
    let mut t2: f64 = s2.iter().map(|v| v.as_f64()).sum();
    for (&u, &v) in a_tail.iter().zip(b_tail) {
        t1 += u.as_f64();
        t2 += u.as_f64() * v.as_f64();
    }
    (t1, t2)
}

/// One plane's mean and sum of squared deviations from it, in two passes over the plane
/// (it is in cache for the second): no cancellation, however far the values sit from 0.
fn plane_moments<F: Float>(p: &[F]) -> (f64, f64) {
    let mut s = [F::zero(); LANES];
    let (blocks, tail) = p.split_at(p.len() - p.len() % LANES);
    for c in blocks.chunks_exact(LANES) {
        for l in 0..LANES {
            s[l] += c[l];
        }
    }
    let sum: f64 =
        s.iter().map(|v| v.as_f64()).sum::<f64>() + tail.iter().map(|v| v.as_f64()).sum::<f64>();
    let mean = sum / p.len() as f64;
    let m = F::of(mean);
    let mut q = [F::zero(); LANES];
    for c in blocks.chunks_exact(LANES) {
        for l in 0..LANES {
            let d = c[l] - m;
            q[l] += d * d;
        }
    }
    let m2: f64 = q.iter().map(|v| v.as_f64()).sum::<f64>()
        + tail
            .iter()
            .map(|v| (v.as_f64() - mean).powi(2))
            .sum::<f64>();
    // m rounded to F: correct the deviations' sum for the rounding (Σ(x − m)² = m2 about m)
    let off = mean - m.as_f64();
    (mean, m2 - p.len() as f64 * off * off)
}

/// Per-channel totals of per-plane sums, the planes of (n, c) in order.
fn channel_totals(per_plane: &[(f64, f64)], channels: usize) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); channels];
    for (i, &(a, b)) in per_plane.iter().enumerate() {
        out[i % channels].0 += a;
        out[i % channels].1 += b;
    }
    out
}

impl<F: Float> BatchNorm<F> {
    pub fn new(channels: usize) -> BatchNorm<F> {
        BatchNorm {
            gamma: vec![F::one(); channels],
            beta: vec![F::zero(); channels],
            dgamma: vec![F::zero(); channels],
            dbeta: vec![F::zero(); channels],
            running_mean: vec![F::zero(); channels],
            running_var: vec![F::one(); channels],
            xhat: Array4::zeros((0, 0, 0, 0)),
            inv_std: Vec::new(),
        }
    }

    pub fn channels(&self) -> usize {
        self.gamma.len()
    }

    pub fn zero_grad(&mut self) {
        self.dgamma.fill(F::zero());
        self.dbeta.fill(F::zero());
    }

    /// # Shapes
    /// - x:   (n, c, h, w)
    /// - out: (n, c, h, w)
    ///
    /// `train`: normalises with the batch's statistics, updates the running ones and keeps what
    /// backward reads; otherwise normalises with the running statistics and keeps nothing.
    pub fn forward(&mut self, mut x: Array4<F>, train: bool) -> Array4<F> {
        if !x.is_standard_layout() {
            x = x.as_standard_layout().into_owned();
        }
        let dim = x.dim();
        let (n, c, h, w) = dim;
        debug_assert_eq!(c, self.channels());
        let plane = h * w;
        let data = x.as_slice_mut().expect("standard layout is contiguous");
        if !train {
            // y = a·x + b with a = γ/√(var + ε), b = β − a·mean
            let coefs: Vec<(F, F)> = (0..c)
                .map(|ch| {
                    let a = self.gamma[ch] * (self.running_var[ch] + F::of(EPS)).sqrt().recip();
                    (a, self.beta[ch] - a * self.running_mean[ch])
                })
                .collect();
            data.par_chunks_mut(plane).enumerate().for_each(|(i, p)| {
                let (a, b) = coefs[i % c];
                p.iter_mut().for_each(|v| *v = a * *v + b);
            });
            return x;
        }
        // each plane's mean and squared deviations, combined over the channel's planes in f64
        // (Chan et al.: M2 = Σ M2_p + Σ n_p·(mean_p − mean)²)
        let per_plane: Vec<(f64, f64)> = data.par_chunks(plane).map(plane_moments).collect();
        let count = (n * plane) as f64;
        let stats: Vec<(f64, f64)> = (0..c)
            .map(|ch| {
                let planes = per_plane.iter().skip(ch).step_by(c);
                let mean = planes.clone().map(|&(m, _)| m).sum::<f64>() / n as f64;
                let m2: f64 = planes
                    .map(|&(m, q)| q + plane as f64 * (m - mean) * (m - mean))
                    .sum();
                (mean, m2 / count)
            })
            .collect();
        let m = F::of(MOMENTUM);
        let unbias = if count > 1.0 {
            count / (count - 1.0)
        } else {
            1.0
        };
        for (ch, &(mean, var)) in stats.iter().enumerate() {
            self.running_mean[ch] = (F::one() - m) * self.running_mean[ch] + m * F::of(mean);
            self.running_var[ch] = (F::one() - m) * self.running_var[ch] + m * F::of(var * unbias);
        }
        self.inv_std = stats
            .iter()
            .map(|&(_, var)| F::of(1.0 / (var + EPS).sqrt()))
            .collect();
        let means: Vec<F> = stats.iter().map(|&(mean, _)| F::of(mean)).collect();
        if self.xhat.dim() != dim {
            self.xhat = crate::nn::zeros_par(dim);
        }
        // x̂ into the kept buffer and y = γ·x̂ + β in place, in one pass
        let (gamma, beta, inv_std) = (&self.gamma, &self.beta, &self.inv_std);
        self.xhat
            .as_slice_mut()
            .expect("kept in standard layout")
            .par_chunks_mut(plane)
            .zip(data.par_chunks_mut(plane))
            .enumerate()
            .for_each(|(i, (xh, y))| {
                let ch = i % c;
                let (mean, s, g, b) = (means[ch], inv_std[ch], gamma[ch], beta[ch]);
                for (xh, y) in xh.iter_mut().zip(y.iter_mut()) {
                    *xh = (*y - mean) * s;
                    *y = g * *xh + b;
                }
            });
        x
    }

    /// dout: (n, c, h, w) -> dx; adds into dγ and dβ.
    ///
    /// With x̂ and s = 1/√(σ²_B + ε) of the training forward, N = n·h·w:
    /// dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·s/N · (N·dy − dβ − x̂·dγ).
    ///
    /// dout is taken by value and becomes dx in place: no copy of it.
    pub fn backward(&mut self, dout: Array4<F>) -> Array4<F> {
        let mut dx = if dout.is_standard_layout() {
            dout
        } else {
            dout.as_standard_layout().into_owned()
        };
        let (n, c, h, w) = dx.dim();
        let plane = h * w;
        let xhat = self.xhat.as_slice().expect("kept in standard layout");
        let dy = dx.as_slice().expect("standard layout is contiguous");
        let per_plane: Vec<(f64, f64)> = dy
            .par_chunks(plane)
            .zip(xhat.par_chunks(plane))
            .map(|(d, x)| plane_sums(d, x))
            .collect();
        let sums = channel_totals(&per_plane, c);
        for (ch, &(sb, sg)) in sums.iter().enumerate() {
            self.dbeta[ch] += F::of(sb);
            self.dgamma[ch] += F::of(sg);
        }
        let count = (n * plane) as f64;
        // per channel: dx = k·(dy − mean(dy) − x̂·mean(dy·x̂)), k = γ·s
        let coefs: Vec<(F, F, F)> = sums
            .iter()
            .enumerate()
            .map(|(ch, &(sb, sg))| {
                (
                    self.gamma[ch] * self.inv_std[ch],
                    F::of(sb / count),
                    F::of(sg / count),
                )
            })
            .collect();
        dx.as_slice_mut()
            .expect("standard layout is contiguous")
            .par_chunks_mut(plane)
            .zip(xhat.par_chunks(plane))
            .enumerate()
            .for_each(|(i, (d, x))| {
                let (k, mb, mg) = coefs[i % c];
                d.iter_mut()
                    .zip(x)
                    .for_each(|(d, &x)| *d = k * (*d - mb - x * mg));
            });
        dx
    }
}

#[cfg(test)]
mod tests;
