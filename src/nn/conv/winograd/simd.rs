//! The Winograd transforms' vector code, 16 tiles to a vector with avx512 and 8 with avx2:
//! V = Bᵀ d B of the inputs, y = Aᵀ M A of the products, dM = A dy Aᵀ of the output gradients.
//! Each entry point takes the `Isa` and runs the code for it.

use crate::nn::kernel::Isa;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `input_tiles` with 16 tiles to a vector.
///
/// # Safety
/// avx512f present; 4 rows of 34 floats readable from src + a·wp, and 16 floats
/// writable at v + ξ·vs for ξ < 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn input_512(src: *const f32, wp: usize, v: *mut f32, vs: usize) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let mut c = [[_mm512_setzero_ps(); 4]; 4];
    for (a, ca) in c.iter_mut().enumerate() {
        // SAFETY: row a's 34 values, by the contract
        let (lo, hi, lo2, hi2) = unsafe {
            let r = src.add(a * wp);
            (
                _mm512_loadu_ps(r),
                _mm512_loadu_ps(r.add(16)),
                _mm512_loadu_ps(r.add(2)),
                _mm512_loadu_ps(r.add(18)),
            )
        };
        // the tiles' columns: d0 = even, d1 = odd, d2 = the next even, d3 = the next odd
        let e = _mm512_permutex2var_ps(lo, even, hi);
        let o = _mm512_permutex2var_ps(lo, odd, hi);
        let e1 = _mm512_permutex2var_ps(lo2, even, hi2);
        let o1 = _mm512_permutex2var_ps(lo2, odd, hi2);
        // d Bᵀᵀ: the row's four transformed columns
        *ca = [
            _mm512_sub_ps(e, e1),
            _mm512_add_ps(o, e1),
            _mm512_sub_ps(e1, o),
            _mm512_sub_ps(o, o1),
        ];
    }
    let [c0, c1, c2, c3] = c;
    for (j, (((&c0, &c1), &c2), &c3)) in c0.iter().zip(&c1).zip(&c2).zip(&c3).enumerate() {
        // Bᵀ down the rows
        let vj = [
            _mm512_sub_ps(c0, c2),
            _mm512_add_ps(c1, c2),
            _mm512_sub_ps(c2, c1),
            _mm512_sub_ps(c1, c3),
        ];
        for (i, x) in vj.into_iter().enumerate() {
            // SAFETY: ξ = 4i + j < 16, by the contract
            unsafe { _mm512_storeu_ps(v.add((4 * i + j) * vs), x) };
        }
    }
}

/// y = Aᵀ M A for 16 consecutive tiles whose M_ξ lanes are at m + ξ·ms, plus `bias`: the
/// first `count` tiles' 2×2 outputs go to two rows of width `w` from `dst`.
///
/// # Safety
/// avx512f present; 16 floats readable at m + ξ·ms (ξ < 16); 2·count floats writable at dst
/// and at dst + w.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn output_512(m: *const f32, ms: usize, bias: f32, dst: *mut f32, w: usize, count: usize) {
    let lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    // SAFETY: ξ < 16, by the contract
    let mm = |xi: usize| unsafe { _mm512_loadu_ps(m.add(xi * ms)) };
    // Aᵀ down the rows: s[i][j] from M's rows 0..4 at column j
    let s: [[__m512; 4]; 2] = [
        std::array::from_fn(|j| _mm512_add_ps(_mm512_add_ps(mm(j), mm(4 + j)), mm(8 + j))),
        std::array::from_fn(|j| _mm512_sub_ps(_mm512_sub_ps(mm(4 + j), mm(8 + j)), mm(12 + j))),
    ];
    let b = _mm512_set1_ps(bias);
    let n = 2 * count;
    let (mask_lo, mask_hi) = (
        ((1u32 << n.min(16)) - 1) as __mmask16,
        ((1u32 << n.saturating_sub(16)) - 1) as __mmask16,
    );
    for (i, si) in s.iter().enumerate() {
        let y0 = _mm512_add_ps(_mm512_add_ps(si[0], si[1]), _mm512_add_ps(si[2], b));
        let y1 = _mm512_sub_ps(_mm512_sub_ps(si[1], si[2]), _mm512_sub_ps(si[3], b));
        // even output columns from y0, odd from y1
        let lo = _mm512_permutex2var_ps(y0, lo_idx, y1);
        let hi = _mm512_permutex2var_ps(y0, hi_idx, y1);
        // SAFETY: 2·count values of row i, by the contract (the second store masked to nothing
        // when count ≤ 8)
        unsafe {
            let row = dst.add(i * w);
            _mm512_mask_storeu_ps(row, mask_lo, lo);
            _mm512_mask_storeu_ps(row.wrapping_add(16), mask_hi, hi);
        }
    }
}

