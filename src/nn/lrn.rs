//! Local response normalisation across channels (Krizhevsky et al. 2012, §3.3), in the
//! convention of PyTorch's `nn.LocalResponseNorm` and Caffe's `LRN` layer, where α is divided by
//! the window size:
//!
//! ```text
//! out_c = x_c / s_c^β,   s_c = k + (α/size) · Σ_{j ∈ W(c)} x_j²,
//! W(c)  = channels c − ⌊size/2⌋ ..= c + ⌊(size − 1)/2⌋, clipped to 0..C
//! ```
//!
//! at every (image, row, column). The 2012 paper writes the sum without the 1/size: its
//! α = 1e-4 with n = 5 is `norm5a5e-4` here. This layer's defaults (`norm` = `norm5`: size 5,
//! k = 2, α = 1e-4, β = 0.75) are the paper's numbers read in PyTorch's convention, so
//! `norm5` ≡ `nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)`.
//!
//! Within one channel (Caffe's `WITHIN_CHANNEL`, the norm of its `cifar10_full`), the window is
//! the size×size positions around each one, zero beyond the border, and α is divided by size²:
//!
//! ```text
//! s_c(y, x) = k + (α/size²) · Σ_{|dy|, |dx| ≤ ⌊size/2⌋} x_c(y + dy, x + dx)²   (size odd)
//! ```
//!
//! n = batch, c = channels, h w = size; the planes of one image (c, h·w) are normalised together.

use ndarray::Array4;
use rayon::prelude::*;

use super::gemm::Float;

/// A `divisor` below this is an identity up to the constant k^β: the layer divides by less than
/// 1% more than a fixed scale would, so it normalises nothing (the dashboard's Network tab warns,
/// and the `InertNorm` diagnostic notes it once).
pub const INERT_DIVISOR: f32 = 1.01;

#[derive(Debug, Clone)]
pub struct LocalResponseNorm<F: Float> {
    pub size: usize,
    pub k: F,
    pub alpha: F,
    pub beta: F,
    /// Over size×size positions of each channel instead of size channels.
    pub within: bool,
    x: Array4<F>,  // (n, c, h, w): the input, saved by a training forward
    scale: Vec<F>, // (n, c, h, w): s = k + α/size · Σ x² over each window, saved likewise
}

/// s^−β, with β = 0.75 (every published LRN) by two square roots instead of `powf`.
fn pow_neg<F: Float>(s: F, beta: F) -> F {
    if beta == F::of(0.75) {
        let r = s.sqrt();
        (r * r.sqrt()).recip()
    } else {
        s.powf(-beta)
    }
}

impl<F: Float> LocalResponseNorm<F> {
    pub fn new(size: usize, k: f64, alpha: f64, beta: f64) -> LocalResponseNorm<F> {
        LocalResponseNorm {
            size,
            k: F::of(k),
            alpha: F::of(alpha),
            beta: F::of(beta),
            within: false,
            x: Array4::zeros((0, 0, 0, 0)),
            scale: Vec::new(),
        }
    }

    /// The within-channel variant: `size` must be odd (the parser makes sure).
    pub fn within_channel(size: usize, k: f64, alpha: f64, beta: f64) -> LocalResponseNorm<F> {
        debug_assert!(size % 2 == 1);
        LocalResponseNorm {
            within: true,
            ..LocalResponseNorm::new(size, k, alpha, beta)
        }
    }

    /// The divisor's coefficient: α over the window's element count.
    fn coef(&self) -> F {
        let count = if self.within {
            self.size * self.size
        } else {
            self.size
        };
        self.alpha / F::of(count as f64)
    }

    /// The channels whose window W(c) holds channel `i`: i − ⌊(size − 1)/2⌋ ..= i + ⌊size/2⌋.
    fn windows_holding(&self, i: usize, c: usize) -> std::ops::RangeInclusive<usize> {
        i.saturating_sub((self.size - 1) / 2)..=(i + self.size / 2).min(c - 1)
    }

