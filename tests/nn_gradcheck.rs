//! Gradient checks: f64 central differences against the analytic gradients, for every layer
//! type, strides > 1, padding, non-square inputs and kernels, and pooling windows that overlap
//! or do not tile.

use convtop::nn::gradcheck::{CheckSetup, check};

/// f64 central differences agree with correct analytic gradients to ~1e-8; a wrong index or a
/// missing term shows up as ≥ 1e-2.
const MAX_REL: f64 = 1e-5;

/// Whole presets stack up to six ReLUs and three max-pools: a bias step moves thousands of units
/// at once, so some kink almost always lies within ±h and bends the difference by O(h·jump),
/// ~1e-4. Gradient-checking practice (CS231n) counts ≤ 1e-3 as correct for such nets.
const MAX_REL_DEEP: f64 = 1e-3;

fn assert_checks(spec: &str, input: [usize; 3]) {
    assert_checks_within(spec, input, MAX_REL);
}

fn assert_checks_within(spec: &str, input: [usize; 3], max_rel: f64) {
    let setup = CheckSetup {
        batch: 3,
        lambda: 0.05,
        seed: 11,
        max_per_tensor: 60,
    };
    let rows = check(spec, input, &setup).unwrap();
    assert!(rows.iter().any(|r| r.name == "input"));
    for r in &rows {
        assert!(r.checked > 0);
        assert!(
            r.kinks * 5 < r.checked,
            "{}: {} of {} entries sat on kinks",
            r.name,
            r.kinks,
            r.checked
        );
        assert!(
            r.worst_rel < max_rel,
            "{spec} on {input:?}: {} worst relative error {:.3e} (analytic {:.6e}, numeric {:.6e})",
            r.name,
            r.worst_rel,
            r.analytic,
            r.numeric
        );
    }
}

#[test]
fn fully_connected() {
    assert_checks("fc5", [2, 3, 4]);
}

#[test]
fn conv_stride_pad_nonsquare() {
    // 7×5 input, 3×2 kernel, stride 2, pad 1: h (7 + 2 − 3)/2 + 1 = 4, w (5 + 2 − 2)/2 + 1 = 3
    assert_checks("conv3k3x2s2p1 fc4", [2, 7, 5]);
    // 5×5 kernel, pad 2 keeps 6×6
    assert_checks("conv2k5p2 fc3", [1, 6, 6]);
}

#[test]
fn relu_after_conv() {
    assert_checks("conv4k3p1 relu fc3", [2, 5, 6]);
}

#[test]
fn max_pool_tiling_overlapping_and_not_tiling() {
    assert_checks("conv3k3p1 pool2 fc3", [1, 6, 6]);
    // k3 s2 windows overlap: (7 − 3)/2 + 1 = 3
    assert_checks("conv3k3p1 pool3s2 fc3", [1, 7, 7]);
    // k3 s3 on 8×7: (8 − 3)/3 + 1 = 2 with 2 rows dropped, (7 − 3)/3 + 1 = 2 with 1 column dropped
    assert_checks("conv2k1 pool3 fc3", [2, 8, 7]);
}

#[test]
fn avg_pool_tiling_and_overlapping() {
    assert_checks("conv3k3p1 avgpool2 fc3", [1, 6, 6]);
    assert_checks("conv3k3p1 avgpool3s2 fc3", [1, 7, 7]);
}

#[test]
fn presets_whole_network() {
    assert_checks_within("mnist", [1, 28, 28], MAX_REL_DEEP);
    assert_checks_within("cifar", [3, 32, 32], MAX_REL_DEEP);
    assert_checks_within("seed", [3, 32, 32], MAX_REL_DEEP);
}

