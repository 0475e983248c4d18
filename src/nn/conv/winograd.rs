//! 3×3, stride-1, pad-1 convolutions as Winograd F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms
//! for Convolutional Neural Networks", 2015): each 2×2 block of outputs comes from its 4×4
//! input tile with 16 multiplies per input channel instead of 36. The 16 transformed positions
//! ξ of the tiles are 16 matrix products M_ξ (c_out, T) = U_ξ (c_out, c_in) · V_ξ (c_in, T),
//! run by the packed kernel, with
//!
//! U = G g Gᵀ, V = Bᵀ d B, y = Aᵀ M A,
//! G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],
//! Aᵀ = [1 1 1 0; 0 1 −1 −1]: the cross-correlation a ConvNet layer computes.
//!
//! The tiles go in blocks of 32 (the avx512 kernel's width: two rows of tiles of a 32×32 map,
//! four of a 16×16 one, two whole 8×8 images), so that a block's V and M stay in cache between
//! the transforms and the products. The transforms run 16 tiles to a vector with avx512, 8 with
//! avx2 (`simd`). dx of such a layer is the same kind of convolution (of the padded dout with
//! the flipped filters) and goes the same way; dW sums dM_ξ · V_ξᵀ over the tiles of several
//! images at once (dM = A dy Aᵀ) and takes dU back to the taps as Gᵀ dU G.

use std::sync::Mutex;

use rayon::prelude::*;

use super::packed::pad_image;
use super::{ConvGeom, Scratch, lock};
use crate::nn::gemm::Float;
use crate::nn::kernel::{Isa, PackedA};

mod simd;
mod tiles;

use tiles::{accumulate_grad, convolve};

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
pub struct Wino {
    pub c_in: usize,
    pub c_out: usize,
    pub h: usize,
    pub w: usize,
}