    /// W(c): c − ⌊size/2⌋ ..= c + ⌊(size − 1)/2⌋, clipped.
    fn window(&self, ch: usize, c: usize) -> std::ops::RangeInclusive<usize> {
        ch.saturating_sub(self.size / 2)..=(ch + (self.size - 1) / 2).min(c - 1)
    }

    /// One image's s (c, plane) from its x (c, plane); `hw` is the plane's (h, w).
    fn scale_image(&self, x: &[F], s: &mut [F], c: usize, hw: (usize, usize)) {
        let plane = hw.0 * hw.1;
        let coef = self.coef();
        if self.within {
            let (mut sq, mut rows) = (vec![F::zero(); plane], vec![F::zero(); plane]);
            for (s_plane, x_plane) in s.chunks_exact_mut(plane).zip(x.chunks_exact(plane)) {
                sq.iter_mut().zip(x_plane).for_each(|(q, &v)| *q = v * v);
                box_sum(&sq, hw.1, self.size / 2, &mut rows, s_plane);
                s_plane.iter_mut().for_each(|s| *s = self.k + coef * *s);
            }
            return;
        }
        for (ch, s_plane) in s.chunks_exact_mut(plane).enumerate() {
            s_plane.fill(self.k);
            for j in self.window(ch, c) {
                let xj = &x[j * plane..(j + 1) * plane];
                s_plane
                    .iter_mut()
                    .zip(xj)
                    .for_each(|(s, &v)| *s += coef * v * v);
            }
        }
    }

    /// # Shapes
    /// - x:   (n, c, h, w)
    /// - out: (n, c, h, w)
    ///
    /// With `keep` (training) x and s are saved for backward; without (evaluation) nothing is.
    pub fn forward(&mut self, x: Array4<F>, keep: bool) -> Array4<F> {
        let (n, c, h, w) = x.dim();
        let plane = h * w;
        let x = if x.is_standard_layout() {
            x
        } else {
            x.as_standard_layout().into_owned()
        };
        let xs = x.as_slice().expect("standard layout is contiguous");
        let mut out = super::zeros_par::<F>((n, c, h, w));
        // evaluation leaves the last training forward's x and s as they were
        let mut scale = if keep {
            std::mem::take(&mut self.scale)
        } else {
            Vec::new()
        };
        scale.resize(n * c * plane, F::zero());
        let beta = self.beta;
        out.as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(c * plane)
            .zip(xs.par_chunks(c * plane))
            .zip(scale.par_chunks_mut(c * plane))
            .for_each(|((o, xi), si)| {
                self.scale_image(xi, si, c, (h, w));
                o.iter_mut()
                    .zip(xi)
                    .zip(si.iter())
                    .for_each(|((o, &v), &s)| *o = v * pow_neg(s, beta));
            });
        if keep {
            self.x = x;
            self.scale = scale;
        }
        out
    }

