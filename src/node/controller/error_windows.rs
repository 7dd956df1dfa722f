//! Mean end-effector error over fixed spans of sim time, accumulated at every tick. Exact however long the
//! run, unlike means over the decimating sample log, and a fixed amount of memory.

use serde::{Deserialize, Serialize};

/// One span and what was accumulated in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorWindow {
    /// Start, s of sim time (inclusive).
    pub from_s: f64,
    /// End, s of sim time (exclusive).
    pub to_s: f64,
    /// Sum of |ee − target| over the ticks in the span, m.
    pub sum_m: f64,
    /// Ticks in the span.
    pub ticks: u64,
}

impl ErrorWindow {
    /// Mean error, m (NaN without ticks).
    pub fn mean_m(&self) -> f64 {
        if self.ticks == 0 { f64::NAN } else { self.sum_m / self.ticks as f64 }
    }
}

/// The spans a controller node scores, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorWindows(pub Vec<ErrorWindow>);

impl ErrorWindows {
    /// Empty accumulators for `(from_s, to_s)` spans.
    pub fn new(spans: &[(f64, f64)]) -> Self {
        Self(spans.iter().map(|&(from_s, to_s)| ErrorWindow { from_s, to_s, ..Default::default() }).collect())
    }

    /// Adds one tick's error at sim time `t` to every span holding `t`. Never allocates.
    pub fn add(&mut self, t: f64, error_m: f64) {
        for w in self.0.iter_mut().filter(|w| t >= w.from_s && t < w.to_s) {
            w.sum_m += error_m;
            w.ticks += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tick_counts_in_every_span_that_holds_it() {
        let mut w = ErrorWindows::new(&[(0.0, 1.0), (0.5, 2.0)]);
        for (t, e) in [(0.0, 1.0), (0.5, 3.0), (1.0, 5.0), (2.0, 100.0)] {
            w.add(t, e);
        }
        assert_eq!((w.0[0].mean_m(), w.0[0].ticks), (2.0, 2));
        assert_eq!((w.0[1].mean_m(), w.0[1].ticks), (4.0, 2));
        assert!(ErrorWindows::new(&[(5.0, 6.0)]).0[0].mean_m().is_nan());
    }
}
