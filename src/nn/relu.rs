//! ReLU: out = max(0, x).

use ndarray::{Array4, Zip};

use super::gemm::Float;

#[derive(Debug, Clone)]
pub struct Relu<F: Float> {
    out: Array4<F>, // (n, c, h, w): the output, whose sign is the backward mask
}

impl<F: Float> Default for Relu<F> {
    fn default() -> Self {
        Relu {
            out: Array4::zeros((0, 0, 0, 0)),
        }
    }
}

impl<F: Float> Relu<F> {
    /// x: (n, c, h, w) -> out: same shape.
    pub fn forward(&mut self, mut x: Array4<F>) -> Array4<F> {
        // the kept copy written beside the result, in parallel, into last batch's buffer
        if self.out.dim() != x.dim() {
            self.out = super::zeros_par(x.dim());
        }
        Zip::from(&mut x).and(&mut self.out).par_for_each(|v, o| {
            *v = v.max(F::zero());
            *o = *v;
        });
        x
    }

    /// `forward`, or with `keep` false (evaluation) in place, leaving the kept output (and so
    /// `dead_fraction`) as the last training forward left it.
    pub fn forward_mode(&mut self, mut x: Array4<F>, keep: bool) -> Array4<F> {
        if keep {
            return self.forward(x);
        }
        x.par_mapv_inplace(|v| v.max(F::zero()));
        x
    }

    /// Like `forward`, but keeps the output for the next layer to borrow through `output`
    /// instead of returning a copy.
    pub fn forward_keep(&mut self, mut x: Array4<F>) {
        x.par_mapv_inplace(|v| v.max(F::zero()));
        self.out = x;
    }

    /// dout -> dx, zero where the unit was off.
    pub fn backward(&mut self, dout: &Array4<F>) -> Array4<F> {
        Zip::from(dout)
            .and(&self.out)
            .par_map_collect(|&d, &o| if o > F::zero() { d } else { F::zero() })
    }

    /// Fraction of channels that were zero at every position for every image of the last batch.
    pub fn dead_fraction(&self) -> Option<f32> {
        let (n, c, h, w) = self.out.dim();
        if n == 0 || c == 0 {
            return None;
        }
        // a unit is a channel (one filter's map): positions near the border of a digit are
        // legitimately zero for every input, a filter that never fires anywhere is dead
        let plane = h * w;
        let mut is_alive = vec![false; c];
        let data: Vec<F> = self.out.iter().copied().collect();
        for img in data.chunks(c * plane) {
            for (a, map) in is_alive.iter_mut().zip(img.chunks(plane)) {
                *a = *a || map.iter().any(|&v| v > F::zero());
            }
        }
        Some(is_alive.iter().filter(|a| !**a).count() as f32 / c as f32)
    }

    /// The last output, for activation snapshots.
    pub fn output(&self) -> &Array4<F> {
        &self.out
    }
}
