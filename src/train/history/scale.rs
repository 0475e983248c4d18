//! The y-range and ticks every chart of a run chooses alike: fitted to the data on screen,
//! ignoring outliers (an initial transient, a spike) the way TensorBoard's "ignore outliers in
//! chart scaling" does, with round ticks (1/2/5 steps, decades on a log axis).

/// Fraction of the points trimmed from the tail where outliers live: TensorBoard trims 5%; the
/// first epoch of a ten-epoch run is 10% of it and is the transient a person wants ignored.
const OUTLIER_TAIL: f64 = 0.10;
/// Fraction trimmed from the other tail: only single stray points.
const CLEAN_TAIL: f64 = 0.005;
/// A must-show point (an evaluation) farther than this many reaches outside is itself an outlier.
const FENCE: f64 = 2.0;

/// Which side of a series its outliers are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Loss: spikes and the initial transient are high.
    High,
    /// Accuracy: the initial transient is low.
    Low,
}

/// A y axis: its range (in log10 units when `is_log`) and where its ticks go.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub is_log: bool,
}

impl Scale {
    /// `v` in axis units (log10 on a log axis; non-positive values sink below the range).
    pub fn axis(&self, v: f64) -> f64 {
        if self.is_log {
            if v > 0.0 {
                v.log10()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            v
        }
    }

    /// Where `v` falls: 0 at the bottom, 1 at the top, outside for clipped points.
    pub fn fraction(&self, v: f64) -> f64 {
        (self.axis(v) - self.lo) / (self.hi - self.lo)
    }

    /// Round values inside the range, at most `max` of them, in data units.
    pub fn ticks(&self, max: usize) -> Vec<f64> {
        if self.is_log {
            log_ticks(self.lo, self.hi, max)
        } else {
            linear_ticks(self.lo, self.hi, max)
        }
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Fits a range to each of `sets` (a curve's raw points, its smoothed points) trimming their
/// outlier tail, and keeps what the fits share: a spike is one raw point but smears over many
/// smoothed ones, batch noise widens the raw fit but not the smoothed one. Then widens it for
/// every `must` point (evaluations) not itself an outlier, pads 5% and keeps to `[floor, ceil]`.
/// With `is_raw`, nothing is trimmed: the full range.
pub fn fit(
    sets: &[&[f64]],
    must: &[f64],
    tail: Tail,
    is_log: bool,
    is_raw: bool,
    bounds: (Option<f64>, Option<f64>),
) -> Scale {
    let to_axis = |v: f64| if is_log { v.log10() } else { v };
    let (q_lo, q_hi) = match (is_raw, tail) {
        (true, _) => (0.0, 1.0),
        (false, Tail::High) => (CLEAN_TAIL, 1.0 - OUTLIER_TAIL),
        (false, Tail::Low) => (OUTLIER_TAIL, 1.0 - CLEAN_TAIL),
    };
    let mut fits = sets.iter().filter_map(|set| {
        let mut s: Vec<f64> = set
            .iter()
            .filter(|v| v.is_finite() && (!is_log || **v > 0.0))
            .map(|&v| to_axis(v))
            .collect();
        s.sort_by(f64::total_cmp);
        (!s.is_empty()).then(|| (quantile(&s, q_lo), quantile(&s, q_hi)))
    });
    let first = fits.next();
    let shared = fits.fold(first, |acc, (lo, hi)| {
        acc.map(|(a, b)| {
            if lo.max(a) < hi.min(b) {
                (lo.max(a), hi.min(b))
            } else {
                (a, b)
            }
        })
    });
    let must: Vec<f64> = must
        .iter()
        .filter(|v| v.is_finite() && (!is_log || **v > 0.0))
        .map(|&v| to_axis(v))
        .collect();
    let fallback = || {
        let lo = must.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = must.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo <= hi).then_some((lo, hi))
    };
    let Some((mut lo, mut hi)) = shared.or_else(fallback) else {
        return Scale {
            lo: 0.0,
            hi: 1.0,
            is_log,
        };
    };
    // how far an evaluation may lie from the curve and still count: the curve's spread, or half
    // its level (a factor of 2 on a log axis), so a generalisation gap is never cut off
    let reach = if is_log {
        (hi - lo).max(0.3)
    } else {
        (hi - lo).max(0.5 * hi.abs().max(lo.abs())).max(1e-9)
    };
    for m in must {
        if is_raw || (m >= lo - FENCE * reach && m <= hi + FENCE * reach) {
            lo = lo.min(m);
            hi = hi.max(m);
        }
    }
    let pad = ((hi - lo) * 0.05).max(if is_log { 0.02 } else { 1e-4 });
    // snapped outwards to a grid of about a twentieth of the span, so a live chart does not
    // rescale (and resend every cell) on each new point
    let grid = nice_step(lo - pad, hi + pad, 20);
    let (mut lo, mut hi) = (
        ((lo - pad) / grid).floor() * grid,
        ((hi + pad) / grid).ceil() * grid,
    );
    let (floor, ceil) = bounds;
    if let Some(f) = floor.filter(|_| !is_log) {
        // an axis from 0 reads better than one from 0.006
        if lo - f < (hi - lo) * 0.1 {
            lo = f;
        }
        lo = lo.max(f);
    }
    if let Some(c) = ceil.filter(|_| !is_log) {
        hi = hi.min(c);
    }
    if hi <= lo {
        hi = lo + 1e-3;
    }
    Scale { lo, hi, is_log }
}

/// The smallest 1/2/5 × 10^k step that puts at most `max` multiples of itself in `[lo, hi]`.
pub fn nice_step(lo: f64, hi: f64, max: usize) -> f64 {
    let raw = (hi - lo) / max.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor() - 1.0);
    let count = |step: f64| ((hi / step).floor() - (lo / step).ceil()) as i64 + 1;
    for k in 0..4 {
        for m in [1.0, 2.0, 5.0] {
            let step = m * mag * 10f64.powi(k);
            if count(step) <= max as i64 {
                return step;
            }
        }
    }
    1e4 * mag
}

/// Round values in `[lo, hi]`: multiples of the nice step, at most `max` of them.
pub fn linear_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return Vec::new();
    }
    let step = nice_step(lo, hi, max);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            // no -0 and no 0.30000000000000004
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                let scale = 10f64.powi(decimals(step) as i32 + 1);
                (v * scale).round() / scale
            }
        })
        .collect()
}

