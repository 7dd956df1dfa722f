//! `spikearm sim node` and `spikearm control`: load the node's settings (defaults < file < environment <
//! `--set`), read the arm, open the bus, run the node until it finishes or a signal arrives, close the
//! session, and write the node's report if the settings ask for one. `spikearm launch --processes` runs
//! each node this way with one settings file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::layered_config::{effective_toml, load_layered};
use crate::arm::Arm;
use crate::bus::{Bus, BusConfig};
use crate::node::{BusSettings, ControllerNode, ControllerSettings, NodeError, Shutdown, SimNode, SimSettings};

/// Arguments shared by the node commands.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Settings file (TOML; config/sim.toml and config/control.toml document every key). Defaults apply
    /// without one.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Override one key, e.g. --set timing=lockstep --set bus.listen='["tcp/127.0.0.1:7448"]'. Repeatable;
    /// beats the environment (SPIKEARM_SIM__<KEY>, SPIKEARM_CONTROL__<KEY>), which beats the file.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the effective settings and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Opens the bus a node's `[bus]` settings describe, for the arm `arm`.
pub fn open_bus(arm: &str, bus: &BusSettings) -> anyhow::Result<Bus> {
    let zenoh_json5 = match &bus.zenoh_config {
        Some(p) if p.as_os_str().is_empty() => None,
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading zenoh config {}", p.display()))?),
        None => None,
    };
    let cfg = BusConfig { zenoh_json5, listen: bus.listen.clone(), connect: bus.connect.clone() };
    Ok(Bus::open(arm, &cfg)?)
}

/// Reads and parses the arm's URDF.
pub fn read_arm(urdf: &Path) -> anyhow::Result<std::sync::Arc<Arm>> {
    Arm::from_urdf_file(urdf).with_context(|| format!("the arm {}", urdf.display()))
}

/// Loads a node's settings, or prints them and returns `None` for `--print-config`.
fn settings<T>(args: &NodeArgs, env_prefix: &str, what: &str) -> anyhow::Result<Option<T>>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    let s: T = load_layered(args.config.as_deref(), env_prefix, std::env::vars(), &args.sets)?;
    if args.print_config {
        print!("{}", effective_toml(&s));
        return Ok(None);
    }
    tracing::info!("{what}, effective settings:\n{}", effective_toml(&s));
    Ok(Some(s))
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
    bus: &BusSettings,
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
    let Some(s) = settings::<SimSettings>(args, "SPIKEARM_SIM", "sim node")? else { return Ok(()) };
    let arm = read_arm(&s.urdf)?;
    let r = run_node(&s.arm, &s.bus, s.report.as_deref(), |bus, stop| SimNode::new(&s, arm, bus)?.run(stop))?;
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
    let Some(s) = settings::<ControllerSettings>(args, "SPIKEARM_CONTROL", "controller node")? else {
        return Ok(());
    };
    let arm = read_arm(&s.urdf)?;
    let mut controller = s.controller.build(&arm)?;
    let r = run_node(&s.arm, &s.bus, s.report.as_deref(), |bus, stop| {
        ControllerNode::new(&s, arm, controller.as_mut(), bus)?.run(stop)
    })?;
    tracing::info!(ticks = r.ticks, checkpoints = r.checkpoints, restored = r.restored, "controller node stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped config files document the defaults: loading one gives exactly the built-in settings.
    #[test]
    fn the_shipped_configs_hold_the_defaults() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sim: SimSettings = load_layered(Some(&root.join("config/sim.toml")), "NONE", vec![], &[]).unwrap();
        assert_eq!(sim, SimSettings::default());
        let ctl: ControllerSettings =
            load_layered(Some(&root.join("config/control.toml")), "NONE", vec![], &[]).unwrap();
        assert_eq!(ctl, ControllerSettings::default());
    }
}
