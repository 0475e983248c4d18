//! Fixed values of batch normalisation, worked out by hand and taken from PyTorch.

use super::*;

/// x (2, 3, 2, 2) = (arange(24)·0.37 − 2)² times 1, −0.5, 0.25 by channel, as in the PyTorch
/// snippet below.
fn pytorch_input() -> Array4<f64> {
    let scale = [1.0, -0.5, 0.25];
    Array4::from_shape_fn((2, 3, 2, 2), |(n, c, y, x)| {
        let i = ((n * 3 + c) * 2 + y) * 2 + x;
        (i as f64 * 0.37 - 2.0).powi(2) * scale[c]
    })
}

fn assert_close(got: &[f64], expected: &[f64], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!(
            (g - e).abs() < 1e-9 * e.abs().max(1.0),
            "{what}[{i}]: {g} against {e}"
        );
    }
}

// Produced with PyTorch 2.15 (float64):
//   bn = nn.BatchNorm2d(3); bn.weight = [1.5, −0.7, 2.0]; bn.bias = [0.1, 0.2, −0.3]
//   y = bn(x); (y · sin(arange(24)).reshape(2, 3, 2, 2)).sum().backward()
//   then bn.eval(); bn(x)
#[test]
fn same_numbers_as_pytorch() {
    let mut bn = BatchNorm::<f64>::new(3);
    bn.gamma = vec![1.5, -0.7, 2.0];
    bn.beta = vec![0.1, 0.2, -0.3];
    let y = bn.forward(pytorch_input(), true);
    #[rustfmt::skip]
    let y_torch = [
        -5.447727493914e-01, -1.054136205385e+00, -1.459662483022e+00, -1.761351582302e+00,
        -4.705390610639e-01, -4.873056656884e-01, -4.855539308769e-01, -4.652838566294e-01,
        -2.436606677519e+00, -2.336742828320e+00, -2.204608564969e+00, -2.040203887466e+00,
        1.961195502357e-01, 9.328022345241e-01, 1.773322097169e+00, 2.717679138171e+00,
        5.504720862176e-01, 7.559255548250e-01, 9.798973628684e-01, 1.222387510348e+00,
        8.916068468866e-01, 1.378715665907e+00, 1.898094899078e+00, 2.449744546402e+00,
    ];
    assert_close(y.as_slice().unwrap(), &y_torch, "y");
    assert_close(
        &bn.running_mean,
        &[5.700150000000e-01, -5.092275000000e-01, 4.762437500000e-01],
        "running_mean",
    );
    assert_close(
        &bn.running_var,
        &[2.687867454000e+00, 3.960487996071e+00, 2.956787971304e+00],
        "running_var",
    );

    let dout = Array4::from_shape_fn((2, 3, 2, 2), |(n, c, y, x)| {
        ((((n * 3 + c) * 2 + y) * 2 + x) as f64).sin()
    });
    let dx = bn.backward(dout.clone());
    #[rustfmt::skip]
    let dx_torch = [
        -1.482870334642e-01, 1.816341452446e-01, 2.159535787184e-01, -6.897816921764e-02,
        5.185479747528e-02, 7.928057201743e-02, -1.264484159367e-02, -1.394138014091e-01,
        4.211404407708e-01, 1.490490438851e-01, -3.016581250354e-01, -5.165477016950e-01,
        -3.674853639140e-01, -2.026357545806e-02, 1.782549417448e-01, 2.917147634610e-02,
        -1.674547320767e-02, 7.331659648970e-02, 4.371989443485e-02, -7.936774420681e-02,
        3.866301577615e-01, 3.508854183936e-01, -4.748834946246e-02, -4.420108846180e-01,
    ];
    assert_close(dx.as_slice().unwrap(), &dx_torch, "dx");
    assert_close(
        &bn.dgamma,
        &[6.707652188741e-01, 2.097376565934e-01, -1.544095674696e-02],
        "dγ",
    );
    assert_close(
        &bn.dbeta,
        &[3.416377734372e+00, -3.188566515105e+00, 7.519945902232e-01],
        "dβ",
    );

    let y_eval = bn.forward(pytorch_input(), false);
    #[rustfmt::skip]
    let y_eval_torch = [
        3.238186484303e+00, 2.009347796359e+00, 1.031016168767e+00, 3.031916015278e-01,
        6.843914855515e-02, 2.484083683586e-02, 2.939588432892e-02, 8.210429103433e-02,
        -5.859422575944e-01, -3.395674007395e-01, -1.357796131999e-02, 3.920260606640e-01,
        5.025588212222e+00, 6.802834248505e+00, 8.830587345140e+00, 1.110884750213e+01,
        2.723381115939e+00, 3.257623114768e+00, 3.840018472809e+00, 4.470567190063e+00,
        7.625118473922e+00, 8.826868321551e+00, 1.010823275174e+01, 1.146921176450e+01,
    ];
    assert_close(y_eval.as_slice().unwrap(), &y_eval_torch, "y in evaluation");
}

