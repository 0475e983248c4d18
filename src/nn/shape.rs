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

/// Caffe's and cuda-convnet's pooling rule (PyTorch's `ceil_mode=True`), rounding up so the
/// last window may hang over the edge and pool only the inputs it covers:
/// `out = ⌈(input − kernel) / stride⌉ + 1`, less one when that last window would start past the
/// input. `dropped` is always 0: every input is reached.
pub fn out_size_ceil(input: usize, kernel: usize, stride: usize) -> Option<AxisOut> {
    if stride == 0 || kernel == 0 || kernel > input {
        return None;
    }
    let mut out = (input - kernel).div_ceil(stride) + 1;
    if (out - 1) * stride >= input {
        out -= 1;
    }
    Some(AxisOut { out, dropped: 0 })
}

/// The ceil rule with the numbers filled in, e.g. `⌈(32 − 3)/2⌉ + 1 = 16`.
pub fn formula_ceil(input: usize, kernel: usize, stride: usize) -> String {
    match out_size_ceil(input, kernel, stride) {
        Some(o) => format!("⌈({input} − {kernel})/{stride}⌉ + 1 = {}", o.out),
        None => format!("⌈({input} − {kernel})/{stride}⌉ + 1 is undefined"),
    }
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
    fn ceil_mode_matches_caffe() {
        // cifar10_full's pools, 3×3 stride 2: ⌈(32 − 3)/2⌉ + 1 = ⌈14.5⌉ + 1 = 16 (floor: 15),
        // then ⌈(16 − 3)/2⌉ + 1 = 8 (floor: 7), then ⌈(8 − 3)/2⌉ + 1 = 4 (floor: 3)
        assert_eq!(out_size_ceil(32, 3, 2).map(|o| o.out), Some(16));
        assert_eq!(out_size_ceil(16, 3, 2).map(|o| o.out), Some(8));
        assert_eq!(out_size_ceil(8, 3, 2).map(|o| o.out), Some(4));
        // tiling windows round the same either way: ⌈(55 − 3)/2⌉ + 1 = 27
        assert_eq!(out_size_ceil(55, 3, 2).map(|o| o.out), Some(27));
        // ⌈(5 − 2)/3⌉ + 1 = 3 would start the last window at 6 ≥ 5: one fewer
        assert_eq!(out_size_ceil(5, 2, 3).map(|o| o.out), Some(2));
        assert_eq!(out_size_ceil(2, 3, 1), None);
        assert!(formula_ceil(32, 3, 2).contains("= 16"));
    }

    #[test]
    fn impossible() {
        assert_eq!(out_size(4, 7, 1, 1), None); // 4 + 2 < 7
        assert_eq!(out_size(4, 3, 0, 0), None);
        assert!(formula(4, 7, 1, 1).contains("undefined"));
    }
}
