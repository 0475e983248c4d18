//! A network's parameters by name: the tensors the optimiser updates, and the named tensors a
//! checkpoint saves and loads (PyTorch layout).

use ndarray::Array1;

use super::{Layer, Network, ParamMut, contiguous, contiguous_mut, layer_ref_shape};
use crate::nn::error::NnError;
use crate::nn::gemm::Float;

impl<F: Float> Network<F> {
    /// Every parameter tensor in a fixed order, weights before biases, layer by layer.
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

    /// Named tensors (name, shape, values) in PyTorch layout: conv weight (c_out, c_in, kh, kw),
    /// linear weight (out, in), biases (out).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<F>)> {
        let mut out = Vec::new();
        for (layer, pl) in self.layers.iter().zip(&self.plan.layers) {
            let name = &pl.info.name;
            let (w, b): (&[F], &Array1<F>) = match layer {
                Layer::Conv(c) => (contiguous(&c.w), &c.b),
                Layer::Linear(f) => (contiguous(&f.w), &f.b),
                _ => continue,
            };
            let (w_shape, b_len) = layer_ref_shape(&pl.spec, pl.in_shape);
            out.push((format!("{name}.weight"), w_shape, w.to_vec()));
            out.push((format!("{name}.bias"), vec![b_len], b.to_vec()));
        }
        out
    }

    /// Loads every parameter by name; a missing tensor or a wrong shape is an error naming it.
    pub fn load_tensors(
        &mut self,
        find: impl Fn(&str) -> Option<(Vec<usize>, Vec<F>)>,
    ) -> Result<(), NnError> {
        for p in self.params_mut() {
            let Some((shape, values)) = find(&p.name) else {
                return Err(NnError::Tensor {
                    name: p.name,
                    problem: "missing from the checkpoint".into(),
                });
            };
            if shape != p.shape || values.len() != p.w.len() {
                return Err(NnError::Tensor {
                    name: p.name,
                    problem: format!(
                        "shape {shape:?} in the checkpoint, {:?} in this network",
                        p.shape
                    ),
                });
            }
            p.w.copy_from_slice(&values);
        }
        Ok(())
    }
}
