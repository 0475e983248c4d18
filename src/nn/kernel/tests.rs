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
    let got = unsafe { super::dots::reduce_4x4(&acc) };
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

#[test]
fn copy_rows_moves_exactly_the_rows() {
    let Some(best) = Isa::detect() else {
        eprintln!("skipped: no avx2+fma or avx512f on this CPU");
        return;
    };
    for isa in [best, Isa(Kind::Avx2)] {
        for len in [1, 7, 16, 17, 34] {
            let (rows, ss, ds) = (5, len + 3, len + 5);
            let src: Vec<f32> = (0..rows * ss).map(|i| i as f32).collect();
            let mut dst = vec![-1.0; rows * ds];
            copy_rows(isa, &src, ss, &mut dst, ds, rows, len);
            for r in 0..rows {
                assert_eq!(dst[r * ds..r * ds + len], src[r * ss..r * ss + len]);
                assert!(dst[r * ds + len..(r + 1) * ds].iter().all(|&v| v == -1.0));
            }
        }
    }
}

#[test]
fn grid_columns_skip_the_padded_width() {
    let Some(best) = Isa::detect() else {
        eprintln!("skipped: no avx2+fma or avx512f on this CPU");
        return;
    };
    for isa in [best, Isa(Kind::Avx2)] {
        let h = isa.half_panel();
        // (m, k, grid rows, grid width, row stride): whole panels, a partial last panel (an odd
        // number of half-panel rows), a partial filter panel, widths of one and two halves
        for (m, k, gh, gw, stride) in [
            (8, 5, 4, h, h + 4),
            (11, 7, 3, h, h + 2),
            (16, 9, 2, 2 * h, 2 * h + 4),
            (3, 2, 5, 2 * h, 3 * h),
        ] {
            let n = gh * gw;
            let row_len = gh * stride;
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * row_len).map(|i| (i as f32 * 0.71).cos()).collect();
            // the grid's columns gathered into a plain (k, n) matrix
            let plain: Vec<f32> = (0..k)
                .flat_map(|t| {
                    let b = &b;
                    (0..n).map(move |j| b[t * row_len + j / gw * stride + j % gw])
                })
                .collect();
            let want = naive(m, k, n, &a, &plain);
            let mut pa = PackedA::default();
            pa.pack(isa, &a, m, k, k, 1);
            let bias: Vec<f32> = (0..m).map(|i| i as f32).collect();
            let mut c = vec![9.0; m * n];
            let grid = Cols::Grid { width: gw, stride };
            let rows = Rows::Strided(row_len);
            gemm_packed_cols(isa, &pa, n, &b, rows, grid, &mut c, n, Store::Bias(&bias));
            for (idx, (got, want)) in c.iter().zip(&want).enumerate() {
                let want = want + bias[idx / n];
                assert!(
                    (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "{isa:?} m {m} k {k} grid {gh}×{gw}/{stride}: [{idx}] {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn dots_over_runs_match_the_gathered_rows() {
    let Some(best) = Isa::detect() else {
        eprintln!("skipped: no avx2+fma or avx512f on this CPU");
        return;
    };
    for isa in [best, Isa(Kind::Avx2)] {
        // (m, n, runs, run length, a's step, b's step): whole vectors, masked tails
        for (m, n, count, len, a_step, b_step) in [
            (4, 4, 3, 16, 16, 20),
            (5, 7, 4, 12, 12, 16),
            (9, 6, 2, 32, 40, 36),
        ] {
            let segs = Segs {
                count,
                len,
                a_step,
                b_step,
            };
            let (lda, ldb) = ((count - 1) * a_step + len, (count - 1) * b_step + len);
            let a: Vec<f32> = (0..m * lda).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n * ldb).map(|i| (i as f32 * 0.71).cos()).collect();
            let mut c = vec![1.0; m * n];
            gemm_nt_segs(isa, m, n, segs, &a, lda, &b, Rows::Strided(ldb), &mut c, n);
            for i in 0..m {
                for j in 0..n {
                    let want = 1.0
                        + (0..count)
                            .flat_map(|s| (0..len).map(move |t| (s, t)))
                            .map(|(s, t)| a[i * lda + s * a_step + t] * b[j * ldb + s * b_step + t])
                            .sum::<f32>();
                    let got = c[i * n + j];
                    assert!(
                        (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                        "{isa:?} {segs:?}"
                    );
                }
            }
        }
    }
}
