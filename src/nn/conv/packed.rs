//! The f32 paths through the conv kernel (`super::super::kernel`): stride-1 layers read their
//! column matrix straight from a zero-padded image; other strides, and the small maps
//! `is_implicit` turns away, go through im2col.

use rayon::prelude::*;

use super::winograd::{self, Wino};
use super::{Conv2d, ConvGeom, Scratch, col2im, im2col, lock, slice};
use crate::nn::gemm::Float;
use crate::nn::kernel::{
    Isa, Rows, Segs, Store, copy_rows, gemm_nt, gemm_nt_segs, gemm_packed, gemm_packed_cols,
};

/// Σ d in 16 interleaved partial sums: independent adds the compiler puts in vectors, where one
/// running sum is a chain of dependent adds (a third of cudaconvnet conv1's dW went to its bias).
fn sum(d: &[f32]) -> f32 {
    let (chunks, tail) = d.as_chunks::<16>();
    let mut acc = [0.0f32; 16];
    for c in chunks {
        acc.iter_mut().zip(c).for_each(|(a, v)| *a += v);
    }
    acc.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

/// Copies image x (c_in, h, w) into `xp` zero-padded to (c_in, h + 2·pad, w + 2·pad), the
/// slack after it zeroed too.
pub(super) fn pad_image(isa: Isa, x: &[f32], g: &ConvGeom, xp: &mut [f32]) {
    let (hp, wp) = (g.h + 2 * g.pad, g.padded_w());
    let xp = &mut xp[..g.padded_len()];
    xp.fill(0.0);
    for (ci, plane) in x.chunks_exact(g.h * g.w).enumerate() {
        let at = ci * hp * wp + g.pad * wp + g.pad;
        copy_rows(isa, plane, g.w, &mut xp[at..], wp, g.h, g.w);
    }
}

/// dout (c_out, oh, ow) into `dp` zero-padded to (c_out, h + kh − 1, w + kw − 1), each plane
/// offset by (kh − 1 − pad, kw − 1 − pad), the slack after it zeroed too.
fn pad_dout(isa: Isa, d: &[f32], g: &ConvGeom, dp: &mut [f32]) {
    let (hq, wq) = g.dout_padded();
    let c_out = d.len() / (g.oh * g.ow).max(1);
    let dp = &mut dp[..g.dout_padded_len(c_out)];
    dp.fill(0.0);
    let (top, left) = (g.kh - 1 - g.pad, g.kw - 1 - g.pad);
    for (co, plane) in d.chunks_exact(g.oh * g.ow).enumerate() {
        let at = co * hq * wq + top * wq + left;
        copy_rows(isa, plane, g.ow, &mut dp[at..], wq, g.oh, g.ow);
    }
}

/// The valid ow columns of each wide output row (c_out, oh, padded_w) into out (c_out, oh, ow).
fn narrow_rows(isa: Isa, wide: &[f32], g: &ConvGeom, out: &mut [f32]) {
    let rows = out.len() / g.ow.max(1);
    copy_rows(isa, wide, g.padded_w(), out, g.ow, rows, g.ow);
}

/// dout (c_out, oh, ow) onto the wide grid (c_out, oh, padded_w), zeros in the extra columns
/// (so the positions that are no output add nothing to dW).
fn widen_rows(isa: Isa, d: &[f32], g: &ConvGeom, wide: &mut [f32]) {
    wide.fill(0.0);
    let rows = d.len() / g.ow.max(1);
    copy_rows(isa, d, g.ow, wide, g.padded_w(), rows, g.ow);
}

/// A zero-padded image `xp` (see `pad_image`) as rows (p, k): row q is the receptive field of
/// output position q in the order (ci, ki, kj). Padding first leaves no bounds to test: every
/// row is kh·c_in straight copies of kw values, which for the usual widths are fixed-size moves
/// (a memcpy call per 5 values cost a third of cudaconvnet conv3's dW).
fn im2row_padded(xp: &[f32], g: &ConvGeom, rows: &mut [f32]) {
    match g.kw {
        3 => im2row_fixed::<3>(xp, g, rows),
        5 => im2row_fixed::<5>(xp, g, rows),
        7 => im2row_fixed::<7>(xp, g, rows),
        _ => im2row_any(xp, g, rows),
    }
}

fn im2row_fixed<const KW: usize>(xp: &[f32], g: &ConvGeom, rows: &mut [f32]) {
    let (k, plane, wp) = (g.k(), (g.h + 2 * g.pad) * g.padded_w(), g.padded_w());
    for (q, row) in rows.chunks_exact_mut(k).take(g.p()).enumerate() {
        let corner = (q / g.ow) * g.stride * wp + (q % g.ow) * g.stride;
        let (taps, _) = row.as_chunks_mut::<KW>();
        for (t, dst) in taps.iter_mut().enumerate() {
            let (ci, ki) = (t / g.kh, t % g.kh);
            let at = corner + ci * plane + ki * wp;
            *dst = *xp[at..at + KW].as_array::<KW>().expect("KW values");
        }
    }
}

fn im2row_any(xp: &[f32], g: &ConvGeom, rows: &mut [f32]) {
    let (k, kw) = (g.k(), g.kw);
    let (plane, wp) = ((g.h + 2 * g.pad) * g.padded_w(), g.padded_w());
    for (q, row) in rows.chunks_exact_mut(k).take(g.p()).enumerate() {
        let corner = (q / g.ow) * g.stride * wp + (q % g.ow) * g.stride;
        for (t, dst) in row.chunks_exact_mut(kw).enumerate() {
            let (ci, ki) = (t / g.kh, t % g.kh);
            dst.copy_from_slice(&xp[corner + ci * plane + ki * wp..][..kw]);
        }
    }
}

/// col2im for stride 1 without a bounds test: each column-matrix row (ci, ki, kj) adds oh rows
/// of ow values into a zero-padded gradient `dxp` at `rows[t]`, whose interior is then dx.
fn col2im_padded(
    isa: Isa,
    dcol: &[f32],
    g: &ConvGeom,
    rows: &[usize],
    dxp: &mut [f32],
    dx: &mut [f32],
) {
    let (p, wp) = (g.p(), g.padded_w());
    let dxp = &mut dxp[..g.padded_len()];
    dxp.fill(0.0);
    for (&start, src) in rows.iter().zip(dcol.chunks_exact(p)) {
        for (oy, s) in src.chunks_exact(g.ow).enumerate() {
            let d = &mut dxp[start + oy * wp..][..g.ow];
            d.iter_mut().zip(s).for_each(|(d, s)| *d += s);
        }
    }
    let plane = (g.h + 2 * g.pad) * wp;
    for (ci, dst) in dx.chunks_exact_mut(g.h * g.w).enumerate() {
        let at = ci * plane + g.pad * wp + g.pad;
        copy_rows(isa, &dxp[at..], wp, dst, g.w, g.h, g.w);
    }
}

impl<F: Float> Conv2d<F> {
    /// The f32 forward through the packed kernel: out_img = bias + W · columns(x_img). With
    /// stride 1 the kernel reads the columns straight out of a zero-padded copy of the image
    /// (row (ci, ki, kj) of the column matrix is the padded image from ci·hp·wp + ki·wp + kj on,
    /// over an output grid as wide as the padded image), so nothing is expanded k-fold; other
    /// strides go through im2col. None when F is not f32 (nothing written).
    pub(super) fn forward_packed(&mut self, isa: Isa, out: &mut [F]) -> Option<()> {
        let g = self.geom;
        let (k, p, c_out) = (g.k(), g.p(), self.c_out);
        let is_implicit = self.path.is_implicit();
        if g.stride == 1 {
            self.padded_rows();
        }
        let out = F::as_f32s_mut(out)?;
        let xs = F::as_f32s(slice(&self.x))?;
        let bs = F::as_f32s(slice(&self.b))?;
        if let Some(wg) = self.winograd() {
            let ws = F::as_f32s(slice(&self.w))?;
            winograd::transform_filters(isa, ws, wg, false, &mut self.wino);
            winograd::forward(isa, wg, &self.wino, xs, bs, &self.scratch, out);
            return Some(());
        }
        self.w_packed
            .pack(isa, F::as_f32s(slice(&self.w))?, c_out, k, k, 1);
        let (w_packed, scratch) = (&self.w_packed, &self.scratch);
        if is_implicit {
            let rows = &self.rows;
            let pw = g.wide_p();
            let grid = g.output_grid(isa);
            let bias = Store::Bias(bs);
            out.par_chunks_mut(c_out * p)
                .zip(xs.par_chunks(g.image()))
                .for_each(|(out_img, x_img)| {
                    let mut s = lock(scratch);
                    let Scratch { col, dcol, .. } = &mut *s;
                    let (Some(xpad), Some(wide)) = (F::as_f32s_mut(col), F::as_f32s_mut(dcol))
                    else {
                        return;
                    };
                    pad_image(isa, x_img, &g, xpad);
                    if let Some(grid) = grid {
                        // straight into the output: the padded width's columns never computed
                        let at = Rows::At(rows);
                        gemm_packed_cols(isa, w_packed, p, xpad, at, grid, out_img, p, bias);
                        return;
                    }
                    let wide = &mut wide[..c_out * pw];
                    gemm_packed(isa, w_packed, pw, xpad, Rows::At(rows), wide, pw, bias);
                    narrow_rows(isa, wide, &g, out_img);
                });
            return Some(());
        }
        let rows = &self.rows;
        out.par_chunks_mut(c_out * p)
            .zip(xs.par_chunks(g.image()))
            .for_each(|(out_img, x_img)| {
                let mut s = lock(scratch);
                let Scratch { col, dcol, .. } = &mut *s;
                if let (Some(col), Some(xpad)) = (F::as_f32s_mut(col), F::as_f32s_mut(dcol)) {
                    if g.stride == 1 {
                        // each column-matrix row is oh rows of ow values of the padded image
                        pad_image(isa, x_img, &g, xpad);
                        for (&start, dst) in rows.iter().zip(col.chunks_exact_mut(p)) {
                            copy_rows(isa, &xpad[start..], g.padded_w(), dst, g.ow, g.oh, g.ow);
                        }
                    } else {
                        im2col(x_img, &g, col);
                    }
                    let b = Store::Bias(bs);
                    gemm_packed(isa, w_packed, p, col, Rows::Strided(p), out_img, p, b);
                }
            });
        Some(())
    }

    /// Where each of the k column-matrix rows (ci, ki, kj) starts in a padded image.
    fn padded_rows(&mut self) {
        let g = self.geom;
        if self.rows.len() != g.k() {
            let (hp, wp) = (g.h + 2 * g.pad, g.padded_w());
            self.rows = (0..g.k())
                .map(|t| {
                    let (ci, ki, kj) = (t / (g.kh * g.kw), t / g.kw % g.kh, t % g.kw);
                    ci * hp * wp + ki * wp + kj
                })
                .collect();
        }
    }

    /// W regrouped as (c_in, c_out·kh·kw) and packed, and where each (co, ki, kj) row starts in
    /// a padded dout: (kh − 1 − ki, kw − 1 − kj) from its plane's corner (the flip).
    fn flip_for_dx(&mut self, isa: Isa) -> Option<()> {
        let g = self.geom;
        let (c_out, khw) = (self.c_out, g.kh * g.kw);
        let w = F::as_f32s(slice(&self.w))?;
        let mut regrouped = vec![0.0f32; g.c_in * c_out * khw];
        for (co, filter) in w.chunks_exact(g.c_in * khw).enumerate() {
            for (ci, taps) in filter.chunks_exact(khw).enumerate() {
                let at = ci * c_out * khw + co * khw;
                regrouped[at..at + khw].copy_from_slice(taps);
            }
        }
        self.w_flip
            .pack(isa, &regrouped, g.c_in, c_out * khw, c_out * khw, 1);
        if self.rows_dx.len() != c_out * khw {
            let (hq, wq) = g.dout_padded();
            self.rows_dx = (0..c_out * khw)
                .map(|t| {
                    let (co, ki, kj) = (t / khw, t / g.kw % g.kh, t % g.kw);
                    co * hq * wq + (g.kh - 1 - ki) * wq + (g.kw - 1 - kj)
                })
                .collect();
        }
        Some(())
    }

    /// The f32 backward through the kernels, over the same fixed split of the batch as
    /// `backward_gemm`: dW += dout_img · columnsᵀ (dot products; with stride 1 over the padded
    /// image and dout spread onto the padded-width grid, else over im2col), dcol = Wᵀ · dout_img
    /// then col2im. None when F is not f32 (nothing written).
    pub(super) fn backward_packed(
        &mut self,
        isa: Isa,
        ds: &[F],
        dx: &mut [F],
        need_dx: bool,
    ) -> Option<()> {
        let g = self.geom;
        let (k, p, c_out) = (g.k(), g.p(), self.c_out);
        let ds = F::as_f32s(ds)?;
        let dx = F::as_f32s_mut(dx)?;
        let is_implicit = self.path.is_implicit();
        if g.stride == 1 {
            self.padded_rows();
        }
        let wino_dw = self.winograd();
        let wino_dx = wino_dw.filter(|_| need_dx).map(Wino::transposed);
        // the direct paths below take dx only where Winograd does not
        let need_dx = need_dx && wino_dx.is_none();
        let is_dx_conv = need_dx && is_implicit && g.has_dx_as_conv();
        if let Some(wd) = wino_dx {
            let ws = F::as_f32s(slice(&self.w))?;
            winograd::transform_filters(isa, ws, wd, true, &mut self.wino_dx);
        } else if is_dx_conv {
            self.flip_for_dx(isa)?;
        } else if need_dx {
            // Wᵀ (k, c_out): element (kk, co) at w[co·k + kk]
            self.wt_packed
                .pack(isa, F::as_f32s(slice(&self.w))?, k, c_out, 1, k);
        }
        let (rows, rows_dx, w_flip) = (&self.rows, &self.rows_dx, &self.w_flip);
        let xs = F::as_f32s(slice(&self.x))?;
        let (wt_packed, u_dx) = (&self.wt_packed, &self.wino_dx);
        let n = xs.len() / g.image().max(1);
        let group = n.div_ceil(self.scratch.len().max(1)).max(1);
        let pw = g.wide_p();
        dx.par_chunks_mut(group * g.image())
            .zip(xs.par_chunks(group * g.image()))
            .zip(ds.par_chunks(group * c_out * p))
            .zip(self.scratch.par_iter_mut())
            .for_each(|(((dx_grp, x_grp), d_grp), scratch)| {
                let s = scratch.get_mut().unwrap_or_else(|e| e.into_inner());
                let Scratch {
                    col,
                    dcol,
                    dw,
                    db,
                    dout,
                    wino,
                } = s;
                let (Some(col), Some(dcol), Some(dw), Some(db)) = (
                    F::as_f32s_mut(col),
                    F::as_f32s_mut(dcol),
                    F::as_f32s_mut(dw),
                    F::as_f32s_mut(db),
                ) else {
                    return;
                };
                if let (Some(wd), Some(buf)) = (wino_dx, F::as_f32s_mut(wino)) {
                    winograd::input_grad(isa, wd, u_dx, d_grp, buf, dx_grp);
                }
                if let (Some(wg), Some(buf)) = (wino_dw, F::as_f32s_mut(wino)) {
                    winograd::filter_grad(isa, wg, x_grp, d_grp, buf);
                }
                let images = dx_grp
                    .chunks_mut(g.image())
                    .zip(x_grp.chunks(g.image()))
                    .zip(d_grp.chunks(c_out * p));
                for ((dx_img, x_img), d_img) in images {
                    for (db, d) in db.iter_mut().zip(d_img.chunks_exact(p)) {
                        *db += sum(d);
                    }
                    // dW (c_out, k) += dout (c_out, p) · columnsᵀ
                    if wino_dw.is_some() {
                        // done above
                    } else if is_implicit {
                        pad_image(isa, x_img, &g, col);
                        if g.output_grid(isa).is_some() {
                            // dot products over dout's rows as they are, each against its row
                            // of the padded image: no padded-width zeros multiplied
                            let runs = Segs {
                                count: g.oh,
                                len: g.ow,
                                a_step: g.ow,
                                b_step: g.padded_w(),
                            };
                            let at = Rows::At(rows);
                            gemm_nt_segs(isa, c_out, k, runs, d_img, p, col, at, dw, k);
                        } else {
                            let wide = &mut dcol[..c_out * pw];
                            widen_rows(isa, d_img, &g, wide);
                            gemm_nt(isa, c_out, k, pw, wide, pw, col, Rows::At(rows), dw, k);
                        }
                    } else {
                        // the tile kernel over the image's rows (p, k): p, short on small
                        // maps, runs down the tile's loop instead of being summed across
                        // vectors as dot products over columns would
                        pad_image(isa, x_img, &g, col);
                        im2row_padded(col, &g, dcol);
                        dout.pack(isa, d_img, c_out, p, p, 1);
                        let rows_q = Rows::Strided(k);
                        gemm_packed(isa, dout, k, dcol, rows_q, dw, k, Store::Accumulate);
                    }
                    if is_dx_conv {
                        // dx (c_in, h, w) = flipped W ⋆ dout padded: the forward's kernel again
                        let (_, wq) = g.dout_padded();
                        pad_dout(isa, d_img, &g, col);
                        let rows_d = Rows::At(rows_dx);
                        if let Some(grid) = g.input_grid(isa) {
                            // straight into dx: the padded width's columns never computed
                            let (hw, put) = (g.h * g.w, Store::Overwrite);
                            gemm_packed_cols(isa, w_flip, hw, col, rows_d, grid, dx_img, hw, put);
                        } else {
                            let wide = &mut dcol[..g.c_in * g.h * wq];
                            let (hq, put) = (g.h * wq, Store::Overwrite);
                            gemm_packed(isa, w_flip, hq, col, rows_d, wide, hq, put);
                            copy_rows(isa, wide, wq, dx_img, g.w, g.c_in * g.h, g.w);
                        }
                    } else if need_dx {
                        let rows_d = Rows::Strided(p);
                        gemm_packed(isa, wt_packed, p, d_img, rows_d, dcol, p, Store::Overwrite);
                        if g.stride == 1 {
                            col2im_padded(isa, dcol, &g, rows, col, dx_img);
                        } else {
                            col2im(dcol, &g, dx_img);
                        }
                    }
                }
            });
        if let Some(wg) = wino_dw {
            // the groups' dU together into the first scratch's dW (summed with the rest later)
            let groups = n.div_ceil(group);
            let mut dus = Vec::with_capacity(groups);
            let mut dw_first = None;
            for s in self.scratch.iter_mut().take(groups) {
                let Scratch { dw, wino, .. } = s.get_mut().unwrap_or_else(|e| e.into_inner());
                dus.push(&F::as_f32s(wino)?[wg.grad_u()]);
                dw_first = dw_first.or(F::as_f32s_mut(dw));
            }
            if let Some(dw) = dw_first {
                winograd::finish_filter_grad(wg, &dus, dw);
            }
        }
        Some(())
    }
}
