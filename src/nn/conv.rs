//! Convolution lowered to matrix multiplication, one image at a time. In f32 on a CPU with
//! AVX2 or AVX-512, stride-1 layers never build the column matrix: the kernel reads its rows
//! straight from a zero-padded image (forward, dW), and dx is the same kind of convolution of the
//! padded output gradient with the flipped filters; other strides, and small maps with many
//! filters (where the padded-width grid wastes more than a copy costs), use im2col, the kernel
//! and col2im. In f64 (gradient checks) or without the kernel: im2col + matrixmultiply forward,
//! matrixmultiply + col2im backward. Images are spread over rayon's threads; each thread works
//! in its own scratch buffers, kept in the layer so that a training step allocates no columns.
//!
//! n = batch, c_in/c_out = channels, h w = input size, oh ow = output size, kh kw = kernel,
//! k = c_in·kh·kw (a column's length), p = oh·ow (columns per image).

use std::sync::Mutex;

use ndarray::{Array1, Array4};
use rayon::prelude::*;

use super::gemm::{Float, Op, gemm};
use super::kernel::PackedA;

mod columns;
mod geom;
mod packed;
mod path;
mod winograd;

pub use geom::ConvGeom;
pub use path::ConvPath;

use columns::{col2im, im2col};

/// One thread's working memory.
#[derive(Debug, Clone, Default)]
struct Scratch<F> {
    col: Vec<F>,   // (k, p): one image's columns, or the image zero-padded
    dcol: Vec<F>,  // (k, p): their gradient, or (c_out, oh, padded_w): an output on the wide grid
    dw: Vec<F>,    // (c_out, k): this thread's share of dW
    db: Vec<F>,    // (c_out)
    dout: PackedA, // f32 kernel, im2col layers: one image's dout (c_out, p) as the kernel's a
    wino: Vec<F>,  // Winograd layers: a work item's padded inputs and a block's V and M
}

#[derive(Debug)]
pub struct Conv2d<F: Float> {
    pub geom: ConvGeom,
    pub c_out: usize,
    pub w: Array4<F>,                // (c_out, c_in, kh, kw)
    pub b: Array1<F>,                // (c_out)
    pub dw: Array4<F>,               // (c_out, c_in, kh, kw)
    pub db: Array1<F>,               // (c_out)
    x: Array4<F>,                    // (n, c_in, h, w), saved by forward for backward
    cols: Vec<F>,                    // (n, k, p): x's columns, saved by forward if they fit
    cols_n: usize,                   // images in `cols` (0 = not saved: backward redoes im2col)
    scratch: Vec<Mutex<Scratch<F>>>, // one per rayon thread
    path: ConvPath,                  // chosen once, when the layer is built
    w_packed: PackedA,               // (c_out, k): W for the forward kernel
    wt_packed: PackedA,              // (k, c_out): Wᵀ for the input gradient
    rows: Vec<usize>,                // (k): where column-matrix row t starts in a padded image
    w_flip: PackedA,                 // (c_in, c_out·kh·kw): W regrouped for dx as a convolution
    rows_dx: Vec<usize>,             // (c_out·kh·kw): row starts, flipped, in a padded dout
    wino: Vec<PackedA>,              // Winograd layers: the 16 transformed filters U_ξ
    wino_dx: Vec<PackedA>,           // ... and those of dx as a convolution
}

/// Forward keeps the batch's columns for backward (no second im2col) only below this size, so a
/// big layer or batch costs its scratch buffers rather than (n, k, p) floats.
const SAVED_COLS_MAX_BYTES: usize = 32 << 20;

impl<F: Float> Clone for Conv2d<F> {
    fn clone(&self) -> Self {
        Conv2d {
            geom: self.geom,
            c_out: self.c_out,
            w: self.w.clone(),
            b: self.b.clone(),
            dw: self.dw.clone(),
            db: self.db.clone(),
            x: self.x.clone(),
            cols: Vec::new(),
            cols_n: 0,
            scratch: Vec::new(),
            path: self.path,
            w_packed: PackedA::default(),
            wt_packed: PackedA::default(),
            rows: Vec::new(),
            w_flip: PackedA::default(),
            rows_dx: Vec::new(),
            wino: Vec::new(),
            wino_dx: Vec::new(),
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
            cols: Vec::new(),
            cols_n: 0,
            scratch: Vec::new(),
            path: ConvPath::choose::<F>(&geom, c_out),
            w_packed: PackedA::default(),
            wt_packed: PackedA::default(),
            rows: Vec::new(),
            w_flip: PackedA::default(),
            rows_dx: Vec::new(),
            wino: Vec::new(),
            wino_dx: Vec::new(),
        }
    }

