//! Max and average pooling over k×k windows with stride s and no padding, each (image, channel)
//! plane independently; planes are processed in parallel. In ceil mode (Caffe, cuda-convnet) the
//! last window of a row or column may hang over the edge: it pools the inputs it covers, and an
//! average divides by their count (as Caffe and PyTorch's `ceil_mode` do without padding).
//!
//! n = batch, c = channels, h w = input size, oh ow = output size.

mod k3s2;

use ndarray::Array4;

use super::gemm::Float;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub oh: usize,
    pub ow: usize,
}

#[derive(Debug, Clone)]
pub struct MaxPool2d {
    pub geom: PoolGeom,
    argmax: Vec<u32>, // (n, c, oh, ow): index of the winning input inside its (h, w) plane
    n: usize,
}

#[derive(Debug, Clone)]
pub struct AvgPool2d {
    pub geom: PoolGeom,
    n: usize,
}

impl PoolGeom {
    /// The rows (or columns) of the window starting at `start` that lie inside `size`.
    fn span(&self, start: usize, size: usize) -> usize {
        self.k.min(size - start)
    }
    /// Whether every window lies inside the input (floor mode, or a ceil that rounded nothing).
    fn is_inside(&self) -> bool {
        (self.oh - 1) * self.stride + self.k <= self.h
            && (self.ow - 1) * self.stride + self.k <= self.w
    }
}

fn contiguous<F: Float>(x: &Array4<F>) -> std::borrow::Cow<'_, [F]> {
    match x.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(x.iter().copied().collect()),
    }
}

impl MaxPool2d {
    pub fn new(geom: PoolGeom) -> MaxPool2d {
        MaxPool2d {
            geom,
            argmax: Vec::new(),
            n: 0,
        }
    }

    /// # Shapes
    /// - x:   (n, c, h, w)
    /// - out: (n, c, oh, ow), oh = ⌊(h − k)/s⌋ + 1 (ceil mode: ⌈(h − k)/s⌉ + 1)
    ///
    /// With `keep` false (evaluation) the arg-max indices are not kept.
    pub fn forward<F: Float>(&mut self, x: &Array4<F>, keep: bool) -> Array4<F> {
        let g = self.geom;
        let n = x.dim().0;
        let xs = contiguous(x);
        let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
        let mut out = super::zeros_par::<F>((n, g.c, g.oh, g.ow));
        // evaluation leaves the last training forward's indices as they were
        let mut argmax = if keep {
            std::mem::take(&mut self.argmax)
        } else {
            Vec::new()
        };
        argmax.resize(n * g.c * plane_out, 0);
        out.as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(plane_out)
            .zip(argmax.par_chunks_mut(plane_out))
            .zip(xs.par_chunks(plane_in))
            .for_each(|((o, a), xp)| {
                if g.k == 2 && g.stride == 2 && g.is_inside() {
                    return max_pool_2x2(&g, xp, o, a);
                }
                if g.k == 3 && g.stride == 2 {
                    return k3s2::max_forward(&g, xp, o, a);
                }
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let (v, at) = max_window(&g, xp, oy, ox);
                        o[oy * g.ow + ox] = v;
                        a[oy * g.ow + ox] = at as u32;
                    }
                }
            });
        if keep {
            (self.argmax, self.n) = (argmax, n);
        }
        out
    }

    /// dout: (n, c, oh, ow) -> dx: (n, c, h, w); each output's gradient goes to its arg-max
    /// input (added, so overlapping windows that share a winner get both).
    pub fn backward<F: Float>(&mut self, dout: &Array4<F>) -> Array4<F> {
        let g = self.geom;
        let ds = contiguous(dout);
        let mut dx = super::zeros_par::<F>((self.n, g.c, g.h, g.w));
        dx.as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(g.h * g.w)
            .zip(self.argmax.par_chunks(g.oh * g.ow))
            .zip(ds.par_chunks(g.oh * g.ow))
            .for_each(|((dxp, a), dp)| {
                for (&i, &d) in a.iter().zip(dp) {
                    dxp[i as usize] += d;
                }
            });
        dx
    }
}

/// The maximum of window (oy, ox) of one plane (h, w) and its index in the plane; strict `>`
/// keeps the first maximum in row-major order on ties.
fn max_window<F: Float>(g: &PoolGeom, xp: &[F], oy: usize, ox: usize) -> (F, usize) {
    let (y0, x0) = (oy * g.stride, ox * g.stride);
    let mut best = y0 * g.w + x0;
    for ky in 0..g.span(y0, g.h) {
        let row = (y0 + ky) * g.w;
        for kx in 0..g.span(x0, g.w) {
            if xp[row + x0 + kx] > xp[best] {
                best = row + x0 + kx;
            }
        }
    }
    (xp[best], best)
}

