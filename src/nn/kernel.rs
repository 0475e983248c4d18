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

/// A row-major matrix `a (m, k)` (any strides) copied into panels of MR rows: panel i holds,
/// for each t in 0..k, `a[i·MR .. i·MR + MR][t]` contiguously, rows past m as zeros.
#[derive(Debug, Clone, Default)]
pub struct PackedA {
    data: Vec<f32>, // (⌈m/MR⌉, k, MR)
    m: usize,
    k: usize,
    mr: usize,
}

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
        for (pi, panel) in self.data.chunks_exact_mut(k * mr).enumerate() {
            let rows = (m - pi * mr).min(mr);
            for (t, dst) in panel.chunks_exact_mut(mr).enumerate() {
                for (r, d) in dst[..rows].iter_mut().enumerate() {
                    *d = a[(pi * mr + r) * rs + t * cs];
                }
            }
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
const MR_256: usize = 4;
const NR_256: usize = 24;

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

    fn mr(self) -> usize {
        match self.0 {
            Kind::Avx512 => MR_512,
            Kind::Avx2 => MR_256,
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
    let (m, k) = (a.m, a.k);
    if m == 0 || n == 0 {
        return;
    }
    assert_eq!(a.mr, isa.mr(), "a packed for another kernel");
    if let Rows::At(offsets) = rows {
        assert!(
            offsets.len() >= k,
            "gemm_packed: fewer row offsets than rows"
        );
    }
    assert!(b.len() >= rows.end(k, n), "gemm_packed: b too short");
    assert!(c.len() >= (m - 1) * ldc + n, "gemm_packed: c too short");
    if let Store::Bias(bias) = store {
        assert!(bias.len() >= m, "gemm_packed: bias too short");
    }
    #[cfg(target_arch = "x86_64")]
    match isa.0 {
        // SAFETY: an `Isa` is only made by `detect`, after it found avx512f, avx2 and fma on
        // this CPU; the function itself is safe code compiled for those features.
        Kind::Avx512 => unsafe { run_avx512(a, n, b, rows, c, ldc, store) },
        // SAFETY: as above, `detect` found avx2 and fma.
        Kind::Avx2 => unsafe { run_avx2(a, n, b, rows, c, ldc, store) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn run_avx512(a: &PackedA, n: usize, b: &[f32], rows: Rows, c: &mut [f32], ldc: usize, s: Store) {
    drive::<MR_512, NR_512>(a, n, b, rows, c, ldc, s);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(a: &PackedA, n: usize, b: &[f32], rows: Rows, c: &mut [f32], ldc: usize, s: Store) {
    drive::<MR_256, NR_256>(a, n, b, rows, c, ldc, s);
}

/// Panels of NR columns of `b` (the last one copied into a zero-padded buffer), each multiplied
/// by every MR-row panel of `a` while it is hot in cache.
#[inline(always)]
fn drive<const MR: usize, const NR: usize>(
    a: &PackedA,
    n: usize,
    b: &[f32],
    rows: Rows,
    c: &mut [f32],
    ldc: usize,
    store: Store,
) {
    let (m, k) = (a.m, a.k);
    let mut edge: Vec<f32> = Vec::new();
    let mut j0 = 0;
    while j0 < n {
        let cols = (n - j0).min(NR);
        // the panel's rows: b itself, or the edge copied into NR-wide zero-padded rows
        let (bp, rows_p): (&[f32], Rows) = if cols == NR {
            (&b[j0..], rows)
        } else {
            edge.clear();
            edge.resize(k * NR, 0.0);
            for (t, dst) in edge.chunks_exact_mut(NR).enumerate() {
                let start = rows.start(t) + j0;
                dst[..cols].copy_from_slice(&b[start..start + cols]);
            }
            (&edge, Rows::Strided(NR))
        };
        for (pi, ap) in a.data.chunks_exact(k * MR).enumerate() {
            let mut acc = [[0.0f32; NR]; MR];
            tile::<MR, NR>(k, ap, bp, rows_p, &mut acc);
            let rows = (m - pi * MR).min(MR);
            for (r, acc_r) in acc.iter().enumerate().take(rows) {
                let i = pi * MR + r;
                let dst = &mut c[i * ldc + j0..i * ldc + j0 + cols];
                if let (Store::Overwrite, Ok(full)) = (store, <&mut [f32; NR]>::try_from(&mut *dst))
                {
                    // a whole row: a fixed-size copy the compiler keeps in vector moves
                    *full = *acc_r;
                    continue;
                }
                match store {
                    Store::Overwrite => dst.copy_from_slice(&acc_r[..cols]),
                    Store::Accumulate => dst.iter_mut().zip(acc_r).for_each(|(d, v)| *d += v),
                    Store::Bias(bias) => dst
                        .iter_mut()
                        .zip(acc_r)
                        .for_each(|(d, v)| *d = bias[i] + v),
                }
            }
        }
        j0 += NR;
    }
}

/// acc (MR, NR) += Σ_t a[t] (MR) ⊗ b[rows.start(t) ..][..NR]: one broadcast-multiply-add per
/// element.
#[inline(always)]
fn tile<const MR: usize, const NR: usize>(
    k: usize,
    a: &[f32],
    b: &[f32],
    rows: Rows,
    acc: &mut [[f32; NR]; MR],
) {
    assert!(a.len() >= k * MR && b.len() >= rows.end(k, NR));
    if let Rows::At(offsets) = rows {
        assert!(offsets.len() >= k);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if MR == MR_512 && NR == NR_512 {
            // SAFETY: the assert above bounds every read (a: k·MR values, b: k rows of NR); the
            // only caller of tile::<MR_512, NR_512> is run_avx512, which has avx512f.
            unsafe { tile_512(k, a.as_ptr(), b.as_ptr(), rows, acc.as_mut_ptr().cast()) };
            return;
        }
        if MR == MR_256 && NR == NR_256 {
            // SAFETY: as above; the caller is run_avx2, which has avx2 and fma.
            unsafe { tile_256(k, a.as_ptr(), b.as_ptr(), rows, acc.as_mut_ptr().cast()) };
            return;
        }
    }
    for t in 0..k {
        for r in 0..MR {
            for j in 0..NR {
                acc[r][j] = a[t * MR + r].mul_add(b[rows.start(t) + j], acc[r][j]);
            }
        }
    }
}

/// The avx512 tile: 8 rows × 32 columns in 16 zmm registers.
///
/// # Safety
/// avx512f present; `a` readable for k·8 floats, `b` for 32 from each row start, `acc` writable
/// for 256; with `Rows::At`, at least k offsets.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_512(k: usize, a: *const f32, b: *const f32, rows: Rows, acc: *mut f32) {
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
        // SAFETY: 32 floats a row, 8 rows: inside acc's 256.
        unsafe {
            _mm512_storeu_ps(acc.add(r * NR_512), cr[0]);
            _mm512_storeu_ps(acc.add(r * NR_512 + 16), cr[1]);
        }
    }
}

/// The avx2 tile: 4 rows × 24 columns in 12 ymm registers.
///
/// # Safety
/// avx2 and fma present; `a` readable for k·4 floats, `b` for 24 from each row start, `acc`
/// for 96; with `Rows::At`, at least k offsets.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_256(k: usize, a: *const f32, b: *const f32, rows: Rows, acc: *mut f32) {
    use std::arch::x86_64::*;
    let mut c = [[_mm256_setzero_ps(); 3]; MR_256];
    for t in 0..k {
        // SAFETY: in bounds by this function's contract (t < k).
        let (b0, b1, b2, at) = unsafe {
            let bt = b.add(rows.start(t));
            (
                _mm256_loadu_ps(bt),
                _mm256_loadu_ps(bt.add(8)),
                _mm256_loadu_ps(bt.add(16)),
                a.add(t * MR_256),
            )
        };
        for (r, cr) in c.iter_mut().enumerate() {
            // SAFETY: r < 4, in bounds by the contract.
            let ar = _mm256_set1_ps(unsafe { *at.add(r) });
            cr[0] = _mm256_fmadd_ps(ar, b0, cr[0]);
            cr[1] = _mm256_fmadd_ps(ar, b1, cr[1]);
            cr[2] = _mm256_fmadd_ps(ar, b2, cr[2]);
        }
    }
    for (r, cr) in c.iter().enumerate() {
        // SAFETY: 24 floats a row, 4 rows: inside acc's 96.
        unsafe {
            _mm256_storeu_ps(acc.add(r * NR_256), cr[0]);
            _mm256_storeu_ps(acc.add(r * NR_256 + 8), cr[1]);
            _mm256_storeu_ps(acc.add(r * NR_256 + 16), cr[2]);
        }
    }
}

/// `c (m, n) += a (m, kd) · b (n, kd)ᵀ`, both operands read in place row by row (row strides
/// lda, ldb; c's ldc): with avx512, dot products vectorised along kd, 4 × 4 of them at a time
/// (with avx2 only, matrixmultiply). This is dW = dout · colsᵀ with the im2col columns as they
/// are, so nothing is transposed or packed.
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
    if m == 0 || n == 0 {
        return;
    }
    if let Rows::At(offsets) = rows_b {
        assert!(offsets.len() >= n, "gemm_nt: fewer row offsets than rows");
    }
    assert!(a.len() >= (m - 1) * lda + kd, "gemm_nt: a too short");
    assert!(b.len() >= rows_b.end(n, kd), "gemm_nt: b too short");
    assert!(c.len() >= (m - 1) * ldc + n, "gemm_nt: c too short");
    #[cfg(target_arch = "x86_64")]
    match isa.0 {
        // SAFETY: `detect` found avx512f (and avx2, fma) on this CPU; the asserts above bound
        // every row the function reads or writes.
        Kind::Avx512 => unsafe { dots_avx512(m, n, kd, a, lda, b, rows_b, c, ldc) },
        // SAFETY: the asserts above bound every element the strides reach (a: (m−1)·lda + kd,
        // b read transposed: (n−1)·ldb + kd, c: (m−1)·ldc + n); c is a distinct &mut.
        Kind::Avx2 => match rows_b {
            Rows::Strided(ldb) => unsafe {
                matrixmultiply::sgemm(
                    m,
                    kd,
                    n,
                    1.0,
                    a.as_ptr(),
                    lda as isize,
                    1,
                    b.as_ptr(),
                    1,
                    ldb as isize,
                    1.0,
                    c.as_mut_ptr(),
                    ldc as isize,
                    1,
                )
            },
            Rows::At(offsets) => {
                for i in 0..m {
                    for (j, &o) in offsets[..n].iter().enumerate() {
                        let (ar, br) = (&a[i * lda..i * lda + kd], &b[o..o + kd]);
                        c[i * ldc + j] += ar.iter().zip(br).map(|(x, y)| x * y).sum::<f32>();
                    }
                }
            }
        },
    }
}

/// 4 rows of a against 4 rows of b: 16 zmm accumulators over kd, the tail masked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn dots_avx512(
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
fn reduce_4x4(acc: &[[std::arch::x86_64::__m512; 4]; 4]) -> [f32; 16] {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_for_every_edge_and_store() {
        let Some(best) = Isa::detect() else {
            eprintln!("skipped: no avx2+fma or avx512f on this CPU");
            return;
        };
        // the avx2 kernel too, wherever avx512 is the one detected
        for isa in [best, Isa(Kind::Avx2)] {
            matches_naive_with(isa);
        }
    }

    #[test]
    fn reduce_tree_sums_each_accumulator() {
        if Isa::detect() != Some(Isa(Kind::Avx512)) {
            return;
        }
        use std::arch::x86_64::*;
        let vals: Vec<f32> = (0..256).map(|i| (i * 7 % 13) as f32).collect();
        // SAFETY: test on an avx512 CPU (checked above); loads within vals.
        let acc: [[__m512; 4]; 4] = std::array::from_fn(|r| {
            std::array::from_fn(|q| unsafe { _mm512_loadu_ps(vals.as_ptr().add((r * 4 + q) * 16)) })
        });
        // SAFETY: avx512 checked above.
        let got = unsafe { reduce_4x4(&acc) };
        let want: Vec<f32> = (0..16)
            .map(|i| vals[i * 16..i * 16 + 16].iter().sum())
            .collect();
        assert_eq!(got.to_vec(), want);
    }

    #[test]
    fn dots_match_naive() {
        let Some(best) = Isa::detect() else {
            eprintln!("skipped: no avx2+fma or avx512f on this CPU");
            return;
        };
        for isa in [best, Isa(Kind::Avx2)] {
            for (m, n, kd) in [
                (1, 1, 1),
                (5, 7, 3),
                (8, 25, 784),
                (20, 33, 70),
                (16, 200, 196),
            ] {
                let a: Vec<f32> = (0..m * kd).map(|i| (i as f32 * 0.37).sin()).collect();
                let b: Vec<f32> = (0..n * kd).map(|i| (i as f32 * 0.71).cos()).collect();
                let mut c = vec![1.0; m * n];
                // b's rows listed explicitly and read through the offsets: the same result
                let offsets: Vec<usize> = (0..n).map(|j| j * kd).collect();
                let mut c_at = vec![1.0; m * n];
                gemm_nt(isa, m, n, kd, &a, kd, &b, Rows::At(&offsets), &mut c_at, n);
                gemm_nt(isa, m, n, kd, &a, kd, &b, Rows::Strided(kd), &mut c, n);
                assert!(
                    c.iter()
                        .zip(&c_at)
                        .all(|(x, y)| (x - y).abs() < 1e-4 * (1.0 + y.abs()))
                );
                for i in 0..m {
                    for j in 0..n {
                        let want: f32 =
                            1.0 + (0..kd).map(|t| a[i * kd + t] * b[j * kd + t]).sum::<f32>();
                        let got = c[i * n + j];
                        assert!(
                            (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                            "{m}×{n}×{kd}"
                        );
                    }
                }
            }
        }
    }

    fn matches_naive_with(isa: Isa) {
        for (m, k, n) in [
            (1, 1, 1),
            (5, 7, 3),
            (8, 25, 784),
            (20, 33, 70),
            (17, 3, 100),
        ] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
            let want = naive(m, k, n, &a, &b);
            let mut pa = PackedA::default();
            pa.pack(isa, &a, m, k, k, 1);
            let mut c = vec![9.0; m * n];
            gemm_packed(
                isa,
                &pa,
                n,
                &b,
                Rows::Strided(n),
                &mut c,
                n,
                Store::Overwrite,
            );
            let close = |x: f32, y: f32| (x - y).abs() < 1e-4 * (1.0 + y.abs());
            assert!(
                c.iter().zip(&want).all(|(x, y)| close(*x, *y)),
                "{m}×{k}×{n}"
            );
            gemm_packed(
                isa,
                &pa,
                n,
                &b,
                Rows::Strided(n),
                &mut c,
                n,
                Store::Accumulate,
            );
            assert!(c.iter().zip(&want).all(|(x, y)| close(*x, 2.0 * y)));
            let bias: Vec<f32> = (0..m).map(|i| i as f32).collect();
            gemm_packed(
                isa,
                &pa,
                n,
                &b,
                Rows::Strided(n),
                &mut c,
                n,
                Store::Bias(&bias),
            );
            for i in 0..m {
                for j in 0..n {
                    assert!(close(c[i * n + j], want[i * n + j] + i as f32));
                }
            }
            // a read transposed: pack aᵀ (k, m) as (m, k) with row stride 1, column stride m
            let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
            pa.pack(isa, &at, m, k, 1, m);
            gemm_packed(
                isa,
                &pa,
                n,
                &b,
                Rows::Strided(n),
                &mut c,
                n,
                Store::Overwrite,
            );
            assert!(c.iter().zip(&want).all(|(x, y)| close(*x, *y)));
        }
    }
}