/// Decimals that tell ticks `step` apart: 0 for 1, 1 for 0.5, 2 for 0.02.
pub fn decimals(step: f64) -> usize {
    if step >= 1.0 || !step.is_finite() || step <= 0.0 {
        0
    } else {
        (-step.log10() - 1e-9).ceil() as usize
    }
}

/// Decades inside `[lo, hi]` (log10 units); 2 and 5 between them when too few decades show; round
/// linear steps when the range is narrower than one of those.
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return Vec::new();
    }
    let decades: Vec<i32> = ((lo.ceil() as i32)..=(hi.floor() as i32)).collect();
    let mut ticks: Vec<f64> = if decades.len() > max {
        let every = decades.len().div_ceil(max.max(1)) as i32;
        decades
            .into_iter()
            .filter(|d| d.rem_euclid(every) == 0)
            .map(|d| 10f64.powi(d))
            .collect()
    } else {
        decades.iter().map(|&d| 10f64.powi(d)).collect()
    };
    if ticks.len() < 2 {
        for d in (lo.floor() as i32)..=(hi.ceil() as i32) {
            for m in [2.0, 5.0] {
                let v = m * 10f64.powi(d);
                if (lo..=hi).contains(&v.log10()) {
                    ticks.push(v);
                }
            }
        }
        ticks.sort_by(f64::total_cmp);
    }
    if ticks.len() < 2 {
        return linear_ticks(10f64.powf(lo), 10f64.powf(hi), max.min(3));
    }
    while ticks.len() > max {
        ticks = ticks.into_iter().step_by(2).collect();
    }
    ticks
}
