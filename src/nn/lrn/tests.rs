//! Fixed values of the normalisation, worked out by hand and taken from PyTorch.

use ndarray::Array4;

use super::LocalResponseNorm;

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{i}: {g} vs {w}");
    }
}

fn column(values: &[f64]) -> Array4<f64> {
    Array4::from_shape_vec((1, values.len(), 1, 1), values.to_vec()).unwrap()
}

#[test]
fn alpha_is_divided_by_the_window() {
    // size 3, k 1, α 3, β 1: α/size = 1, so s_c = 1 + Σ x² over W(c) = c−1 ..= c+1
    // x = [1, 2, 3]: s = [1 + 1 + 4, 1 + 1 + 4 + 9, 1 + 4 + 9] = [6, 15, 14]
    // (with α undivided, as the 2012 paper writes it, s would be [16, 43, 40])
    let mut lrn = LocalResponseNorm::<f64>::new(3, 1.0, 3.0, 1.0);
    let out = lrn.forward(column(&[1.0, 2.0, 3.0]), true);
    close(
        out.as_slice().unwrap(),
        &[1.0 / 6.0, 2.0 / 15.0, 3.0 / 14.0],
        1e-15,
    );
}

#[test]
fn even_windows_lean_back_as_in_pytorch() {
    // size 2: W(c) = c − 1 ..= c (PyTorch pads size/2 = 1 channel before, (size−1)/2 = 0 after)
    // k 1, α 2 (α/size = 1), β 1, x = [1, 2, 3]: s = [1 + 1, 1 + 1 + 4, 1 + 4 + 9] = [2, 6, 14]
    let mut lrn = LocalResponseNorm::<f64>::new(2, 1.0, 2.0, 1.0);
    let out = lrn.forward(column(&[1.0, 2.0, 3.0]), true);
    close(
        out.as_slice().unwrap(),
        &[1.0 / 2.0, 2.0 / 6.0, 3.0 / 14.0],
        1e-15,
    );
}

#[test]
fn krizhevsky_defaults() {
    // size 5, k 2, α 1e-4, β 0.75 on three channels: every window holds all three,
    // s = 2 + 1e-4/5 · (1 + 4 + 9) = 2.00028, out = x / 2.00028^0.75 (the two-sqrt path)
    let mut lrn = LocalResponseNorm::<f64>::new(5, 2.0, 1e-4, 0.75);
    let out = lrn.forward(column(&[1.0, 2.0, 3.0]), true);
    let d = 2.00028f64.powf(0.75);
    close(out.as_slice().unwrap(), &[1.0 / d, 2.0 / d, 3.0 / d], 1e-14);
}

/// x (1, 6, 1, 2) = arange(12)·0.75 − 4, as in the PyTorch snippet below.
fn pytorch_input() -> Array4<f64> {
    Array4::from_shape_fn((1, 6, 1, 2), |(_, c, _, w)| (c * 2 + w) as f64 * 0.75 - 4.0)
}

// Produced with PyTorch 2 (float64):
//   x = torch.arange(12, dtype=torch.float64).reshape(1,6,1,2) * 0.75 - 4.0
//   torch.nn.LocalResponseNorm(size=S, alpha=A, beta=B, k=K)(x)
#[test]
fn same_numbers_as_pytorch() {
    let cases: [(usize, f64, f64, f64, [f64; 12]); 3] = [
        (
            5,
            1e-4,
            0.75,
            2.0,
            [
                -2.377999578379e+00,
                -1.932263206378e+00,
                -1.486246950422e+00,
                -1.040437227888e+00,
                -5.944809500197e-01,
                -1.486254612129e-01,
                2.972488328740e-01,
                7.430855174289e-01,
                1.189051055465e+00,
                1.634825677011e+00,
                2.080854950765e+00,
                2.526549957560e+00,
            ],
        ),
        (
            3,
            0.5,
            0.75,
            1.0,
            [
                -1.251438725503e+00,
                -1.336255635184e+00,
                -7.620071451797e-01,
                -7.178084361274e-01,
                -5.443310539518e-01,
                -1.621423080026e-01,
                3.120463092428e-01,
                6.228862335213e-01,
                7.421753823237e-01,
                7.624567749847e-01,
                1.309736620515e+00,
                1.221741896652e+00,
            ],
        ),
        (
            4,
            0.3,
            0.6,
            1.5,
            [
                -2.002291046313e+00,
                -1.865731857212e+00,
                -1.233989838831e+00,
                -1.003506110076e+00,
                -4.918919189323e-01,
                -1.395107835315e-01,
                2.985017723066e-01,
                7.357926133027e-01,
                1.075411006397e+00,
                1.287226132853e+00,
                1.912738359574e+00,
                1.990929999495e+00,
            ],
        ),
    ];
    for (size, alpha, beta, k, want) in cases {
        let mut lrn = LocalResponseNorm::<f64>::new(size, k, alpha, beta);
        let out = lrn.forward(pytorch_input(), true);
        close(out.as_slice().unwrap(), &want, 1e-11);
    }
}