/// dM = A dy Aᵀ for 16 consecutive tiles: the 2×2 output gradients of the first `count`
/// from two rows of width `w` at `src` (the lanes past them zero); dM_ξ's lanes go to dm + ξ·ms.
///
/// # Safety
/// avx512f present; 2·count floats readable at src and at src + w; 16 floats writable at
/// dm + ξ·ms (ξ < 16).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn grad_512(src: *const f32, w: usize, count: usize, dm: *mut f32, ms: usize) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let n = 2 * count;
    let (mask_lo, mask_hi) = (
        ((1u32 << n.min(16)) - 1) as __mmask16,
        ((1u32 << n.saturating_sub(16)) - 1) as __mmask16,
    );
    // the even and odd columns of row i: the tiles' left and right gradients
    let row = |i: usize| {
        let r = src.wrapping_add(i * w);
        // SAFETY: 2·count values of row i, by the contract (the second load masked to nothing
        // when count ≤ 8)
        let (lo, hi) = unsafe {
            (
                _mm512_maskz_loadu_ps(mask_lo, r),
                _mm512_maskz_loadu_ps(mask_hi, r.wrapping_add(16)),
            )
        };
        (
            _mm512_permutex2var_ps(lo, even, hi),
            _mm512_permutex2var_ps(lo, odd, hi),
        )
    };
    let ((a, b), (c, d)) = (row(0), row(1));
    let zero = _mm512_setzero_ps();
    // A dy (4×2), then each of its rows (x, y) times Aᵀ: (x, x + y, x − y, −y)
    let ady = [
        (a, b),
        (_mm512_add_ps(a, c), _mm512_add_ps(b, d)),
        (_mm512_sub_ps(a, c), _mm512_sub_ps(b, d)),
        (_mm512_sub_ps(zero, c), _mm512_sub_ps(zero, d)),
    ];
    for (i, (x, y)) in ady.into_iter().enumerate() {
        let dmi = [
            x,
            _mm512_add_ps(x, y),
            _mm512_sub_ps(x, y),
            _mm512_sub_ps(zero, y),
        ];
        for (j, v) in dmi.into_iter().enumerate() {
            // SAFETY: ξ = 4i + j < 16, by the contract
            unsafe { _mm512_storeu_ps(dm.add((4 * i + j) * ms), v) };
        }
    }
}

/// Tiles a vector holds: the `lanes` of the functions below.
pub(super) fn lanes(isa: Isa) -> usize {
    if isa.has_avx512() { 16 } else { 8 }
}

/// V of `lanes(isa)` consecutive tiles of one channel: d is the 4 rows from `src` (row stride
/// `wp`), each 2·lanes + 2 values; V_ξ's lanes go to v + ξ·vs.
///
/// # Safety
/// 4 rows of 2·lanes + 2 floats readable from src + a·wp, and lanes floats writable at
/// v + ξ·vs for ξ < 16.
pub(super) unsafe fn input_tiles(isa: Isa, src: *const f32, wp: usize, v: *mut f32, vs: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: an `Isa` is only made after its instructions were detected (avx512f, or avx2 and
    // fma); the pointers as the caller promised
    unsafe {
        if isa.has_avx512() {
            input_512(src, wp, v, vs)
        } else {
            input_256(src, wp, v, vs)
        }
    }
}

/// y = Aᵀ M A for `lanes(isa)` consecutive tiles whose M_ξ lanes are at m + ξ·ms, plus `bias`:
/// the first `count` tiles' 2×2 outputs go to two rows of width `w` from `dst`.
///
/// # Safety
/// lanes floats readable at m + ξ·ms (ξ < 16); 2·count floats writable at dst and dst + w.
pub(super) unsafe fn output_tiles(
    isa: Isa,
    m: *const f32,
    ms: usize,
    bias: f32,
    dst: *mut f32,
    w: usize,
    count: usize,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `input_tiles`
    unsafe {
        if isa.has_avx512() {
            output_512(m, ms, bias, dst, w, count)
        } else {
            output_256(m, ms, bias, dst, w, count)
        }
    }
}

/// dM = A dy Aᵀ for `lanes(isa)` consecutive tiles: the 2×2 output gradients of the first
/// `count` from two rows of width `w` at `src` (the lanes past them zero); dM_ξ's lanes go to
/// dm + ξ·ms.
///
/// # Safety
/// 2·count floats readable at src and src + w; lanes floats writable at dm + ξ·ms (ξ < 16).
pub(super) unsafe fn grad_tiles(
    isa: Isa,
    src: *const f32,
    w: usize,
    count: usize,
    dm: *mut f32,
    ms: usize,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `input_tiles`
    unsafe {
        if isa.has_avx512() {
            grad_512(src, w, count, dm, ms)
        } else {
            grad_256(src, w, count, dm, ms)
        }
    }
}

/// The even and odd elements of the 16 floats lo, hi (in order), each as 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn split_256(lo: __m256, hi: __m256) -> (__m256, __m256) {
    // within 128-bit lanes: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6], then the 64-bit pairs in order
    let e = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
    let o = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
    let order =
        |x: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(x)));
    (order(e), order(o))
}

/// The first n of 8 lanes, as avx2's masked moves take them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn mask_256(n: usize) -> __m256i {
    let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), idx)
}

