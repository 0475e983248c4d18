//! `gemm_nt`: c += a · bᵀ as dot products of rows read in place, and their vector code.

use super::{Isa, Kind, Rows};

/// `c (m, n) += a (m, kd) · b (n, kd)ᵀ`, both operands read in place row by row (row strides
/// lda, ldb; c's ldc): dot products vectorised along kd, 4 × 4 of them at a time with avx512,
/// 2 × 4 with avx2. This is dW = dout · colsᵀ with the columns read where they are (listed rows
/// of a padded image), so nothing is transposed, packed or copied.
///
/// # Panics
/// If an operand is too short for the shapes and strides.
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt(
    isa: Isa,
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
    let whole = Segs {
        count: 1,
        len: kd,
        a_step: 0,
        b_step: 0,
    };
    gemm_nt_segs(isa, m, n, whole, a, lda, b, rows_b, c, ldc);
}

/// How the kd values of a dot product lie in its rows: `count` runs of `len`, run s at
/// `s·a_step` in a row of a and at `s·b_step` in a row of b. An output grid of `oh` rows of `ow`
/// read from a padded image `wp` wide is (oh, ow, ow, wp): dW = dout · colsᵀ with dout as it
/// is and no padded-width columns, whose zeros cost as much as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segs {
    pub count: usize,
    pub len: usize,
    pub a_step: usize,
    pub b_step: usize,
}

/// `gemm_nt` over dot products laid out in runs (`Segs`).
///
/// # Panics
/// If an operand is too short for the shapes, runs and strides.
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt_segs(
    isa: Isa,
    m: usize,
    n: usize,
    segs: Segs,
    a: &[f32],
    lda: usize,
    b: &[f32],
    rows_b: Rows,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 || segs.count == 0 {
        return;
    }
    if let Rows::At(offsets) = rows_b {
        assert!(offsets.len() >= n, "gemm_nt: fewer row offsets than rows");
    }
    let last = |step: usize| (segs.count - 1) * step + segs.len;
    assert!(
        a.len() >= (m - 1) * lda + last(segs.a_step),
        "gemm_nt: a too short"
    );
    assert!(
        b.len() >= rows_b.end(n, last(segs.b_step)),
        "gemm_nt: b too short"
    );
    assert!(c.len() >= (m - 1) * ldc + n, "gemm_nt: c too short");
    #[cfg(target_arch = "x86_64")]
    match isa.0 {
        // SAFETY: `detect` found avx512f (and avx2, fma) on this CPU; the asserts above bound
        // every row the function reads or writes.
        Kind::Avx512 => unsafe { dots_avx512(m, n, segs, a, lda, b, rows_b, c, ldc) },
        // SAFETY: `detect` found avx2 and fma; the same asserts bound every access.
        Kind::Avx2 => unsafe { dots_avx2(m, n, segs, a, lda, b, rows_b, c, ldc) },
    }
}

