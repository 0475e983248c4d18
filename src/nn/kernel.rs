//! An f32 matrix multiply shaped for convolutions: `c (m, n) = a (m, k) · b (k, n) (+ c)`, with
//! `a` small (filters) and packed once, and `b` read in place, row by row, NR columns at a
//! time, each row from its own offset (`Rows`): a padded image's rows are a convolution's
//! column matrix without building it, so nothing large is copied:
//! matrixmultiply, general-purpose, packs `b` on every call, and for the few-filter layers of
//! the presets that copy costs as much as the arithmetic (`cargo bench --bench layers`).
//!
//! The micro-kernel keeps an MR × NR block of `c` in registers and is plain Rust over fixed-size
//! arrays; compiled under `avx512f` or `avx2,fma` (detected at run time) it vectorises to fused
//! multiply-adds. Without either, callers use matrixmultiply.

mod dots;
mod drive;
mod simd;

pub use dots::{Segs, gemm_nt, gemm_nt_segs};

use drive::drive;

/// A row-major matrix `a (m, k)` (any strides) copied into panels of MR rows: panel i holds,
/// for each t in 0..k, `a[i·MR .. i·MR + MR][t]` contiguously, rows past m as zeros.
#[derive(Debug, Clone, Default)]
pub struct PackedA {
    data: Vec<f32>, // (⌈m/MR⌉, k, MR)
    m: usize,
    k: usize,
    mr: usize,
}

/// Floats from which `PackedA::pack` runs its panels in parallel (vggish's largest filters are
/// 147,456; a per-image dout of 8,192 stays on its thread).
const PACK_PARALLEL_MIN: usize = 32 * 1024;

impl PackedA {
    /// Packs `a` whose element (i, t) is `a[i·rs + t·cs]`, for the kernel `isa` will run.
    pub fn pack(&mut self, isa: Isa, a: &[f32], m: usize, k: usize, rs: usize, cs: usize) {
        let mr = isa.mr();
        self.m = m;
        self.k = k;
        self.mr = mr;
        let panels = m.div_ceil(mr);
        self.data.clear();
        self.data.resize(panels * k * mr, 0.0);
        let fill = |(pi, panel): (usize, &mut [f32])| {
            let rows = (m - pi * mr).min(mr);
            for (t, dst) in panel.chunks_exact_mut(mr).enumerate() {
                for (r, d) in dst[..rows].iter_mut().enumerate() {
                    *d = a[(pi * mr + r) * rs + t * cs];
                }
            }
        };
        // a whole layer's filters are packed once a step, outside the per-image parallel loops:
        // spread over the threads when large, so the others do not wait for one
        if self.data.len() >= PACK_PARALLEL_MIN {
            use rayon::prelude::*;
            self.data
                .par_chunks_exact_mut(k * mr)
                .enumerate()
                .for_each(fill);
        } else {
            self.data
                .chunks_exact_mut(k * mr)
                .enumerate()
                .for_each(fill);
        }
    }
}

/// Which vector instructions the kernel runs with. Only `detect` makes one, so holding an `Isa`
/// proves the CPU has its instructions (what makes calling the kernel sound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(Kind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Avx512,
    Avx2,
}

const MR_512: usize = 8;
const NR_512: usize = 32;
const MR_256: usize = 6;
const NR_256: usize = 16;

impl Isa {
    /// The best this CPU offers, or None (then callers fall back to matrixmultiply).
    /// `CONVTOP_NO_KERNEL=1` says None, `CONVTOP_KERNEL=avx2` avoids avx512 (to compare them).
    pub fn detect() -> Option<Isa> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("CONVTOP_NO_KERNEL").is_some() {
                return None;
            }
            let has_avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let wants_avx2 = std::env::var_os("CONVTOP_KERNEL").is_some_and(|v| v == "avx2");
            if has_avx2 && !wants_avx2 && is_x86_feature_detected!("avx512f") {
                return Some(Isa(Kind::Avx512));
            }
            if has_avx2 {
                return Some(Isa(Kind::Avx2));
            }
        }
        None
    }

    /// Whether this is the avx512 kernel (the Winograd transforms take their width from it).
    pub fn has_avx512(self) -> bool {
        self.0 == Kind::Avx512
    }

    fn mr(self) -> usize {
        match self.0 {
            Kind::Avx512 => MR_512,
            Kind::Avx2 => MR_256,
        }
    }

    /// Half the kernel's panel of columns (16 with avx512, 8 with avx2): a `Cols::Grid`'s
    /// width must be a multiple of it.
    pub fn half_panel(self) -> usize {
        match self.0 {
            Kind::Avx512 => NR_512 / 2,
            Kind::Avx2 => NR_256 / 2,
        }
    }
}

/// What the kernel does with the `c` it finds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Store<'a> {
    /// c = a·b
    Overwrite,
    /// c += a·b
    Accumulate,
    /// c[i][j] = bias[i] + a·b
    Bias(&'a [f32]),
}

/// Where row t of a `b` operand starts: `t·ld`, or at a listed offset (a convolution's rows
/// read straight from a zero-padded image: row (ci, ki, kj) starts at ci·hp·wp + ki·wp + kj).
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    Strided(usize),
    At(&'a [usize]),
}