    /// One scratch a rayon thread; allocated on the first call (and when the pool changes).
    fn ensure_scratch(&mut self) {
        let threads = rayon::current_num_threads().max(1);
        if self.scratch.len() != threads {
            let (g, c_out) = (self.geom, self.c_out);
            let (k, p) = (g.k(), g.p());
            let wino = self.winograd().map_or(0, |s| {
                let dx = s.transposed().scratch_len();
                s.scratch_len().max(dx).max(s.grad_scratch_len())
            });
            self.scratch = (0..threads)
                .map(|_| {
                    Mutex::new(Scratch {
                        col: vec![
                            F::zero();
                            (k * p).max(g.padded_len()).max(g.dout_padded_len(c_out))
                        ],
                        dcol: vec![
                            F::zero();
                            (k * p)
                                .max(g.padded_len())
                                .max(c_out * g.wide_p())
                                .max(g.c_in * g.h * g.dout_padded().1)
                        ],
                        dw: vec![F::zero(); c_out * k],
                        db: vec![F::zero(); c_out],
                        dout: PackedA::default(),
                        wino: vec![F::zero(); wino],
                    })
                })
                .collect();
        }
    }

    /// The layer as Winograd runs it, when it does (f32 with the kernel, 3×3 pad 1 and enough
    /// channels: see `winograd`).
    fn winograd(&self) -> Option<winograd::Wino> {
        self.path.winograd()
    }

    /// The way this layer runs, chosen when it was built.
    pub fn path(&self) -> ConvPath {
        self.path
    }

    /// # Shapes
    /// - x:   (n, c_in, h, w)
    /// - out: (n, c_out, oh, ow), oh = ⌊(h + 2·pad − kh)/stride⌋ + 1
    pub fn forward(&mut self, x: Array4<F>) -> Array4<F> {
        self.forward_mode(x, true)
    }

    /// `forward` that, with `keep` false (evaluation), leaves what the last training forward
    /// saved for backward as it was and saves nothing of its own.
    pub fn forward_mode(&mut self, x: Array4<F>, keep: bool) -> Array4<F> {
        let x = if x.is_standard_layout() {
            x
        } else {
            x.as_standard_layout().into_owned()
        };
        if keep {
            self.x = x;
            return self.forward_saved(true);
        }
        let (trained_x, cols_n) = (std::mem::replace(&mut self.x, x), self.cols_n);
        let out = self.forward_saved(false);
        (self.x, self.cols_n) = (trained_x, cols_n);
        out
    }

    /// The forward of `self.x`; `may_save_cols`: keep the batch's columns for backward.
    fn forward_saved(&mut self, may_save_cols: bool) -> Array4<F> {
        let g = self.geom;
        let (n, k, p, c_out) = (self.x.dim().0, g.k(), g.p(), self.c_out);
        self.ensure_scratch();
        // out starts as the bias, then GEMM adds W·col (beta = 1)
        let mut out = super::zeros_par::<F>((n, c_out, g.oh, g.ow));
        self.cols_n = 0;
        if let Some(isa) = self.path.isa() {
            let out_s = out.as_slice_mut().expect("fresh array is contiguous");
            if self.forward_packed(isa, out_s).is_some() {
                return out;
            }
        }
        let (xs, ws, bs) = (slice(&self.x), slice(&self.w), slice(&self.b));
        let out_s = out.as_slice_mut().expect("fresh array is contiguous");
        // out_img (c_out, p) = bias + W (c_out, k) · col (k, p)
        let forward_image = |out_img: &mut [F], col: &[F]| {
            for (o, &b) in out_img.chunks_exact_mut(p).zip(bs) {
                o.fill(b);
            }
            gemm(c_out, k, p, ws, Op::N, col, Op::N, F::one(), out_img);
        };
        if may_save_cols && n * k * p * std::mem::size_of::<F>() <= SAVED_COLS_MAX_BYTES {
            self.cols.resize(n * k * p, F::zero());
            out_s
                .par_chunks_mut(c_out * p)
                .zip(xs.par_chunks(g.image()))
                .zip(self.cols.par_chunks_mut(k * p))
                .for_each(|((out_img, x_img), col)| {
                    im2col(x_img, &g, col);
                    forward_image(out_img, col);
                });
            self.cols_n = n;
        } else {
            let scratch = &self.scratch;
            out_s
                .par_chunks_mut(c_out * p)
                .zip(xs.par_chunks(g.image()))
                .for_each(|(out_img, x_img)| {
                    let mut s = lock(scratch);
                    im2col(x_img, &g, &mut s.col);
                    forward_image(out_img, &s.col);
                });
        }
        out
    }

