//! 3×3, stride-1, pad-1 convolutions as Winograd F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms
//! for Convolutional Neural Networks", 2015): each 2×2 block of outputs comes from its 4×4
//! input tile with 16 multiplies per input channel instead of 36. The 16 transformed positions
//! ξ of the tiles are 16 matrix products M_ξ (c_out, T) = U_ξ (c_out, c_in) · V_ξ (c_in, T),
//! run by the packed kernel, with
//!
//! U = G g Gᵀ, V = Bᵀ d Bᵀᵀ, y = Aᵀ M A,
//! G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],
//! Aᵀ = [1 1 1 0; 0 1 −1 −1]: the cross-correlation a ConvNet layer computes.
//!
//! The tiles go in blocks of 32 (the avx512 kernel's width: two rows of tiles of a 32×32 map,
//! four of a 16×16 one, two whole 8×8 images), so that a block's V and M stay in cache between
//! the transforms and the products. The transforms run 16 tiles to a vector with avx512, 8 with
//! avx2 (`simd`). dx of such a layer is the same kind of convolution (of the padded dout with
//! the flipped filters) and goes the same way; dW sums dM_ξ · V_ξᵀ over the tiles of several
//! images at once (dM = A dy Aᵀ) and takes dU back to the taps as Gᵀ dU G.

use rayon::prelude::*;

use super::ConvGeom;
use crate::nn::kernel::{Isa, PackedA, Rows, Store, gemm_nt, gemm_packed};

mod simd;

use simd::{grad_tiles, input_tiles, lanes, output_tiles};

/// Transformed positions of a tile.
const XI: usize = 16;
/// Tiles a vector holds, at most (`simd::lanes`): the slack the buffers keep.
const LANES: usize = 16;
/// Tiles a block aims at: the width of the avx512 kernel's tile.
const BLOCK: usize = 32;
/// Floats past the last padded image that a transform may read (its lanes past a short row).
const SLACK: usize = 2 * LANES + 4;
/// Tiles the filter gradient's products sum over at once (their k), images permitting.
const GRAD_TILES: usize = 256;
/// Channels below which the products (k = c_in) are too short to pay for the transforms.
const MIN_CHANNELS: usize = 16;

/// A convolution c_in → c_out on h × w maps (even sizes), padded by 1, as Winograd runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Wino {
    pub c_in: usize,
    pub c_out: usize,
    pub h: usize,
    pub w: usize,
}

impl Wino {
    /// The layer's forward, when it fits: 3×3, stride 1, pad 1, even sizes, at least 16
    /// channels in and out (with the f32 kernel, whose `Isa` the caller holds).
    /// `CONVTOP_NO_WINOGRAD=1` turns it off (to compare).
    pub fn of_layer(g: &ConvGeom, c_out: usize) -> Option<Wino> {
        let fits = (g.kh, g.kw, g.stride, g.pad) == (3, 3, 1, 1)
            && g.h.is_multiple_of(2)
            && g.w.is_multiple_of(2)
            && g.c_in.min(c_out) >= MIN_CHANNELS
            && std::env::var_os("CONVTOP_NO_WINOGRAD").is_none();
        fits.then_some(Wino {
            c_in: g.c_in,
            c_out,
            h: g.h,
            w: g.w,
        })
    }
    /// dx of the layer as a convolution: c_out → c_in with the flipped filters.
    pub fn transposed(self) -> Wino {
        Wino {
            c_in: self.c_out,
            c_out: self.c_in,
            ..self
        }
    }
    /// The geometry of that convolution, for padding its input.
    pub fn geom(self) -> ConvGeom {
        ConvGeom {
            c_in: self.c_in,
            h: self.h,
            w: self.w,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
            oh: self.h,
            ow: self.w,
        }
    }
    fn tiles(self) -> (usize, usize) {
        (self.h / 2, self.w / 2)
    }
    /// Rows of tiles in a block (consecutive, running on into the next image).
    fn rows_per_block(self) -> usize {
        (BLOCK / self.tiles().1).max(1)
    }
    /// Tiles in a block: the products' n.
    fn n(self) -> usize {
        self.rows_per_block() * self.tiles().1
    }
    /// Row stride of V and M: a vector of slack past n.
    fn ld(self) -> usize {
        self.n() + LANES
    }
    /// Floats from one ξ's V (c = c_in) or M (c = c_out) to the next: c rows and a cache line,
    /// so that the 16 streams a transform reads or writes do not share the same cache sets.
    fn plane(self, c: usize) -> usize {
        c * self.ld() + 16
    }
    /// Images taken together, so that small maps still fill a block.
    pub fn images_per_item(self) -> usize {
        let (th, tw) = self.tiles();
        (BLOCK / (th * tw).max(1)).max(1)
    }
    /// One zero-padded input (c_in, h + 2, w + 2).
    pub fn padded_len(self) -> usize {
        self.c_in * (self.h + 2) * (self.w + 2)
    }
    /// Floats of the padded inputs of one work item (with the slack after them).
    pub fn inputs_len(self) -> usize {
        self.images_per_item() * self.padded_len() + SLACK
    }
    /// Floats of a work item's scratch: its padded inputs, then one block's V and M.
    pub fn scratch_len(self) -> usize {
        self.inputs_len() + XI * (self.plane(self.c_in) + self.plane(self.c_out))
    }
    /// Images the filter gradient takes at once: about GRAD_TILES tiles.
    pub fn images_per_grad(self) -> usize {
        let (th, tw) = self.tiles();
        (GRAD_TILES / (th * tw).max(1)).max(1)
    }
    /// Row stride of the gradient's V and dM: all their tiles and a vector of slack.
    fn grad_ld(self) -> usize {
        let (th, tw) = self.tiles();
        self.images_per_grad() * th * tw + LANES
    }
    /// As `plane`, for the gradient's V and dM.
    fn grad_plane(self, c: usize) -> usize {
        c * self.grad_ld() + 16
    }
    /// Floats of the gradient's padded inputs (with the slack after them).
    pub fn grad_inputs_len(self) -> usize {
        self.images_per_grad() * self.padded_len() + SLACK
    }
    /// Floats of the 16 dU_ξ (c_out, c_in) the gradient sums into.
    pub fn grad_u_len(self) -> usize {
        XI * self.c_out * self.c_in
    }
    /// Floats of the gradient's scratch: padded inputs, V and dM, then dU.
    pub fn grad_scratch_len(self) -> usize {
        let vm = XI * (self.grad_plane(self.c_in) + self.grad_plane(self.c_out));
        self.grad_inputs_len() + vm + self.grad_u_len()
    }
}

