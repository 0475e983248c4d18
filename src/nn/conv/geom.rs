//! A convolution's geometry and the sizes and choices that follow from it.

use crate::nn::kernel::{Cols, Isa};

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
    /// A stride-1 layer whose output rows are whole half panels of the kernel: its output read
    /// as a grid over the padded image (`Cols::Grid`), so the kernel computes no padded-width
    /// columns to throw away (a quarter of the work for 16 wide with pad 2).
    pub(super) fn output_grid(&self, isa: Isa) -> Option<Cols> {
        (self.stride == 1 && self.ow.is_multiple_of(isa.half_panel())).then_some(Cols::Grid {
            width: self.ow,
            stride: self.padded_w(),
        })
    }

    /// The same for dx computed as a convolution of the padded dout (`dout_padded`).
    pub(super) fn input_grid(&self, isa: Isa) -> Option<Cols> {
        (self.stride == 1 && self.w.is_multiple_of(isa.half_panel())).then_some(Cols::Grid {
            width: self.w,
            stride: self.dout_padded().1,
        })
    }

    pub(super) fn k(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    pub(super) fn p(&self) -> usize {
        self.oh * self.ow
    }
    pub(super) fn image(&self) -> usize {
        self.c_in * self.h * self.w
    }
    pub(super) fn padded_w(&self) -> usize {
        self.w + 2 * self.pad
    }
    /// A zero-padded image's length, with kw − 1 zeros of slack after it: the kernels read
    /// whole padded-width rows from every row start, the last of which runs that far past.
    pub(super) fn padded_len(&self) -> usize {
        self.c_in * (self.h + 2 * self.pad) * self.padded_w() + self.kw
    }
    /// The output grid as wide as the padded image, (c_out, oh, padded_w), per filter.
    pub(super) fn wide_p(&self) -> usize {
        self.oh * self.padded_w()
    }
    /// Stride 1 and worth reading in place. The implicit grid is as wide as the padded image
    /// and rounded up to whole 32-column tiles; im2col's is exactly oh·ow but costs a copy of
    /// about one tile-row multiply-add per column value (measured: cifar's 20-filter layers lose
    /// 30% through im2col, vggish's 8×8 128-filter ones gain 5–10%, since the kernel's work per
    /// column grows with the filters and the copy's does not). Counted per row of the columns,
    /// in 16-lane multiply-adds: `(c_out/16)·columns` + `columns` for the copy.
    pub(super) fn is_implicit(&self, c_out: usize) -> bool {
        let tiles = |n: usize| n.div_ceil(32) * 32;
        let lanes = c_out.div_ceil(8) * 8;
        let extra = (tiles(self.wide_p()) - tiles(self.p()).min(tiles(self.wide_p()))) * lanes;
        self.stride == 1 && extra <= 16 * self.p()
    }
    /// dx as a stride-1 convolution of dout padded by (kh − 1 − pad, kw − 1 − pad) with the
    /// flipped filters: possible when the padding is at most the kernel less one.
    pub(super) fn has_dx_as_conv(&self) -> bool {
        self.stride == 1 && self.pad < self.kh && self.pad < self.kw
    }
    /// That padded dout's (height, width) = (h + kh − 1, w + kw − 1).
    pub(super) fn dout_padded(&self) -> (usize, usize) {
        (self.h + self.kh - 1, self.w + self.kw - 1)
    }
    /// A padded dout's length for c_out filters, with kw − 1 zeros of slack (see padded_len).
    pub(super) fn dout_padded_len(&self, c_out: usize) -> usize {
        let (hq, wq) = self.dout_padded();
        c_out * hq * wq + self.kw
    }
    /// The output columns ox whose input column ox·stride + kj − pad lies inside 0..w.
    pub(super) fn valid_ox(&self, kj: usize) -> (usize, usize) {
        let lo = self.pad.saturating_sub(kj).div_ceil(self.stride);
        let hi = (self.w + self.pad)
            .saturating_sub(kj)
            .div_ceil(self.stride)
            .min(self.ow);
        (lo.min(hi), hi)
    }
}
