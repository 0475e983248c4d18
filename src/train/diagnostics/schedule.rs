//! A reduce-on-plateau learning-rate schedule. The trainer holds it as an `Option`, `None` unless
//! the person asks for it: off by default.

use thiserror::Error;

/// ÷10 on a plateau, PyTorch's default.
const DEFAULT_FACTOR: f32 = 0.1;
/// Five evaluations (epochs by default) without improvement are tolerated before a decay.
const DEFAULT_PATIENCE: usize = 5;
/// Below 1e-6 an SGD step on these nets no longer changes anything visible.
const DEFAULT_MIN_LR: f32 = 1e-6;
/// An improvement under 0.1% of the best is noise, as in the plateau diagnostic.
const DEFAULT_MIN_RELATIVE_DELTA: f32 = 1e-3;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    #[error("reduce-on-plateau factor must be in (0, 1), got {0}")]
    Factor(f32),
    #[error("reduce-on-plateau min_lr must be finite and ≥ 0, got {0}")]
    MinLr(f32),
}

/// Multiplies the learning rate by `factor` once the validation loss has failed to improve (by
/// `min_relative_delta`) for more than `patience` evaluations, never going below `min_lr`; after a
/// reduction it waits `cooldown` evaluations. The same rule as PyTorch's `ReduceLROnPlateau`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceOnPlateau {
    pub factor: f32,
    pub patience: usize,
    pub min_lr: f32,
    pub min_relative_delta: f32,
    pub cooldown: usize,
    best: Option<f32>,
    bad_evals: usize,
    cooldown_left: usize,
}

impl ReduceOnPlateau {
    pub fn new(factor: f32, patience: usize, min_lr: f32) -> Result<Self, ScheduleError> {
        if !(factor > 0.0 && factor < 1.0) {
            return Err(ScheduleError::Factor(factor));
        }
        if !(min_lr.is_finite() && min_lr >= 0.0) {
            return Err(ScheduleError::MinLr(min_lr));
        }
        Ok(Self {
            factor,
            patience,
            min_lr,
            min_relative_delta: DEFAULT_MIN_RELATIVE_DELTA,
            cooldown: 0,
            best: None,
            bad_evals: 0,
            cooldown_left: 0,
        })
    }

    /// Call after each evaluation with the current rate; returns the new rate when it reduces.
    pub fn on_eval(&mut self, val_loss: f32, lr: f32) -> Option<f32> {
        let is_better = val_loss.is_finite()
            && self
                .best
                .is_none_or(|b| val_loss < b * (1.0 - self.min_relative_delta));
        if is_better {
            self.best = Some(val_loss);
            self.bad_evals = 0;
        } else {
            self.bad_evals += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_evals = 0;
            return None;
        }
        if self.bad_evals <= self.patience {
            return None;
        }
        self.bad_evals = 0;
        let new_lr = (lr * self.factor).max(self.min_lr);
        if new_lr >= lr {
            return None;
        }
        self.cooldown_left = self.cooldown;
        Some(new_lr)
    }

    /// Evaluations without improvement so far.
    pub fn bad_evals(&self) -> usize {
        self.bad_evals
    }
}

impl Default for ReduceOnPlateau {
    fn default() -> Self {
        Self {
            factor: DEFAULT_FACTOR,
            patience: DEFAULT_PATIENCE,
            min_lr: DEFAULT_MIN_LR,
            min_relative_delta: DEFAULT_MIN_RELATIVE_DELTA,
            cooldown: 0,
            best: None,
            bad_evals: 0,
            cooldown_left: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_refuses_bad_factor_and_min_lr() {
        assert_eq!(
            ReduceOnPlateau::new(1.0, 3, 0.0),
            Err(ScheduleError::Factor(1.0))
        );
        assert_eq!(
            ReduceOnPlateau::new(0.5, 3, -1.0),
            Err(ScheduleError::MinLr(-1.0))
        );
        assert!(ReduceOnPlateau::new(0.5, 3, 1e-5).is_ok());
    }

    #[test]
    fn cooldown_ignores_bad_evaluations_after_a_reduction() {
        let mut s = ReduceOnPlateau::new(0.5, 0, 0.0).unwrap();
        s.cooldown = 2;
        assert_eq!(s.on_eval(1.0, 0.1), None);
        assert_eq!(s.on_eval(1.0, 0.1), Some(0.05));
        assert_eq!(s.on_eval(1.0, 0.05), None);
        assert_eq!(s.on_eval(1.0, 0.05), None);
        assert_eq!(s.on_eval(1.0, 0.05), Some(0.025));
    }
}