/// The mean of window (oy, ox) of one plane (h, w): of its inside part in ceil mode.
fn avg_window<F: Float>(g: &PoolGeom, xp: &[F], oy: usize, ox: usize) -> F {
    let (y0, x0) = (oy * g.stride, ox * g.stride);
    let (ky, kx) = (g.span(y0, g.h), g.span(x0, g.w));
    let mut s = F::zero();
    for r in 0..ky {
        let row = (y0 + r) * g.w + x0;
        s += xp[row..row + kx].iter().copied().sum::<F>();
    }
    s / F::of((ky * kx) as f64)
}

/// Adds window (oy, ox)'s share of its gradient `d` to each of its inputs in dxp (h, w).
fn avg_window_backward<F: Float>(g: &PoolGeom, dxp: &mut [F], oy: usize, ox: usize, d: F) {
    let (y0, x0) = (oy * g.stride, ox * g.stride);
    let (ky, kx) = (g.span(y0, g.h), g.span(x0, g.w));
    let d = d / F::of((ky * kx) as f64);
    for r in 0..ky {
        let row = (y0 + r) * g.w + x0;
        dxp[row..row + kx].iter_mut().for_each(|v| *v += d);
    }
}

/// The common 2×2 stride-2 window of one plane, unrolled: xp (h, w) -> o, a (oh, ow).
fn max_pool_2x2<F: Float>(g: &PoolGeom, xp: &[F], o: &mut [F], a: &mut [u32]) {
    let rows = o.chunks_exact_mut(g.ow).zip(a.chunks_exact_mut(g.ow));
    for (oy, (o_row, a_row)) in rows.enumerate() {
        let (y0, y1) = (2 * oy * g.w, (2 * oy + 1) * g.w);
        let (r0, r1) = (&xp[y0..y0 + 2 * g.ow], &xp[y1..y1 + 2 * g.ow]);
        let windows = r0.chunks_exact(2).zip(r1.chunks_exact(2));
        for (ox, ((top, bottom), (ov, av))) in windows.zip(o_row.iter_mut().zip(a_row)).enumerate()
        {
            // strict > keeps the first maximum on ties, in the order of the generic loop
            let (mut best_v, mut best) = (top[0], y0 + 2 * ox);
            for (v, i) in [
                (top[1], y0 + 2 * ox + 1),
                (bottom[0], y1 + 2 * ox),
                (bottom[1], y1 + 2 * ox + 1),
            ] {
                if v > best_v {
                    best_v = v;
                    best = i;
                }
            }
            *ov = best_v;
            *av = best as u32;
        }
    }
}

impl AvgPool2d {
    pub fn new(geom: PoolGeom) -> AvgPool2d {
        AvgPool2d { geom, n: 0 }
    }

