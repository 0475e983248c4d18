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
