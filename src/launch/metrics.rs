//! Metrics of a scenario: mean end-effector error over named windows, per controller, and DeWolf et al.'s
//! normalised error of the main controller against the first comparison controller.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::node::ControllerSample;

/// A named span of sim time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Name (`before`, `after_payload`, `adapted`, …).
    pub name: String,
    /// Start, s.
    pub from_s: f64,
    /// End, s.
    pub to_s: f64,
}

/// One controller's numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunMetrics {
    /// Controller kind.
    pub controller: String,
    /// Mean end-effector error per window, m.
    pub window_error_m: BTreeMap<String, f64>,
    /// Mean error over the whole run, m.
    pub mean_error_m: f64,
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
}

/// All runs of a scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioMetrics {
    /// Scenario name.
    pub scenario: String,
    /// Per controller, in run order (the first is the main one).
    pub runs: Vec<RunMetrics>,
    /// `(e_main − e_cmp,before) / (e_cmp − e_cmp,before)` in the last window, where `before` is the first
    /// window (no payload) and `cmp` the first comparison controller: 1 = the payload's whole effect remains,
    /// 0 = fully compensated. `None` without a comparison run or at least two windows.
    pub normalised_error: Option<f64>,
}

/// Mean error of the samples with `from ≤ t < to`.
pub fn window_mean(samples: &[ControllerSample], from: f64, to: f64) -> f64 {
    let (s, n) = samples.iter().filter(|x| x.t >= from && x.t < to).fold((0.0, 0usize), |(s, n), x| (s + x.error_m, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Fills `normalised_error` from the runs and windows.
pub fn normalise(m: &mut ScenarioMetrics, windows: &[WindowSpec]) {
    let (Some(first), Some(last)) = (windows.first(), windows.last()) else { return };
    if windows.len() < 2 || m.runs.len() < 2 {
        return;
    }
    let cmp_before = m.runs[1].window_error_m[&first.name];
    let cmp_last = m.runs[1].window_error_m[&last.name];
    let main_last = m.runs[0].window_error_m[&last.name];
    let x = (main_last - cmp_before) / (cmp_last - cmp_before);
    m.normalised_error = x.is_finite().then_some(x);
}
