//! im2col and col2im: one image's receptive fields as the columns of a matrix, and back.

use super::ConvGeom;
use crate::nn::gemm::Float;

/// Writes one image x (c_in, h, w) as columns into `col` (k, p).
pub(super) fn im2col<F: Float>(x: &[F], g: &ConvGeom, col: &mut [F]) {
    let p = g.p();
    for ci in 0..g.c_in {
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = (ci * g.kh + ki) * g.kw + kj;
                let dst = &mut col[row * p..(row + 1) * p];
                let (lo, hi) = g.valid_ox(kj);
                for (oy, out_row) in dst.chunks_exact_mut(g.ow).enumerate() {
                    let iy = (oy * g.stride + ki) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        out_row.fill(F::zero());
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    out_row[..lo].fill(F::zero());
                    out_row[hi..].fill(F::zero());
                    if lo < hi {
                        // ix = ox·stride + kj − pad ≥ 0 for ox ≥ lo
                        let ix0 = lo * g.stride + kj - g.pad;
                        if g.stride == 1 {
                            out_row[lo..hi].copy_from_slice(&src[ix0..ix0 + hi - lo]);
                        } else {
                            for (v, s) in out_row[lo..hi]
                                .iter_mut()
                                .zip(src[ix0..].iter().step_by(g.stride))
                            {
                                *v = *s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Writes one image x (c_in, h, w) as rows into `rows` (p, k): row q is the receptive field of
/// output position q, in the order (ci, ki, kj) — im2col transposed, written position by
/// position so every store is contiguous.
pub(super) fn im2row<F: Float>(x: &[F], g: &ConvGeom, rows: &mut [F]) {
    let k = g.k();
    let (h, w) = (g.h as isize, g.w as isize);
    for (q, row) in rows.chunks_exact_mut(k).take(g.p()).enumerate() {
        let (oy, ox) = (q / g.ow, q % g.ow);
        let iy0 = (oy * g.stride) as isize - g.pad as isize;
        let ix0 = (ox * g.stride) as isize - g.pad as isize;
        let is_inside =
            iy0 >= 0 && ix0 >= 0 && iy0 + g.kh as isize <= h && ix0 + g.kw as isize <= w;
        for (ci, taps) in row.chunks_exact_mut(g.kh * g.kw).enumerate() {
            let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
            for (ki, dst) in taps.chunks_exact_mut(g.kw).enumerate() {
                let iy = iy0 + ki as isize;
                if is_inside {
                    let at = iy as usize * g.w + ix0 as usize;
                    dst.copy_from_slice(&plane[at..at + g.kw]);
                    continue;
                }
                for (kj, d) in dst.iter_mut().enumerate() {
                    let ix = ix0 + kj as isize;
                    *d = if iy >= 0 && iy < h && ix >= 0 && ix < w {
                        plane[iy as usize * g.w + ix as usize]
                    } else {
                        F::zero()
                    };
                }
            }
        }
    }
}

/// Adds one image's column gradients `dcol` (k, p) back into its input gradient dx (c_in, h, w).
pub(super) fn col2im<F: Float>(dcol: &[F], g: &ConvGeom, dx: &mut [F]) {
    let p = g.p();
    for ci in 0..g.c_in {
        let plane = &mut dx[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = (ci * g.kh + ki) * g.kw + kj;
                let src = &dcol[row * p..(row + 1) * p];
                let (lo, hi) = g.valid_ox(kj);
                if lo >= hi {
                    continue;
                }
                let ix0 = lo * g.stride + kj - g.pad;
                for (oy, src_row) in src.chunks_exact(g.ow).enumerate() {
                    let iy = (oy * g.stride + ki) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    for (d, s) in dst[ix0..]
                        .iter_mut()
                        .step_by(g.stride)
                        .zip(&src_row[lo..hi])
                    {
                        *d += *s;
                    }
                }
            }
        }
    }
}
