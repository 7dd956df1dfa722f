//! What a scenario produced: each run's node reports and health samples, and the metrics computed from them.
//! Both runners (in one process, as processes) end here.

use super::health::{HealthSample, health_trend};
use super::metrics::{RunMetrics, ScenarioMetrics, normalise, window_mean};
use super::scenario::ScenarioSpec;
use crate::node::{ControllerNodeReport, SimNodeReport};

/// One controller's run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The controller's name.
    pub controller: String,
    /// The sim node's report.
    pub sim: SimNodeReport,
    /// The controller node's report.
    pub ctrl: ControllerNodeReport,
    /// Memory, deadline misses and checkpoints over the run, about once a second (in-process runs).
    pub health: Vec<HealthSample>,
}

/// All runs of a scenario and their metrics.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// The scenario.
    pub spec: ScenarioSpec,
    /// One run per controller, in order.
    pub runs: Vec<RunResult>,
    /// Numbers.
    pub metrics: ScenarioMetrics,
}

/// A fleet's results: each arm's, as the result of its one-arm scenario
/// ([`ScenarioSpec::arm_scenarios`]), in scenario order. A one-arm scenario gives one.
#[derive(Debug, Clone)]
pub struct FleetResult {
    /// The scenario as written.
    pub spec: ScenarioSpec,
    /// Per arm.
    pub arms: Vec<ScenarioResult>,
}

/// Fraction of a run's wall time before memory and deadline-miss trends are judged (allocations settle,
/// caches fill).
const HEALTH_WARMUP: f64 = 0.1;

impl ScenarioResult {
    /// The result of `runs` (in controller order) with its metrics.
    pub fn new(spec: &ScenarioSpec, runs: Vec<RunResult>) -> Self {
        let laps = spec.laps();
        let mut metrics = ScenarioMetrics {
            scenario: spec.name.clone(),
            laps: laps.iter().map(|&(a, b)| [a, b]).collect(),
            ..Default::default()
        };
        for r in &runs {
            // The controller node scores the scenario's windows, then the laps (`graph::arm_runs`).
            let lap_error_m =
                r.ctrl.error_windows.0.iter().skip(spec.windows.len()).take(laps.len()).map(|w| w.mean_m()).collect();
            metrics.runs.push(RunMetrics {
                controller: r.controller.clone(),
                // Every tick counts (the sample log may have been decimated on long runs).
                window_error_m: spec
                    .windows
                    .iter()
                    .zip(&r.ctrl.error_windows.0)
                    .map(|(w, e)| (w.name.clone(), e.mean_m()))
                    .collect(),
                mean_error_m: window_mean(&r.ctrl.samples, f64::NEG_INFINITY, f64::INFINITY),
                lap_error_m,
                ticks: r.ctrl.ticks,
                steps: r.sim.steps,
                wall_s: r.sim.wall_s,
                steps_per_s: r.sim.steps as f64 / r.sim.wall_s.max(1e-9),
                watchdog_trips: r.sim.watchdog_trips,
                deadline_misses: r.sim.deadline_misses,
                checkpoints: r.ctrl.checkpoints,
                health: health_trend(&r.health, HEALTH_WARMUP),
            });
        }
        normalise(&mut metrics, &spec.windows, |t| spec.payload_at(t));
        Self { spec: spec.clone(), runs, metrics }
    }
}
