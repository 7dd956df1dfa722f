//! One description of a deployment: which nodes run, on which arm, with which settings. A scenario expands
//! into it; the in-process runner, the process launcher (and, later, a multi-host launcher) all run the
//! same description — the way a dora `dataflow.yml` or a copper `copperconfig.ron` describes the graph once.
//! Each node carries its complete settings, the very type its node command reads from a file.

use std::path::Path;

use anyhow::Context;

use super::scenario::ScenarioSpec;
use crate::arm::Arm;
use crate::control::factory::ControllerParams;
use crate::eval::circle::Circle;
use crate::node::{
    BusSettings, ControllerSettings, EstopEvent, PayloadEvent, ServiceSettings, SimSettings, TargetEvent, WaitMode,
};

/// A node and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeSpec {
    /// A sim node.
    Sim(SimSettings),
    /// A controller node.
    Controller(ControllerSettings),
}

impl NodeSpec {
    /// The node's name on the bus.
    pub fn name(&self) -> &str {
        match self {
            NodeSpec::Sim(s) => &s.node,
            NodeSpec::Controller(c) => &c.node,
        }
    }

    /// The `spikearm` subcommand that runs this node from a settings file.
    pub fn command(&self) -> &'static [&'static str] {
        match self {
            NodeSpec::Sim(_) => &["sim", "node"],
            NodeSpec::Controller(_) => &["control"],
        }
    }

    /// The settings as the node command reads them (TOML; floats round-trip exactly).
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(match self {
            NodeSpec::Sim(s) => toml::to_string(s)?,
            NodeSpec::Controller(c) => toml::to_string(c)?,
        })
    }
}

/// One run: the nodes that run together on one bus until the sims finish.
#[derive(Debug, Clone, PartialEq)]
pub struct RunGraph {
    /// What the run is called in reports: the controller's name.
    pub label: String,
    /// The nodes, of every arm; the sims end the run (their duration), the others are stopped then.
    pub nodes: Vec<NodeSpec>,
}

/// A scenario's runs, one after the other; in each, every arm runs at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The scenario's name.
    pub name: String,
    /// Bus key prefixes of the arms, in scenario order (one for a one-arm scenario).
    pub arms: Vec<String>,
    /// The runs, in order.
    pub runs: Vec<RunGraph>,
}

impl Deployment {
    /// The deployment of `spec` with `arms` (the arms the scenario names, parsed once, in the order of
    /// [`ScenarioSpec::arm_scenarios`]): per controller a run of a sim node and a controller node per arm.
    /// Creates the scenario's checkpoint directory. With more than one arm every node sleeps while it waits
    /// (spinning nodes would outnumber the cores).
    pub fn from_scenario(spec: &ScenarioSpec, arms: &[&Arm]) -> anyhow::Result<Self> {
        let per_arm = spec.arm_scenarios();
        anyhow::ensure!(per_arm.len() == arms.len(), "{} arms described, {} given", per_arm.len(), arms.len());
        if let Some(d) = &spec.checkpoint_dir {
            std::fs::create_dir_all(d).with_context(|| format!("creating checkpoint_dir {d}"))?;
        }
        let mut runs: Vec<RunGraph> = Vec::new();
        for (a, arm) in per_arm.iter().zip(arms) {
            for (i, run) in arm_runs(a, arm)?.into_iter().enumerate() {
                match runs.get_mut(i) {
                    Some(r) => r.nodes.extend(run.nodes),
                    None => runs.push(run),
                }
            }
        }
        if arms.len() > 1 {
            runs.iter_mut().flat_map(|r| &mut r.nodes).for_each(NodeSpec::sleep_while_waiting);
        }
        Ok(Self { name: spec.name.clone(), arms: per_arm.into_iter().map(|a| a.arm).collect(), runs })
    }
}