/// The 16 transformed filters U_ξ (c_out, c_in), packed for the kernel. `w` is the layer's
/// (c_out, c_in, 3, 3); with `is_dx`, the filters of dx as a convolution (out channel ci, in
/// channel co, flipped taps), for `s` = the layer's `Wino` transposed.
pub(super) fn transform_filters(isa: Isa, w: &[f32], s: Wino, is_dx: bool, u: &mut Vec<PackedA>) {
    let (m, k) = (s.c_out, s.c_in);
    let tap = |o: usize, i: usize, ki: usize, kj: usize| {
        if is_dx {
            w[((i * m + o) * 3 + (2 - ki)) * 3 + (2 - kj)]
        } else {
            w[((o * k + i) * 3 + ki) * 3 + kj]
        }
    };
    // each filter's 16 values together (o, i, ξ), a filter row per task; then each ξ's plane
    // packed out of them
    let mut us = vec![0.0f32; m * k * XI];
    us.par_chunks_exact_mut(k * XI)
        .enumerate()
        .for_each(|(o, row)| {
            for (i, ui) in row.chunks_exact_mut(XI).enumerate() {
                // t = G g (4×3), then U = t Gᵀ (4×4)
                let g = |ki: usize, kj: usize| tap(o, i, ki, kj);
                let t: [[f32; 3]; 4] = [
                    std::array::from_fn(|j| g(0, j)),
                    std::array::from_fn(|j| 0.5 * (g(0, j) + g(1, j) + g(2, j))),
                    std::array::from_fn(|j| 0.5 * (g(0, j) - g(1, j) + g(2, j))),
                    std::array::from_fn(|j| g(2, j)),
                ];
                for (tr, ur) in t.iter().zip(ui.chunks_exact_mut(4)) {
                    ur[0] = tr[0];
                    ur[1] = 0.5 * (tr[0] + tr[1] + tr[2]);
                    ur[2] = 0.5 * (tr[0] - tr[1] + tr[2]);
                    ur[3] = tr[2];
                }
            }
        });
    u.resize_with(XI, PackedA::default);
    u.par_iter_mut()
        .enumerate()
        .for_each(|(xi, pu)| pu.pack(isa, &us[xi..], m, k, k * XI, XI));
}

/// out (imgs, c_out, h, w) = bias + the convolution of the `imgs` zero-padded inputs in `xp`
/// (each `padded_len` from the last, `inputs_len` in all) with the filters in `u`
/// (`transform_filters`); `vm` is the rest of the scratch (V and M of a block).
///
/// # Panics
/// If the buffers are shorter than the shapes say.
#[allow(clippy::too_many_arguments)]
pub(super) fn convolve(
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
pub(super) fn accumulate_grad(
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
    assert!(du.len() >= s.grad_u_len());
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

/// dw (c_out, c_in·9) += Gᵀ dU G for each filter: the 16 planes of `accumulate_grad` back
/// to 3×3 taps.
pub(super) fn add_filter_grads(s: Wino, du: &[f32], dw: &mut [f32]) {
    let (c_in, c_out) = (s.c_in, s.c_out);
    let plane = c_out * c_in;
    assert!(du.len() >= XI * plane && dw.len() >= plane * 9);
    for (co, dw_co) in dw.chunks_exact_mut(c_in * 9).take(c_out).enumerate() {
        for (ci, taps) in dw_co.chunks_exact_mut(9).enumerate() {
            let d = |r: usize, c: usize| du[(r * 4 + c) * plane + co * c_in + ci];
            // t = Gᵀ dU (3×4), then t G (3×3)
            let t: [[f32; 4]; 3] = [
                std::array::from_fn(|c| d(0, c) + 0.5 * (d(1, c) + d(2, c))),
                std::array::from_fn(|c| 0.5 * (d(1, c) - d(2, c))),
                std::array::from_fn(|c| 0.5 * (d(1, c) + d(2, c)) + d(3, c)),
            ];
            for (tk, row) in t.iter().zip(taps.chunks_exact_mut(3)) {
                row[0] += tk[0] + 0.5 * (tk[1] + tk[2]);
                row[1] += 0.5 * (tk[1] - tk[2]);
                row[2] += 0.5 * (tk[1] + tk[2]) + tk[3];
            }
        }
    }
}
