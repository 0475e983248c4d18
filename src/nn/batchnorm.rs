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

/// Channel `c`'s planes of a (n, c, h, w) buffer, image by image.
fn planes<F: Float>(
    data: &[F],
    c: usize,
    channels: usize,
    plane: usize,
) -> impl Iterator<Item = &[F]> {
    data.chunks_exact(plane).skip(c).step_by(channels)
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
        let (n, c, h, w) = x.dim();
        debug_assert_eq!(c, self.channels());
        let plane = h * w;
        let eps = F::of(EPS);
        let (shift, scale): (Vec<F>, Vec<F>) = if train {
            let data = x.as_slice().expect("standard layout is contiguous");
            let count = (n * plane) as f64;
            // two passes in f64 per channel: the mean, then the squared deviations from it
            let stats: Vec<(f64, f64)> = (0..c)
                .into_par_iter()
                .map(|ch| {
                    let sum: f64 = planes(data, ch, c, plane)
                        .flatten()
                        .map(|v| v.as_f64())
                        .sum();
                    let mean = sum / count;
                    let sq: f64 = planes(data, ch, c, plane)
                        .flatten()
                        .map(|v| (v.as_f64() - mean).powi(2))
                        .sum();
                    (mean, sq / count)
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
                self.running_var[ch] =
                    (F::one() - m) * self.running_var[ch] + m * F::of(var * unbias);
            }
            self.inv_std = stats
                .iter()
                .map(|&(_, var)| F::of(1.0 / (var + EPS).sqrt()))
                .collect();
            stats
                .iter()
                .zip(&self.inv_std)
                .map(|(&(mean, _), &inv)| (F::of(mean), inv))
                .unzip()
        } else {
            self.running_mean
                .iter()
                .zip(&self.running_var)
                .map(|(&mean, &var)| (mean, (var + eps).sqrt().recip()))
                .unzip()
        };
        let data = x.as_slice_mut().expect("standard layout is contiguous");
        if train {
            // x̂ first, kept for backward; then y = γ·x̂ + β
            data.par_chunks_mut(plane).enumerate().for_each(|(i, p)| {
                let ch = i % c;
                p.iter_mut().for_each(|v| *v = (*v - shift[ch]) * scale[ch]);
            });
            self.xhat = x.clone();
            let data = x.as_slice_mut().expect("standard layout is contiguous");
            data.par_chunks_mut(plane).enumerate().for_each(|(i, p)| {
                let ch = i % c;
                let (g, b) = (self.gamma[ch], self.beta[ch]);
                p.iter_mut().for_each(|v| *v = g * *v + b);
            });
        } else {
            // y = a·x + b with a = γ/√(var + ε), b = β − a·mean
            let (gamma, beta) = (&self.gamma, &self.beta);
            data.par_chunks_mut(plane).enumerate().for_each(|(i, p)| {
                let ch = i % c;
                let a = gamma[ch] * scale[ch];
                let b = beta[ch] - a * shift[ch];
                p.iter_mut().for_each(|v| *v = a * *v + b);
            });
        }
        x
    }

    /// dout: (n, c, h, w) -> dx; adds into dγ and dβ.
    ///
    /// With x̂ and s = 1/√(σ²_B + ε) of the training forward, N = n·h·w:
    /// dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·s/N · (N·dy − dβ − x̂·dγ).
    pub fn backward(&mut self, dout: &Array4<F>) -> Array4<F> {
        let mut dx = dout.as_standard_layout().into_owned();
        let (n, c, h, w) = dx.dim();
        let plane = h * w;
        let xhat = self.xhat.as_slice().expect("kept in standard layout");
        let dy = dx.as_slice().expect("standard layout is contiguous");
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                planes(dy, ch, c, plane)
                    .zip(planes(xhat, ch, c, plane))
                    .flat_map(|(d, x)| d.iter().zip(x))
                    .fold((0.0, 0.0), |(sb, sg), (&d, &x)| {
                        (sb + d.as_f64(), sg + d.as_f64() * x.as_f64())
                    })
            })
            .collect();
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
