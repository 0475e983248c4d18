//! Inverted dropout (Srivastava et al. 2014), as PyTorch's `nn.Dropout(p)`: in training each
//! unit is zeroed with probability p and the survivors are scaled by 1/(1 − p), so evaluation
//! passes its input through unchanged.
//!
//! The mask is a pure function of a seed the network hands in for each training step (derived
//! from the run's seed and the iteration; see `Network::set_step`), so a resumed run draws the
//! same masks as one that never stopped, and a gradient check sees one fixed mask.

use ndarray::Array4;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::gemm::Float;

/// Units drawn by one ChaCha stream position range; blocks are drawn in parallel, each from its
/// own word offset, so the mask does not depend on the thread count.
const BLOCK: usize = 4096;

#[derive(Debug, Clone)]
pub struct Dropout<F: Float> {
    pub p: f64,
    mask: Vec<F>, // (n, c, h, w): 0 or 1/(1 − p), drawn by a training forward
}

impl<F: Float> Dropout<F> {
    pub fn new(p: f64) -> Dropout<F> {
        Dropout {
            p,
            mask: Vec::new(),
        }
    }

    /// The mask for `len` units from `seed`: unit i is kept when the i-th 32-bit word of the
    /// ChaCha8 stream is at least p·2³².
    fn draw(&mut self, len: usize, seed: u64) {
        let threshold = (self.p * 4_294_967_296.0).min(u32::MAX as f64) as u32;
        let keep = F::of(1.0 / (1.0 - self.p));
        self.mask.resize(len, F::zero());
        self.mask
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(b, block)| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_word_pos((b * BLOCK) as u128);
                for m in block {
                    *m = if self.p > 0.0 && rng.next_u32() < threshold {
                        F::zero()
                    } else {
                        keep
                    };
                }
            });
    }

    /// # Shapes
    /// - x:   (n, c, h, w)
    /// - out: (n, c, h, w)
    ///
    /// `Some(seed)` (training) draws the mask from seed and applies it; `None` (evaluation)
    /// returns x as it is and leaves the last training mask as it was.
    pub fn forward(&mut self, mut x: Array4<F>, seed: Option<u64>) -> Array4<F> {
        let Some(seed) = seed else {
            return x;
        };
        self.draw(x.len(), seed);
        if !x.is_standard_layout() {
            x = x.as_standard_layout().into_owned();
        }
        x.as_slice_mut()
            .expect("standard layout is contiguous")
            .par_iter_mut()
            .zip(self.mask.par_iter())
            .for_each(|(v, &m)| *v *= m);
        x
    }

    /// dout: (n, c, h, w) -> dx = dout · mask.
    pub fn backward(&mut self, dout: &Array4<F>) -> Array4<F> {
        let mut dx = dout.as_standard_layout().into_owned();
        dx.as_slice_mut()
            .expect("standard layout is contiguous")
            .par_iter_mut()
            .zip(self.mask.par_iter())
            .for_each(|(v, &m)| *v *= m);
        dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_about_one_minus_p_scaled_up() {
        let mut d = Dropout::<f32>::new(0.25);
        let out = d.forward(Array4::ones((4, 8, 16, 16)), Some(7));
        let kept = out.iter().filter(|&&v| v != 0.0).count();
        // 8192 units at p = 0.25: 6144 expected, σ = √(8192·0.25·0.75) ≈ 39; allow 5σ
        assert!((kept as i64 - 6144).abs() < 200, "kept {kept}");
        // survivors are scaled by 1/(1 − 0.25) = 4/3
        assert!(
            out.iter()
                .all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6)
        );
        // the mean is preserved in expectation: 6144 · 4/3 / 8192 ≈ 1
        let mean = out.sum() / out.len() as f32;
        assert!((mean - 1.0).abs() < 0.05, "mean {mean}");
    }

    #[test]
    fn same_seed_same_mask_other_seed_other_mask() {
        let x = Array4::<f64>::ones((2, 3, 40, 40));
        let mut d = Dropout::<f64>::new(0.5);
        let a = d.forward(x.clone(), Some(1));
        let b = d.forward(x.clone(), Some(1));
        let c = d.forward(x.clone(), Some(2));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn evaluation_passes_through_and_backward_uses_the_mask() {
        let x = Array4::from_shape_fn((1, 2, 3, 3), |(_, c, y, x)| (c * 9 + y * 3 + x) as f64);
        let mut d = Dropout::<f64>::new(0.5);
        assert_eq!(d.forward(x.clone(), None), x);
        let out = d.forward(x.clone(), Some(3));
        let dx = d.backward(&Array4::ones(x.dim()));
        // out = x · mask and dx = 1 · mask: out = x · dx everywhere
        for ((o, g), v) in out.iter().zip(dx.iter()).zip(x.iter()) {
            assert_eq!(*o, v * g);
            assert!(*g == 0.0 || *g == 2.0);
        }
    }

    #[test]
    fn p_zero_keeps_everything() {
        let mut d = Dropout::<f32>::new(0.0);
        let x = Array4::from_elem((1, 1, 5, 5), 3.0f32);
        assert_eq!(d.forward(x.clone(), Some(9)), x);
    }
}