/// `input_512` with 8 tiles to a vector.
///
/// # Safety
/// avx2 and fma present; otherwise as `input_tiles` with 8 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn input_256(src: *const f32, wp: usize, v: *mut f32, vs: usize) {
    let mut c = [[_mm256_setzero_ps(); 4]; 4];
    for (a, ca) in c.iter_mut().enumerate() {
        // SAFETY: row a's 18 values, by the contract
        let (lo, hi, lo2, hi2) = unsafe {
            let r = src.add(a * wp);
            (
                _mm256_loadu_ps(r),
                _mm256_loadu_ps(r.add(8)),
                _mm256_loadu_ps(r.add(2)),
                _mm256_loadu_ps(r.add(10)),
            )
        };
        let ((e, o), (e1, o1)) = (split_256(lo, hi), split_256(lo2, hi2));
        *ca = [
            _mm256_sub_ps(e, e1),
            _mm256_add_ps(o, e1),
            _mm256_sub_ps(e1, o),
            _mm256_sub_ps(o, o1),
        ];
    }
    let [c0, c1, c2, c3] = c;
    for (j, (((&c0, &c1), &c2), &c3)) in c0.iter().zip(&c1).zip(&c2).zip(&c3).enumerate() {
        let vj = [
            _mm256_sub_ps(c0, c2),
            _mm256_add_ps(c1, c2),
            _mm256_sub_ps(c2, c1),
            _mm256_sub_ps(c1, c3),
        ];
        for (i, x) in vj.into_iter().enumerate() {
            // SAFETY: ξ = 4i + j < 16, by the contract
            unsafe { _mm256_storeu_ps(v.add((4 * i + j) * vs), x) };
        }
    }
}

/// `output_512` with 8 tiles to a vector.
///
/// # Safety
/// avx2 and fma present; otherwise as `output_tiles` with 8 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn output_256(m: *const f32, ms: usize, bias: f32, dst: *mut f32, w: usize, count: usize) {
    // SAFETY: ξ < 16, by the contract
    let mm = |xi: usize| unsafe { _mm256_loadu_ps(m.add(xi * ms)) };
    let s: [[__m256; 4]; 2] = [
        std::array::from_fn(|j| _mm256_add_ps(_mm256_add_ps(mm(j), mm(4 + j)), mm(8 + j))),
        std::array::from_fn(|j| _mm256_sub_ps(_mm256_sub_ps(mm(4 + j), mm(8 + j)), mm(12 + j))),
    ];
    let b = _mm256_set1_ps(bias);
    let n = 2 * count;
    let (mask_lo, mask_hi) = (mask_256(n), mask_256(n.saturating_sub(8)));
    for (i, si) in s.iter().enumerate() {
        let y0 = _mm256_add_ps(_mm256_add_ps(si[0], si[1]), _mm256_add_ps(si[2], b));
        let y1 = _mm256_sub_ps(_mm256_sub_ps(si[1], si[2]), _mm256_sub_ps(si[3], b));
        // interleaved within 128-bit lanes, then the lanes in order
        let (l, h) = (_mm256_unpacklo_ps(y0, y1), _mm256_unpackhi_ps(y0, y1));
        let lo = _mm256_permute2f128_ps::<0x20>(l, h);
        let hi = _mm256_permute2f128_ps::<0x31>(l, h);
        // SAFETY: 2·count values of row i, by the contract (masked moves)
        unsafe {
            let row = dst.add(i * w);
            _mm256_maskstore_ps(row, mask_lo, lo);
            _mm256_maskstore_ps(row.wrapping_add(8), mask_hi, hi);
        }
    }
}

/// `grad_512` with 8 tiles to a vector.
///
/// # Safety
/// avx2 and fma present; otherwise as `grad_tiles` with 8 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn grad_256(src: *const f32, w: usize, count: usize, dm: *mut f32, ms: usize) {
    let n = 2 * count;
    let (mask_lo, mask_hi) = (mask_256(n), mask_256(n.saturating_sub(8)));
    let row = |i: usize| {
        let r = src.wrapping_add(i * w);
        // SAFETY: 2·count values of row i, by the contract (masked moves)
        let (lo, hi) = unsafe {
            (
                _mm256_maskload_ps(r, mask_lo),
                _mm256_maskload_ps(r.wrapping_add(8), mask_hi),
            )
        };
        split_256(lo, hi)
    };
    let ((a, b), (c, d)) = (row(0), row(1));
    let zero = _mm256_setzero_ps();
    let ady = [
        (a, b),
        (_mm256_add_ps(a, c), _mm256_add_ps(b, d)),
        (_mm256_sub_ps(a, c), _mm256_sub_ps(b, d)),
        (_mm256_sub_ps(zero, c), _mm256_sub_ps(zero, d)),
    ];
    for (i, (x, y)) in ady.into_iter().enumerate() {
        let dmi = [
            x,
            _mm256_add_ps(x, y),
            _mm256_sub_ps(x, y),
            _mm256_sub_ps(zero, y),
        ];
        for (j, v) in dmi.into_iter().enumerate() {
            // SAFETY: ξ = 4i + j < 16, by the contract
            unsafe { _mm256_storeu_ps(dm.add((4 * i + j) * ms), v) };
        }
    }
}
