//! PCA/ZCA whitening matrices from the training covariance, through the eigen-decomposition of a
//! symmetric matrix: Householder tridiagonalisation, then the implicit QL algorithm (the
//! `tred2`/`tql2` pair of EISPACK, as ported by JAMA). O(d³) for d inputs.

use ndarray::{Array2, ArrayView1};

use super::error::DataError;
use super::preprocess::PCA_MAX_SAMPLES;
use super::source::Dataset;

/// Eigenvalues (ascending) and eigenvectors of the symmetric n x n matrix `a` (row-major).
/// Returns (values (n), vectors (n, n) with vector k in row k), or None if QL did not converge.
pub(crate) fn symmetric_eigen(a: &[f64], n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    if n == 0 {
        return Some((Vec::new(), Vec::new()));
    }
    let mut v = a.to_vec(); // (n, n)
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    tred2(&mut v, &mut d, &mut e, n);
    let mut vt = transpose(&v, n); // row k = column k of v, so QL's rotations touch contiguous rows
    tql2(&mut vt, &mut d, &mut e, n)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[i].total_cmp(&d[j]));
    let values = order.iter().map(|&k| d[k]).collect();
    let mut vectors = Vec::with_capacity(n * n);
    for &k in &order {
        vectors.extend_from_slice(&vt[k * n..(k + 1) * n]);
    }
    Some((values, vectors))
}

fn transpose(m: &[f64], n: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            t[j * n + i] = m[i * n + j];
        }
    }
    t
}

/// Reduces v to tridiagonal form (diagonal d, sub-diagonal e), leaving the transform in v.
fn tred2(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let idx = |r: usize, c: usize| r * n + c;
    for j in 0..n {
        d[j] = v[idx(n - 1, j)];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[idx(i - 1, j)];
                v[idx(i, j)] = 0.0;
                v[idx(j, i)] = 0.0;
            }
        } else {
            for dk in &mut d[..i] {
                *dk /= scale;
                h += *dk * *dk;
            }
            let mut f = d[i - 1];
            let mut g = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                f = d[j];
                v[idx(j, i)] = f;
                g = e[j] + v[idx(j, j)] * f;
                for k in j + 1..i {
                    g += v[idx(k, j)] * d[k];
                    e[k] += v[idx(k, j)] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    v[idx(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[idx(i - 1, j)];
                v[idx(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    for i in 0..n - 1 {
        v[idx(n - 1, i)] = v[idx(i, i)];
        v[idx(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[idx(k, i + 1)] / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += v[idx(k, i + 1)] * v[idx(k, j)];
                }
                for k in 0..=i {
                    v[idx(k, j)] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[idx(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[idx(n - 1, j)];
        v[idx(n - 1, j)] = 0.0;
    }
    v[idx(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// Diagonalises the tridiagonal (d, e); `vt` holds the eigenvectors as rows.
fn tql2(vt: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) -> Option<()> {
    const MAX_ITERATIONS: usize = 100;
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1: f64 = 0.0;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iterations = 0;
            loop {
                iterations += 1;
                if iterations > MAX_ITERATIONS {
                    return None;
                }
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for di in &mut d[l + 2..n] {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (lo, hi) = vt.split_at_mut((i + 1) * n);
                    let row_i = &mut lo[i * n..];
                    let row_i1 = &mut hi[..n];
                    for (a, b) in row_i.iter_mut().zip(row_i1.iter_mut()) {
                        let h = *b;
                        *b = s * *a + c * h;
                        *a = c * *a - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    Some(())
}

/// PCA: rows are the principal axes (largest variance first), each scaled by 1/sqrt(λ + eps).
/// ZCA: the same, rotated back into pixel space (U diag(1/sqrt(λ + eps)) Uᵀ).
pub(crate) fn whitening_matrix(
    ds: &Dataset,
    train_idx: &[usize],
    mean: &[f32],
    eps: f32,
    zca: bool,
) -> Result<Array2<f32>, DataError> {
    let d = mean.len();
    let m = train_idx.len().min(PCA_MAX_SAMPLES);
    let mut x = Array2::<f32>::zeros((m, d)); // (m, d) centred samples
    for (k, mut row) in x.rows_mut().into_iter().enumerate() {
        let i = train_idx[k * train_idx.len() / m];
        for ((o, &p), mu) in row.iter_mut().zip(ds.image(&ds.train, i)).zip(mean) {
            *o = p as f32 / 255.0 - mu;
        }
    }
    let cov = x.t().dot(&x) / m as f32; // (d, d)
    let cov64: Vec<f64> = cov.iter().map(|&v| v as f64).collect();
    let (values, vectors) = symmetric_eigen(&cov64, d).ok_or_else(|| DataError::Preprocess {
        problem: "the eigen-decomposition of the covariance did not converge".to_string(),
    })?;
    let mut scaled = Array2::<f64>::zeros((d, d)); // (d, d) row k = axis k / sqrt(λ_k + eps), descending λ
    for (row, k) in (0..d).rev().enumerate() {
        let s = 1.0 / (values[k].max(0.0) + eps as f64).sqrt();
        for j in 0..d {
            scaled[[row, j]] = vectors[k * d + j] * s;
        }
    }
    let whiten = if zca {
        let mut axes = Array2::<f64>::zeros((d, d)); // (d, d) row k = axis k, same order as `scaled`
        for (row, k) in (0..d).rev().enumerate() {
            axes.row_mut(row)
                .assign(&ArrayView1::from(&vectors[k * d..(k + 1) * d]));
        }
        axes.t().dot(&scaled)
    } else {
        scaled
    };
    Ok(whiten.mapv(|v| v as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconstructs_a_symmetric_matrix() {
        let n = 6;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let x = ((i * 7 + j * 3) % 5) as f64 - 1.5 + if i == j { 4.0 } else { 0.0 };
                a[i * n + j] = x;
                a[j * n + i] = x;
            }
        }
        let (values, vectors) = symmetric_eigen(&a, n).unwrap();
        assert!(values.windows(2).all(|w| w[0] <= w[1]));
        // A = sum_k lambda_k v_k v_k^T
        for i in 0..n {
            for j in 0..n {
                let got: f64 = (0..n)
                    .map(|k| values[k] * vectors[k * n + i] * vectors[k * n + j])
                    .sum();
                assert!(
                    (got - a[i * n + j]).abs() < 1e-9,
                    "({i},{j}): {got} vs {}",
                    a[i * n + j]
                );
            }
        }
        // orthonormal rows
        for k in 0..n {
            for l in 0..n {
                let dot: f64 = (0..n)
                    .map(|i| vectors[k * n + i] * vectors[l * n + i])
                    .sum();
                assert!((dot - if k == l { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn diagonal_matrix_gives_its_diagonal() {
        let a = [3.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0];
        let (values, _) = symmetric_eigen(&a, 3).unwrap();
        assert_eq!(values, vec![1.0, 2.0, 3.0]);
    }
}