/// Two images of two 1×2 channels, values picked so the statistics come out round.
fn input() -> Array4<f64> {
    // channel 0: 1, 3 | 5, 7 → mean 4, biased var (9 + 1 + 1 + 9)/4 = 5, unbiased 20/3
    // channel 1: 2, 2 | 2, 2 → mean 2, var 0
    Array4::from_shape_vec((2, 2, 1, 2), vec![1.0, 3.0, 2.0, 2.0, 5.0, 7.0, 2.0, 2.0]).unwrap()
}

#[test]
fn training_standardises_each_channel_and_updates_the_running_statistics() {
    let mut bn = BatchNorm::<f64>::new(2);
    bn.gamma = vec![2.0, 1.0];
    bn.beta = vec![0.5, -1.0];
    let y = bn.forward(input(), true);
    let s = 1.0 / (5.0f64 + EPS).sqrt();
    let expected0: Vec<f64> = [1.0, 3.0, 5.0, 7.0]
        .iter()
        .map(|v| 2.0 * (v - 4.0) * s + 0.5)
        .collect();
    let got0 = [
        y[[0, 0, 0, 0]],
        y[[0, 0, 0, 1]],
        y[[1, 0, 0, 0]],
        y[[1, 0, 0, 1]],
    ];
    for (g, e) in got0.iter().zip(&expected0) {
        assert!((g - e).abs() < 1e-12, "{g} against {e}");
    }
    // a constant channel becomes β exactly
    assert!(y.index_axis(ndarray::Axis(1), 1).iter().all(|&v| v == -1.0));
    // running: 0.9·0 + 0.1·4, 0.9·1 + 0.1·20/3; channel 1: 0.1·2, 0.9·1 + 0
    assert!((bn.running_mean[0] - 0.4).abs() < 1e-12);
    assert!((bn.running_var[0] - (0.9 + 0.1 * 20.0 / 3.0)).abs() < 1e-12);
    assert!((bn.running_mean[1] - 0.2).abs() < 1e-12);
    assert!((bn.running_var[1] - 0.9).abs() < 1e-12);
}

#[test]
fn evaluation_uses_the_running_statistics_and_changes_nothing() {
    let mut bn = BatchNorm::<f64>::new(2);
    bn.running_mean = vec![1.0, -2.0];
    bn.running_var = vec![4.0, 0.25];
    bn.gamma = vec![3.0, 1.0];
    bn.beta = vec![0.0, 1.0];
    let y = bn.forward(input(), false);
    // channel 0, x = 5: 3·(5 − 1)/√(4 + ε); channel 1, x = 2: (2 + 2)/√(0.25 + ε) + 1
    assert!((y[[1, 0, 0, 0]] - 12.0 / (4.0f64 + EPS).sqrt()).abs() < 1e-12);
    assert!((y[[0, 1, 0, 1]] - (4.0 / (0.25f64 + EPS).sqrt() + 1.0)).abs() < 1e-12);
    assert_eq!(bn.running_mean, vec![1.0, -2.0]);
    assert_eq!(bn.running_var, vec![4.0, 0.25]);
}

#[test]
fn the_input_gradient_sums_to_zero_over_each_channel() {
    // y is invariant to adding a constant to a channel's inputs, so Σ dx over it is 0
    let mut bn = BatchNorm::<f64>::new(2);
    bn.forward(input(), true);
    let dout = Array4::from_shape_vec((2, 2, 1, 2), vec![0.3, -1.0, 2.0, 0.1, 0.7, 0.2, -0.4, 1.5])
        .unwrap();
    let dx = bn.backward(dout.clone());
    let sum0: f64 = dx.index_axis(ndarray::Axis(1), 0).sum();
    assert!(sum0.abs() < 1e-12, "{sum0}");
    // dβ = Σ dy per channel
    assert!((bn.dbeta[0] - (0.3 - 1.0 + 0.7 + 0.2)).abs() < 1e-12);
    assert!((bn.dbeta[1] - (2.0 + 0.1 - 0.4 + 1.5)).abs() < 1e-12);
}
