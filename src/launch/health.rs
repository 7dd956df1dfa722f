//! The run's health over time, watched from outside the nodes: resident memory of the process, the sim's
//! deadline misses and the controller's checkpoints (from their `status` messages), sampled once a second of
//! wall time. Soak runs judge memory growth and deadline-miss trends from it.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bus::{Bus, JointStates, Status};
use crate::node::Shutdown;

/// One sample of a run's health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthSample {
    /// Wall time since the run started, s.
    pub wall_s: f64,
    /// Latest sim time seen on the bus, s.
    pub sim_s: f64,
    /// Resident set size of this process, KiB (0 where /proc is unavailable).
    pub rss_kib: u64,
    /// The sim's deadline misses so far.
    pub deadline_misses: u64,
    /// The controller's checkpoints so far.
    pub checkpoints: u64,
}

/// What the samples say about a long run, judged after a warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthTrend {
    /// RSS at the end of the warm-up, KiB.
    pub rss_warm_kib: u64,
    /// RSS at the end, KiB.
    pub rss_end_kib: u64,
    /// Largest RSS after the warm-up, KiB.
    pub rss_peak_kib: u64,
    /// `(peak − warm) / warm`, % (the soak bar is < 5).
    pub rss_growth_pct: f64,
    /// Deadline misses per minute of wall time in the first and the second half after the warm-up.
    pub misses_per_min_first_half: f64,
    /// See `misses_per_min_first_half`.
    pub misses_per_min_second_half: f64,
    /// Checkpoints written during the run.
    pub checkpoints: u64,
}

/// Most samples kept; beyond it every other one is dropped and the period doubles, so a run of any length
/// keeps a bounded, evenly spaced record.
const MAX_SAMPLES: usize = 4096;

/// Samples health once a second (and calls `on_sim_time` ten times a second, for a progress bar) until
/// `done` is triggered. Runs on its own thread, never on a control path.
pub fn watch_health(bus: &Bus, done: &Shutdown, mut on_sim_time: impl FnMut(f64)) -> Vec<HealthSample> {
    let keys = bus.keys().clone();
    let (Ok(states), Ok(statuses)) = (bus.latest::<JointStates>(&keys.joint_states()), bus.queue::<Status>(&keys.status_all(), 64))
    else {
        return Vec::new();
    };
    let start = Instant::now();
    let mut period = Duration::from_secs(1);
    let mut next = start;
    let mut now = HealthSample::default();
    let mut out = Vec::new();
    loop {
        if let Ok(Some(Ok(js))) = states.try_recv() {
            now.sim_s = js.stamp;
            on_sim_time(js.stamp);
        }
        while let Ok(Some(r)) = statuses.try_recv() {
            if let Ok(st) = r {
                now.deadline_misses = now.deadline_misses.max(st.deadline_misses);
                now.checkpoints = now.checkpoints.max(st.checkpoints);
            }
        }
        if Instant::now() >= next {
            now.wall_s = start.elapsed().as_secs_f64();
            now.rss_kib = rss_kib();
            out.push(now);
            if out.len() >= MAX_SAMPLES {
                out = out.into_iter().step_by(2).collect();
                period *= 2;
            }
            next += period;
        }
        if done.sleep(Duration::from_millis(100)) {
            break;
        }
    }
    now.wall_s = start.elapsed().as_secs_f64();
    now.rss_kib = rss_kib();
    out.push(now);
    out
}

/// Judges the samples after the first `warmup` fraction of wall time (0–1). `None` with fewer than four
/// samples after the warm-up.
pub fn health_trend(samples: &[HealthSample], warmup: f64) -> Option<HealthTrend> {
    let end = samples.last()?;
    let t0 = end.wall_s * warmup.clamp(0.0, 1.0);
    let after: Vec<&HealthSample> = samples.iter().filter(|s| s.wall_s >= t0).collect();
    if after.len() < 4 {
        return None;
    }
    let warm = after[0];
    let mid = after[after.len() / 2];
    let rate = |a: &HealthSample, b: &HealthSample| {
        let minutes = (b.wall_s - a.wall_s) / 60.0;
        if minutes > 0.0 { (b.deadline_misses - a.deadline_misses) as f64 / minutes } else { 0.0 }
    };
    let peak = after.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    Some(HealthTrend {
        rss_warm_kib: warm.rss_kib,
        rss_end_kib: end.rss_kib,
        rss_peak_kib: peak,
        rss_growth_pct: if warm.rss_kib > 0 { 100.0 * (peak as f64 - warm.rss_kib as f64) / warm.rss_kib as f64 } else { 0.0 },
        misses_per_min_first_half: rate(warm, mid),
        misses_per_min_second_half: rate(mid, end),
        checkpoints: end.checkpoints,
    })
}

/// Resident set size of this process, KiB, from `/proc/self/status` (0 if unavailable).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall_s: f64, rss_kib: u64, deadline_misses: u64) -> HealthSample {
        HealthSample { wall_s, sim_s: wall_s, rss_kib, deadline_misses, checkpoints: 0 }
    }

    #[test]
    fn trend_measures_growth_after_the_warm_up_and_miss_rates_per_half() {
        // Memory climbs during the warm-up (ignored), then 1000 → 1030 KiB: 3 %.
        let mut s = vec![sample(0.0, 100, 0), sample(10.0, 900, 0)];
        s.extend((0..10).map(|k| sample(20.0 + 6.0 * k as f64, 1000 + 3 * k, 2 * k)));
        let t = health_trend(&s, 0.2).unwrap();
        assert_eq!(t.rss_warm_kib, 1000);
        assert_eq!(t.rss_peak_kib, 1027);
        assert!((t.rss_growth_pct - 2.7).abs() < 1e-9, "{t:?}");
        // Two misses per 6 s = 20 per minute in both halves.
        assert!((t.misses_per_min_first_half - 20.0).abs() < 1e-9 && (t.misses_per_min_second_half - 20.0).abs() < 1e-9);
    }

    #[test]
    fn this_process_has_a_resident_set() {
        assert!(rss_kib() > 0);
    }
}