impl Wino {
    /// The layer's forward, when it fits: 3×3, stride 1, pad 1, even sizes, at least 16
    /// channels in and out, and maps of at most GRAD_TILES tiles (up to 32×32: every map the
    /// datasets give; the gradient's scratch grows with a whole image's tiles), with the f32
    /// kernel, whose `Isa` the caller holds. `CONVTOP_NO_WINOGRAD=1` turns it off (to compare).
    pub fn of_layer(g: &ConvGeom, c_out: usize) -> Option<Wino> {
        static IS_OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let is_off = *IS_OFF.get_or_init(|| std::env::var_os("CONVTOP_NO_WINOGRAD").is_some());
        let fits = (g.kh, g.kw, g.stride, g.pad) == (3, 3, 1, 1)
            && g.h.is_multiple_of(2)
            && g.w.is_multiple_of(2)
            && (g.h / 2) * (g.w / 2) <= GRAD_TILES
            && g.c_in.min(c_out) >= MIN_CHANNELS
            && !is_off;
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
    /// Floats of the gradient's scratch: padded inputs, V and dM, then dU.
    pub fn grad_scratch_len(self) -> usize {
        self.grad_u().end
    }
    /// Where dU lies in the gradient's scratch.
    pub fn grad_u(self) -> std::ops::Range<usize> {
        let vm = XI * (self.grad_plane(self.c_in) + self.grad_plane(self.c_out));
        let start = self.grad_inputs_len() + vm;
        start..start + XI * self.c_out * self.c_in
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
    // (o, ξ, i): a filter row's 16 planes together, a row per task; each ξ then packed from
    // rows of k contiguous values
    let mut us = vec![0.0f32; m * XI * k];
    us.par_chunks_exact_mut(XI * k)
        .enumerate()
        .for_each(|(o, row)| {
            for i in 0..k {
                // t = G g (4×3), then U = t Gᵀ (4×4)
                let g = |ki: usize, kj: usize| tap(o, i, ki, kj);
                let t: [[f32; 3]; 4] = [
                    std::array::from_fn(|j| g(0, j)),
                    std::array::from_fn(|j| 0.5 * (g(0, j) + g(1, j) + g(2, j))),
                    std::array::from_fn(|j| 0.5 * (g(0, j) - g(1, j) + g(2, j))),
                    std::array::from_fn(|j| g(2, j)),
                ];
                for (r, tr) in t.iter().enumerate() {
                    let ur = [
                        tr[0],
                        0.5 * (tr[0] + tr[1] + tr[2]),
                        0.5 * (tr[0] - tr[1] + tr[2]),
                        tr[2],
                    ];
                    for (c, v) in ur.into_iter().enumerate() {
                        row[(r * 4 + c) * k + i] = v;
                    }
                }
            }
        });
    u.resize_with(XI, PackedA::default);
    u.par_iter_mut()
        .enumerate()
        .for_each(|(xi, pu)| pu.pack(isa, &us[xi * k..], m, k, XI * k, 1));
}

/// dw (c_out, c_in·9) += Gᵀ (Σ dU) G for each filter: the 16 planes `filter_grad` left in each
/// thread's scratch (`dus`, summed in their order), back to 3×3 taps; the filters split over
/// the threads.
pub(super) fn finish_filter_grad(s: Wino, dus: &[&[f32]], dw: &mut [f32]) {
    let (c_in, c_out) = (s.c_in, s.c_out);
    let plane = c_out * c_in;
    assert!(dus.iter().all(|du| du.len() >= XI * plane) && dw.len() >= plane * 9);
    dw.par_chunks_exact_mut(c_in * 9)
        .take(c_out)
        .enumerate()
        .for_each(|(co, dw_co)| {
            for (ci, taps) in dw_co.chunks_exact_mut(9).enumerate() {
                let at = co * c_in + ci;
                let d = |r: usize, c: usize| {
                    let xi = r * 4 + c;
                    dus.iter().map(|du| du[xi * plane + at]).sum::<f32>()
                };
                let du: [[f32; 4]; 4] = std::array::from_fn(|r| std::array::from_fn(|c| d(r, c)));
                // t = Gᵀ dU (3×4), then t G (3×3)
                let t: [[f32; 4]; 3] = [
                    std::array::from_fn(|c| du[0][c] + 0.5 * (du[1][c] + du[2][c])),
                    std::array::from_fn(|c| 0.5 * (du[1][c] - du[2][c])),
                    std::array::from_fn(|c| 0.5 * (du[1][c] + du[2][c]) + du[3][c]),
                ];
                for (tk, row) in t.iter().zip(taps.chunks_exact_mut(3)) {
                    row[0] += tk[0] + 0.5 * (tk[1] + tk[2]);
                    row[1] += 0.5 * (tk[1] - tk[2]);
                    row[2] += 0.5 * (tk[1] + tk[2]) + tk[3];
                }
            }
        });
}

/// Each (c_in, h, w) input in `x` zero-padded by 1 into `buf`, `s.padded_len()` apart, as
/// `convolve` and `accumulate_grad` take them; returns how many.
fn pad_inputs(isa: Isa, x: &[f32], s: Wino, buf: &mut [f32]) -> usize {
    let g = s.geom();
    let plen = s.padded_len();
    // in order: pad_image zeroes kw floats past its input, the start of the next one
    for (i, x_img) in x.chunks_exact(g.image()).enumerate() {
        pad_image(isa, x_img, &g, &mut buf[i * plen..]);
    }
    x.len() / g.image()
}

/// The forward of a batch: out (n, c_out, h, w) = bias + xs (n, c_in, h, w) ⋆ the filters in
/// `u`, `images_per_item` images a task, each in its thread's scratch.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward<F: Float>(
    isa: Isa,
    s: Wino,
    u: &[PackedA],
    xs: &[f32],
    bias: &[f32],
    scratch: &[Mutex<Scratch<F>>],
    out: &mut [f32],
) {
    let per = s.images_per_item();
    let (x_len, out_len) = (s.c_in * s.h * s.w, s.c_out * s.h * s.w);
    out.par_chunks_mut(per * out_len)
        .zip(xs.par_chunks(per * x_len))
        .for_each(|(out_i, x_i)| {
            let mut sc = lock(scratch);
            if let Some(buf) = F::as_f32s_mut(&mut sc.wino) {
                let imgs = pad_inputs(isa, x_i, s, buf);
                let (xp, vm) = buf.split_at_mut(s.inputs_len());
                convolve(isa, s, u, imgs, xp, vm, Some(bias), out_i);
            }
        });
}

/// dx (n, c_in, h, w) of a group of images from their output gradients d (n, c_out, h, w):
/// the convolution `s` (the layer's transposed) with the flipped filters in `u_dx`.
pub(super) fn input_grad(
    isa: Isa,
    s: Wino,
    u_dx: &[PackedA],
    d: &[f32],
    buf: &mut [f32],
    dx: &mut [f32],
) {
    let per = s.images_per_item();
    let (d_len, dx_len) = (s.c_in * s.h * s.w, s.c_out * s.h * s.w);
    for (dx_i, d_i) in dx.chunks_mut(per * dx_len).zip(d.chunks(per * d_len)) {
        let imgs = pad_inputs(isa, d_i, s, buf);
        let (dp, vm) = buf.split_at_mut(s.inputs_len());
        convolve(isa, s, u_dx, imgs, dp, vm, None, dx_i);
    }
}

/// The filter gradient of a group of images x (n, c_in, h, w) with output gradients
/// d (n, c_out, h, w): dU summed over all their tiles, left at `grad_u` in `buf` for
/// `finish_filter_grad`.
pub(super) fn filter_grad(isa: Isa, s: Wino, x: &[f32], d: &[f32], buf: &mut [f32]) {
    let (rest, du) = buf[..s.grad_u().end].split_at_mut(s.grad_u().start);
    du.fill(0.0);
    let per = s.images_per_grad();
    let (x_len, d_len) = (s.c_in * s.h * s.w, s.c_out * s.h * s.w);
    for (x_i, d_i) in x.chunks(per * x_len).zip(d.chunks(per * d_len)) {
        let imgs = pad_inputs(isa, x_i, s, rest);
        let (xp, vm) = rest.split_at_mut(s.grad_inputs_len());
        accumulate_grad(isa, s, imgs, xp, d_i, vm, du);
    }
}
