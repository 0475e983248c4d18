//! The record of a run as the dashboard keeps it: every iteration and evaluation, never dropped;
//! thinning happens only when drawing.

use crate::train::{EvalStats, IterStats, KnobChange};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterPoint {
    pub iteration: u64,
    pub loss: f32,
    pub accuracy: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalPoint {
    pub iteration: u64,
    pub epoch: f64,
    pub train_loss: f32,
    pub train_accuracy: f32,
    pub val_loss: f32,
    pub val_accuracy: f32,
    pub is_best: bool,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    pub iters: Vec<IterPoint>,
    pub evals: Vec<EvalPoint>,
    pub knob_changes: Vec<KnobChange>,
    pub last: Option<IterStats>,
}

impl History {
    pub fn push_iter(&mut self, stats: IterStats) {
        self.iters.push(IterPoint {
            iteration: stats.iteration,
            loss: stats.data_loss,
            accuracy: stats.batch_accuracy,
        });
        self.last = Some(stats);
    }

    pub fn push_eval(&mut self, stats: &EvalStats) {
        self.evals.push(EvalPoint {
            iteration: stats.iteration,
            epoch: stats.epoch,
            train_loss: stats.train_loss,
            train_accuracy: stats.train_accuracy,
            val_loss: stats.val_loss,
            val_accuracy: stats.val_accuracy,
            is_best: stats.is_best,
        });
    }

    pub fn best_eval(&self) -> Option<&EvalPoint> {
        self.evals.iter().rev().find(|e| e.is_best).or_else(|| {
            self.evals
                .iter()
                .max_by(|a, b| a.val_accuracy.total_cmp(&b.val_accuracy))
        })
    }
}

/// TensorBoard's debiased exponential moving average: the first points are not pulled towards 0.
pub fn smooth(values: impl Iterator<Item = f64>, weight: f64) -> Vec<f64> {
    let mut last = 0.0;
    let mut count = 0i32;
    values
        .map(|y| {
            if !y.is_finite() {
                return y;
            }
            last = last * weight + (1.0 - weight) * y;
            count += 1;
            let debias = 1.0 - weight.powi(count);
            if debias > 0.0 { last / debias } else { y }
        })
        .collect()
}

/// At most two points per column (the lowest and highest of each), so a whole run draws in
/// bounded time and bandwidth and a spike is never thinned away.
pub fn thin(points: &[(f64, f64)], columns: usize) -> Vec<(f64, f64)> {
    let columns = columns.max(1);
    if points.len() <= 2 * columns {
        return points.to_vec();
    }
    let (x0, x1) = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        _ => return points.iter().take(2 * columns).copied().collect(),
    };
    let bucket_of = |x: f64| (((x - x0) / (x1 - x0) * columns as f64) as usize).min(columns - 1);
    let mut out = Vec::with_capacity(2 * columns);
    let mut start = 0;
    while start < points.len() {
        let bucket = bucket_of(points[start].0);
        let mut end = start;
        let (mut lo, mut hi) = (start, start);
        while end < points.len() && bucket_of(points[end].0) == bucket {
            if points[end].1 < points[lo].1 {
                lo = end;
            }
            if points[end].1 > points[hi].1 {
                hi = end;
            }
            end += 1;
        }
        out.push(points[lo.min(hi)]);
        if lo != hi {
            out.push(points[lo.max(hi)]);
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_debiased() {
        // First point: last = 0.4·y, debias = 1 − 0.6 = 0.4, so the first value is y itself.
        let s = smooth([2.0, 2.0, 2.0].into_iter(), 0.6);
        for v in s {
            assert!((v - 2.0).abs() < 1e-12);
        }
        let s = smooth([0.0, 1.0].into_iter(), 0.5);
        // last = 0.5·1 = 0.5 after two points; debias = 1 − 0.25 = 0.75; 0.5/0.75 = 2/3.
        assert!((s[1] - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn thinning_keeps_extremes_and_bound() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 5_000 { 100.0 } else { (i % 7) as f64 }))
            .collect();
        let thinned = thin(&points, 80);
        assert!(thinned.len() <= 160);
        assert!(thinned.iter().any(|p| p.1 == 100.0));
        assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
