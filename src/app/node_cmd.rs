//! `spikearm sim node` and `spikearm control`: load the layered config, open the bus, run the node until it
//! finishes or a signal arrives, close the session.
//!
//! With `plan` a node takes its scheduled events from a run plan file, with `report` it writes its report as
//! JSON on exit: how `spikearm launch --processes` runs a scenario through these commands.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::layered_config::{effective_toml, load_layered};
use super::node_config::{BusSection, ControlNodeConfig, SimNodeConfig};
use crate::bus::{Bus, BusConfig};
use crate::launch::RunPlan;
use crate::node::{ControllerNodeSpec, HoldParams, NodeError, Shutdown, SimNodeSpec, run_controller_node, run_sim_node};

/// Arguments shared by the node commands.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// TOML config file (see config/sim.toml, config/control.toml); defaults apply without one.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Override one key, e.g. --set timing=lockstep --set bus.listen='["tcp/127.0.0.1:7448"]'. Repeatable;
    /// beats the environment, which beats the file.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the effective configuration and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Opens the bus described by a `[bus]` section.
pub fn open_bus(arm: &str, bus: &BusSection) -> anyhow::Result<Bus> {
    let zenoh_json5 = match &bus.zenoh_config {
        Some(p) if p.as_os_str().is_empty() => None,
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading zenoh config {}", p.display()))?),
        None => None,
    };
    let cfg = BusConfig { zenoh_json5, listen: bus.listen.clone(), connect: bus.connect.clone() };
    Ok(Bus::open(arm, &cfg)?)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_plan(path: &Path) -> anyhow::Result<RunPlan> {
    RunPlan::from_json(&read(path)?).with_context(|| format!("run plan {}", path.display()))
}

/// Writes a node report as JSON, whole or not at all (temporary file, then rename): the launcher reading it
/// never sees half a report.
fn write_report<T: serde::Serialize>(path: &Path, report: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string(report).context("serialising the report")?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Runs one node on its own bus until it finishes or a signal arrives, closes the session, and writes the
/// node's report to `report` (if given).
fn run_node<R: serde::Serialize>(
    arm: &str,
    bus: &BusSection,
    report: Option<&Path>,
    run: impl FnOnce(&Bus, &Shutdown) -> Result<R, NodeError>,
) -> anyhow::Result<R> {
    let shutdown = Shutdown::new();
    super::signals::install(shutdown.clone())?;
    let bus = open_bus(arm, bus)?;
    let result = run(&bus, &shutdown);
    bus.close()?;
    let r = result?;
    if let Some(p) = report {
        write_report(p, &r)?;
    }
    Ok(r)
}

/// `spikearm sim node`.
pub fn run_sim(args: &NodeArgs) -> anyhow::Result<()> {
    let cfg: SimNodeConfig = load_layered(args.config.as_deref(), "SPIKEARM_SIM", std::env::vars(), &args.sets)?;
    if args.print_config {
        print!("{}", effective_toml(&cfg));
        return Ok(());
    }
    tracing::info!("sim node, effective config:\n{}", effective_toml(&cfg));
    let mut spec = SimNodeSpec::new(read(&cfg.urdf)?);
    spec.timing = cfg.timing;
    spec.wait = cfg.wait;
    spec.duration_s = (cfg.duration_s > 0.0).then_some(cfg.duration_s);
    spec.watchdog_s = cfg.watchdog_ms * 1e-3;
    spec.initial_q = (!cfg.initial_q.is_empty()).then(|| cfg.initial_q.clone());
    spec.sim.dt = cfg.dt;
    spec.sim.substeps = cfg.substeps;
    spec.sim.joint_damping = cfg.joint_damping;
    spec.hold = HoldParams { kp: cfg.hold_kp, kd: cfg.hold_kd };
    spec.record_every = cfg.record_every;
    if let Some(p) = &cfg.plan {
        let plan = read_plan(p)?;
        spec.payload_events = plan.payload_events;
        spec.estop_events = plan.estop_events;
    }
    let r = run_node(&cfg.arm, &cfg.bus, cfg.report.as_deref(), |bus, stop| run_sim_node(&spec, bus, stop))?;
    tracing::info!(
        steps = r.steps,
        sim_time = r.sim_time,
        watchdog_trips = r.watchdog_trips,
        deadline_misses = r.deadline_misses,
        "sim node stopped"
    );
    Ok(())
}

/// `spikearm control`.
pub fn run_control(args: &NodeArgs) -> anyhow::Result<()> {
    let cfg: ControlNodeConfig =
        load_layered(args.config.as_deref(), "SPIKEARM_CONTROL", std::env::vars(), &args.sets)?;
    if args.print_config {
        print!("{}", effective_toml(&cfg));
        return Ok(());
    }
    tracing::info!("controller node, effective config:\n{}", effective_toml(&cfg));
    let urdf = read(&cfg.urdf)?;
    let mut controller = crate::node::build_controller(&cfg.controller, &urdf)?;
    let mut spec = ControllerNodeSpec::new(&cfg.arm);
    spec.urdf = Some(urdf);
    spec.initial_target = match cfg.target.as_slice() {
        [] => None,
        [x, y, z] => Some([*x, *y, *z]),
        other => anyhow::bail!("target must have 3 coordinates (m), got {}", other.len()),
    };
    spec.checkpoint_path = cfg.checkpoint.clone();
    spec.checkpoint_period_s = cfg.checkpoint_period_s;
    spec.hold_after_s = cfg.hold_after_ms * 1e-3;
    spec.wait = cfg.wait;
    spec.status_period_s = if cfg.status_hz > 0.0 { 1.0 / cfg.status_hz } else { 0.1 };
    spec.record_every = cfg.record_every;
    spec.stop_at_s = (cfg.stop_at_s > 0.0).then_some(cfg.stop_at_s);
    if let Some(p) = &cfg.plan {
        let plan = read_plan(p)?;
        spec.target_events = plan.target_events;
        spec.error_windows = plan.error_windows;
    }
    let r = run_node(&cfg.arm, &cfg.bus, cfg.report.as_deref(), |bus, stop| {
        run_controller_node(&spec, controller.as_mut(), bus, stop)
    })?;
    tracing::info!(ticks = r.ticks, checkpoints = r.checkpoints, restored = r.restored, "controller node stopped");
    Ok(())
}
