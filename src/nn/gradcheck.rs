//! Numerical gradient checks: central differences in f64 against the analytic gradients of the
//! same network, for every parameter tensor and the input.

use ndarray::Array4;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::NnError;
use super::loss::softmax_cross_entropy;
use super::net::{Mode, Network};

/// Step of the central difference: the O(h²) truncation error (~1e-10) and the round-off of the
/// loss (~1e-16/h ≈ 1e-11) both stay far below the gradients checked.
const H: f64 = 1e-5;

/// Two step sizes (H and H/10, the latter with ~1e-10 round-off) that disagree by more than this relative amount mean a ReLU kink
/// or a max-pooling tie lies within ±H: the function is not differentiable there, so the entry
/// is skipped and counted rather than reported as an error.
const KINK: f64 = 1e-3;

/// The floor of the relative error's denominator: the absolute round-off of a difference quotient
/// at H/10 is ~1e-10, so gradients smaller than this are compared absolutely.
const TINY: f64 = 1e-7;

/// The worst disagreement found in one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    /// `conv1.weight`, `fc1.bias`, … or `input`.
    pub name: String,
    pub checked: usize,
    pub total: usize,
    /// Entries skipped because a kink lay within the difference step.
    pub kinks: usize,
    /// max |a − n| / max(|a|, |n|)
    pub worst_rel: f64,
    pub analytic: f64,
    pub numeric: f64,
}

pub struct CheckSetup {
    pub batch: usize,
    pub lambda: f64,
    pub seed: u64,
    /// At most this many entries per tensor (chosen at random, seeded); all of them when smaller.
    pub max_per_tensor: usize,
}

fn total_loss(
    net: &mut Network<f64>,
    x: &Array4<f64>,
    labels: &[usize],
    lambda: f64,
) -> Result<f64, NnError> {
    // the training pass, whose dropout masks depend only on the step seed: one fixed mask
    // for every difference quotient and for the analytic gradient
    Ok(net.evaluate_mode(x, labels, Mode::Train)?.loss + net.reg_loss(lambda))
}

/// |a − n| / max(|a|, |n|), with gradients below TINY treated as TINY (their difference is round-off).
fn relative(a: f64, n: f64) -> f64 {
    (a - n).abs() / a.abs().max(n.abs()).max(TINY)
}

/// Central difference of `f` at step h and h/10; `None` where the two disagree (a kink).
fn central(mut f: impl FnMut(f64) -> Result<f64, NnError>) -> Result<Option<f64>, NnError> {
    let wide = (f(H)? - f(-H)?) / (2.0 * H);
    let narrow = (f(H / 10.0)? - f(-H / 10.0)?) / (0.2 * H);
    Ok(if relative(wide, narrow) > KINK {
        None
    } else {
        Some(wide)
    })
}

fn sample(total: usize, max: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    if total <= max {
        return (0..total).collect();
    }
    (0..max).map(|_| rng.random_range(0..total)).collect()
}

/// Checks every parameter of `spec` on input `input` (c, h, w); one row per tensor, then `input`.
pub fn check(spec: &str, input: [usize; 3], setup: &CheckSetup) -> Result<Vec<CheckRow>, NnError> {
    let mut net = Network::<f64>::build(spec, input, setup.seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(setup.seed ^ 0x9e37_79b9);
    // biases start at zero; give them values so their gradients are checked off the origin
    for p in net.params_mut() {
        if p.l2 == 0.0 {
            p.w.iter_mut()
                .for_each(|b| *b = rng.random_range(-0.1..0.1));
        }
    }
    let [c, h, w] = input;
    let x = Array4::from_shape_fn((setup.batch, c, h, w), |_| rng.random_range(-1.0..1.0));
    let classes = net.num_classes();
    let labels: Vec<usize> = (0..setup.batch)
        .map(|_| rng.random_range(0..classes))
        .collect();

    net.zero_grad();
    let logits = net.forward(&x)?;
    let flat_logits: Vec<f64> = logits.iter().copied().collect();
    let loss = softmax_cross_entropy(&flat_logits, classes, &labels);
    let dlogits = Array4::from_shape_vec(logits.dim(), loss.dlogits).expect("one gradient a logit");
    let dx = net.backward(dlogits, true);

    let analytic: Vec<(String, Vec<f64>)> = net
        .params_mut()
        .into_iter()
        .map(|p| {
            let g =
                p.dw.iter()
                    .zip(p.w.iter())
                    .map(|(&d, &w)| d + p.l2 * setup.lambda * w)
                    .collect();
            (p.name, g)
        })
        .collect();

    let mut rows = Vec::new();
    for (ti, (name, grad)) in analytic.iter().enumerate() {
        let idx = sample(grad.len(), setup.max_per_tensor, &mut rng);
        let mut row = CheckRow {
            name: name.clone(),
            checked: idx.len(),
            total: grad.len(),
            kinks: 0,
            worst_rel: 0.0,
            analytic: 0.0,
            numeric: 0.0,
        };
        for i in idx {
            let old = net.params_mut()[ti].w[i];
            let numeric = central(|dh| {
                net.params_mut()[ti].w[i] = old + dh;
                let l = total_loss(&mut net, &x, &labels, setup.lambda);
                net.params_mut()[ti].w[i] = old;
                l
            })?;
            let Some(numeric) = numeric else {
                row.kinks += 1;
                continue;
            };
            let rel = relative(grad[i], numeric);
            if rel >= row.worst_rel {
                (row.worst_rel, row.analytic, row.numeric) = (rel, grad[i], numeric);
            }
        }
        rows.push(row);
    }

    let flat: Vec<f64> = dx.iter().copied().collect();
    let idx = sample(flat.len(), setup.max_per_tensor, &mut rng);
    let mut row = CheckRow {
        name: "input".into(),
        checked: idx.len(),
        total: flat.len(),
        kinks: 0,
        worst_rel: 0.0,
        analytic: 0.0,
        numeric: 0.0,
    };
    let mut xp = x.clone();
    for i in idx {
        let old = xp[idx4(&xp, i)];
        let numeric = central(|dh| {
            let at = idx4(&xp, i);
            xp[at] = old + dh;
            let l = total_loss(&mut net, &xp, &labels, setup.lambda);
            xp[at] = old;
            l
        })?;
        let Some(numeric) = numeric else {
            row.kinks += 1;
            continue;
        };
        let rel = relative(flat[i], numeric);
        if rel >= row.worst_rel {
            (row.worst_rel, row.analytic, row.numeric) = (rel, flat[i], numeric);
        }
    }
    rows.push(row);
    Ok(rows)
}

/// The (n, c, h, w) index of flat position `i`.
fn idx4(a: &Array4<f64>, i: usize) -> [usize; 4] {
    let (_, c, h, w) = a.dim();
    [i / (c * h * w), i / (h * w) % c, i / w % h, i % w]
}