    /// dout: (n, c_out, oh, ow) -> dx: (n, c_in, h, w); adds into self.dw, self.db.
    /// With `need_dx` false (the first layer) the input gradient is skipped and returned as zeros.
    pub fn backward(&mut self, dout: &Array4<F>, need_dx: bool) -> Array4<F> {
        let g = self.geom;
        let n = self.x.dim().0;
        self.ensure_scratch();
        let dout = dout.as_standard_layout();
        let ds = dout.as_slice().expect("standard layout is contiguous");
        let mut dx = super::zeros_par::<F>((n, g.c_in, g.h, g.w));
        for s in &mut self.scratch {
            let s = s.get_mut().unwrap_or_else(|e| e.into_inner());
            s.dw.fill(F::zero());
            s.db.fill(F::zero());
        }
        let is_packed_done = match self.path.isa() {
            Some(isa) => {
                let dx_s = dx.as_slice_mut().expect("fresh array is contiguous");
                self.backward_packed(isa, ds, dx_s, need_dx).is_some()
            }
            None => false,
        };
        if !is_packed_done {
            self.backward_gemm(ds, &mut dx, need_dx);
        }
        let dws = self.dw.as_slice_mut().expect("parameters are contiguous");
        for s in &mut self.scratch {
            let s = s.get_mut().unwrap_or_else(|e| e.into_inner());
            dws.iter_mut().zip(&s.dw).for_each(|(x, y)| *x += *y);
            self.db.iter_mut().zip(&s.db).for_each(|(x, y)| *x += *y);
        }
        dx
    }

    /// The general backward (any F): im2col (or the saved columns) and matrixmultiply.
    fn backward_gemm(&mut self, ds: &[F], dx: &mut Array4<F>, need_dx: bool) {
        let g = self.geom;
        let (n, k, p, c_out) = (self.x.dim().0, g.k(), g.p(), self.c_out);
        let (xs, ws) = (slice(&self.x), slice(&self.w));
        let saved = (self.cols_n == n).then_some(&self.cols);
        // a fixed split of the batch, one contiguous group of images a scratch, so the order in
        // which dW sums its images does not depend on scheduling: the same seed and thread count
        // give bit-identical gradients (exact resume)
        let group = n.div_ceil(self.scratch.len().max(1)).max(1);
        dx.as_slice_mut()
            .expect("fresh array is contiguous")
            .par_chunks_mut(group * g.image())
            .zip(xs.par_chunks(group * g.image()))
            .zip(ds.par_chunks(group * c_out * p))
            .zip(self.scratch.par_iter_mut())
            .enumerate()
            .for_each(|(gi, (((dx_grp, x_grp), d_grp), scratch))| {
                let s = scratch.get_mut().unwrap_or_else(|e| e.into_inner());
                let images = dx_grp
                    .chunks_mut(g.image())
                    .zip(x_grp.chunks(g.image()))
                    .zip(d_grp.chunks(c_out * p));
                for (jj, ((dx_img, x_img), d_img)) in images.enumerate() {
                    let j = gi * group + jj;
                    let col: &[F] = match saved {
                        Some(cols) => &cols[j * k * p..(j + 1) * k * p],
                        None => {
                            im2col(x_img, &g, &mut s.col);
                            &s.col
                        }
                    };
                    for (db, d) in s.db.iter_mut().zip(d_img.chunks_exact(p)) {
                        *db += d.iter().copied().sum::<F>();
                    }
                    // dW (c_out, k) += dout (c_out, p) · colᵀ (p, k)
                    gemm(c_out, p, k, d_img, Op::N, col, Op::T, F::one(), &mut s.dw);
                    if need_dx {
                        // dcol (k, p) = Wᵀ (k, c_out) · dout (c_out, p)
                        gemm(k, c_out, p, ws, Op::T, d_img, Op::N, F::zero(), &mut s.dcol);
                        col2im(&s.dcol, &g, dx_img);
                    }
                }
            });
    }

    pub fn zero_grad(&mut self) {
        self.dw.fill(F::zero());
        self.db.fill(F::zero());
    }
}

/// The calling rayon thread's scratch; a poisoned lock only means another image panicked, and
/// the buffers are overwritten before use anyway.
fn lock<F>(scratch: &[Mutex<Scratch<F>>]) -> std::sync::MutexGuard<'_, Scratch<F>> {
    let i = rayon::current_thread_index().unwrap_or(0) % scratch.len();
    scratch[i].lock().unwrap_or_else(|e| e.into_inner())
}

fn slice<F: Float, D: ndarray::Dimension>(a: &ndarray::Array<F, D>) -> &[F] {
    a.as_slice()
        .expect("layer arrays are kept in standard layout")
}

#[cfg(test)]
mod tests;
