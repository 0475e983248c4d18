//! Seeded weight initialisation.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How a layer's weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// He (Kaiming) normal, std = √(2 / fan_in): for layers followed by a ReLU.
    He,
    /// Glorot (Xavier) normal, std = √(2 / (fan_in + fan_out)): otherwise.
    Glorot,
}

impl Init {
    pub fn std(self, fan_in: usize, fan_out: usize) -> f32 {
        match self {
            Init::He => (2.0 / fan_in as f32).sqrt(),
            Init::Glorot => (2.0 / (fan_in + fan_out) as f32).sqrt(),
        }
    }
}

/// Fills `out` with N(0, std²) draws (Box–Muller, so no extra crate is needed).
pub fn fill_normal(rng: &mut ChaCha8Rng, std: f32, out: &mut [f32]) {
    let mut i = 0;
    while i < out.len() {
        // u1 in (0, 1] keeps ln(u1) finite
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        out[i] = (r * theta.cos()) as f32 * std;
        if i + 1 < out.len() {
            out[i + 1] = (r * theta.sin()) as f32 * std;
        }
        i += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn normal_has_the_asked_std() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut v = vec![0.0; 100_000];
        fill_normal(&mut rng, 0.5, &mut v);
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.01, "std {}", var.sqrt());
    }
}
