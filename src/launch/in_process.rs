//! Runs a deployment in this process: each run's nodes, of every arm, on threads of their own over one zenoh
//! session (the same node code as separate processes). The session is an isolated in-process peer, unless
//! the run is to be joined from outside: then it listens on, or connects to, the endpoints it is given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::graph::{Deployment, NodeSpec, RunGraph};
use super::health::{HealthSample, watch_health};
use super::recording::start_recording;
use super::result::{FleetResult, RunResult, ScenarioResult};
use super::scenario::ScenarioSpec;
use crate::arm::Arm;
use crate::bus::{Bus, BusConfig};
use crate::node::{ControllerNode, ControllerNodeReport, Shutdown, SimNode, SimNodeReport};

/// How a scenario is run in this process.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The launcher's stop (Ctrl-C): ends the running run's sims, skips the remaining runs.
    pub shutdown: Shutdown,
    /// Show a progress bar.
    pub progress: bool,
    /// Record each run's bus traffic (per arm) into this report directory (with the scenario's `record_bus`).
    pub record_dir: Option<PathBuf>,
    /// Listen on these zenoh endpoints, so that outside tools can join the run (e.g. `tcp/127.0.0.1:7447`).
    pub listen: Vec<String>,
    /// Connect to these zenoh endpoints (a router, or a tool listening).
    pub connect: Vec<String>,
}

/// What a node thread hands back.
enum Outcome {
    Sim(SimNodeReport),
    Controller(ControllerNodeReport),
}

/// How the runs of a deployment are run here.
struct InProcess<'a> {
    arms: BTreeMap<String, Arc<Arm>>,
    opts: &'a RunOptions,
    /// Per arm, where its recordings go (None: not recorded).
    record_dirs: BTreeMap<String, PathBuf>,
}

/// Runs every controller of the one-arm scenario `spec` on `arm` (the arm the scenario names, parsed once).
/// `shutdown` aborts between and within runs. With `record_dir` (and the scenario's `record_bus`), each
/// run's bus traffic is recorded into `<record_dir>/bus-<controller>.mcap`.
pub fn run_scenario(
    spec: &ScenarioSpec,
    arm: Arc<Arm>,
    shutdown: &Shutdown,
    progress: bool,
    record_dir: Option<&Path>,
) -> anyhow::Result<ScenarioResult> {
    anyhow::ensure!(!spec.is_fleet(), "scenario `{}` has [[arms]]: run it with run_fleet", spec.name);
    let opts = RunOptions {
        shutdown: shutdown.clone(),
        progress,
        record_dir: record_dir.map(Path::to_path_buf),
        ..Default::default()
    };
    let mut r = run_fleet(spec, &[arm], &opts)?;
    Ok(r.arms.remove(0))
}

