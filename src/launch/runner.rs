//! Runs a scenario: per controller, a sim node and a controller node on one in-process zenoh session.

use std::f64::consts::PI;
use std::path::Path;
use std::thread;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::health::{HealthSample, health_trend, watch_health};
use super::metrics::{RunMetrics, ScenarioMetrics, normalise, window_mean};
use super::report::start_recording;
use super::scenario::ScenarioSpec;
use crate::bus::{Bus, BusConfig};
use crate::control::arm_model::{ArmModel, ArmModelParams};
use crate::control::urdf_chain::ArmSpec;
use crate::node::{
    ControllerNodeReport, ControllerNodeSpec, ControllerSection, EstopEvent, PayloadEvent, Shutdown, SimNodeReport,
    SimNodeSpec, TargetEvent, WaitMode, build_controller, run_controller_node, run_sim_node,
};

/// One controller's run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Controller kind.
    pub controller: String,
    /// The sim node's report.
    pub sim: SimNodeReport,
    /// The controller node's report.
    pub ctrl: ControllerNodeReport,
    /// Memory, deadline misses and checkpoints over the run, about once a second.
    pub health: Vec<HealthSample>,
}

/// Fraction of a run's wall time before memory and deadline-miss trends are judged (allocations settle,
/// caches fill).
const HEALTH_WARMUP: f64 = 0.1;

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

/// Runs every controller of `spec` on the arm `urdf` (text). `shutdown` aborts between and within runs. With
/// `record_dir`, each run's bus traffic is recorded into `<record_dir>/bus-<controller>.mcap`.
pub fn run_scenario(
    spec: &ScenarioSpec,
    urdf: &str,
    shutdown: &Shutdown,
    progress: bool,
    record_dir: Option<&Path>,
) -> anyhow::Result<ScenarioResult> {
    let (start_ee, targets) = start_and_targets(spec, urdf)?;
    let mut runs = Vec::new();
    for kind in &spec.controllers {
        if shutdown.is_triggered() {
            break;
        }
        let section = ControllerSection { kind: kind.clone(), ..spec.controller.clone() };
        let controller = build_controller(&section, urdf).with_context(|| format!("building controller `{kind}`"))?;
        runs.push(run_one(spec, urdf, controller, start_ee, &targets, shutdown, progress, record_dir)?);
    }
    Ok(finish(spec, runs))
}

