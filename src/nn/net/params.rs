//! A network's parameters by name: the tensors the optimiser updates, and the named tensors a
//! checkpoint saves and loads (PyTorch layout).

use super::{Layer, Network, ParamMut, contiguous, contiguous_mut, layer_ref_shape};
use crate::nn::error::NnError;
use crate::nn::gemm::Float;

impl<F: Float> Network<F> {
    /// Every parameter tensor in a fixed order, weights before biases, layer by layer (a batch
    /// norm's γ and β as `weight` and `bias`, as in PyTorch).
    pub fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        let mut out = Vec::new();
        for (layer, pl) in self.layers.iter_mut().zip(&self.plan.layers) {
            let name = &pl.info.name;
            let (w, dw, b, db) = match layer {
                Layer::Conv(c) => (
                    contiguous_mut(&mut c.w),
                    contiguous(&c.dw),
                    contiguous_mut(&mut c.b),
                    contiguous(&c.db),
                ),
                Layer::Linear(f) => (
                    contiguous_mut(&mut f.w),
                    contiguous(&f.dw),
                    contiguous_mut(&mut f.b),
                    contiguous(&f.db),
                ),
                Layer::BatchNorm(n) => (
                    &mut n.gamma[..],
                    &n.dgamma[..],
                    &mut n.beta[..],
                    &n.dbeta[..],
                ),
                _ => continue,
            };
            let (w_shape, b_len) = layer_ref_shape(&pl.spec, pl.in_shape);
            out.push(ParamMut {
                name: format!("{name}.weight"),
                shape: w_shape,
                w,
                dw,
                l2: F::of(pl.spec.wd_mult()),
            });
            out.push(ParamMut {
                name: format!("{name}.bias"),
                shape: vec![b_len],
                w: b,
                dw: db,
                l2: F::zero(),
            });
        }
        out
    }

    /// A batch norm's running statistics, by name (`bn1.running_mean`, `bn1.running_var`):
    /// state a checkpoint keeps and evaluation reads, but no gradient reaches.
    fn buffers_mut(&mut self) -> Vec<(String, &mut [F])> {
        let mut out = Vec::new();
        for (layer, pl) in self.layers.iter_mut().zip(&self.plan.layers) {
            if let Layer::BatchNorm(n) = layer {
                let name = &pl.info.name;
                out.push((format!("{name}.running_mean"), &mut n.running_mean[..]));
                out.push((format!("{name}.running_var"), &mut n.running_var[..]));
            }
        }
        out
    }

    /// Named tensors (name, shape, values) in PyTorch layout: conv weight (c_out, c_in, kh, kw),
    /// linear weight (out, in), biases (out), a batch norm's γ, β and running statistics (c).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<F>)> {
        let mut out = Vec::new();
        for (layer, pl) in self.layers.iter().zip(&self.plan.layers) {
            let name = &pl.info.name;
            let (w, b): (&[F], &[F]) = match layer {
                Layer::Conv(c) => (contiguous(&c.w), contiguous(&c.b)),
                Layer::Linear(f) => (contiguous(&f.w), contiguous(&f.b)),
                Layer::BatchNorm(n) => (&n.gamma, &n.beta),
                _ => continue,
            };
            let (w_shape, b_len) = layer_ref_shape(&pl.spec, pl.in_shape);
            out.push((format!("{name}.weight"), w_shape, w.to_vec()));
            out.push((format!("{name}.bias"), vec![b_len], b.to_vec()));
            if let Layer::BatchNorm(n) = layer {
                out.push((
                    format!("{name}.running_mean"),
                    vec![b_len],
                    n.running_mean.clone(),
                ));
                out.push((
                    format!("{name}.running_var"),
                    vec![b_len],
                    n.running_var.clone(),
                ));
            }
        }
        out
    }

    /// Loads every parameter (and a batch norm's running statistics) by name; a missing tensor
    /// or a wrong shape is an error naming it.
    pub fn load_tensors(
        &mut self,
        find: impl Fn(&str) -> Option<(Vec<usize>, Vec<F>)>,
    ) -> Result<(), NnError> {
        let params = self
            .params_mut()
            .into_iter()
            .map(|p| (p.name, p.shape, p.w))
            .collect::<Vec<_>>();
        for (name, shape, w) in params {
            load_one(&find, name, &shape, w)?;
        }
        for (name, w) in self.buffers_mut() {
            let shape = vec![w.len()];
            let is_var = name.ends_with(".running_var");
            load_one(&find, name.clone(), &shape, w)?;
            // a variance below 0 would make every evaluation NaN (√ of a negative)
            if is_var && !w.iter().all(|v| v.is_finite() && *v >= F::zero()) {
                return Err(NnError::Tensor {
                    name,
                    problem: "holds a negative or non-finite variance: the checkpoint is damaged"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

fn load_one<F: Float>(
    find: &impl Fn(&str) -> Option<(Vec<usize>, Vec<F>)>,
    name: String,
    expected: &[usize],
    w: &mut [F],
) -> Result<(), NnError> {
    let Some((shape, values)) = find(&name) else {
        return Err(NnError::Tensor {
            name,
            problem: "missing from the checkpoint".into(),
        });
    };
    if shape != expected || values.len() != w.len() {
        return Err(NnError::Tensor {
            name,
            problem: format!("shape {shape:?} in the checkpoint, {expected:?} in this network"),
        });
    }
    w.copy_from_slice(&values);
    Ok(())
}
