//! The driver of `gemm_packed`: panels of `b`'s columns against the packed panels of `a`, each
//! tile through the vector code of `simd` (or plain Rust where there is none).

#[cfg(target_arch = "x86_64")]
use super::simd::{Put, tile_256, tile_512};
use super::{Cols, Layout, MR_256, MR_512, NR_256, NR_512, PackedA, Rows, Store};

/// Panels of NR columns of `b` (the last one copied into a zero-padded buffer), each multiplied
/// by every MR-row panel of `a` while it is hot in cache. A panel is two halves of NR/2
/// columns, each contiguous in `b` (the second `b_hi` after the first).
#[inline(always)]
pub(super) fn drive<const MR: usize, const NR: usize>(
    a: &PackedA,
    n: usize,
    b: &[f32],
    (rows, cols): Layout,
    c: &mut [f32],
    ldc: usize,
    store: Store,
) {
    let (m, k) = (a.m, a.k);
    let half = NR / 2;
    let mut edge: Vec<f32> = Vec::new();
    let mut j0 = 0;
    while j0 < n {
        let width = (n - j0).min(NR);
        // the panel's rows: b itself, or the edge copied into NR-wide zero-padded rows
        let (bp, rows_p, b_hi): (&[f32], Rows, usize) = if width == NR {
            let lo = cols.at(j0);
            (&b[lo..], rows, cols.at(j0 + half) - lo)
        } else {
            edge.clear();
            edge.resize(k * NR, 0.0);
            for (t, dst) in edge.chunks_exact_mut(NR).enumerate() {
                let start = rows.start(t);
                if cols == Cols::Plain {
                    dst[..width].copy_from_slice(&b[start + j0..start + j0 + width]);
                } else {
                    for (jj, d) in dst[..width].iter_mut().enumerate() {
                        *d = b[start + cols.at(j0 + jj)];
                    }
                }
            }
            (&edge, Rows::Strided(NR), half)
        };
        for (pi, ap) in a.data.chunks_exact(k * MR).enumerate() {
            let at = pi * MR * ldc + j0;
            let whole = width == NR && pi * MR + MR <= m;
            if whole && tile_into::<MR, NR>(k, ap, (bp, b_hi), rows_p, &mut c[at..], ldc, store, pi)
            {
                continue;
            }
            let mut acc = [[0.0f32; NR]; MR];
            tile::<MR, NR>(k, ap, (bp, b_hi), rows_p, &mut acc);
            let rows = (m - pi * MR).min(MR);
            for (r, acc_r) in acc.iter().enumerate().take(rows) {
                let i = pi * MR + r;
                let dst = &mut c[i * ldc + j0..i * ldc + j0 + width];
                if let (Store::Overwrite, Ok(full)) = (store, <&mut [f32; NR]>::try_from(&mut *dst))
                {
                    // a whole row: a fixed-size copy the compiler keeps in vector moves
                    *full = *acc_r;
                    continue;
                }
                match store {
                    Store::Overwrite => dst.copy_from_slice(&acc_r[..width]),
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

/// A whole MR × NR tile of `c` (rows `c[r·ldc ..][..NR]`) computed and stored in one go,
/// straight from the registers; false (nothing done) where only the scratch path exists.
/// `b` holds the panel's first half of columns at each row start, its second `b_hi` later.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_into<const MR: usize, const NR: usize>(
    k: usize,
    a: &[f32],
    (b, b_hi): (&[f32], usize),
    rows: Rows,
    c: &mut [f32],
    ldc: usize,
    store: Store,
    panel: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if MR == MR_512 && NR == NR_512 {
        assert!(a.len() >= k * MR && b.len() >= rows.end(k, b_hi + NR / 2));
        assert!(c.len() >= (MR - 1) * ldc + NR);
        if let Rows::At(offsets) = rows {
            assert!(offsets.len() >= k);
        }
        let put = match store {
            Store::Overwrite => Put::Write,
            Store::Accumulate => Put::Add,
            Store::Bias(bias) => {
                assert!(bias.len() >= panel * MR + MR);
                Put::Bias(bias[panel * MR..].as_ptr())
            }
        };
        // SAFETY: the asserts above bound every read of a and of b's two halves and the MR
        // rows of NR values written at c + r·ldc (and MR bias values); the only caller of
        // tile_into::<MR_512, NR_512> is run_avx512, which has avx512f.
        unsafe {
            tile_512(
                k,
                a.as_ptr(),
                b.as_ptr(),
                b_hi,
                rows,
                c.as_mut_ptr(),
                ldc,
                put,
            )
        };
        return true;
    }
    let _ = (k, a, b, b_hi, rows, c, ldc, store, panel);
    false
}

/// acc (MR, NR) += Σ_t a[t] (MR) ⊗ b's NR columns at row t (two halves, `b_hi` apart): one
/// broadcast-multiply-add per element.
#[inline(always)]
fn tile<const MR: usize, const NR: usize>(
    k: usize,
    a: &[f32],
    (b, b_hi): (&[f32], usize),
    rows: Rows,
    acc: &mut [[f32; NR]; MR],
) {
    let half = NR / 2;
    assert!(a.len() >= k * MR && b.len() >= rows.end(k, b_hi + half));
    if let Rows::At(offsets) = rows {
        assert!(offsets.len() >= k);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if MR == MR_512 && NR == NR_512 {
            let acc = acc.as_mut_ptr().cast();
            // SAFETY: the assert above bounds every read (a: k·MR values, b: k rows of two
            // halves), acc holds the MR rows of NR written (ld = NR); the only caller of
            // tile::<MR_512, NR_512> is run_avx512, which has avx512f.
            unsafe { tile_512(k, a.as_ptr(), b.as_ptr(), b_hi, rows, acc, NR, Put::Write) };
            return;
        }
        if MR == MR_256 && NR == NR_256 {
            // SAFETY: as above; the caller is run_avx2, which has avx2 and fma.
            unsafe {
                tile_256(
                    k,
                    a.as_ptr(),
                    b.as_ptr(),
                    b_hi,
                    rows,
                    acc.as_mut_ptr().cast(),
                )
            };
            return;
        }
    }
    for t in 0..k {
        for (r, acc_r) in acc.iter_mut().enumerate() {
            for (j, v) in acc_r.iter_mut().enumerate() {
                let col = if j < half { j } else { b_hi + j - half };
                *v = a[t * MR + r].mul_add(b[rows.start(t) + col], *v);
            }
        }
    }
}
