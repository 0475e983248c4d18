//! The output-size rule, in one place: every layer and `convtop inspect` use it.

/// Output size of a convolution or pooling window along one axis:
/// `out = ⌊(input + 2·pad − kernel) / stride⌋ + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisOut {
    pub out: usize,
    /// Input rows (or columns) the windows never reach: `(input + 2·pad − kernel) mod stride`.
    pub dropped: usize,
}

/// `None` when the kernel does not fit the padded input or the stride is zero.
pub fn out_size(input: usize, kernel: usize, stride: usize, pad: usize) -> Option<AxisOut> {
    let padded = input + 2 * pad;
    if stride == 0 || kernel == 0 || kernel > padded {
        return None;
    }
    let span = padded - kernel;
    Some(AxisOut {
        out: span / stride + 1,
        dropped: span % stride,
    })
}

/// The rule with the numbers filled in, e.g. `⌊(28 + 2·2 − 5)/1⌋ + 1 = 28`.
pub fn formula(input: usize, kernel: usize, stride: usize, pad: usize) -> String {
    match out_size(input, kernel, stride, pad) {
        Some(o) => format!("⌊({input} + 2·{pad} − {kernel})/{stride}⌋ + 1 = {}", o.out),
        None => format!("⌊({input} + 2·{pad} − {kernel})/{stride}⌋ + 1 is undefined"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lecture_examples() {
        // 5×5 filter over 32×32, no pad, stride 1: (32 − 5)/1 + 1 = 28
        assert_eq!(out_size(32, 5, 1, 0).map(|o| o.out), Some(28));
        // 7×7 input, k3, pad 1, stride 2: (7 + 2 − 3)/2 + 1 = 4
        assert_eq!(out_size(7, 3, 2, 1).map(|o| o.out), Some(4));
        // k3 s1 p1 keeps the size: (n + 2 − 3)/1 + 1 = n
        for n in 1..40 {
            assert_eq!(out_size(n, 3, 1, 1).map(|o| o.out), Some(n));
        }
        // 7×7, k3, s3, no pad: (7 − 3)/3 + 1 = 2 with 4 mod 3 = 1 column dropped
        assert_eq!(out_size(7, 3, 3, 0), Some(AxisOut { out: 2, dropped: 1 }));
    }

    #[test]
    fn impossible() {
        assert_eq!(out_size(4, 7, 1, 1), None); // 4 + 2 < 7
        assert_eq!(out_size(4, 3, 0, 0), None);
        assert!(formula(4, 7, 1, 1).contains("undefined"));
    }
}