    /// How much more than the constant k^β this layer divided the last training batch, in
    /// energy: ‖x / k^β‖ / ‖x / s^β‖ (1.00: it normalised nothing; None before a training forward
    /// or when the batch was all zero). The published α values assume 0–255 pixels: on
    /// standardised input they leave the divisor at 1.00 (README, "Network specs").
    pub fn divisor(&self) -> Option<f32> {
        let xs = self.x.as_slice()?;
        if xs.is_empty() || xs.len() != self.scale.len() {
            return None;
        }
        let (plain, normed) = xs
            .par_iter()
            .zip(self.scale.par_iter())
            .map(|(&x, &s)| {
                let (x, s) = (x.as_f64(), s.as_f64());
                (x * x, x * x * s.powf(-2.0 * self.beta.as_f64()))
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        let plain = plain * self.k.as_f64().powf(-2.0 * self.beta.as_f64());
        (normed > 0.0).then(|| (plain / normed).sqrt() as f32)
    }

    /// dout: (n, c, h, w) -> dx: (n, c, h, w), with t_c = dout_c · x_c · s_c^(−β−1):
    /// dx_i = dout_i · s_i^−β − (2αβ/size) · x_i · Σ_{c : i ∈ W(c)} t_c.
    pub fn backward(&mut self, dout: &Array4<F>) -> Array4<F> {
        let (n, c, h, w) = self.x.dim();
        let plane = h * w;
        let dout = dout.as_standard_layout();
        let ds = dout.as_slice().expect("standard layout is contiguous");
        let xs = self.x.as_slice().expect("saved in standard layout");
        let coef = F::of(2.0) * self.beta * self.coef();
        let beta = self.beta;
        let mut dx = super::zeros_par::<F>((n, c, h, w));
        dx.as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(c * plane)
            .zip(xs.par_chunks(c * plane))
            .zip(self.scale.par_chunks(c * plane))
            .zip(ds.par_chunks(c * plane))
            .for_each(|(((dxi, xi), si), di)| {
                // dx first holds dout · s^−β, t holds dout · x · s^−β / s
                let mut t = vec![F::zero(); c * plane];
                for (((dx, t), &s), (&x, &d)) in
                    dxi.iter_mut().zip(&mut t).zip(si).zip(xi.iter().zip(di))
                {
                    let p = d * pow_neg(s, beta);
                    *dx = p;
                    *t = p * x / s;
                }
                if self.within {
                    // i ∈ W(j) ⟺ j ∈ W(i) for a centred window: the sum over j is a box sum
                    let (mut bt, mut rows) = (vec![F::zero(); plane], vec![F::zero(); plane]);
                    for ((dx_plane, x_plane), t_plane) in dxi
                        .chunks_exact_mut(plane)
                        .zip(xi.chunks_exact(plane))
                        .zip(t.chunks_exact(plane))
                    {
                        box_sum(t_plane, w, self.size / 2, &mut rows, &mut bt);
                        dx_plane
                            .iter_mut()
                            .zip(x_plane)
                            .zip(&bt)
                            .for_each(|((dx, &x), &b)| *dx = *dx - coef * x * b);
                    }
                    return;
                }
                for (i, dx_plane) in dxi.chunks_exact_mut(plane).enumerate() {
                    let x_plane = &xi[i * plane..(i + 1) * plane];
                    for ch in self.windows_holding(i, c) {
                        let t_plane = &t[ch * plane..(ch + 1) * plane];
                        dx_plane
                            .iter_mut()
                            .zip(x_plane)
                            .zip(t_plane)
                            .for_each(|((dx, &x), &t)| *dx = *dx - coef * x * t);
                    }
                }
            });
        dx
    }
}

/// out(y, x) = Σ v(y + dy, x + dx) over |dy|, |dx| ≤ r, zero beyond the plane (rows of `w`): a
/// row pass into `rows` (scratch, as long as `v`), then a column pass over its sums. Each pass
/// adds whole shifted runs, clipped at the edges, so both vectorise.
fn box_sum<F: Float>(v: &[F], w: usize, r: usize, rows: &mut [F], out: &mut [F]) {
    rows.fill(F::zero());
    for (src, dst) in v.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        add_shifted(src, dst, r, 1);
    }
    out.fill(F::zero());
    add_shifted(rows, out, r, w);
}

/// dst[i] += Σ src[i + d·step] over |d| ≤ r, where that index is inside `src` (as long as
/// `dst`): one slice add per offset.
fn add_shifted<F: Float>(src: &[F], dst: &mut [F], r: usize, step: usize) {
    let len = src.len();
    for d in 0..=2 * r {
        let (ahead, back) = ((d.saturating_sub(r)) * step, (r.saturating_sub(d)) * step);
        if ahead >= len || back >= len {
            continue;
        }
        // dst[back..len − ahead] += src[ahead..len − back]
        dst[back..len - ahead]
            .iter_mut()
            .zip(&src[ahead..len - back])
            .for_each(|(o, &s)| *o += s);
    }
}

#[cfg(test)]
mod tests;
