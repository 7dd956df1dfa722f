//! The run's health over time, watched from outside the nodes: resident memory of the process, the sim's
//! deadline misses and the controller's checkpoints (from their `status` messages), and the machine's steal
//! time, sampled once a second of wall time. Soak runs judge memory growth and deadline-miss trends from it.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bus::{Bus, JointStates, Status, StatusBody};
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
    /// Steal time so far, summed over the CPUs, ms: time the hypervisor gave this virtual machine's runnable
    /// CPUs to others (0 on bare metal or where `/proc/stat` is unavailable). A loop that spins on its core
    /// misses its deadline whenever its vCPU is stolen for a period, so misses are read against it.
    #[serde(default)]
    pub steal_ms: u64,
}

/// What the samples say about a long run, judged after a warm-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Deadline misses in each whole minute of wall time after the warm-up.
    #[serde(default)]
    pub misses_by_minute: Vec<u64>,
    /// Least-squares slope of `misses_by_minute` against the minute, misses/min per minute: the trend.
    #[serde(default)]
    pub miss_slope_per_min2: f64,
    /// Steal time in each of those minutes, ms (see [`HealthSample::steal_ms`]).
    #[serde(default)]
    pub steal_ms_by_minute: Vec<u64>,
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
    let (Ok(states), Ok(statuses)) =
        (bus.latest::<JointStates>(&keys.joint_states()), bus.queue::<Status>(&keys.status_all(), 64))
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
            match r.as_ref().map(|st| &st.body) {
                Ok(StatusBody::Sim(s)) => now.deadline_misses = now.deadline_misses.max(s.deadline_misses),
                Ok(StatusBody::Controller(c)) => now.checkpoints = now.checkpoints.max(c.checkpoints),
                Err(_) => {}
            }
        }
        if Instant::now() >= next {
            now.wall_s = start.elapsed().as_secs_f64();
            now.rss_kib = rss_kib();
            now.steal_ms = steal_ms();
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
    now.steal_ms = steal_ms();
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
    // The first sample at or after each whole minute from the warm-up: minute k spans edges k and k + 1.
    let edges: Vec<&HealthSample> = (0..)
        .map(|k| warm.wall_s + 60.0 * k as f64)
        .map_while(|t| after.iter().find(|s| s.wall_s >= t - 1e-9).copied())
        .collect();
    let by_minute = |f: fn(&HealthSample) -> u64| -> Vec<u64> {
        edges.windows(2).map(|w| f(w[1]).saturating_sub(f(w[0]))).collect()
    };
    let misses_by_minute = by_minute(|s| s.deadline_misses);
    Some(HealthTrend {
        rss_warm_kib: warm.rss_kib,
        rss_end_kib: end.rss_kib,
        rss_peak_kib: peak,
        rss_growth_pct: if warm.rss_kib > 0 {
            100.0 * (peak as f64 - warm.rss_kib as f64) / warm.rss_kib as f64
        } else {
            0.0
        },
        misses_per_min_first_half: rate(warm, mid),
        misses_per_min_second_half: rate(mid, end),
        miss_slope_per_min2: slope(&misses_by_minute),
        misses_by_minute,
        steal_ms_by_minute: by_minute(|s| s.steal_ms),
        checkpoints: end.checkpoints,
    })
}

/// Least-squares slope of `y` against its index (0 for fewer than two points).
fn slope(y: &[u64]) -> f64 {
    let n = y.len() as f64;
    if y.len() < 2 {
        return 0.0;
    }
    let (mx, my) = ((n - 1.0) / 2.0, y.iter().sum::<u64>() as f64 / n);
    let (sxy, sxx) = y.iter().enumerate().fold((0.0, 0.0), |(sxy, sxx), (i, &v)| {
        let dx = i as f64 - mx;
        (sxy + dx * (v as f64 - my), sxx + dx * dx)
    });
    sxy / sxx
}

/// Steal time of the machine so far, ms, summed over CPUs (the `cpu` line of `/proc/stat`; 0 if unavailable).
pub fn steal_ms() -> u64 {
    let ticks = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        // cpu user nice system idle iowait irq softirq steal …, in clock ticks.
        s.lines()
            .find(|l| l.starts_with("cpu "))
            .and_then(|l| l.split_whitespace().nth(8))
            .and_then(|v| v.parse::<u64>().ok())
    });
    // /proc/stat counts in USER_HZ, which Linux fixes at 100 per second for user space.
    ticks.map_or(0, |t| t * 10)
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
        HealthSample { wall_s, sim_s: wall_s, rss_kib, deadline_misses, checkpoints: 0, steal_ms: 0 }
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
        assert!(
            (t.misses_per_min_first_half - 20.0).abs() < 1e-9 && (t.misses_per_min_second_half - 20.0).abs() < 1e-9
        );
        assert!(t.misses_by_minute.is_empty(), "no whole minute after the warm-up (20 s → 74 s)");
        assert_eq!(t.miss_slope_per_min2, 0.0);
    }

    #[test]
    fn the_miss_slope_is_the_least_squares_trend_per_minute() {
        // Misses per minute 10, 12, 14, 16, spread over each minute (cumulative, sampled every second).
        let (mut s, mut base) = (Vec::new(), 0);
        for (m, k) in [10u64, 12, 14, 16].into_iter().enumerate() {
            s.extend((0..60u64).map(|sec| sample((60 * m as u64 + sec) as f64, 1000, base + k * sec / 60)));
            base += k;
        }
        s.push(sample(240.0, 1000, base));
        let t = health_trend(&s, 0.0).unwrap();
        assert_eq!(t.misses_by_minute, vec![10, 12, 14, 16]);
        assert!((t.miss_slope_per_min2 - 2.0).abs() < 1e-12, "{t:?}");
        assert_eq!(slope(&[5, 5, 5]), 0.0);
        assert!(slope(&[3]) == 0.0 && slope(&[]) == 0.0);
    }

    #[test]
    fn this_process_has_a_resident_set() {
        assert!(rss_kib() > 0);
    }
}