    /// # Shapes
    /// - x:   (n, c, h, w)
    /// - out: (n, c, oh, ow), the mean of each k×k window (of its inside part in ceil mode)
    pub fn forward<F: Float>(&mut self, x: &Array4<F>, keep: bool) -> Array4<F> {
        let g = self.geom;
        let n = x.dim().0;
        if keep {
            self.n = n;
        }
        let xs = contiguous(x);
        let mut out = super::zeros_par::<F>((n, g.c, g.oh, g.ow));
        out.as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(g.oh * g.ow)
            .zip(xs.par_chunks(g.h * g.w))
            .for_each(|(o, xp)| {
                if g.k == 3 && g.stride == 2 {
                    return k3s2::avg_forward(&g, xp, o);
                }
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        o[oy * g.ow + ox] = avg_window(&g, xp, oy, ox);
                    }
                }
            });
        out
    }

    /// dout: (n, c, oh, ow) -> dx: (n, c, h, w); each window's inputs get dout / (its count).
    pub fn backward<F: Float>(&mut self, dout: &Array4<F>) -> Array4<F> {
        let g = self.geom;
        let ds = contiguous(dout);
        let mut dx = super::zeros_par::<F>((self.n, g.c, g.h, g.w));
        dx.as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(g.h * g.w)
            .zip(ds.par_chunks(g.oh * g.ow))
            .for_each(|(dxp, dp)| {
                if g.k == 3 && g.stride == 2 {
                    return k3s2::avg_backward(&g, dp, dxp);
                }
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        avg_window_backward(&g, dxp, oy, ox, dp[oy * g.ow + ox]);
                    }
                }
            });
        dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pool_routes_gradient_to_the_argmax() {
        // 1×1×4×4, k2 s2: out = (4 − 2)/2 + 1 = 2
        let x = Array4::<f32>::from_shape_vec(
            (1, 1, 4, 4),
            vec![
                1., 2., 5., 0., 3., 4., 1., 1., 0., 0., 2., 9., 7., 0., 3., 1.,
            ],
        )
        .unwrap();
        let g = PoolGeom {
            c: 1,
            h: 4,
            w: 4,
            k: 2,
            stride: 2,
            oh: 2,
            ow: 2,
        };
        let mut pool = MaxPool2d::new(g);
        let out = pool.forward(&x, true);
        assert_eq!(
            out.iter().copied().collect::<Vec<_>>(),
            vec![4., 5., 7., 9.]
        );
        let dout = Array4::<f32>::from_shape_vec((1, 1, 2, 2), vec![1., 2., 3., 4.]).unwrap();
        let dx = pool.backward(&dout);
        let want = vec![
            0., 0., 2., 0., 0., 1., 0., 0., 0., 0., 0., 4., 3., 0., 0., 0.,
        ];
        assert_eq!(dx.iter().copied().collect::<Vec<_>>(), want);
    }

    #[test]
    fn avg_pool_averages() {
        // 1×1×3×3, k2 s1: out = (3 − 2)/1 + 1 = 2; windows overlap
        let x = Array4::<f32>::from_shape_vec((1, 1, 3, 3), (1..=9).map(|v| v as f32).collect())
            .unwrap();
        let g = PoolGeom {
            c: 1,
            h: 3,
            w: 3,
            k: 2,
            stride: 1,
            oh: 2,
            ow: 2,
        };
        let mut pool = AvgPool2d::new(g);
        let out = pool.forward(&x, true);
        // (1+2+4+5)/4 = 3, (2+3+5+6)/4 = 4, (4+5+7+8)/4 = 6, (5+6+8+9)/4 = 7
        assert_eq!(
            out.iter().copied().collect::<Vec<_>>(),
            vec![3., 4., 6., 7.]
        );
        let dx = pool.backward(&Array4::<f32>::ones((1, 1, 2, 2)));
        // the centre is in all four windows: 4 · 1/4 = 1; corners in one: 0.25
        assert_eq!(dx[[0, 0, 1, 1]], 1.0);
        assert_eq!(dx[[0, 0, 0, 0]], 0.25);
    }

    #[test]
    fn ceil_mode_pools_the_inside_of_the_last_window() {
        // 1×1×4×4, k3 s2 ceil: ⌈(4 − 3)/2⌉ + 1 = 2; the second window starts at 2 and covers
        // rows/columns 2..4 (two of its three)
        let x = Array4::<f32>::from_shape_vec((1, 1, 4, 4), (1..=16).map(|v| v as f32).collect())
            .unwrap();
        let g = PoolGeom {
            c: 1,
            h: 4,
            w: 4,
            k: 3,
            stride: 2,
            oh: 2,
            ow: 2,
        };
        let mut avg = AvgPool2d::new(g);
        let out = avg.forward(&x, true);
        // top-left 3×3: (1+2+3 + 5+6+7 + 9+10+11)/9 = 54/9 = 6
        // top-right 3×2: (3+4 + 7+8 + 11+12)/6 = 45/6 = 7.5
        // bottom-left 2×3: (9+10+11 + 13+14+15)/6 = 72/6 = 12
        // bottom-right 2×2: (11+12 + 15+16)/4 = 54/4 = 13.5
        assert_eq!(
            out.iter().copied().collect::<Vec<_>>(),
            vec![6., 7.5, 12., 13.5]
        );
        let dx = avg.backward(&Array4::<f32>::ones((1, 1, 2, 2)));
        // (3, 3) is only in the 2×2 window: 1/4; (0, 0) only in the 3×3: 1/9;
        // (2, 2) in all four: 1/9 + 1/6 + 1/6 + 1/4
        assert_eq!(dx[[0, 0, 3, 3]], 0.25);
        assert!((dx[[0, 0, 0, 0]] - 1.0 / 9.0).abs() < 1e-7);
        assert!((dx[[0, 0, 2, 2]] - (1.0 / 9.0 + 1.0 / 3.0 + 0.25)).abs() < 1e-6);
        let mut max = MaxPool2d::new(g);
        // maxima of the same windows: 11, 12, 15, 16
        assert_eq!(
            max.forward(&x, true).iter().copied().collect::<Vec<_>>(),
            vec![11., 12., 15., 16.]
        );
    }
}
