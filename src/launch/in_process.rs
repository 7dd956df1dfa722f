//! Runs a deployment in this process: each run's nodes on threads of their own, over one in-process zenoh
//! session (no sockets; the same node code as separate processes).

use std::path::Path;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::graph::{Deployment, NodeSpec, RunGraph};
use super::health::{HealthSample, watch_health};
use super::recording::start_recording;
use super::result::{RunResult, ScenarioResult};
use super::scenario::ScenarioSpec;
use crate::arm::Arm;
use crate::bus::{Bus, BusConfig};
use crate::node::{ControllerNode, ControllerNodeReport, Shutdown, SimNode, SimNodeReport};

/// What a node thread hands back.
enum Outcome {
    Sim(SimNodeReport),
    Controller(ControllerNodeReport),
}

/// How the runs of a deployment are run here.
struct InProcess<'a> {
    arm: &'a Arc<Arm>,
    /// The launcher's stop (Ctrl-C): ends the running run's sims, skips the remaining runs.
    shutdown: &'a Shutdown,
    progress: bool,
    /// Record each run's bus traffic into `<dir>/bus-<label>.mcap`.
    record_dir: Option<&'a Path>,
}

/// Runs every controller of `spec` on `arm` (the arm the scenario names, parsed once). `shutdown` aborts
/// between and within runs. With `record_dir` (and the scenario's `record_bus`), each run's bus traffic is
/// recorded into `<record_dir>/bus-<controller>.mcap`.
pub fn run_scenario(
    spec: &ScenarioSpec,
    arm: Arc<Arm>,
    shutdown: &Shutdown,
    progress: bool,
    record_dir: Option<&Path>,
) -> anyhow::Result<ScenarioResult> {
    let deployment = Deployment::from_scenario(spec, &arm)?;
    let here = InProcess { arm: &arm, shutdown, progress, record_dir: record_dir.filter(|_| spec.record_bus) };
    let mut runs = Vec::new();
    for run in &deployment.runs {
        if shutdown.is_triggered() {
            break;
        }
        runs.push(here.run(&deployment, run)?);
    }
    Ok(ScenarioResult::new(spec, runs))
}

impl InProcess<'_> {
    /// One run: its nodes on one session until the sims finish, then the others are stopped.
    fn run(&self, deployment: &Deployment, run: &RunGraph) -> anyhow::Result<RunResult> {
        let bus = Bus::open(&deployment.arm, &BusConfig::default())?;
        // Recording starts before the nodes (their first messages are in the file) and ends after them.
        let recording = self.record_dir.map(|d| start_recording(&bus, d, &run.label)).transpose()?;
        let stop_others = Shutdown::new();
        let done = Shutdown::new();
        let health = self.watch(&bus, &done, &format!("{} / {}", deployment.name, run.label), run);
        let mut sims = Vec::new();
        let mut others = Vec::new();
        for node in &run.nodes {
            match node {
                NodeSpec::Sim(_) => sims.push(self.spawn(node, &bus, self.shutdown)?),
                NodeSpec::Controller(_) => others.push(self.spawn(node, &bus, &stop_others)?),
            }
        }
        let mut outcomes = join(sims);
        stop_others.trigger();
        outcomes.extend(join(others));
        done.trigger();
        let health = health?.join().map_err(|_| anyhow::anyhow!("health thread panicked"))?;
        if let Some(r) = recording {
            r.finish()?;
        }
        bus.close()?;
        let (mut sim, mut ctrl) = (None, None);
        for o in outcomes {
            match o? {
                Outcome::Sim(r) => sim = sim.or(Some(r)),
                Outcome::Controller(r) => ctrl = ctrl.or(Some(r)),
            }
        }
        let (Some(sim), Some(ctrl)) = (sim, ctrl) else {
            anyhow::bail!("run `{}` needs a sim node and a controller node", run.label)
        };
        Ok(RunResult { controller: run.label.clone(), sim, ctrl, health })
    }

    /// Starts `node` on a thread of its own; it stops at `stop` (or when its own settings end it).
    fn spawn(
        &self,
        node: &NodeSpec,
        bus: &Bus,
        stop: &Shutdown,
    ) -> anyhow::Result<JoinHandle<anyhow::Result<Outcome>>> {
        let (node, bus, stop, arm) = (node.clone(), bus.clone(), stop.clone(), Arc::clone(self.arm));
        let name = node.name().to_string();
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
        Ok(handle)
    }

    /// The health watcher (and progress bar) of one run, on a thread of its own until `done`.
    fn watch(
        &self,
        bus: &Bus,
        done: &Shutdown,
        label: &str,
        run: &RunGraph,
    ) -> anyhow::Result<JoinHandle<Vec<HealthSample>>> {
        let total = run.nodes.iter().find_map(|n| match n {
            NodeSpec::Sim(s) => s.duration_s,
            NodeSpec::Controller(_) => None,
        });
        let (bus, done, label, progress) = (bus.clone(), done.clone(), label.to_string(), self.progress);
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

/// Waits for node threads, in order.
fn join(handles: Vec<JoinHandle<anyhow::Result<Outcome>>>) -> Vec<anyhow::Result<Outcome>> {
    handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a node thread panicked")))).collect()
}
