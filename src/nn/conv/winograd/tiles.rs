//! The block loops of Winograd: each block of tiles through the input transform, the 16
//! products and the output transform (`convolve`), or the gradient's transforms and products
//! (`accumulate_grad`).

use super::simd::{grad_tiles, input_tiles, lanes, output_tiles};
use super::{LANES, SLACK, Wino, XI};
use crate::nn::kernel::{Isa, PackedA, Rows, Store, gemm_nt, gemm_packed};

/// Where one vector of tiles is: channel `ch` of image `img`, tile row `ty`, `count` tiles from
/// `tx0`, whose lanes sit at `col` of a V, M or dM plane (rows of `ld`).
struct Vector {
    ch: usize,
    img: usize,
    ty: usize,
    tx0: usize,
    count: usize,
    col: usize,
}

/// Each vector of tiles of channels 0..channels over the tile rows `rows` (row q: image q / th,
/// tile row q % th), the rows' tiles laid along a plane row from its start.
fn each_vector(
    s: Wino,
    lanes: usize,
    rows: std::ops::Range<usize>,
    channels: usize,
    ld: usize,
    mut f: impl FnMut(Vector),
) {
    let (th, tw) = s.tiles();
    for ch in 0..channels {
        for q in rows.clone() {
            for tx0 in (0..tw).step_by(lanes) {
                f(Vector {
                    ch,
                    img: q / th,
                    ty: q % th,
                    tx0,
                    count: (tw - tx0).min(lanes),
                    col: ch * ld + (q - rows.start) * tw + tx0,
                });
            }
        }
    }
}

/// V = Bᵀ d B of the tile rows `rows` of the padded inputs in `xp` into the 16 planes of `v`
/// (`vs` apart, rows of `ld`). The lanes past a short row land on the next row's tiles, written
/// after them, or in the plane's slack past the last.
#[allow(clippy::too_many_arguments)]
fn transform_inputs(
    isa: Isa,
    s: Wino,
    rows: std::ops::Range<usize>,
    xp: &[f32],
    v: &mut [f32],
    vs: usize,
    ld: usize,
) {
    let (hp, wp, plen) = (s.h + 2, s.w + 2, s.padded_len());
    assert!(v.len() >= XI * vs && vs >= s.c_in * ld);
    each_vector(s, lanes(isa), rows, s.c_in, ld, |t| {
        // reads 4 rows of 2·LANES + 2 values: at most SLACK − 4 past the last input; writes
        // LANES values at col + ξ·vs
        let at = t.img * plen + t.ch * hp * wp + 2 * t.ty * wp + 2 * t.tx0;
        assert!(at + 3 * wp + 2 * LANES + 2 <= xp.len() && t.col + LANES <= s.c_in * ld);
        // SAFETY: the assert bounds the reads, and the writes run to col + 15·vs + LANES ≤
        // 16·vs ≤ v.len(); the `isa` says which instructions the CPU has
        unsafe { input_tiles(isa, xp.as_ptr().add(at), wp, v.as_mut_ptr().add(t.col), vs) };
    });
}

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
    let (th, rows, n, ld) = (s.tiles().0, s.rows_per_block(), s.n(), s.ld());
    let plen = s.padded_len();
    assert!(imgs <= s.images_per_item() && u.len() == XI);
    let lanes = lanes(isa);
    assert!(xp.len() >= imgs * plen + SLACK && out.len() >= imgs * c_out * h * w);
    assert!(bias.is_none_or(|b| b.len() >= c_out));
    let (vs, ms) = (s.plane(c_in), s.plane(c_out));
    let (v, m) = vm[..XI * (vs + ms)].split_at_mut(XI * vs);
    let total = imgs * th;
    for q0 in (0..total).step_by(rows) {
        let q1 = (q0 + rows).min(total);
        transform_inputs(isa, s, q0..q1, xp, v, vs, ld);
        for (xi, ux) in u.iter().enumerate() {
            let vx = &v[xi * vs..(xi + 1) * vs];
            let mx = &mut m[xi * ms..(xi + 1) * ms];
            gemm_packed(isa, ux, n, vx, Rows::Strided(ld), mx, ld, Store::Overwrite);
        }
        each_vector(s, lanes, q0..q1, c_out, ld, |t| {
            let b = bias.map_or(0.0, |b| b[t.ch]);
            let dst = ((t.img * c_out + t.ch) * h + 2 * t.ty) * w + 2 * t.tx0;
            assert!(t.col + LANES <= c_out * ld && dst + w + 2 * t.count <= out.len());
            // SAFETY: reads LANES values at col + ξ·ms < m.len(), writes 2·count values of two
            // output rows, bounded by the assert
            unsafe {
                let (src, dst) = (m.as_ptr().add(t.col), out.as_mut_ptr().add(dst));
                output_tiles(isa, src, ms, b, dst, w, t.count)
            };
        });
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
    let ((th, tw), ld, plen) = (s.tiles(), s.grad_ld(), s.padded_len());
    assert!(imgs <= s.images_per_grad());
    let lanes = lanes(isa);
    assert!(xp.len() >= imgs * plen + SLACK && dy.len() >= imgs * c_out * h * w);
    assert!(du.len() >= s.grad_u().len());
    let (vs, ms) = (s.grad_plane(c_in), s.grad_plane(c_out));
    let (v, m) = vm[..XI * (vs + ms)].split_at_mut(XI * vs);
    let rows = imgs * th;
    transform_inputs(isa, s, 0..rows, xp, v, vs, ld);
    each_vector(s, lanes, 0..rows, c_out, ld, |t| {
        let src = ((t.img * c_out + t.ch) * h + 2 * t.ty) * w + 2 * t.tx0;
        assert!(src + w + 2 * t.count <= dy.len() && t.col + LANES <= c_out * ld);
        // SAFETY: reads 2·count values of two rows of dy and writes LANES values at
        // col + ξ·ms < m.len(), bounded by the assert
        unsafe {
            let (src, dm) = (dy.as_ptr().add(src), m.as_mut_ptr().add(t.col));
            grad_tiles(isa, src, w, t.count, dm, ms)
        };
    });
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