/// The metrics of `runs` (in controller order) and the result. Shared with the separate-process launcher.
pub(super) fn finish(spec: &ScenarioSpec, runs: Vec<RunResult>) -> ScenarioResult {
    let mut metrics = ScenarioMetrics { scenario: spec.name.clone(), ..Default::default() };
    for r in &runs {
        let s = &r.ctrl.samples;
        metrics.runs.push(RunMetrics {
            controller: r.controller.clone(),
            // Every tick counts (the sample log may have been decimated on long runs).
            window_error_m: spec.windows.iter().zip(&r.ctrl.error_windows.0).map(|(w, e)| (w.name.clone(), e.mean_m())).collect(),
            mean_error_m: window_mean(s, f64::NEG_INFINITY, f64::INFINITY),
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
    ScenarioResult { spec: spec.clone(), runs, metrics }
}

/// The start end-effector position and the run's target events.
pub(super) fn start_and_targets(spec: &ScenarioSpec, urdf: &str) -> anyhow::Result<([f64; 3], Vec<TargetEvent>)> {
    let arm = ArmSpec::from_urdf_str(urdf).context("reading the scenario's arm")?;
    let mut model = ArmModel::new(&arm, ArmModelParams::default())?;
    let start_ee: [f64; 3] = model.ee_position(&spec.initial_q).context("start pose")?.into();
    Ok((start_ee, target_events(spec, start_ee)))
}

/// The circle's targets (if any) and the explicit target events, in time order.
fn target_events(spec: &ScenarioSpec, start: [f64; 3]) -> Vec<TargetEvent> {
    let mut out = Vec::new();
    if let Some(c) = &spec.circle {
        let mut k = 0usize;
        let mut t = c.start_s;
        while t < spec.duration_s && c.targets > 0 {
            let th = 2.0 * PI * (k % c.targets) as f64 / c.targets as f64;
            out.push(TargetEvent {
                t,
                position: [start[0] + c.radius_m * th.cos(), start[1], start[2] + c.radius_m * th.sin()],
            });
            k += 1;
            t = c.start_s + k as f64 * c.reach_s;
        }
    }
    out.extend(spec.events.iter().filter_map(|e| e.target.map(|p| TargetEvent { t: e.t, position: p })));
    out.sort_by(|a, b| a.t.total_cmp(&b.t));
    out
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    spec: &ScenarioSpec,
    urdf: &str,
    mut controller: Box<dyn crate::control::controller::Controller>,
    start_ee: [f64; 3],
    targets: &[TargetEvent],
    shutdown: &Shutdown,
    progress: bool,
    record_dir: Option<&Path>,
) -> anyhow::Result<RunResult> {
    let kind = controller.name().to_string();
    let (sim, cspec) = node_specs(spec, urdf, &kind, start_ee, targets)?;

    // One in-process session shared by both nodes: no sockets, same code path as separate processes.
    let bus = Bus::open(&spec.arm, &BusConfig::default())?;
    // Recording starts before the nodes (their first messages are in the file) and ends after them.
    let recording = record_dir.filter(|_| spec.record_bus).map(|d| start_recording(&bus, d, &kind)).transpose()?;
    let stop_ctrl = Shutdown::new();
    let ctrl_thread = {
        let (bus, stop) = (bus.clone(), stop_ctrl.clone());
        thread::Builder::new().name("controller".into()).spawn(move || {
            run_controller_node(&cspec, controller.as_mut(), &bus, &stop)
        })?
    };
    let sim_stop = shutdown.clone();
    let done = Shutdown::new();
    let health_thread = {
        let (bus, done) = (bus.clone(), done.clone());
        let total = spec.duration_s;
        let label = format!("{} / {kind}", spec.name);
        thread::Builder::new().name("health".into()).spawn(move || {
            let bar = if progress { ProgressBar::new((total * 1000.0) as u64) } else { ProgressBar::hidden() };
            bar.set_style(
                ProgressStyle::with_template("{prefix:>24} [{bar:40}] {msg} sim s ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(label);
            let samples = watch_health(&bus, &done, |t| {
                bar.set_position((t * 1000.0) as u64);
                bar.set_message(format!("{t:.1}/{total:.0}"));
            });
            bar.finish_and_clear();
            samples
        })?
    };
    let sim_result = run_sim_node(&sim, &bus, &sim_stop);
    stop_ctrl.trigger();
    let ctrl_result = ctrl_thread.join().map_err(|_| anyhow::anyhow!("controller thread panicked"))?;
    done.trigger();
    let health = health_thread.join().map_err(|_| anyhow::anyhow!("health thread panicked"))?;
    if let Some(r) = recording {
        r.finish()?;
    }
    bus.close()?;
    Ok(RunResult { controller: kind, sim: sim_result?, ctrl: ctrl_result?, health })
}

/// The two nodes' specs for one controller's run (`kind`: the controller's name). Shared with the
/// separate-process launcher, which hands the same settings to the node commands.
pub(super) fn node_specs(
    spec: &ScenarioSpec,
    urdf: &str,
    kind: &str,
    start_ee: [f64; 3],
    targets: &[TargetEvent],
) -> anyhow::Result<(SimNodeSpec, ControllerNodeSpec)> {
    let mut sim = SimNodeSpec::new(urdf.to_string());
    sim.timing = spec.timing;
    sim.wait = WaitMode::Spin;
    sim.initial_q = Some(spec.initial_q.clone());
    sim.duration_s = Some(spec.duration_s);
    sim.record_every = spec.record_every;
    sim.payload_events = spec
        .events
        .iter()
        .filter_map(|e| e.payload_kg.map(|m| PayloadEvent { t: e.t, mass_kg: m, offset_m: [0.0; 3] }))
        .collect();
    sim.estop_events = spec.events.iter().filter_map(|e| e.estop.map(|on| EstopEvent { t: e.t, engaged: on })).collect();
    let mut cspec = ControllerNodeSpec::new(&spec.arm);
    cspec.urdf = Some(urdf.to_string());
    cspec.wait = WaitMode::Spin;
    cspec.initial_target = Some(start_ee);
    cspec.target_events = targets.to_vec();
    cspec.record_every = spec.record_every;
    cspec.error_windows = spec.windows.iter().map(|w| (w.from_s, w.to_s)).collect();
    cspec.checkpoint_path = spec.checkpoint_dir.as_ref().map(|d| {
        std::path::Path::new(d).join(format!("{}-{}.json", spec.name, kind))
    });
    cspec.checkpoint_period_s = spec.checkpoint_period_s;
    if let Some(d) = &spec.checkpoint_dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating checkpoint_dir {d}"))?;
    }
    // The sim's last state (after its final step) is answered by no one it waits for; not ticking it keeps
    // the controller's ticks and samples independent of when it is stopped.
    cspec.stop_at_s = Some(spec.duration_s - 0.5 * sim.sim.dt);
    Ok((sim, cspec))
}
