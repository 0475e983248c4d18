//! The 3×3 stride-2 window (the overlapping pooling of AlexNet and cuda-convnet), one plane at a
//! time. Windows wholly inside the plane are unrolled over three row slices, with no bounds
//! check or span computed per element; those hanging over the edge in ceil mode go through the
//! generic window functions. Maxima and their indices equal the generic loop's (the same strict
//! `>` comparisons in the same order); means agree with it to rounding (×1/9 for ÷9).
//!
//! Each function takes one (image, channel) plane: xp (h, w), o and a (oh, ow).

use super::{PoolGeom, avg_window, max_window};
use crate::nn::gemm::Float;

/// How many of `count` windows (stride 2, size 3) lie inside `size`.
fn inside(count: usize, size: usize) -> usize {
    if size < 3 {
        0
    } else {
        ((size - 3) / 2 + 1).min(count)
    }
}

/// The three rows of the windows of output row `oy`, when all three are inside.
fn rows<'x, F: Float>(g: &PoolGeom, xp: &'x [F], oy: usize) -> Option<[&'x [F]; 3]> {
    let y0 = 2 * oy;
    (y0 + 3 <= g.h).then(|| {
        let row = |r: usize| &xp[(y0 + r) * g.w..(y0 + r + 1) * g.w];
        [row(0), row(1), row(2)]
    })
}

pub(super) fn max_forward<F: Float>(g: &PoolGeom, xp: &[F], o: &mut [F], a: &mut [u32]) {
    let cols = inside(g.ow, g.w);
    let w = g.w;
    for oy in 0..g.oh {
        let o_row = &mut o[oy * g.ow..(oy + 1) * g.ow];
        let a_row = &mut a[oy * g.ow..(oy + 1) * g.ow];
        let first = match rows(g, xp, oy) {
            Some([r0, r1, r2]) => {
                for ox in 0..cols {
                    let x0 = 2 * ox;
                    let (t, m, b) = (&r0[x0..x0 + 3], &r1[x0..x0 + 3], &r2[x0..x0 + 3]);
                    let (mut best_v, mut best) = (t[0], 0);
                    for (v, at) in [
                        (t[1], 1),
                        (t[2], 2),
                        (m[0], w),
                        (m[1], w + 1),
                        (m[2], w + 2),
                        (b[0], 2 * w),
                        (b[1], 2 * w + 1),
                        (b[2], 2 * w + 2),
                    ] {
                        if v > best_v {
                            best_v = v;
                            best = at;
                        }
                    }
                    o_row[ox] = best_v;
                    a_row[ox] = (2 * oy * w + x0 + best) as u32;
                }
                cols
            }
            None => 0,
        };
        for ox in first..g.ow {
            let (v, at) = max_window(g, xp, oy, ox);
            o_row[ox] = v;
            a_row[ox] = at as u32;
        }
    }
}

pub(super) fn avg_forward<F: Float>(g: &PoolGeom, xp: &[F], o: &mut [F]) {
    let cols = inside(g.ow, g.w);
    let ninth = F::of(1.0 / 9.0);
    for oy in 0..g.oh {
        let o_row = &mut o[oy * g.ow..(oy + 1) * g.ow];
        let first = match rows(g, xp, oy) {
            Some([r0, r1, r2]) => {
                for (ox, out) in o_row.iter_mut().enumerate().take(cols) {
                    let x0 = 2 * ox;
                    let sum = |r: &[F]| r[x0] + r[x0 + 1] + r[x0 + 2];
                    *out = (sum(r0) + sum(r1) + sum(r2)) * ninth;
                }
                cols
            }
            None => 0,
        };
        for (ox, out) in o_row.iter_mut().enumerate().skip(first) {
            *out = avg_window(g, xp, oy, ox);
        }
    }
}

/// dp (oh, ow) -> dxp (h, w), added: each window's inputs get its gradient / its count.
pub(super) fn avg_backward<F: Float>(g: &PoolGeom, dp: &[F], dxp: &mut [F]) {
    let cols = inside(g.ow, g.w);
    let rows_inside = inside(g.oh, g.h);
    let ninth = F::of(1.0 / 9.0);
    let w = g.w;
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let d = dp[oy * g.ow + ox];
            let (y0, x0) = (2 * oy, 2 * ox);
            if oy < rows_inside && ox < cols {
                let d = d * ninth;
                for r in 0..3 {
                    let row = &mut dxp[(y0 + r) * w + x0..(y0 + r) * w + x0 + 3];
                    row[0] += d;
                    row[1] += d;
                    row[2] += d;
                }
            } else {
                super::avg_window_backward(g, dxp, oy, ox, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every floor and ceil geometry of a few plane sizes, random values with ties.
    #[test]
    fn the_unrolled_windows_match_the_generic_ones() {
        let mut seed = 12_345u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // few distinct values, so ties happen
            ((seed >> 33) % 7) as f32 - 3.0
        };
        for (h, w) in [
            (3, 3),
            (4, 5),
            (5, 4),
            (7, 8),
            (8, 8),
            (16, 16),
            (32, 32),
            (9, 6),
        ] {
            for is_ceil in [false, true] {
                let out = |size: usize| {
                    let steps = if is_ceil {
                        (size - 3).div_ceil(2)
                    } else {
                        (size - 3) / 2
                    };
                    steps + 1
                };
                let g = PoolGeom {
                    c: 1,
                    h,
                    w,
                    k: 3,
                    stride: 2,
                    oh: out(h),
                    ow: out(w),
                };
                let xp: Vec<f32> = (0..h * w).map(|_| next()).collect();
                let n_out = g.oh * g.ow;
                let (mut o, mut a) = (vec![0.0; n_out], vec![0u32; n_out]);
                max_forward(&g, &xp, &mut o, &mut a);
                let mut avg = vec![0.0; n_out];
                avg_forward(&g, &xp, &mut avg);
                let dp: Vec<f32> = (0..n_out).map(|_| next()).collect();
                let mut dx = vec![0.0; h * w];
                avg_backward(&g, &dp, &mut dx);
                let mut dx_generic = vec![0.0; h * w];
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let i = oy * g.ow + ox;
                        let (v, at) = max_window(&g, &xp, oy, ox);
                        assert_eq!(
                            (o[i], a[i]),
                            (v, at as u32),
                            "{h}×{w} ceil {is_ceil} ({oy}, {ox})"
                        );
                        let mean = avg_window(&g, &xp, oy, ox);
                        assert!(
                            (avg[i] - mean).abs() < 1e-6,
                            "{h}×{w}: {} vs {mean}",
                            avg[i]
                        );
                        super::super::avg_window_backward(&g, &mut dx_generic, oy, ox, dp[i]);
                    }
                }
                for (d, e) in dx.iter().zip(&dx_generic) {
                    assert!((d - e).abs() < 1e-5, "{h}×{w} ceil {is_ceil}: {d} vs {e}");
                }
            }
        }
    }
}
