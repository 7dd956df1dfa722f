//! The sim's state→torque latency: wall time from publishing `joint_states` seq k to receiving the
//! `torque_cmd` answering seq k, in a histogram allocated once at start (recording never allocates).

use std::time::Instant;

use hdrhistogram::Histogram;

/// Publications remembered for matching late answers (an answer older than this many states is not timed).
const WINDOW: usize = 8;
/// Largest latency recorded exactly, ns (10 s); longer ones are recorded as this.
const MAX_NS: u64 = 10_000_000_000;

/// Matches answers to publications and records their latency.
#[derive(Debug, Clone)]
pub struct StateLatency {
    hist: Histogram<u64>,
    /// Per `seq % WINDOW`: (seq, sent at, answered yet).
    sent: [(u64, Option<Instant>, bool); WINDOW],
}

impl Default for StateLatency {
    fn default() -> Self {
        Self::new()
    }
}

impl StateLatency {
    /// An empty recorder: 1 ns to 10 s at three significant digits (≈ 200 kB, allocated here once).
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_NS, 3).expect("static bounds are valid");
        Self { hist, sent: [(0, None, false); WINDOW] }
    }

    /// State `seq` was published at `at` (a re-sent state keeps its first time).
    pub fn sent(&mut self, seq: u64, at: Instant) {
        let slot = &mut self.sent[(seq % WINDOW as u64) as usize];
        if slot.1.is_none() || slot.0 != seq {
            *slot = (seq, Some(at), false);
        }
    }

    /// A torque command answering `seq` arrived at `at`; only the first answer to each state is timed.
    pub fn answered(&mut self, seq: u64, at: Instant) {
        let slot = &mut self.sent[(seq % WINDOW as u64) as usize];
        if let (s, Some(t0), false) = *slot
            && s == seq
        {
            slot.2 = true;
            let ns = u64::try_from(at.saturating_duration_since(t0).as_nanos()).unwrap_or(MAX_NS);
            self.hist.saturating_record(ns.max(1));
        }
    }

    /// The distribution so far.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.hist;
        let us = |ns: u64| ns as f64 * 1e-3;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            mean_us: h.mean() * 1e-3,
            p50_us: us(h.value_at_quantile(0.5)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        }
    }
}

/// Summary of the state→torque latency, µs (three significant digits).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencySummary {
    /// Answers timed.
    pub count: u64,
    /// Mean, µs.
    pub mean_us: f64,
    /// Median, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// 99.9th percentile, µs.
    pub p999_us: f64,
    /// Largest, µs.
    pub max_us: f64,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_first_answers_only_and_ignores_unknown_ones() {
        let mut l = StateLatency::new();
        let t0 = Instant::now();
        for k in 0..100u64 {
            l.sent(k, t0 + Duration::from_millis(k));
            l.answered(k, t0 + Duration::from_millis(k) + Duration::from_micros(100 + k));
            l.answered(k, t0 + Duration::from_secs(5)); // a duplicate answer
        }
        l.answered(1000, t0); // never sent
        l.answered(3, t0 + Duration::from_secs(9)); // long forgotten
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_us - 150.0).abs() < 1.0, "{s:?}");
        assert!((s.max_us - 199.0).abs() < 0.5, "{s:?}");
    }

    #[test]
    fn a_resent_state_keeps_its_first_time() {
        let mut l = StateLatency::new();
        let t0 = Instant::now();
        l.sent(7, t0);
        l.sent(7, t0 + Duration::from_millis(20));
        l.answered(7, t0 + Duration::from_millis(30));
        assert!((l.summary().p50_us - 30_000.0).abs() < 50.0);
    }
}
