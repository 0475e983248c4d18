//! Softmax cross-entropy, averaged over the batch, computed from logits with the max subtracted
//! so exp never overflows.

use super::gemm::Float;

/// Loss over a batch of logits (n, classes) with their labels.
#[derive(Debug, Clone)]
pub struct SoftmaxLoss<F: Float> {
    /// Mean of −ln p(label).
    pub loss: f64,
    /// dL/dlogits (n, classes) = (softmax − onehot) / n.
    pub dlogits: Vec<F>,
    /// Softmax probabilities (n, classes).
    pub probs: Vec<F>,
    pub correct: usize,
}

/// Softmax probabilities of one row of logits, written into `out`.
pub fn softmax_into<F: Float>(logits: &[F], out: &mut [F]) {
    let max = logits.iter().copied().fold(F::neg_infinity(), F::max);
    let mut sum = 0.0f64;
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        sum += o.as_f64();
    }
    let inv = F::of(1.0 / sum);
    out.iter_mut().for_each(|o| *o *= inv);
}

pub fn argmax<F: Float>(row: &[F]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// logits: (n, classes), labels: (n) with every label < classes.
pub fn softmax_cross_entropy<F: Float>(
    logits: &[F],
    classes: usize,
    labels: &[usize],
) -> SoftmaxLoss<F> {
    let n = labels.len();
    let mut probs = vec![F::zero(); n * classes];
    let mut loss = 0.0f64;
    let mut correct = 0;
    for (i, &y) in labels.iter().enumerate() {
        let row = &logits[i * classes..(i + 1) * classes];
        let max = row.iter().copied().fold(F::neg_infinity(), F::max).as_f64();
        let log_sum: f64 = row
            .iter()
            .map(|&l| (l.as_f64() - max).exp())
            .sum::<f64>()
            .ln();
        // −ln p(y) = −(l_y − max − ln Σ exp(l − max))
        loss += log_sum - (row[y].as_f64() - max);
        softmax_into(row, &mut probs[i * classes..(i + 1) * classes]);
        if argmax(row) == y {
            correct += 1;
        }
    }
    let inv_n = F::of(1.0 / n.max(1) as f64);
    let mut dlogits = probs.clone();
    for (i, &y) in labels.iter().enumerate() {
        dlogits[i * classes + y] = dlogits[i * classes + y] - F::one();
    }
    dlogits.iter_mut().for_each(|d| *d *= inv_n);
    SoftmaxLoss {
        loss: loss / n.max(1) as f64,
        dlogits,
        probs,
        correct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_logits_give_ln_classes() {
        let l = softmax_cross_entropy(&[0.0f32; 20], 10, &[3, 7]);
        assert!((l.loss - 10f64.ln()).abs() < 1e-6); // ln 10 ≈ 2.302585
    }

    #[test]
    fn huge_logits_stay_finite() {
        let l = softmax_cross_entropy(&[1000.0f32, -1000.0, 0.0], 3, &[1]);
        assert!((l.loss - 2000.0).abs() < 1e-2); // −ln softmax = 1000 − (−1000)
        assert!(l.dlogits.iter().all(|d| d.is_finite()));
    }

    #[test]
    fn fixed_value() {
        // logits (1, 2, 3), label 0: ln(e¹ + e² + e³) − 1 = 3.40760596 − 1 = 2.40760596
        let l = softmax_cross_entropy(&[1.0f64, 2.0, 3.0], 3, &[0]);
        assert!((l.loss - 2.407_606).abs() < 1e-5);
        assert_eq!(l.correct, 0);
    }
}