// PyTorch's input gradient for size 4, α 0.3, β 0.6, k 1.5 and
//   dout = torch.arange(12, dtype=torch.float64).reshape(1,6,1,2) * 0.1 - 0.5
#[test]
fn same_gradient_as_pytorch() {
    let mut lrn = LocalResponseNorm::<f64>::new(4, 1.5, 0.3, 0.6);
    lrn.forward(pytorch_input(), true);
    let dout = Array4::from_shape_fn((1, 6, 1, 2), |(_, c, _, w)| (c * 2 + w) as f64 * 0.1 - 0.5);
    let dx = lrn.backward(&dout);
    let want = [
        -9.003355612641e-02,
        -1.198345060855e-01,
        -4.507789122359e-02,
        -4.598413474286e-02,
        -2.609979289020e-02,
        6.425382939630e-03,
        3.757019801193e-02,
        5.656380238183e-02,
        7.550491161122e-02,
        5.267425740883e-02,
        1.270665668533e-01,
        9.638979730617e-02,
    ];
    close(dx.as_slice().unwrap(), &want, 1e-10);
}

#[test]
fn f32_matches_f64() {
    let x64 = pytorch_input();
    let x32 = x64.mapv(|v| v as f32);
    let mut a = LocalResponseNorm::<f64>::new(5, 2.0, 0.1, 0.75);
    let mut b = LocalResponseNorm::<f32>::new(5, 2.0, 0.1, 0.75);
    let (oa, ob) = (a.forward(x64, true), b.forward(x32, true));
    for (p, q) in oa.iter().zip(ob.iter()) {
        assert!((p - *q as f64).abs() < 1e-6);
    }
}

#[test]
fn the_divisor_measures_what_the_layer_did_beyond_k() {
    // the first test's layer (k 1, β 1): x = [1, 2, 3] is divided by s = [6, 15, 14], so
    // ‖x‖ = √14 against ‖x / s‖ = √(1/36 + 4/225 + 9/196)
    let mut lrn = LocalResponseNorm::<f64>::new(3, 1.0, 3.0, 1.0);
    assert_eq!(lrn.divisor(), None, "nothing before a training forward");
    lrn.forward(column(&[1.0, 2.0, 3.0]), true);
    let want = (14.0f64 / (1.0 / 36.0 + 4.0 / 225.0 + 9.0 / 196.0)).sqrt();
    close(&[f64::from(lrn.divisor().unwrap())], &[want], 1e-6);
    // an evaluation forward leaves it as the last training batch left it
    lrn.forward(column(&[0.0, 0.0, 1e-3]), false);
    close(&[f64::from(lrn.divisor().unwrap())], &[want], 1e-6);
    // the constant k alone is not normalisation: k 2 with α 0 divides by 2^β and counts 1.00
    let mut lrn = LocalResponseNorm::<f64>::new(5, 2.0, 0.0, 0.75);
    lrn.forward(column(&[1.0, -2.0, 3.0, 0.5, 4.0]), true);
    close(&[f64::from(lrn.divisor().unwrap())], &[1.0], 1e-12);
    // an all-zero batch has nothing to measure
    lrn.forward(column(&[0.0; 5]), true);
    assert_eq!(lrn.divisor(), None);
}

