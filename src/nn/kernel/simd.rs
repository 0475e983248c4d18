//! The kernels' vector code: the avx512 and avx2 tiles of `gemm_packed` and the row copies,
//! each compiled for its instructions and called only behind an `Isa`.

use super::{MR_256, MR_512, NR_256, Rows};

/// What `tile_512` does with each row r of its result in `out + r·ld`.
#[derive(Clone, Copy)]
pub(super) enum Put {
    /// out = acc
    Write,
    /// out += acc
    Add,
    /// out = bias[r] + acc
    Bias(*const f32),
}

/// The avx512 tile: 8 rows × 32 columns in 16 zmm registers, put straight from the registers
/// into rows `out + r·ld` (a whole tile of `c`, or a scratch block with ld = 32).
///
/// # Safety
/// avx512f present; `a` readable for k·8 floats, `b` for 16 from each row start and 16 from
/// `b_hi` past it (the tile's two halves of columns; 16 for 32 in a row), `out + r·ld`
/// readable and writable for 32 floats for r < 8 (and 8 bias values readable with `Put::Bias`);
/// with `Rows::At`, at least k offsets.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile_512(
    k: usize,
    a: *const f32,
    b: *const f32,
    b_hi: usize,
    rows: Rows,
    out: *mut f32,
    ld: usize,
    put: Put,
) {
    use std::arch::x86_64::*;
    let mut c = [[_mm512_setzero_ps(); 2]; MR_512];
    for t in 0..k {
        // SAFETY: in bounds by this function's contract (t < k).
        let (b0, b1, at) = unsafe {
            let bt = b.add(rows.start(t));
            (
                _mm512_loadu_ps(bt),
                _mm512_loadu_ps(bt.add(b_hi)),
                a.add(t * MR_512),
            )
        };
        for (r, cr) in c.iter_mut().enumerate() {
            // SAFETY: r < 8, in bounds by the contract.
            let ar = _mm512_set1_ps(unsafe { *at.add(r) });
            cr[0] = _mm512_fmadd_ps(ar, b0, cr[0]);
            cr[1] = _mm512_fmadd_ps(ar, b1, cr[1]);
        }
    }
    for (r, cr) in c.iter().enumerate() {
        // SAFETY: 32 floats of row r < 8 at out + r·ld, by this function's contract.
        unsafe {
            let o = out.add(r * ld);
            let (v0, v1) = match put {
                Put::Write => (cr[0], cr[1]),
                Put::Add => (
                    _mm512_add_ps(_mm512_loadu_ps(o), cr[0]),
                    _mm512_add_ps(_mm512_loadu_ps(o.add(16)), cr[1]),
                ),
                Put::Bias(bias) => {
                    let bv = _mm512_set1_ps(*bias.add(r));
                    (_mm512_add_ps(bv, cr[0]), _mm512_add_ps(bv, cr[1]))
                }
            };
            _mm512_storeu_ps(o, v0);
            _mm512_storeu_ps(o.add(16), v1);
        }
    }
}

/// The avx2 tile: 6 rows × 16 columns in 12 ymm registers, with the two `b` vectors and the
/// broadcast 15 of the 16 (4 × 24, tried first, needed 17: one accumulator lived on the stack).
///
/// # Safety
/// avx2 and fma present; `a` readable for k·6 floats, `b` for 8 from each row start and 8 from
/// `b_hi` past it (16 for 16 in a row), `acc`
/// for 96; with `Rows::At`, at least k offsets.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_256(
    k: usize,
    a: *const f32,
    b: *const f32,
    b_hi: usize,
    rows: Rows,
    acc: *mut f32,
) {
    use std::arch::x86_64::*;
    let mut c = [[_mm256_setzero_ps(); 2]; MR_256];
    for t in 0..k {
        // SAFETY: in bounds by this function's contract (t < k).
        let (b0, b1, at) = unsafe {
            let bt = b.add(rows.start(t));
            (
                _mm256_loadu_ps(bt),
                _mm256_loadu_ps(bt.add(b_hi)),
                a.add(t * MR_256),
            )
        };
        for (r, cr) in c.iter_mut().enumerate() {
            // SAFETY: r < 6, in bounds by the contract.
            let ar = _mm256_set1_ps(unsafe { *at.add(r) });
            cr[0] = _mm256_fmadd_ps(ar, b0, cr[0]);
            cr[1] = _mm256_fmadd_ps(ar, b1, cr[1]);
        }
    }
    for (r, cr) in c.iter().enumerate() {
        // SAFETY: 16 floats a row, 6 rows: inside acc's 96.
        unsafe {
            _mm256_storeu_ps(acc.add(r * NR_256), cr[0]);
            _mm256_storeu_ps(acc.add(r * NR_256 + 8), cr[1]);
        }
    }
}

/// `rows` rows of `len` floats from `src` (row stride ss) to `dst` (row stride ds), each row in
/// masked 16-float moves: the short rows of small feature maps without a call per row.
///
/// # Safety
/// avx512f present; every row's `len` values readable at src + r·ss and writable at dst + r·ds,
/// the two ranges apart.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn copy_rows(
    src: *const f32,
    ss: usize,
    dst: *mut f32,
    ds: usize,
    rows: usize,
    len: usize,
) {
    use std::arch::x86_64::*;
    for r in 0..rows {
        let mut j = 0;
        while j < len {
            let n = (len - j).min(16) as u32;
            let mask = ((1u32 << n) - 1) as __mmask16;
            // SAFETY: j + n ≤ len, inside row r by this function's contract.
            unsafe {
                let v = _mm512_maskz_loadu_ps(mask, src.add(r * ss + j));
                _mm512_mask_storeu_ps(dst.add(r * ds + j), mask, v);
            }
            j += 16;
        }
    }
}
