//! The one matrix multiply every layer goes through, so the kernel behind it can be swapped
//! (and benchmarked) in one place.

/// How a row-major operand is read: as stored, or transposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    N,
    T,
}

/// The element types the engine runs in: f32 for training, f64 for gradient checks.
pub trait Float:
    num_traits::Float
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::MulAssign
    + Send
    + Sync
    + Default
    + std::fmt::Debug
    + std::fmt::Display
    + 'static
{
    fn of(v: f64) -> Self;
    fn as_f64(self) -> f64;
    /// The slice as f32 when that is what it is (the packed kernel's fast path), else None.
    fn as_f32s(s: &[Self]) -> Option<&[f32]>;
    fn as_f32s_mut(s: &mut [Self]) -> Option<&mut [f32]>;
    /// `c = a·b + beta·c` with explicit row and column strides (matrixmultiply's interface).
    ///
    /// # Safety
    /// Every element the strides reach must lie inside its buffer, and `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
    );
}

macro_rules! impl_float {
    ($t:ty, $gemm:path, $f32s:expr, $f32s_mut:expr) => {
        impl Float for $t {
            fn as_f32s(s: &[Self]) -> Option<&[f32]> {
                $f32s(s)
            }
            fn as_f32s_mut(s: &mut [Self]) -> Option<&mut [f32]> {
                $f32s_mut(s)
            }
            fn of(v: f64) -> Self {
                v as $t
            }
            fn as_f64(self) -> f64 {
                self as f64
            }
            unsafe fn raw_gemm(
                m: usize,
                k: usize,
                n: usize,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
            ) {
                // SAFETY: forwarded from this function's contract.
                unsafe { $gemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, 1) }
            }
        }
    };
}

impl_float!(f32, matrixmultiply::sgemm, Some, Some);
impl_float!(f64, matrixmultiply::dgemm, |_| None, |_| None);

/// `c (m, n) = a (m, k) · b (k, n) + beta · c`, all row-major; `Op::T` reads an operand stored
/// transposed (a as (k, m), b as (n, k)).
#[allow(clippy::too_many_arguments)]
pub fn gemm<F: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[F],
    op_a: Op,
    b: &[F],
    op_b: Op,
    beta: F,
    c: &mut [F],
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm: operand too short"
    );
    let (rsa, csa) = match op_a {
        Op::N => (k as isize, 1),
        Op::T => (1, m as isize),
    };
    let (rsb, csb) = match op_b {
        Op::N => (n as isize, 1),
        Op::T => (1, k as isize),
    };
    // SAFETY: the assert above proves every index the strides reach lies inside its slice:
    // a reaches (m−1)·rsa + (k−1)·csa < m·k, b likewise < k·n, c < m·n; c is the only
    // mutable operand and cannot alias a or b (a Rust &mut).
    unsafe {
        F::raw_gemm(
            m,
            k,
            n,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(rows: usize, cols: usize, x: &[f32]) -> Vec<f32> {
        let mut t = vec![0.0; x.len()];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = x[r * cols + c];
            }
        }
        t
    }

    #[test]
    fn all_transposes_agree_with_naive() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
        let want = naive(m, k, n, &a, &b);
        let at = transpose(m, k, &a);
        let bt = transpose(k, n, &b);
        for (aa, oa) in [(&a, Op::N), (&at, Op::T)] {
            for (bb, ob) in [(&b, Op::N), (&bt, Op::T)] {
                let mut c = vec![0.0; m * n];
                gemm(m, k, n, aa, oa, bb, ob, 0.0, &mut c);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-5);
                }
            }
        }
        // beta = 1 accumulates
        let mut c = want.clone();
        gemm(m, k, n, &a, Op::N, &b, Op::N, 1.0, &mut c);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 1e-5);
        }
    }
}