/// Runs every controller of `spec` with all its arms at once (`arms`: parsed once, in the order of
/// [`ScenarioSpec::arm_scenarios`]). A fleet's recordings go to `<record_dir>/<arm>/`, a one-arm scenario's
/// to `<record_dir>/`.
pub fn run_fleet(spec: &ScenarioSpec, arms: &[Arc<Arm>], opts: &RunOptions) -> anyhow::Result<FleetResult> {
    let refs: Vec<&Arm> = arms.iter().map(|a| a.as_ref()).collect();
    let deployment = Deployment::from_scenario(spec, &refs)?;
    let record_dirs = match opts.record_dir.as_deref().filter(|_| spec.record_bus) {
        None => BTreeMap::new(),
        Some(d) if !spec.is_fleet() => deployment.arms.iter().map(|a| (a.clone(), d.to_path_buf())).collect(),
        Some(d) => deployment.arms.iter().map(|a| (a.clone(), d.join(a))).collect(),
    };
    let here =
        InProcess { arms: deployment.arms.iter().cloned().zip(arms.iter().cloned()).collect(), opts, record_dirs };
    // One session for the whole scenario: a tool that joined stays joined from one run to the next.
    let config = BusConfig { zenoh_json5: None, listen: opts.listen.clone(), connect: opts.connect.clone() };
    let bus = Bus::open(&deployment.arms[0], &config)?;
    let mut per_arm: Vec<Vec<RunResult>> = vec![Vec::new(); deployment.arms.len()];
    let mut failed = None;
    for run in &deployment.runs {
        if opts.shutdown.is_triggered() {
            break;
        }
        match here.run(&bus, &deployment, run) {
            Ok(results) => results.into_iter().enumerate().for_each(|(i, r)| per_arm[i].push(r)),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    bus.close()?;
    if let Some(e) = failed {
        return Err(e);
    }
    let arms = spec.arm_scenarios().iter().zip(per_arm).map(|(s, runs)| ScenarioResult::new(s, runs)).collect();
    Ok(FleetResult { spec: spec.clone(), arms })
}

impl InProcess<'_> {
    /// One run: every arm's nodes on the scenario's session until the sims finish, then the others are
    /// stopped.
    /// Results per arm, in deployment order.
    fn run(&self, bus: &Bus, deployment: &Deployment, run: &RunGraph) -> anyhow::Result<Vec<RunResult>> {
        // Recording starts before the nodes (their first messages are in the file) and ends after them.
        let mut recordings = Vec::new();
        for (arm, dir) in &self.record_dirs {
            recordings.push(start_recording(&bus.for_arm(arm)?, dir, &run.label)?);
        }
        let stop_others = Shutdown::new();
        let done = Shutdown::new();
        let mut health = Vec::new();
        for (i, arm) in deployment.arms.iter().enumerate() {
            let label = if deployment.arms.len() > 1 {
                format!("{} / {arm} / {}", deployment.name, run.label)
            } else {
                format!("{} / {}", deployment.name, run.label)
            };
            health.push(self.watch(&bus.for_arm(arm)?, &done, &label, run, i == 0)?);
        }
        let mut sims = Vec::new();
        let mut others = Vec::new();
        for node in &run.nodes {
            let node_bus = bus.for_arm(node.arm())?;
            match node {
                NodeSpec::Sim(_) => sims.push(self.spawn(node, &node_bus, &self.opts.shutdown)?),
                NodeSpec::Controller(_) => others.push(self.spawn(node, &node_bus, &stop_others)?),
            }
        }
        let mut outcomes = join(sims);
        stop_others.trigger();
        outcomes.extend(join(others));
        done.trigger();
        let health: Vec<Vec<HealthSample>> = health
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("health thread panicked")))
            .collect::<anyhow::Result<_>>()?;
        for r in recordings {
            r.finish()?;
        }
        let mut sims: BTreeMap<String, SimNodeReport> = BTreeMap::new();
        let mut ctrls: BTreeMap<String, ControllerNodeReport> = BTreeMap::new();
        for (arm, o) in outcomes {
            match o? {
                Outcome::Sim(r) => {
                    sims.entry(arm).or_insert(r);
                }
                Outcome::Controller(r) => {
                    ctrls.entry(arm).or_insert(r);
                }
            }
        }
        let mut results = Vec::new();
        for (arm, health) in deployment.arms.iter().zip(health) {
            let (Some(sim), Some(ctrl)) = (sims.remove(arm), ctrls.remove(arm)) else {
                anyhow::bail!("run `{}` needs a sim node and a controller node for arm `{arm}`", run.label)
            };
            results.push(RunResult { controller: run.label.clone(), sim, ctrl, health });
        }
        Ok(results)
    }

    /// Starts `node` on a thread of its own; it stops at `stop` (or when its own settings end it).
    fn spawn(&self, node: &NodeSpec, bus: &Bus, stop: &Shutdown) -> anyhow::Result<NodeThread> {
        let arm = Arc::clone(self.arms.get(node.arm()).context("a node of an arm the scenario does not name")?);
        let (node, bus, stop) = (node.clone(), bus.clone(), stop.clone());
        let name = format!("{}/{}", node.arm(), node.name());
        let arm_id = node.arm().to_string();
        let handle = thread::Builder::new().name(name).spawn(move || -> anyhow::Result<Outcome> {
            Ok(match node {
                NodeSpec::Sim(s) => Outcome::Sim(SimNode::new(&s, arm, &bus)?.run(&stop)?),
                NodeSpec::Controller(c) => {
                    let mut controller = c.controller.build(&arm).context("building the controller")?;
                    let node = ControllerNode::new(&c, arm, controller.as_mut(), &bus)?;
                    Outcome::Controller(node.run(&stop)?)
                }
            })
        })?;
        Ok((arm_id, handle))
    }

    /// The health watcher (and, if `progress`, the progress bar) of one arm's run, on a thread of its own
    /// until `done`.
    fn watch(
        &self,
        bus: &Bus,
        done: &Shutdown,
        label: &str,
        run: &RunGraph,
        progress: bool,
    ) -> anyhow::Result<JoinHandle<Vec<HealthSample>>> {
        let total = run.nodes.iter().find_map(|n| match n {
            NodeSpec::Sim(s) => s.duration_s,
            NodeSpec::Controller(_) => None,
        });
        let (bus, done, label) = (bus.clone(), done.clone(), label.to_string());
        let progress = progress && self.opts.progress;
        let handle = thread::Builder::new().name("health".into()).spawn(move || {
            let total = total.unwrap_or(0.0);
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
        })?;
        Ok(handle)
    }
}

/// A node's thread and the arm it serves.
type NodeThread = (String, JoinHandle<anyhow::Result<Outcome>>);

/// Waits for node threads, in order.
fn join(handles: Vec<NodeThread>) -> Vec<(String, anyhow::Result<Outcome>)> {
    handles
        .into_iter()
        .map(|(arm, h)| (arm, h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a node thread panicked")))))
        .collect()
}
