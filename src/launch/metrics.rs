//! A scenario's numbers: mean end-effector error over its named windows per run, speed and safety counters,
//! and the normalised error of the main run against the first comparison run (see [`crate::eval::metrics`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::eval::metrics::{WindowSpec, normalised};
use crate::node::ControllerSample;

/// One controller's numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunMetrics {
    /// Controller kind.
    pub controller: String,
    /// Mean end-effector error per window, m.
    pub window_error_m: BTreeMap<String, f64>,
    /// Mean error over the whole run, m.
    pub mean_error_m: f64,
    /// Mean error per lap of the target circle (the spans of [`ScenarioMetrics::laps`]), m, from every tick.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lap_error_m: Vec<f64>,
    /// Controller ticks.
    pub ticks: u64,
    /// Physics steps.
    pub steps: u64,
    /// Wall time of the run, s.
    pub wall_s: f64,
    /// Lockstep steps per second of wall time.
    pub steps_per_s: f64,
    /// Watchdog trips, deadline misses.
    pub watchdog_trips: u64,
    /// Deadline misses (real-time only).
    pub deadline_misses: u64,
    /// Checkpoints written (scenarios with `checkpoint_dir`).
    pub checkpoints: u64,
    /// Memory and deadline-miss trend after the warm-up (runs long enough to judge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::HealthTrend>,
}

/// All runs of a scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioMetrics {
    /// Scenario name.
    pub scenario: String,
    /// Per controller, in run order (the first is the main one).
    pub runs: Vec<RunMetrics>,
    /// The laps of the target circle, `[from_s, to_s]` of sim time (empty without a circle).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub laps: Vec<[f64; 2]>,
    /// `(e_main − e_cmp,before) / (e_cmp − e_cmp,before)` in the last window, where `before` is the first
    /// window (no payload) and `cmp` the first comparison controller: 1 = the payload's whole effect remains,
    /// 0 = fully compensated. `None` without a comparison run or at least two windows.
    pub normalised_error: Option<f64>,
    /// The main controller's normalised error in every window: `(e_main(w) − e_cmp,before) / D`, where `D` is
    /// the comparison controller's mean payload effect `e_cmp(w') − e_cmp,before` over the windows `w'` that
    /// end with the payload on. Windows without the payload read ≈ 0 when the arm is back to its no-payload
    /// level. Empty without a comparison run or a payload window.
    pub normalised_per_window: BTreeMap<String, f64>,
}

/// Mean error of the samples with `from ≤ t < to`.
pub fn window_mean(samples: &[ControllerSample], from: f64, to: f64) -> f64 {
    let (s, n) =
        samples.iter().filter(|x| x.t >= from && x.t < to).fold((0.0, 0usize), |(s, n), x| (s + x.error_m, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Fills `normalised_error` and `normalised_per_window` from the runs and windows; `payload_at(t)` is the
/// payload mass at sim time `t`, kg.
pub fn normalise(m: &mut ScenarioMetrics, windows: &[WindowSpec], payload_at: impl Fn(f64) -> f64) {
    normalise_last(m, windows);
    let (Some(first), true) = (windows.first(), m.runs.len() >= 2) else { return };
    let cmp = &m.runs[1].window_error_m;
    let before = cmp[&first.name];
    let effects: Vec<f64> =
        windows.iter().filter(|w| payload_at(w.to_s - 1e-9) > 0.0).map(|w| cmp[&w.name] - before).collect();
    let d = effects.iter().sum::<f64>() / effects.len() as f64;
    if !(d.is_finite() && d > 0.0) {
        return;
    }
    m.normalised_per_window =
        windows.iter().map(|w| (w.name.clone(), normalised(m.runs[0].window_error_m[&w.name], before, d))).collect();
}

fn normalise_last(m: &mut ScenarioMetrics, windows: &[WindowSpec]) {
    let (Some(first), Some(last)) = (windows.first(), windows.last()) else { return };
    if windows.len() < 2 || m.runs.len() < 2 {
        return;
    }
    let cmp_before = m.runs[1].window_error_m[&first.name];
    let cmp_last = m.runs[1].window_error_m[&last.name];
    let main_last = m.runs[0].window_error_m[&last.name];
    let x = normalised(main_last, cmp_before, cmp_last - cmp_before);
    m.normalised_error = x.is_finite().then_some(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(errors: &[(&str, f64)]) -> RunMetrics {
        RunMetrics { window_error_m: errors.iter().map(|(n, e)| (n.to_string(), *e)).collect(), ..Default::default() }
    }

    #[test]
    fn every_window_is_normalised_by_the_comparisons_mean_payload_effect() {
        let w = |name: &str, from_s: f64| WindowSpec { name: name.into(), from_s, to_s: from_s + 10.0 };
        let windows = [w("before", 0.0), w("on_1", 10.0), w("off_2", 20.0), w("on_3", 30.0)];
        // Payload on in [10, 20) and [30, 40).
        let payload_at = |t: f64| if (10.0..20.0).contains(&t) || t >= 30.0 { 2.0 } else { 0.0 };
        let mut m = ScenarioMetrics {
            runs: vec![
                run(&[("before", 0.008), ("on_1", 0.018), ("off_2", 0.007), ("on_3", 0.012)]),
                run(&[("before", 0.006), ("on_1", 0.044), ("off_2", 0.006), ("on_3", 0.048)]),
            ],
            ..Default::default()
        };
        normalise(&mut m, &windows, payload_at);
        // D = mean(0.038, 0.042) = 0.040.
        let n = &m.normalised_per_window;
        assert!((n["on_1"] - 0.3).abs() < 1e-12 && (n["on_3"] - 0.15).abs() < 1e-12, "{n:?}");
        assert!((n["off_2"] - 0.025).abs() < 1e-12 && (n["before"] - 0.05).abs() < 1e-12, "{n:?}");
        // The last-window figure keeps its own definition (comparison's effect in that window: 0.042).
        assert!((m.normalised_error.unwrap() - 0.006 / 0.042).abs() < 1e-12);
    }
}
