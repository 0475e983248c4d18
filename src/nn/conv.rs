//! Convolution lowered to matrix multiplication: im2col + GEMM forward, GEMM + col2im backward.
//! The batch is split into one chunk per thread; each chunk is one wide GEMM.
//!
//! n = batch, c_in/c_out = channels, h w = input size, oh ow = output size, kh kw = kernel,
//! k = c_in·kh·kw (a column's length), p = oh·ow (columns per image).

use ndarray::{Array1, Array4};
use rayon::prelude::*;

use super::gemm::{Float, Op, gemm};

/// The geometry of one convolution, fixed when the network is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeom {
    fn k(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    fn p(&self) -> usize {
        self.oh * self.ow
    }
}

#[derive(Debug, Clone)]
pub struct Conv2d<F: Float> {
    pub geom: ConvGeom,
    pub c_out: usize,
    pub w: Array4<F>,  // (c_out, c_in, kh, kw)
    pub b: Array1<F>,  // (c_out)
    pub dw: Array4<F>, // (c_out, c_in, kh, kw)
    pub db: Array1<F>, // (c_out)
    x: Array4<F>,      // (n, c_in, h, w), saved by forward for backward
}

/// Splits n images into one contiguous chunk per thread: (chunk size in images).
fn chunk_images(n: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    n.div_ceil(threads).max(1)
}

/// Writes one image's columns into `col` (k rows of `ld` floats), starting at column `col0`.
fn im2col<F: Float>(x: &[F], g: &ConvGeom, col: &mut [F], ld: usize, col0: usize) {
    for ci in 0..g.c_in {
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = (ci * g.kh + ki) * g.kw + kj;
                let dst = &mut col[row * ld + col0..row * ld + col0 + g.p()];
                for oy in 0..g.oh {
                    let out_row = &mut dst[oy * g.ow..(oy + 1) * g.ow];
                    let iy = (oy * g.stride + ki) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        out_row.fill(F::zero());
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    for (ox, v) in out_row.iter_mut().enumerate() {
                        let ix = (ox * g.stride + kj) as isize - g.pad as isize;
                        *v = if ix < 0 || ix >= g.w as isize {
                            F::zero()
                        } else {
                            src[ix as usize]
                        };
                    }
                }
            }
        }
    }
}

/// Adds one image's column gradients back into its input gradient `dx` (c_in, h, w).
fn col2im<F: Float>(dcol: &[F], g: &ConvGeom, ld: usize, col0: usize, dx: &mut [F]) {
    for ci in 0..g.c_in {
        let plane = &mut dx[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = (ci * g.kh + ki) * g.kw + kj;
                let src = &dcol[row * ld + col0..row * ld + col0 + g.p()];
                for oy in 0..g.oh {
                    let iy = (oy * g.stride + ki) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    for (ox, v) in src[oy * g.ow..(oy + 1) * g.ow].iter().enumerate() {
                        let ix = (ox * g.stride + kj) as isize - g.pad as isize;
                        if ix >= 0 && ix < g.w as isize {
                            dst[ix as usize] += *v;
                        }
                    }
                }
            }
        }
    }
}

impl<F: Float> Conv2d<F> {
    pub fn new(geom: ConvGeom, c_out: usize) -> Conv2d<F> {
        let shape = (c_out, geom.c_in, geom.kh, geom.kw);
        Conv2d {
            geom,
            c_out,
            w: Array4::zeros(shape),
            b: Array1::zeros(c_out),
            dw: Array4::zeros(shape),
            db: Array1::zeros(c_out),
            x: Array4::zeros((0, geom.c_in, geom.h, geom.w)),
        }
    }

