//! Mini-batch SGD with momentum (classical or Nesterov) and L2 weight decay.

use rayon::prelude::*;

use super::gemm::Float;
use super::net::Network;

/// Parameters a task of the update takes (vggish's largest tensor is 147,456).
const STEP_CHUNK: usize = 16 * 1024;

/// The optimiser's knobs; all may change between iterations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub learning_rate: f32,
    pub momentum: f32,
    pub is_nesterov: bool,
    /// L2 strength λ in L = L_data + λ/2·Σ‖W‖².
    pub lambda: f32,
}

/// What one step did to one parameter tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamUpdate {
    pub name: String,
    pub weight_norm: f32,
    /// ‖dL/dW‖ including the L2 term.
    pub grad_norm: f32,
    /// ‖ΔW‖, the step actually taken.
    pub update_norm: f32,
}

#[derive(Debug, Clone, Default)]
pub struct Sgd {
    /// One velocity buffer per parameter tensor, in `Network::params_mut` order.
    pub velocity: Vec<Vec<f32>>,
}

impl Sgd {
    /// One update of every parameter from the gradients in the network:
    /// g = dW + l2·λ·W; v ← μ·v − lr·g; classical: W += v; Nesterov: W += −μ·v_prev + (1 + μ)·v.
    pub fn step(&mut self, net: &mut Network<f32>, cfg: &SgdConfig) -> Vec<ParamUpdate> {
        let params = net.params_mut();
        if self.velocity.len() != params.len() {
            self.velocity = params.iter().map(|p| vec![0.0; p.w.len()]).collect();
        }
        let (lr, mu) = (cfg.learning_rate, cfg.momentum);
        params
            .into_iter()
            .zip(&mut self.velocity)
            .map(|(p, v)| {
                let decay = p.l2 * cfg.lambda;
                // fixed chunks in parallel, their squared norms summed in order: the same
                // figures whatever the thread count
                let sums: Vec<[f64; 3]> =
                    p.w.par_chunks_mut(STEP_CHUNK)
                        .zip(p.dw.par_chunks(STEP_CHUNK))
                        .zip(v.par_chunks_mut(STEP_CHUNK))
                        .map(|((w, dw), v)| {
                            let mut sq = [0.0f64; 3];
                            for ((w, &dw), v) in w.iter_mut().zip(dw).zip(v.iter_mut()) {
                                let g = dw + decay * *w;
                                let v_prev = *v;
                                *v = mu * *v - lr * g;
                                let delta = if cfg.is_nesterov {
                                    -mu * v_prev + (1.0 + mu) * *v
                                } else {
                                    *v
                                };
                                *w += delta;
                                sq[0] += (*w as f64).powi(2);
                                sq[1] += (g as f64).powi(2);
                                sq[2] += (delta as f64).powi(2);
                            }
                            sq
                        })
                        .collect();
                let [w_sq, g_sq, u_sq] = sums
                    .iter()
                    .fold([0.0; 3], |a, s| [a[0] + s[0], a[1] + s[1], a[2] + s[2]]);
                ParamUpdate {
                    name: p.name,
                    weight_norm: w_sq.sqrt() as f32,
                    grad_norm: g_sq.sqrt() as f32,
                    update_norm: u_sq.sqrt() as f32,
                }
            })
            .collect()
    }
}

/// Converts a network's parameters to another float type (for f64 gradient checks).
pub fn convert<A: Float, B: Float>(net: &Network<A>) -> Result<Network<B>, super::NnError> {
    let mut out = Network::<B>::build(&net.spec, net.input_shape(), 0)?;
    let tensors = net.tensors();
    out.load_tensors(|name| {
        tensors
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, v)| (s.clone(), v.iter().map(|x| B::of(x.as_f64())).collect()))
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layers_weights_decay_with_its_multiplier_and_its_bias_not_at_all() {
        let mut net = Network::<f32>::build("fc2wd3", [1, 1, 2], 1).unwrap();
        let before: Vec<Vec<f32>> = net.params_mut().iter().map(|p| p.w.to_vec()).collect();
        net.zero_grad();
        let cfg = SgdConfig {
            learning_rate: 1.0,
            momentum: 0.0,
            is_nesterov: false,
            lambda: 0.1,
        };
        Sgd::default().step(&mut net, &cfg);
        let after: Vec<Vec<f32>> = net.params_mut().iter().map(|p| p.w.to_vec()).collect();
        // zero data gradient: W ← W − lr·3·λ·W = 0.7·W; the bias stays
        for (b, a) in before[0].iter().zip(&after[0]) {
            assert!((a - 0.7 * b).abs() < 1e-6, "{b} → {a}");
        }
        assert_eq!(before[1], after[1]);
        let sq: f64 = after[0].iter().map(|&w| f64::from(w).powi(2)).sum();
        assert!((net.reg_loss(0.1) - 0.5 * 0.1 * 3.0 * sq).abs() < 1e-6);
    }
}
