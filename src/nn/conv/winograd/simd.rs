//! The Winograd transforms' avx512 code, 16 tiles to a vector: V = Bᵀ d B of the inputs,
//! y = Aᵀ M A of the products, and dM = A dy Aᵀ of the output gradients.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// V of LANES consecutive tiles of one channel: d is the 4 rows from `src` (row stride `wp`),
/// each 2·LANES + 2 values; V_ξ's lanes go to v + ξ·vs.
///
/// # Safety
/// avx512f present; 4 rows of 2·LANES + 2 floats readable from src + a·wp, and LANES floats
/// writable at v + ξ·vs for ξ < 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn input_tiles(src: *const f32, wp: usize, v: *mut f32, vs: usize) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let mut c = [[_mm512_setzero_ps(); 4]; 4];
    for (a, ca) in c.iter_mut().enumerate() {
        // SAFETY: row a's 2·LANES + 2 values, by the contract
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

/// y = Aᵀ M A for LANES consecutive tiles whose M_ξ lanes are at m + ξ·ms, plus `bias`: the
/// first `count` tiles' 2×2 outputs go to two rows of width `w` from `dst`.
///
/// # Safety
/// avx512f present; LANES floats readable at m + ξ·ms (ξ < 16); 2·count floats writable at dst
/// and at dst + w.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn output_tiles(
    m: *const f32,
    ms: usize,
    bias: f32,
    dst: *mut f32,
    w: usize,
    count: usize,
) {
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

/// dM = A dy Aᵀ for LANES consecutive tiles: the 2×2 output gradients of the first `count`
/// from two rows of width `w` at `src` (the lanes past them zero); dM_ξ's lanes go to dm + ξ·ms.
///
/// # Safety
/// avx512f present; 2·count floats readable at src and at src + w; LANES floats writable at
/// dm + ξ·ms (ξ < 16).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn grad_tiles(src: *const f32, w: usize, count: usize, dm: *mut f32, ms: usize) {
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

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn input_tiles(_: *const f32, _: usize, _: *mut f32, _: usize) {
    unreachable!("Wino::of_layer needs avx512")
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn output_tiles(
    _: *const f32,
    _: usize,
    _: f32,
    _: *mut f32,
    _: usize,
    _: usize,
) {
    unreachable!("Wino::of_layer needs avx512")
}