    /// # Shapes
    /// - x:   (n, c_in, h, w)
    /// - out: (n, c_out, oh, ow), oh = ⌊(h + 2·pad − kh)/stride⌋ + 1
    pub fn forward(&mut self, x: Array4<F>) -> Array4<F> {
        let g = self.geom;
        let (n, k, p, c_out) = (x.dim().0, g.k(), g.p(), self.c_out);
        self.x = x.as_standard_layout().into_owned();
        let mut out = Array4::<F>::zeros((n, c_out, g.oh, g.ow));
        let nb = chunk_images(n);
        let (xs, ws, bs) = (slice(&self.x), slice(&self.w), slice(&self.b));
        let out_s = out.as_slice_mut().expect("fresh array is contiguous");
        out_s
            .par_chunks_mut(nb * c_out * p)
            .zip(xs.par_chunks(nb * g.c_in * g.h * g.w))
            .for_each(|(out_c, x_c)| {
                let m = x_c.len() / (g.c_in * g.h * g.w);
                let ld = m * p;
                let mut col = vec![F::zero(); k * ld]; // (k, m·p)
                for j in 0..m {
                    im2col(&x_c[j * g.c_in * g.h * g.w..], &g, &mut col, ld, j * p);
                }
                let mut res = vec![F::zero(); c_out * ld]; // (c_out, m·p)
                gemm(c_out, k, ld, ws, Op::N, &col, Op::N, F::zero(), &mut res);
                for j in 0..m {
                    for co in 0..c_out {
                        let dst = &mut out_c[(j * c_out + co) * p..(j * c_out + co + 1) * p];
                        let src = &res[co * ld + j * p..co * ld + (j + 1) * p];
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d = *s + bs[co];
                        }
                    }
                }
            });
        out
    }

    /// dout: (n, c_out, oh, ow) -> dx: (n, c_in, h, w); adds into self.dw, self.db.
    /// With `need_dx` false (the first layer) the input gradient is skipped and returned as zeros.
    pub fn backward(&mut self, dout: &Array4<F>, need_dx: bool) -> Array4<F> {
        let g = self.geom;
        let (n, k, p, c_out) = (self.x.dim().0, g.k(), g.p(), self.c_out);
        let dout = dout.as_standard_layout();
        let ds = dout.as_slice().expect("standard layout is contiguous");
        let (xs, ws) = (slice(&self.x), slice(&self.w));
        let mut dx = Array4::<F>::zeros((n, g.c_in, g.h, g.w));
        let nb = chunk_images(n);
        let image = g.c_in * g.h * g.w;
        let (dw_sum, db_sum) = dx
            .as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(nb * image)
            .zip(xs.par_chunks(nb * image))
            .zip(ds.par_chunks(nb * c_out * p))
            .map(|((dx_c, x_c), d_c)| {
                let m = x_c.len() / image;
                let ld = m * p;
                let mut col = vec![F::zero(); k * ld]; // (k, m·p)
                for j in 0..m {
                    im2col(&x_c[j * image..], &g, &mut col, ld, j * p);
                }
                let mut dmat = vec![F::zero(); c_out * ld]; // (c_out, m·p)
                let mut db = vec![F::zero(); c_out];
                for j in 0..m {
                    for co in 0..c_out {
                        let src = &d_c[(j * c_out + co) * p..(j * c_out + co + 1) * p];
                        dmat[co * ld + j * p..co * ld + (j + 1) * p].copy_from_slice(src);
                        db[co] += src.iter().copied().sum::<F>();
                    }
                }
                let mut dw = vec![F::zero(); c_out * k]; // (c_out, k) = dmat · colᵀ
                gemm(c_out, ld, k, &dmat, Op::N, &col, Op::T, F::zero(), &mut dw);
                if need_dx {
                    // dcol (k, m·p) = Wᵀ · dmat, reusing col's buffer
                    gemm(k, c_out, ld, ws, Op::T, &dmat, Op::N, F::zero(), &mut col);
                    for j in 0..m {
                        col2im(&col, &g, ld, j * p, &mut dx_c[j * image..(j + 1) * image]);
                    }
                }
                (dw, db)
            })
            .reduce(
                || (vec![F::zero(); c_out * k], vec![F::zero(); c_out]),
                |(mut a, mut b), (c, d)| {
                    a.iter_mut().zip(&c).for_each(|(x, y)| *x += *y);
                    b.iter_mut().zip(&d).for_each(|(x, y)| *x += *y);
                    (a, b)
                },
            );
        let dws = self.dw.as_slice_mut().expect("parameters are contiguous");
        dws.iter_mut().zip(&dw_sum).for_each(|(x, y)| *x += *y);
        self.db.iter_mut().zip(&db_sum).for_each(|(x, y)| *x += *y);
        dx
    }

    pub fn zero_grad(&mut self) {
        self.dw.fill(F::zero());
        self.db.fill(F::zero());
    }
}

fn slice<F: Float, D: ndarray::Dimension>(a: &ndarray::Array<F, D>) -> &[F] {
    a.as_slice()
        .expect("layer arrays are kept in standard layout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(
        c_in: usize,
        h: usize,
        w: usize,
        kh: usize,
        kw: usize,
        stride: usize,
        pad: usize,
    ) -> ConvGeom {
        let oh = (h + 2 * pad - kh) / stride + 1;
        let ow = (w + 2 * pad - kw) / stride + 1;
        ConvGeom {
            c_in,
            h,
            w,
            kh,
            kw,
            stride,
            pad,
            oh,
            ow,
        }
    }

    #[test]
    fn matches_direct_convolution() {
        // 2 images, 2 channels, 5×4 input, 3×2 kernel, stride 2, pad 1: oh = (5+2−3)/2+1 = 3, ow = (4+2−2)/2+1 = 3
        let g = geom(2, 5, 4, 3, 2, 2, 1);
        assert_eq!((g.oh, g.ow), (3, 3));
        let mut conv = Conv2d::<f32>::new(g, 3);
        conv.w = Array4::from_shape_fn((3, 2, 3, 2), |(a, b, c, d)| {
            ((a * 7 + b * 5 + c * 3 + d) as f32 * 0.1).sin()
        });
        conv.b = Array1::from(vec![0.1, -0.2, 0.3]);
        let x = Array4::from_shape_fn((2, 2, 5, 4), |(a, b, c, d)| {
            ((a * 11 + b * 13 + c * 4 + d) as f32 * 0.3).cos()
        });
        let out = conv.forward(x.clone());
        for n in 0..2 {
            for co in 0..3 {
                for oy in 0..3 {
                    for ox in 0..3 {
                        let mut s = conv.b[co];
                        for ci in 0..2 {
                            for ki in 0..3 {
                                for kj in 0..2 {
                                    let iy = (oy * 2 + ki) as isize - 1;
                                    let ix = (ox * 2 + kj) as isize - 1;
                                    if (0..5).contains(&iy) && (0..4).contains(&ix) {
                                        s += conv.w[[co, ci, ki, kj]]
                                            * x[[n, ci, iy as usize, ix as usize]];
                                    }
                                }
                            }
                        }
                        assert!((out[[n, co, oy, ox]] - s).abs() < 1e-5);
                    }
                }
            }
        }
    }
}