impl Rows<'_> {
    #[inline(always)]
    fn start(self, t: usize) -> usize {
        match self {
            Rows::Strided(ld) => t * ld,
            Rows::At(offsets) => offsets[t],
        }
    }

    /// The end of the furthest of `count` rows of `len` values (for bounds checks).
    fn end(self, count: usize, len: usize) -> usize {
        match self {
            _ if count == 0 => 0,
            Rows::Strided(ld) => (count - 1) * ld + len,
            Rows::At(offsets) => offsets[..count].iter().max().map_or(0, |m| m + len),
        }
    }
}

/// Where column j of a `b` operand lies from the start of its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cols {
    /// At j.
    Plain,
    /// On an output grid `width` wide read from a padded image whose rows are `stride` apart:
    /// at (j / width)·stride + j % width. The padded width's extra columns, which the kernel
    /// would otherwise compute and throw away, are skipped.
    Grid { width: usize, stride: usize },
}

impl Cols {
    #[inline(always)]
    fn at(self, j: usize) -> usize {
        match self {
            Cols::Plain => j,
            Cols::Grid { width, stride } => j / width * stride + j % width,
        }
    }
}

/// `c (m, n) ⟵ a · b` where `b`'s row t, columns j, is `b[rows.start(t) + j]`, `c`'s is
/// `c[i·ldc + j]`.
///
/// # Panics
/// If `b` or `c` is too short for the shapes and strides, or `a` was packed for another shape.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed(
    isa: Isa,
    a: &PackedA,
    n: usize,
    b: &[f32],
    rows: Rows,
    c: &mut [f32],
    ldc: usize,
    store: Store,
) {
    gemm_packed_cols(isa, a, n, b, rows, Cols::Plain, c, ldc, store);
}

/// `gemm_packed` with `b`'s column j at `b[rows.start(t) + cols.at(j)]`.
///
/// # Panics
/// As `gemm_packed`, and if a `Cols::Grid` is not a whole number of half panels wide
/// (`Isa::half_panel`) or its rows overlap.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_cols(
    isa: Isa,
    a: &PackedA,
    n: usize,
    b: &[f32],
    rows: Rows,
    cols: Cols,
    c: &mut [f32],
    ldc: usize,
    store: Store,
) {
    let (m, k) = (a.m, a.k);
    if m == 0 || n == 0 {
        return;
    }
    if let Cols::Grid { width, stride } = cols {
        assert!(
            width > 0 && width.is_multiple_of(isa.half_panel()) && stride >= width,
            "gemm_packed: a grid {width} wide (rows {stride} apart) for half panels of {}",
            isa.half_panel()
        );
    }
    assert_eq!(a.mr, isa.mr(), "a packed for another kernel");
    if let Rows::At(offsets) = rows {
        assert!(
            offsets.len() >= k,
            "gemm_packed: fewer row offsets than rows"
        );
    }
    assert!(
        b.len() >= rows.end(k, cols.at(n - 1) + 1),
        "gemm_packed: b too short"
    );
    assert!(c.len() >= (m - 1) * ldc + n, "gemm_packed: c too short");
    if let Store::Bias(bias) = store {
        assert!(bias.len() >= m, "gemm_packed: bias too short");
    }
    #[cfg(target_arch = "x86_64")]
    match isa.0 {
        // SAFETY: an `Isa` is only made by `detect`, after it found avx512f, avx2 and fma on
        // this CPU; the function itself is safe code compiled for those features.
        Kind::Avx512 => unsafe { run_avx512(a, n, b, (rows, cols), c, ldc, store) },
        // SAFETY: as above, `detect` found avx2 and fma.
        Kind::Avx2 => unsafe { run_avx2(a, n, b, (rows, cols), c, ldc, store) },
    }
}

/// Where `b`'s rows start and where its columns lie in them.
type Layout<'a> = (Rows<'a>, Cols);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn run_avx512(a: &PackedA, n: usize, b: &[f32], l: Layout, c: &mut [f32], ldc: usize, s: Store) {
    drive::<MR_512, NR_512>(a, n, b, l, c, ldc, s);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(a: &PackedA, n: usize, b: &[f32], l: Layout, c: &mut [f32], ldc: usize, s: Store) {
    drive::<MR_256, NR_256>(a, n, b, l, c, ldc, s);
}

/// `rows` rows of `len` floats from `src` (row stride ss) into `dst` (row stride ds): with
/// avx512, masked vector moves instead of a memcpy call per short row.
///
/// # Panics
/// If a row falls outside `src` or `dst`.
pub fn copy_rows(
    isa: Isa,
    src: &[f32],
    ss: usize,
    dst: &mut [f32],
    ds: usize,
    rows: usize,
    len: usize,
) {
    if rows == 0 || len == 0 {
        return;
    }
    assert!(
        (rows - 1) * ss + len <= src.len(),
        "copy_rows: src too short"
    );
    assert!(
        (rows - 1) * ds + len <= dst.len(),
        "copy_rows: dst too short"
    );
    #[cfg(target_arch = "x86_64")]
    if isa.0 == Kind::Avx512 {
        // SAFETY: `detect` found avx512f; the asserts above bound every row; dst is a distinct
        // &mut, so the ranges cannot overlap.
        unsafe { simd::copy_rows(src.as_ptr(), ss, dst.as_mut_ptr(), ds, rows, len) };
        return;
    }
    for r in 0..rows {
        dst[r * ds..r * ds + len].copy_from_slice(&src[r * ss..r * ss + len]);
    }
}

#[cfg(test)]
mod tests;