#[test]
fn local_response_norm() {
    // α large enough that the normalisation bends the output (α·Σx²/n ~ 1, not ~1e-4)
    assert_checks("conv6k3p1 norm3a0.5b0.75k1 fc3", [2, 5, 6]);
    // an even window (W(c) = c − 2 ..= c + 1), β ≠ 0.75 (the powf path), a window wider than
    // the channels
    assert_checks("conv5k3p1 norm4a0.3b0.6k1.5 fc3", [1, 4, 5]);
    assert_checks("conv3k1 norm7a2b1k2 fc2", [2, 3, 3]);
    // Krizhevsky's defaults after a ReLU
    assert_checks("conv6k3p1 relu norm fc3", [2, 5, 6]);
}

#[test]
fn within_channel_norm() {
    // α/size² · Σ over 3×3 positions ~ 1; a non-square plane so rows and columns differ
    assert_checks("conv4k3p1 norm3wa4b0.75k1 fc3", [2, 5, 6]);
    // a 5×5 window wider than the 3-row plane, β ≠ 0.75, after a ReLU
    assert_checks("conv3k3p1 relu norm5wa6b0.6k2 fc2", [1, 3, 7]);
    // Caffe's cifar10_full norm, with α raised so it bends the output
    assert_checks("conv4k5p2 pool3s2ceil relu norm3wa2b0.75k1 fc3", [3, 9, 9]);
}

#[test]
fn dropout_with_its_fixed_mask() {
    // the training pass's mask depends only on the step seed, so every difference quotient
    // and the analytic gradient see the same mask
    assert_checks("fc8 dropout0.5 fc3", [2, 3, 4]);
    assert_checks("conv4k3p1 relu dropout0.3 fc3", [2, 5, 6]);
}

#[test]
fn fully_connected_stack() {
    assert_checks("fc12 relu dropout0.5 fc10", [2, 3, 4]);
    assert_checks(
        "conv4k3p1 relu pool2 fc16 relu dropout0.5 fc12 relu fc5",
        [3, 6, 6],
    );
}

#[test]
fn batch_norm() {
    // after a conv, before and after a ReLU; a non-square plane; two images so each channel's
    // statistics couple 2·h·w units
    assert_checks("conv4k3p1 bn relu fc3", [2, 5, 6]);
    // relu before bn: bn undoes any shift of its input, so what reaches conv1.bias and the
    // input is only what the ReLU's cut leaves, 1e-6 to 1e-8; there the difference quotient's
    // ~1e-11 round-off is 1e-5 to 1e-4 of the gradient (or of TINY), so the deep nets'
    // tolerance applies
    assert_checks_within("conv3k3p1 relu bn pool2 fc3", [1, 4, 6], MAX_REL_DEEP);
    // after an fc layer (BatchNorm1d: the batch alone, 3 units per feature; three values
    // standardised put the middle one near 0, a ReLU's kink, so no ReLU right after it)
    assert_checks("fc6 bn fc3", [2, 3, 4]);
    assert_checks("fc6 relu bn fc5 relu fc3", [2, 3, 4]);
    // vggish's block: conv, bn, relu twice, then a pool
    assert_checks("conv3k3p1 bn relu conv4k3p1 bn relu pool2 fc3", [3, 4, 4]);
}

#[test]
fn ceil_mode_pooling() {
    // k3 s2 ceil on 6×6: ⌈(6 − 3)/2⌉ + 1 = 3 (floor: 2), the last window covers 2 of 3
    assert_checks("conv3k3p1 pool3s2ceil fc3", [1, 6, 6]);
    assert_checks("conv3k3p1 avgpool3s2ceil fc3", [1, 6, 6]);
    // non-square: h ⌈(7 − 2)/2⌉ + 1 = 4 (floor 3), w ⌈(4 − 2)/2⌉ + 1 = 2
    assert_checks("conv2k1 avgpool2s2ceil fc3", [2, 7, 4]);
}

#[test]
fn cudaconvnet_whole_network() {
    assert_checks_within("cudaconvnet", [3, 32, 32], MAX_REL_DEEP);
}

#[test]
fn per_layer_weight_decay() {
    // the L2 term's gradient m·λ·W against the numeric derivative of λ/2·Σ m·‖W‖²
    assert_checks("conv3k3p1wd4 relu fc4wd25", [2, 5, 5]);
}
