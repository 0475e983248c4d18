//! Fully connected layer over the flattened (c, h, w) input, as PyTorch's `nn.Linear` after
//! `torch.flatten(x, 1)`: out = x · Wᵀ + b.

use ndarray::{Array1, Array2, Array4};

use super::gemm::{Float, Op, gemm};

#[derive(Debug, Clone)]
pub struct Linear<F: Float> {
    pub d_in: usize,
    pub d_out: usize,
    pub w: Array2<F>,  // (d_out, d_in)
    pub b: Array1<F>,  // (d_out)
    pub dw: Array2<F>, // (d_out, d_in)
    pub db: Array1<F>, // (d_out)
    x: Vec<F>,         // (n, d_in), saved by forward
    in_shape: (usize, usize, usize, usize),
}

impl<F: Float> Linear<F> {
    pub fn new(d_in: usize, d_out: usize) -> Linear<F> {
        Linear {
            d_in,
            d_out,
            w: Array2::zeros((d_out, d_in)),
            b: Array1::zeros(d_out),
            dw: Array2::zeros((d_out, d_in)),
            db: Array1::zeros(d_out),
            x: Vec::new(),
            in_shape: (0, 0, 0, 0),
        }
    }

    /// # Shapes
    /// - x:   (n, c, h, w) with c·h·w = d_in
    /// - out: (n, d_out, 1, 1)
    ///
    /// With `keep` (training) x is saved for backward; without (evaluation) nothing is.
    pub fn forward(&mut self, x: &Array4<F>, keep: bool) -> Array4<F> {
        let n = x.dim().0;
        let x_std = x.as_standard_layout();
        let xs = x_std.as_slice().expect("standard layout is contiguous");
        let mut out = vec![F::zero(); n * self.d_out];
        let ws = self.w.as_slice().expect("parameters are contiguous");
        gemm(
            n,
            self.d_in,
            self.d_out,
            xs,
            Op::N,
            ws,
            Op::T,
            F::zero(),
            &mut out,
        );
        for row in out.chunks_mut(self.d_out) {
            row.iter_mut()
                .zip(self.b.iter())
                .for_each(|(o, b)| *o += *b);
        }
        if keep {
            self.in_shape = x.dim();
            self.x.clear();
            self.x.extend_from_slice(xs);
        }
        Array4::from_shape_vec((n, self.d_out, 1, 1), out).expect("n·d_out values")
    }

    /// dout: (n, d_out, 1, 1) -> dx: (n, c, h, w); adds into self.dw, self.db.
    pub fn backward(&mut self, dout: &Array4<F>) -> Array4<F> {
        let n = self.in_shape.0;
        let d: Vec<F> = dout.iter().copied().collect(); // (n, d_out)
        let dws = self.dw.as_slice_mut().expect("parameters are contiguous");
        // dW (d_out, d_in) += doutᵀ · x
        gemm(
            self.d_out,
            n,
            self.d_in,
            &d,
            Op::T,
            &self.x,
            Op::N,
            F::one(),
            dws,
        );
        for row in d.chunks(self.d_out) {
            self.db.iter_mut().zip(row).for_each(|(g, v)| *g += *v);
        }
        let mut dx = vec![F::zero(); n * self.d_in];
        let ws = self.w.as_slice().expect("parameters are contiguous");
        gemm(
            n,
            self.d_out,
            self.d_in,
            &d,
            Op::N,
            ws,
            Op::N,
            F::zero(),
            &mut dx,
        );
        Array4::from_shape_vec(self.in_shape, dx).expect("n·d_in values")
    }

    pub fn zero_grad(&mut self) {
        self.dw.fill(F::zero());
        self.db.fill(F::zero());
    }
}
