//! The one smoothing (TensorBoard's debiased EMA) and the one thinning (lowest and highest point
//! of each column, so a spike is never thinned away) every chart of a run uses.

/// Points per min/max block: thinning a million points reads ~4,000 blocks, not every point.
const BLOCK: usize = 256;

/// TensorBoard's debiased exponential moving average: the first points are not pulled towards 0,
/// and a non-finite value passes through without poisoning the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ema {
    weight: f64,
    last: f64,
    count: i32,
}

impl Ema {
    pub fn new(weight: f64) -> Ema {
        Ema {
            weight,
            last: 0.0,
            count: 0,
        }
    }

    pub fn push(&mut self, y: f64) -> f64 {
        if !y.is_finite() {
            return y;
        }
        self.last = self.last * self.weight + (1.0 - self.weight) * y;
        self.count = self.count.saturating_add(1);
        let debias = 1.0 - self.weight.powi(self.count);
        if debias > 0.0 { self.last / debias } else { y }
    }
}

/// Smooths a whole series at once.
pub fn smooth(values: impl Iterator<Item = f64>, weight: f64) -> Vec<f64> {
    let mut ema = Ema::new(weight);
    values.map(|y| ema.push(y)).collect()
}

/// For each block of `BLOCK` points, the index of its lowest and highest finite value.
#[derive(Debug, Clone, Default)]
pub struct MinMax {
    blocks: Vec<(usize, usize)>,
    /// Values of the block being filled, to compare new points against.
    open: Option<(f32, f32)>,
}

impl MinMax {
    pub fn push(&mut self, index: usize, value: f32) {
        if index.is_multiple_of(BLOCK) {
            self.blocks.push((index, index));
            self.open = Some((value, value));
            return;
        }
        let (Some(block), Some((lo, hi))) = (self.blocks.last_mut(), self.open.as_mut()) else {
            return;
        };
        // NaN never wins a comparison; a finite value replaces a NaN extreme
        if value < *lo || lo.is_nan() {
            *lo = value;
            block.0 = index;
        }
        if value > *hi || hi.is_nan() {
            *hi = value;
            block.1 = index;
        }
    }

    /// Indices of `lo..hi` thinned to the lowest and highest of each of `columns` equal index
    /// ranges, in index order.
    pub fn thin(
        &self,
        value: impl Fn(usize) -> f32,
        lo: usize,
        hi: usize,
        columns: usize,
    ) -> Vec<usize> {
        let columns = columns.max(1);
        if hi <= lo {
            return Vec::new();
        }
        let n = hi - lo;
        let edges: Vec<usize> = (0..=columns).map(|c| lo + n * c / columns).collect();
        self.thin_edges(value, &edges)
    }

    /// Indices thinned to the lowest and highest of each column `edges[c]..edges[c + 1]`, in
    /// index order. Columns fixed on the x axis keep their points as data arrives, so a redraw
    /// changes only the newest column (and a terminal is sent only that).
    pub fn thin_edges(&self, value: impl Fn(usize) -> f32, edges: &[usize]) -> Vec<usize> {
        let (Some(&lo), Some(&hi)) = (edges.first(), edges.last()) else {
            return Vec::new();
        };
        let columns = edges.len().saturating_sub(1).max(1);
        if hi <= lo {
            return Vec::new();
        }
        if hi - lo <= 2 * columns {
            return (lo..hi).collect();
        }
        let mut out = Vec::with_capacity(2 * columns);
        for w in edges.windows(2) {
            // wide columns start and end on block boundaries, so only their blocks are read
            let snap = |i: usize| {
                if w[1] - w[0] >= 4 * BLOCK && i != lo && i != hi {
                    (i + BLOCK / 2) / BLOCK * BLOCK
                } else {
                    i
                }
            };
            let (a, b) = (snap(w[0]), snap(w[1]));
            if a >= b {
                continue;
            }
            // (index, value) of the lowest and highest; NaN loses to any number
            let (mut min, mut max) = ((a, value(a)), (a, value(a)));
            let mut consider = |i: usize, v: f32, is_low: bool| {
                let slot = if is_low { &mut min } else { &mut max };
                let wins = if is_low { v < slot.1 } else { v > slot.1 };
                if wins || (slot.1.is_nan() && !v.is_nan()) {
                    *slot = (i, v);
                }
            };
            let mut i = a;
            while i < b {
                if i.is_multiple_of(BLOCK)
                    && i + BLOCK <= b
                    && let Some(&(bl, bh)) = self.blocks.get(i / BLOCK)
                {
                    consider(bl, value(bl), true);
                    consider(bh, value(bh), false);
                    i += BLOCK;
                    continue;
                }
                let v = value(i);
                consider(i, v, true);
                consider(i, v, false);
                i += 1;
            }
            let (min, max) = (min.0, max.0);
            out.push(min.min(max));
            if min != max {
                out.push(min.max(max));
            }
        }
        out
    }
}

/// A small series of (x, y) points thinned the same way, by equal x ranges: evaluations, overlays
/// of earlier runs, export.
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