/// One arm's runs (one-arm `spec`), one per controller: its sim node and its controller node.
fn arm_runs(spec: &ScenarioSpec, arm: &Arm) -> anyhow::Result<Vec<RunGraph>> {
    let start_ee: [f64; 3] = arm.model()?.ee_position(&spec.initial_q).context("start pose")?.into();
    let targets = target_events(spec, start_ee);
    let mut runs = Vec::new();
    for kind in &spec.controllers {
        let controller = ControllerParams { kind: kind.clone(), ..spec.controller.clone() };
        let label = controller.name()?;
        let sim = sim_settings(spec);
        let ctrl = ControllerSettings {
            arm: spec.arm.clone(),
            urdf: spec.urdf.clone().into(),
            target: Some(start_ee),
            target_events: targets.clone(),
            record_every: spec.record_every,
            // The scenario's windows, then its laps (the report's per-lap errors).
            error_windows: spec.windows.iter().map(|w| (w.from_s, w.to_s)).chain(spec.laps()).collect(),
            checkpoint: spec.checkpoint_dir.as_ref().map(|d| Path::new(d).join(format!("{}-{label}.json", spec.name))),
            checkpoint_period_s: spec.checkpoint_period_s,
            // The sim's last state (after its final step) is answered by no one it waits for; not
            // ticking it keeps the controller's ticks and samples independent of when it is stopped.
            stop_at_s: Some(spec.duration_s - 0.5 * sim.physics.dt),
            wait: WaitMode::Spin,
            controller,
            ..ControllerSettings::default()
        };
        runs.push(RunGraph { label, nodes: vec![NodeSpec::Sim(sim), NodeSpec::Controller(ctrl)] });
    }
    Ok(runs)
}

impl NodeSpec {
    /// The arm the node serves.
    pub fn arm(&self) -> &str {
        match self {
            NodeSpec::Sim(s) => &s.arm,
            NodeSpec::Controller(c) => &c.arm,
        }
    }

    /// The arm's URDF file.
    pub fn urdf(&self) -> &Path {
        match self {
            NodeSpec::Sim(s) => &s.urdf,
            NodeSpec::Controller(c) => &c.urdf,
        }
    }

    /// The node's `[bus]` settings.
    pub fn bus(&self) -> &BusSettings {
        match self {
            NodeSpec::Sim(s) => &s.bus,
            NodeSpec::Controller(c) => &c.bus,
        }
    }

    /// The node's `[service]` settings.
    pub fn service(&self) -> &ServiceSettings {
        match self {
            NodeSpec::Sim(s) => &s.service,
            NodeSpec::Controller(c) => &c.service,
        }
    }

    /// Where the node writes its report on exit, if anywhere.
    pub fn report(&self) -> Option<&Path> {
        match self {
            NodeSpec::Sim(s) => s.report.as_deref(),
            NodeSpec::Controller(c) => c.report.as_deref(),
        }
    }

    /// Waits by sleeping instead of spinning (a fleet's many nodes share the cores; lockstep results do not
    /// depend on how a node waits).
    pub fn sleep_while_waiting(&mut self) {
        match self {
            NodeSpec::Sim(s) => s.wait = WaitMode::Sleep,
            NodeSpec::Controller(c) => c.wait = WaitMode::Sleep,
        }
    }
}

fn sim_settings(spec: &ScenarioSpec) -> SimSettings {
    SimSettings {
        arm: spec.arm.clone(),
        urdf: spec.urdf.clone().into(),
        timing: spec.timing,
        wait: WaitMode::Spin,
        initial_q: Some(spec.initial_q.clone()),
        duration_s: Some(spec.duration_s),
        record_every: spec.record_every,
        payload_events: spec
            .events
            .iter()
            .filter_map(|e| e.payload_kg.map(|m| PayloadEvent { t: e.t, mass_kg: m, offset_m: [0.0; 3] }))
            .collect(),
        estop_events: spec.events.iter().filter_map(|e| e.estop.map(|on| EstopEvent { t: e.t, engaged: on })).collect(),
        ..SimSettings::default()
    }
}

/// The circle's targets (if any) and the explicit target events, in time order.
fn target_events(spec: &ScenarioSpec, start: [f64; 3]) -> Vec<TargetEvent> {
    let mut out = Vec::new();
    if let Some(c) = spec.circle.filter(|c| c.targets > 0) {
        let circle = Circle { center: start, radius_m: c.radius_m, targets: c.targets };
        let mut k = 0usize;
        let mut t = c.start_s;
        while t < spec.duration_s {
            out.push(TargetEvent { t, position: circle.target(k) });
            k += 1;
            t = c.start_s + k as f64 * c.reach_s;
        }
    }
    out.extend(spec.events.iter().filter_map(|e| e.target.map(|p| TargetEvent { t: e.t, position: p })));
    out.sort_by(|a, b| a.t.total_cmp(&b.t));
    out
}
