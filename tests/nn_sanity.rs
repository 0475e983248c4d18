//! Behaviour a correct engine must show: the initial loss of a C-class softmax is ≈ ln C, one
//! SGD step lowers the loss on its batch, and a small batch can be memorised.

use convtop::nn::{Network, Sgd, SgdConfig};
use ndarray::Array4;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_batch(
    n: usize,
    shape: [usize; 3],
    classes: usize,
    seed: u64,
) -> (Array4<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let [c, h, w] = shape;
    let x = Array4::from_shape_fn((n, c, h, w), |_| rng.random_range(-1.0..1.0));
    let y = (0..n).map(|_| rng.random_range(0..classes)).collect();
    (x, y)
}

#[test]
fn initial_loss_is_near_ln_10() {
    for preset in ["mnist", "cifar"] {
        let p = convtop::nn::preset(preset).unwrap();
        let mut net = Network::<f32>::build(p.spec, p.input, 1).unwrap();
        let (x, y) = random_batch(64, p.input, 10, 2);
        let loss = net.evaluate(&x, &y).unwrap().loss;
        // ln 10 ≈ 2.303: the small classifier init gives nearly uniform probabilities
        assert!(
            (loss - 10f64.ln()).abs() < 0.1,
            "{preset}: initial loss {loss}"
        );
    }
}

#[test]
fn one_sgd_step_lowers_the_loss_on_its_batch() {
    let mut net = Network::<f32>::build("mnist", [1, 28, 28], 3).unwrap();
    let (x, y) = random_batch(32, [1, 28, 28], 10, 4);
    let cfg = SgdConfig {
        learning_rate: 0.01,
        momentum: 0.9,
        is_nesterov: false,
        lambda: 1e-4,
    };
    let before = net.train_batch(&x, &y, cfg.lambda).unwrap();
    Sgd::default().step(&mut net, &cfg);
    let after = net.evaluate(&x, &y).unwrap().loss + net.reg_loss(cfg.lambda);
    assert!(
        after < before.data_loss + before.reg_loss,
        "{after} ≥ {before:?}"
    );
}

#[test]
fn twenty_random_labels_are_memorised() {
    for is_nesterov in [false, true] {
        let mut net = Network::<f32>::build("mnist", [1, 28, 28], 5).unwrap();
        let (x, y) = random_batch(20, [1, 28, 28], 10, 6);
        let cfg = SgdConfig {
            learning_rate: 0.05,
            momentum: 0.9,
            is_nesterov,
            lambda: 0.0,
        };
        let mut sgd = Sgd::default();
        let mut last = None;
        for _ in 0..200 {
            last = Some(net.train_batch(&x, &y, cfg.lambda).unwrap());
            sgd.step(&mut net, &cfg);
        }
        let eval = net.evaluate(&x, &y).unwrap();
        assert_eq!(eval.correct, 20, "nesterov {is_nesterov}: {last:?}");
        assert!(
            eval.loss < 0.05,
            "nesterov {is_nesterov}: loss {}",
            eval.loss
        );
    }
}

#[test]
fn l2_is_half_lambda_sum_of_squared_weights_and_skips_biases() {
    let mut net = Network::<f32>::build("fc2", [1, 1, 2], 0).unwrap();
    // weights (2, 2) = [[1, 2], [3, 4]], biases [10, 10]: λ/2·(1 + 4 + 9 + 16) = 0.5·0.1·30 = 1.5
    net.load_tensors(|name| match name {
        "fc1.weight" => Some((vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])),
        "fc1.bias" => Some((vec![2], vec![10.0, 10.0])),
        _ => None,
    })
    .unwrap();
    assert!((net.reg_loss(0.1) - 1.5).abs() < 1e-6);
}

#[test]
fn wrong_input_shape_and_labels_are_errors() {
    let mut net = Network::<f32>::build("mnist", [1, 28, 28], 0).unwrap();
    let (x, y) = random_batch(2, [3, 28, 28], 10, 1);
    let e = net.evaluate(&x, &y).unwrap_err().to_string();
    assert!(
        e.contains("(n, 1, 28, 28)") && e.contains("(n, 3, 28, 28)"),
        "{e}"
    );
    let (x, _) = random_batch(2, [1, 28, 28], 10, 1);
    let e = net.evaluate(&x, &[0, 12]).unwrap_err().to_string();
    assert!(e.contains("label 12"), "{e}");
}

#[test]
fn dropout_masks_follow_the_step_and_evaluation_has_none() {
    let mut net = Network::<f32>::build("fc64 relu dropout0.5 fc10", [1, 4, 4], 3).unwrap();
    let x = Array4::from_shape_fn((8, 1, 4, 4), |(n, _, y, x)| {
        ((n * 16 + y * 4 + x) as f32 * 0.37).sin()
    });
    let mut at = |step: u64| {
        net.set_step(1, step);
        net.forward(&x).unwrap()
    };
    let (a, a_again, b) = (at(5), at(5), at(6));
    assert_eq!(a, a_again, "the same step draws the same mask");
    assert_ne!(a, b, "the next step draws another");
    // evaluation: no dropout, so two calls agree and differ from a training pass
    let (e1, e2) = (net.infer(&x).unwrap(), net.infer(&x).unwrap());
    assert_eq!(e1, e2);
    assert_ne!(e1, a);
}
