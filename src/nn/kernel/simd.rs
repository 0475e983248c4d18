//! The kernels' vector code: the avx512 and avx2 tiles of `gemm_packed` and the avx512 dot
//! products of `gemm_nt`, each compiled for its instructions and called only behind an `Isa`.

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
/// avx512f present; `a` readable for k·8 floats, `b` for 32 from each row start, `out + r·ld`
/// readable and writable for 32 floats for r < 8 (and 8 bias values readable with `Put::Bias`);
/// with `Rows::At`, at least k offsets.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tile_512(
    k: usize,
    a: *const f32,
    b: *const f32,
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
                _mm512_loadu_ps(bt.add(16)),
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
/// avx2 and fma present; `a` readable for k·6 floats, `b` for 16 from each row start, `acc`
/// for 96; with `Rows::At`, at least k offsets.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_256(k: usize, a: *const f32, b: *const f32, rows: Rows, acc: *mut f32) {
    use std::arch::x86_64::*;
    let mut c = [[_mm256_setzero_ps(); 2]; MR_256];
    for t in 0..k {
        // SAFETY: in bounds by this function's contract (t < k).
        let (b0, b1, at) = unsafe {
            let bt = b.add(rows.start(t));
            (
                _mm256_loadu_ps(bt),
                _mm256_loadu_ps(bt.add(8)),
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

/// 4 rows of a against 4 rows of b: 16 zmm accumulators over kd, the tail masked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) fn dots_avx512(
    m: usize,
    n: usize,
    kd: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    rows_b: Rows,
    c: &mut [f32],
    ldc: usize,
) {
    use std::arch::x86_64::*;
    const T: usize = 4;
    let full = kd / 16 * 16;
    let tail: __mmask16 = ((1u32 << (kd - full)) - 1) as __mmask16;
    // rows i0.. (up to T of them) against rows j0.. (up to T): fixed T×T registers, the rows
    // past m or n read row 0 again and their sums are dropped
    let mut i0 = 0;
    while i0 < m {
        let mut j0 = 0;
        while j0 < n {
            let ai: [usize; T] =
                std::array::from_fn(|r| if i0 + r < m { (i0 + r) * lda } else { 0 });
            let bj: [usize; T] =
                std::array::from_fn(|q| rows_b.start(if j0 + q < n { j0 + q } else { j0 }));
            let mut acc = [[_mm512_setzero_ps(); T]; T];
            let mut t = 0;
            while t < full {
                // SAFETY: t + 16 ≤ kd, and every row start + kd lies inside its slice
                // (gemm_nt's asserts).
                let av: [__m512; T] =
                    std::array::from_fn(|r| unsafe { _mm512_loadu_ps(a.as_ptr().add(ai[r] + t)) });
                let bv: [__m512; T] =
                    std::array::from_fn(|q| unsafe { _mm512_loadu_ps(b.as_ptr().add(bj[q] + t)) });
                for r in 0..T {
                    for q in 0..T {
                        acc[r][q] = _mm512_fmadd_ps(av[r], bv[q], acc[r][q]);
                    }
                }
                t += 16;
            }
            if tail != 0 {
                // SAFETY: the mask reads only the kd − full elements left in each row.
                let av: [__m512; T] = std::array::from_fn(|r| unsafe {
                    _mm512_maskz_loadu_ps(tail, a.as_ptr().add(ai[r] + full))
                });
                let bv: [__m512; T] = std::array::from_fn(|q| unsafe {
                    _mm512_maskz_loadu_ps(tail, b.as_ptr().add(bj[q] + full))
                });
                for r in 0..T {
                    for q in 0..T {
                        acc[r][q] = _mm512_fmadd_ps(av[r], bv[q], acc[r][q]);
                    }
                }
            }
            let sums = reduce_4x4(&acc);
            for r in 0..T.min(m - i0) {
                for q in 0..T.min(n - j0) {
                    c[(i0 + r) * ldc + j0 + q] += sums[r * T + q];
                }
            }
            j0 += T;
        }
        i0 += T;
    }
}

/// The 16 horizontal sums of a 4 × 4 block of accumulators, `[r·4 + q] = Σ acc[r][q]`, in a
/// tree of 30 shuffles and adds (16 separate reductions take ~4× as many; for the short rows of
/// small feature maps they cost more than the dot products themselves).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) fn reduce_4x4(acc: &[[std::arch::x86_64::__m512; 4]; 4]) -> [f32; 16] {
    use std::arch::x86_64::*;
    let v: [__m512; 16] = std::array::from_fn(|i| acc[i / 4][i % 4]);
    // pairs of vectors: within each 128-bit lane, [a0+a2, b0+b2, a1+a3, b1+b3]
    let w: [__m512; 8] = std::array::from_fn(|i| {
        let (a, b) = (v[2 * i], v[2 * i + 1]);
        _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b))
    });
    // pairs of those: lane L holds the lane-L partial sums of v[4i], v[4i+1], v[4i+2], v[4i+3]
    let x: [__m512; 4] = std::array::from_fn(|i| {
        let (a, b) = (_mm512_castps_pd(w[2 * i]), _mm512_castps_pd(w[2 * i + 1]));
        // the 64-bit unpacks only move float pairs; the add is of floats
        _mm512_add_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
            _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)),
        )
    });
    // across the four 128-bit lanes: 0x88 takes lanes (0, 2 | 0, 2), 0xDD lanes (1, 3 | 1, 3)
    let fold = |a: __m512, b: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(a, b),
            _mm512_shuffle_f32x4::<0xDD>(a, b),
        )
    };
    let z = fold(fold(x[0], x[1]), fold(x[2], x[3]));
    let mut out = [0.0f32; 16];
    // SAFETY: out holds exactly 16 floats.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), z) };
    out
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