#[test]
fn the_published_alpha_normalises_nothing_at_unit_scale() {
    // cuda-convnet's norm3a5e-5b0.75k1 on activations of unit size (standardised input) divides
    // by 1.0001; on activations 64× larger (0–255 pixels, σ ≈ 64) by 1.16: s = 1 + α·σ² ≈ 1.2
    let xs: Vec<f64> = (0..32).map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0).collect();
    let mut lrn = LocalResponseNorm::<f64>::new(3, 1.0, 5e-5, 0.75);
    lrn.forward(column(&xs), true);
    let unit = lrn.divisor().unwrap();
    assert!(unit < 1.001, "{unit}");
    let big: Vec<f64> = xs.iter().map(|x| x * 64.0).collect();
    lrn.forward(column(&big), true);
    let pixels = lrn.divisor().unwrap();
    assert!(pixels > 1.1, "{pixels}");
}

fn plane(h: usize, w: usize, values: &[f64]) -> Array4<f64> {
    Array4::from_shape_vec((1, 1, h, w), values.to_vec()).unwrap()
}

#[test]
fn within_channel_sums_the_positions_around_each_one() {
    // size 3, k 1, α 9, β 1: α/size² = 1, so s = 1 + Σ x² over the 3×3 positions around each
    // one (zero beyond the border). x has 1 at (0,0) and 2 at (2,2): the positions next to
    // (0,0) add 1, those next to (2,2) add 4, the centre both
    let x = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0];
    let mut lrn = LocalResponseNorm::<f64>::within_channel(3, 1.0, 9.0, 1.0);
    let out = lrn.forward(plane(3, 3, &x), true);
    let s = [2.0, 2.0, 1.0, 2.0, 6.0, 5.0, 1.0, 5.0, 5.0];
    let want: Vec<f64> = x.iter().zip(&s).map(|(x, s)| x / s).collect();
    close(out.as_slice().unwrap(), &want, 1e-15);
}

#[test]
fn within_channel_matches_the_formula_summed_directly() {
    // 2 channels of 4×5 and a 5×5 window, against the definition summed position by position
    let (c, h, w, size) = (2, 4, 5, 5);
    let xs: Vec<f64> = (0..c * h * w)
        .map(|i| ((i * 13 % 17) as f64 - 8.0) / 4.0)
        .collect();
    let (k, alpha, beta) = (2.0, 0.3, 0.75);
    let mut lrn = LocalResponseNorm::<f64>::within_channel(size, k, alpha, beta);
    let out = lrn.forward(
        Array4::from_shape_vec((1, c, h, w), xs.clone()).unwrap(),
        true,
    );
    let r = (size / 2) as isize;
    let mut want = Vec::new();
    for ch in 0..c {
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut sum = 0.0;
                for yy in (y - r)..=(y + r) {
                    for xx in (x - r)..=(x + r) {
                        if (0..h as isize).contains(&yy) && (0..w as isize).contains(&xx) {
                            let v = xs[ch * h * w + yy as usize * w + xx as usize];
                            sum += v * v;
                        }
                    }
                }
                let s = k + alpha / (size * size) as f64 * sum;
                want.push(xs[ch * h * w + y as usize * w + x as usize] / s.powf(beta));
            }
        }
    }
    close(out.as_slice().unwrap(), &want, 1e-12);
    // PyTorch has no within-channel LRN; Caffe's formulation in it (k + α · avg_pool2d(x², 5,
    // stride 1, pad 2, count_include_pad) — `WithinChannelNorm` in scripts/bench_vs_pytorch.py)
    // on the same input, float64
    let torch = [
        -1.1356451867499004,
        0.6899807276474565,
        0.13412043350790248,
        -0.4134620090314948,
        -0.9721698484238358,
        0.8341456852036617,
    ];
    close(&out.as_slice().unwrap()[..6], &torch, 1e-12);
}
