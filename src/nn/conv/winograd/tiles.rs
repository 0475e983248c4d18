//! The block loops of Winograd: each block of tiles through the input transform, the 16
//! products and the output transform (`convolve`), or the gradient's transforms and products
//! (`accumulate_grad`).

use super::simd::{grad_tiles, input_tiles, lanes, output_tiles};
use super::{LANES, SLACK, Wino, XI};
use crate::nn::kernel::{Isa, PackedA, Rows, Store, gemm_nt, gemm_packed};

/// out (imgs, c_out, h, w) = bias + the convolution of the `imgs` zero-padded inputs in `xp`
/// (each `padded_len` from the last, `inputs_len` in all) with the filters in `u`
/// (`transform_filters`); `vm` is the rest of the scratch (V and M of a block).
///
/// # Panics
/// If the buffers are shorter than the shapes say.
#[allow(clippy::too_many_arguments)]
pub(in crate::nn::conv) fn convolve(
    isa: Isa,
    s: Wino,
    u: &[PackedA],
    imgs: usize,
    xp: &[f32],
    vm: &mut [f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let (c_in, c_out, h, w) = (s.c_in, s.c_out, s.h, s.w);
    let ((th, tw), rows, n, ld) = (s.tiles(), s.rows_per_block(), s.n(), s.ld());
    let (hp, wp, plen) = (h + 2, w + 2, s.padded_len());
    assert!(imgs <= s.images_per_item() && u.len() == XI);
    let lanes = lanes(isa);
    assert!(xp.len() >= imgs * plen + SLACK && out.len() >= imgs * c_out * h * w);
    assert!(bias.is_none_or(|b| b.len() >= c_out));
    let (vs, ms) = (s.plane(c_in), s.plane(c_out));
    let (v, m) = vm[..XI * (vs + ms)].split_at_mut(XI * vs);
    let total = imgs * th;
    for q0 in (0..total).step_by(rows) {
        let q1 = (q0 + rows).min(total);
        for ci in 0..c_in {
            for q in q0..q1 {
                let (img, ty) = (q / th, q % th);
                let row = img * plen + ci * hp * wp + 2 * ty * wp;
                for tx0 in (0..tw).step_by(lanes) {
                    let col = ci * ld + (q - q0) * tw + tx0;
                    // reads 4 rows of 2·LANES + 2 from row + 2·tx0: at most SLACK − 4 past the
                    // last input (the transform's lanes past a short row); writes LANES values
                    // at col + ξ·vs, inside V since col ≤ c_in·ld − LANES
                    let at = row + 2 * tx0;
                    assert!(at + 3 * wp + 2 * LANES + 2 <= xp.len() && col + LANES <= c_in * ld);
                    // SAFETY: the assert bounds the reads; the writes run to
                    // col + 15·vs + LANES ≤ 16·vs = v.len(); the kernel's `isa` runs them
                    unsafe {
                        input_tiles(isa, xp.as_ptr().add(at), wp, v.as_mut_ptr().add(col), vs)
                    };
                }
            }
        }
        for (xi, ux) in u.iter().enumerate() {
            let vx = &v[xi * vs..(xi + 1) * vs];
            let mx = &mut m[xi * ms..(xi + 1) * ms];
            gemm_packed(isa, ux, n, vx, Rows::Strided(ld), mx, ld, Store::Overwrite);
        }
        for co in 0..c_out {
            let b = bias.map_or(0.0, |b| b[co]);
            for q in q0..q1 {
                let (img, ty) = (q / th, q % th);
                for tx0 in (0..tw).step_by(lanes) {
                    let count = (tw - tx0).min(lanes);
                    let src = co * ld + (q - q0) * tw + tx0;
                    let dst = ((img * c_out + co) * h + 2 * ty) * w + 2 * tx0;
                    assert!(src + LANES <= c_out * ld && dst + w + 2 * count <= out.len());
                    // SAFETY: reads LANES values at src + ξ·ms < m.len(), writes 2·count
                    // values of two output rows, bounded by the assert
                    unsafe {
                        output_tiles(
                            isa,
                            m.as_ptr().add(src),
                            ms,
                            b,
                            out.as_mut_ptr().add(dst),
                            w,
                            count,
                        )
                    };
                }
            }
        }
    }
}

/// dU_ξ (c_out, c_in) += dM_ξ · V_ξᵀ over the tiles of `imgs` images: V of the zero-padded
/// inputs in `xp` (as for `convolve`, `grad_inputs_len` in all), dM = A dy Aᵀ of their output
/// gradients `dy` (imgs, c_out, h, w); `vm` holds V and dM. The sums run as dot products along
/// the tiles (k = up to GRAD_TILES), `du` is the 16 planes (c_out, c_in) after each other.
///
/// # Panics
/// If the buffers are shorter than the shapes say.
#[allow(clippy::too_many_arguments)]
pub(in crate::nn::conv) fn accumulate_grad(
    isa: Isa,
    s: Wino,
    imgs: usize,
    xp: &[f32],
    dy: &[f32],
    vm: &mut [f32],
    du: &mut [f32],
) {
    let (c_in, c_out, h, w) = (s.c_in, s.c_out, s.h, s.w);
    let ((th, tw), ld) = (s.tiles(), s.grad_ld());
    let (hp, wp, plen) = (h + 2, w + 2, s.padded_len());
    assert!(imgs <= s.images_per_grad());
    let lanes = lanes(isa);
    assert!(xp.len() >= imgs * plen + SLACK && dy.len() >= imgs * c_out * h * w);
    assert!(du.len() >= s.grad_u().len());
    let (vs, ms) = (s.grad_plane(c_in), s.grad_plane(c_out));
    let (v, m) = vm[..XI * (vs + ms)].split_at_mut(XI * vs);
    let rows = imgs * th;
    for ci in 0..c_in {
        for q in 0..rows {
            let (img, ty) = (q / th, q % th);
            let row = img * plen + ci * hp * wp + 2 * ty * wp;
            for tx0 in (0..tw).step_by(lanes) {
                // as in `convolve`; the lanes past a short row land on the next row's tiles,
                // written after them, or in the slack past the last
                let (at, col) = (row + 2 * tx0, ci * ld + q * tw + tx0);
                assert!(at + 3 * wp + 2 * LANES + 2 <= xp.len() && col + LANES <= c_in * ld);
                // SAFETY: the assert bounds the reads, and the writes to col + 15·vs + LANES ≤
                // v.len()
                unsafe { input_tiles(isa, xp.as_ptr().add(at), wp, v.as_mut_ptr().add(col), vs) };
            }
        }
    }
    for co in 0..c_out {
        for q in 0..rows {
            let (img, ty) = (q / th, q % th);
            for tx0 in (0..tw).step_by(lanes) {
                let count = (tw - tx0).min(lanes);
                let src = ((img * c_out + co) * h + 2 * ty) * w + 2 * tx0;
                let col = co * ld + q * tw + tx0;
                assert!(src + w + 2 * count <= dy.len() && col + LANES <= c_out * ld);
                // SAFETY: reads 2·count values of two rows of dy and writes LANES values at
                // col + ξ·ms < m.len(), bounded by the assert
                unsafe {
                    grad_tiles(
                        isa,
                        dy.as_ptr().add(src),
                        w,
                        count,
                        m.as_mut_ptr().add(col),
                        ms,
                    )
                };
            }
        }
    }
    let tiles = rows * tw;
    for (xi, dux) in du.chunks_exact_mut(c_out * c_in).take(XI).enumerate() {
        let (mx, vx) = (&m[xi * ms..(xi + 1) * ms], &v[xi * vs..(xi + 1) * vs]);
        gemm_nt(
            isa,
            c_out,
            c_in,
            tiles,
            mx,
            ld,
            vx,
            Rows::Strided(ld),
            dux,
            c_in,
        );
    }
}