/// 4 rows of a against 4 rows of b: 16 zmm accumulators over kd, the tail masked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) fn dots_avx512(
    m: usize,
    n: usize,
    segs: Segs,
    a: &[f32],
    lda: usize,
    b: &[f32],
    rows_b: Rows,
    c: &mut [f32],
    ldc: usize,
) {
    use std::arch::x86_64::*;
    const T: usize = 4;
    let full = segs.len / 16 * 16;
    let tail: __mmask16 = ((1u32 << (segs.len - full)) - 1) as __mmask16;
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
            for run in 0..segs.count {
                let (oa, ob) = (run * segs.a_step, run * segs.b_step);
                let mut t = 0;
                while t < full {
                    // SAFETY: t + 16 ≤ len, and every run of every row lies inside its slice
                    // (gemm_nt_segs's asserts).
                    let av: [__m512; T] = std::array::from_fn(|r| unsafe {
                        _mm512_loadu_ps(a.as_ptr().add(ai[r] + oa + t))
                    });
                    let bv: [__m512; T] = std::array::from_fn(|q| unsafe {
                        _mm512_loadu_ps(b.as_ptr().add(bj[q] + ob + t))
                    });
                    for r in 0..T {
                        for q in 0..T {
                            acc[r][q] = _mm512_fmadd_ps(av[r], bv[q], acc[r][q]);
                        }
                    }
                    t += 16;
                }
                if tail != 0 {
                    // SAFETY: the mask reads only the len − full values left in the run.
                    let av: [__m512; T] = std::array::from_fn(|r| unsafe {
                        _mm512_maskz_loadu_ps(tail, a.as_ptr().add(ai[r] + oa + full))
                    });
                    let bv: [__m512; T] = std::array::from_fn(|q| unsafe {
                        _mm512_maskz_loadu_ps(tail, b.as_ptr().add(bj[q] + ob + full))
                    });
                    for r in 0..T {
                        for q in 0..T {
                            acc[r][q] = _mm512_fmadd_ps(av[r], bv[q], acc[r][q]);
                        }
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

/// 2 rows of a against 4 rows of b: 8 ymm accumulators over kd (with the 2 + 4 loaded rows, 14
/// of the 16 registers), the tail through a masked load.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn dots_avx2(
    m: usize,
    n: usize,
    segs: Segs,
    a: &[f32],
    lda: usize,
    b: &[f32],
    rows_b: Rows,
    c: &mut [f32],
    ldc: usize,
) {
    use std::arch::x86_64::*;
    const TM: usize = 2;
    const TN: usize = 4;
    let full = segs.len / 8 * 8;
    let left = (segs.len - full) as i32;
    // lane l loads when l < left (the sign bit of each 32-bit mask lane)
    let tail = _mm256_setr_epi32(
        -((0 < left) as i32),
        -((1 < left) as i32),
        -((2 < left) as i32),
        -((3 < left) as i32),
        -((4 < left) as i32),
        -((5 < left) as i32),
        -((6 < left) as i32),
        -((7 < left) as i32),
    );
    let mut i0 = 0;
    while i0 < m {
        let mut j0 = 0;
        while j0 < n {
            // rows past m or n read row i0 / j0 again; their sums are dropped
            let ai: [usize; TM] =
                std::array::from_fn(|r| if i0 + r < m { (i0 + r) * lda } else { i0 * lda });
            let bj: [usize; TN] =
                std::array::from_fn(|q| rows_b.start(if j0 + q < n { j0 + q } else { j0 }));
            let mut acc = [[_mm256_setzero_ps(); TN]; TM];
            for run in 0..segs.count {
                let (oa, ob) = (run * segs.a_step, run * segs.b_step);
                let mut t = 0;
                while t < full {
                    // SAFETY: t + 8 ≤ len, and every run of every row lies inside its slice
                    // (gemm_nt_segs's asserts).
                    let av: [__m256; TM] = std::array::from_fn(|r| unsafe {
                        _mm256_loadu_ps(a.as_ptr().add(ai[r] + oa + t))
                    });
                    let bv: [__m256; TN] = std::array::from_fn(|q| unsafe {
                        _mm256_loadu_ps(b.as_ptr().add(bj[q] + ob + t))
                    });
                    for r in 0..TM {
                        for q in 0..TN {
                            acc[r][q] = _mm256_fmadd_ps(av[r], bv[q], acc[r][q]);
                        }
                    }
                    t += 8;
                }
                if left > 0 {
                    // SAFETY: the mask reads only the len − full values left in the run.
                    let av: [__m256; TM] = std::array::from_fn(|r| unsafe {
                        _mm256_maskload_ps(a.as_ptr().add(ai[r] + oa + full), tail)
                    });
                    let bv: [__m256; TN] = std::array::from_fn(|q| unsafe {
                        _mm256_maskload_ps(b.as_ptr().add(bj[q] + ob + full), tail)
                    });
                    for r in 0..TM {
                        for q in 0..TN {
                            acc[r][q] = _mm256_fmadd_ps(av[r], bv[q], acc[r][q]);
                        }
                    }
                }
            }
            for (r, row) in acc.iter().enumerate().take(m - i0) {
                let sums = reduce_4(row);
                for (q, s) in sums.iter().enumerate().take(TN.min(n - j0)) {
                    c[(i0 + r) * ldc + j0 + q] += s;
                }
            }
            j0 += TN;
        }
        i0 += TM;
    }
}

/// The horizontal sums of 4 ymm accumulators: two rounds of pairwise adds, then the two
/// 128-bit halves added.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn reduce_4(v: &[std::arch::x86_64::__m256; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    // per 128-bit half: [Σ v0, Σ v1, Σ v2, Σ v3] over that half's 4 lanes
    let t = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    let s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps::<1>(t));
    let mut out = [0.0f32; 4];
    // SAFETY: out holds exactly 4 floats.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), s) };
    out
}
