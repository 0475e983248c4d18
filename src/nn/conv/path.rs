//! Which way a convolution layer runs, chosen once when the layer is built from its geometry,
//! its float type and the CPU, and printed by `convtop inspect`.

use std::fmt;

use super::ConvGeom;
use super::winograd::Wino;
use crate::nn::gemm::Float;
use crate::nn::kernel::Isa;
use crate::nn::spec::{LayerSpec, PlannedLayer};

/// A layer's path. The vector-kernel paths hold the `Isa` they run with (holding one proves the
/// CPU has its instructions) and Winograd its tile plan; the buffers each path fills stay in
/// the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    /// 3×3, stride 1, pad 1 with at least 16 channels each way: Winograd tiles for the forward,
    /// dx and dW.
    Winograd { isa: Isa, tiles: Wino },
    /// Stride 1 where reading in place pays (see `ConvGeom::is_implicit`): the kernel reads the
    /// column matrix's rows straight out of a zero-padded image, so nothing is expanded k-fold.
    Implicit { isa: Isa },
    /// im2col, then the packed vector kernel (other strides, small maps with many filters).
    Packed { isa: Isa },
    /// im2col and matrixmultiply: f64 (the gradient checks) or a CPU without AVX2 or AVX-512.
    Generic,
}

impl ConvPath {
    /// The path for a layer of geometry `g` with `c_out` filters in `F`, on this CPU.
    pub fn choose<F: Float>(g: &ConvGeom, c_out: usize) -> ConvPath {
        let Some(isa) = F::as_f32s(&[F::zero()]).and_then(|_| Isa::detect()) else {
            return ConvPath::Generic;
        };
        if let Some(tiles) = Wino::of_layer(g, c_out) {
            ConvPath::Winograd { isa, tiles }
        } else if g.is_implicit(c_out) {
            ConvPath::Implicit { isa }
        } else {
            ConvPath::Packed { isa }
        }
    }

    /// The path a planned layer gets in f32 on this CPU (what `convtop inspect` shows); None
    /// for any layer but a convolution.
    pub fn of_planned(pl: &PlannedLayer) -> Option<ConvPath> {
        let LayerSpec::Conv {
            kh,
            kw,
            stride,
            pad,
            ..
        } = pl.spec
        else {
            return None;
        };
        let ([c_in, h, w], [c_out, oh, ow]) = (pl.in_shape, pl.info.out_shape);
        let geom = ConvGeom {
            c_in,
            h,
            w,
            kh,
            kw,
            stride,
            pad,
            oh,
            ow,
        };
        Some(ConvPath::choose::<f32>(&geom, c_out))
    }

    /// The vector kernel's instructions, on every path but `Generic`.
    pub fn isa(self) -> Option<Isa> {
        match self {
            ConvPath::Winograd { isa, .. }
            | ConvPath::Implicit { isa }
            | ConvPath::Packed { isa } => Some(isa),
            ConvPath::Generic => None,
        }
    }

    /// Winograd's tile plan, on that path.
    pub(super) fn winograd(self) -> Option<Wino> {
        match self {
            ConvPath::Winograd { tiles, .. } => Some(tiles),
            _ => None,
        }
    }

    pub fn is_implicit(self) -> bool {
        matches!(self, ConvPath::Implicit { .. })
    }
}

impl fmt::Display for ConvPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let isa = |isa: &Isa| if isa.has_avx512() { "avx512" } else { "avx2" };
        match self {
            ConvPath::Winograd { isa: i, .. } => write!(f, "winograd {}", isa(i)),
            ConvPath::Implicit { isa: i } => write!(f, "implicit {}", isa(i)),
            ConvPath::Packed { isa: i } => write!(f, "im2col {}", isa(i)),
            ConvPath::Generic => write!(f, "im2col matrixmultiply"),
        }
    }
}
