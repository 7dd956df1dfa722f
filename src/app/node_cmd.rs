//! `spikearm sim node` and `spikearm control`: load the node's settings (defaults < file < environment <
//! `--set`), read the arm, open the bus, run the node until it finishes or a signal arrives, close the
//! session, and write the node's report if the settings ask for one. `spikearm launch --processes` runs
//! each node this way with one settings file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::layered_config::{effective_toml, load_layered};
use super::service::ServiceThread;
use crate::arm::Arm;
use crate::bus::{Bus, BusConfig, ParamsRequest, SCHEMA_VERSION};
use crate::control::factory::ControllerParams;
use crate::node::{
    BusSettings, ControllerNode, ControllerSettings, NodeError, NodeProbe, ServiceSettings, Shutdown, SimNode,
    SimSettings,
};

/// Arguments shared by the node commands.
#[derive(Debug, Clone, Args)]
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
pub(super) fn settings<T>(args: &NodeArgs, env_prefix: &str, what: &str) -> anyhow::Result<Option<T>>
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
pub(super) fn write_report<T: serde::Serialize>(path: &Path, report: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string(report).context("serialising the report")?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// What [`run_node`] needs besides the node itself.
struct NodeRun<'a> {
    arm: &'a str,
    bus: &'a BusSettings,
    service: &'a ServiceSettings,
    report: Option<&'a Path>,
}

/// Runs one node on its own bus until it finishes or a signal arrives, with its service thread (systemd
/// notifications, `/metrics`) beside it; SIGHUP runs `reload` with the bus. Closes the session and writes the
/// node's report (if asked).
fn run_node<R: serde::Serialize>(
    how: NodeRun<'_>,
    mut reload: impl FnMut(&Bus) + Send + 'static,
    run: impl FnOnce(&Bus, &Shutdown, Arc<NodeProbe>) -> Result<R, NodeError>,
) -> anyhow::Result<R> {
    if let Some(filter) = &how.service.log_level {
        super::set_log_filter(filter)?;
    }
    let shutdown = Shutdown::new();
    let bus = open_bus(how.arm, how.bus)?;
    let hup_bus = bus.clone();
    super::signals::install_with_reload(shutdown.clone(), Some(Box::new(move || reload(&hup_bus))))?;
    let probe = Arc::new(NodeProbe::new());
    let service = ServiceThread::spawn(how.service, probe.clone(), shutdown.clone())?;
    let result = run(&bus, &shutdown, probe);
    shutdown.trigger();
    service.stop();
    bus.close()?;
    let r = result?;
    if let Some(p) = how.report {
        write_report(p, &r)?;
    }
    Ok(r)
}

/// SIGHUP: reads the settings again and applies what can change while running — the log filter, and for the
/// controller its gains, learning rate and learning switch (through its own parameter service, so the same
/// bounds and all-or-none rule apply). Anything else that changed is named and left as it is: it needs a
/// restart.
struct Reloader<T> {
    args: NodeArgs,
    env_prefix: &'static str,
    running: T,
}

impl<T> Reloader<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default + Clone + PartialEq,
{
    /// Reads the settings again and keeps what may change while running; returns the settings now in force
    /// when they changed (what cannot change is reported and kept as it is).
    fn reread(&mut self, soften: impl Fn(&mut T, &T), log_level: impl Fn(&T) -> Option<String>) -> Option<T> {
        let new: T = match load_layered(self.args.config.as_deref(), self.env_prefix, std::env::vars(), &self.args.sets)
        {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("SIGHUP: settings not reloaded: {e:#}");
                return None;
            }
        };
        let mut applied = self.running.clone();
        soften(&mut applied, &new);
        let refused = changed_keys(&applied, &new);
        if !refused.is_empty() {
            tracing::warn!("SIGHUP: {} changed but need a restart; not applied", refused.join(", "));
        }
        if let Some(filter) = log_level(&applied)
            && let Err(e) = super::set_log_filter(&filter)
        {
            tracing::error!("SIGHUP: {e:#}");
        }
        let changed = applied != self.running;
        self.running.clone_from(&applied);
        changed.then_some(applied)
    }
}

/// `spikearm sim node`.
pub fn run_sim(args: &NodeArgs) -> anyhow::Result<()> {
    let Some(s) = settings::<SimSettings>(args, "SPIKEARM_SIM", "sim node")? else { return Ok(()) };
    let arm = read_arm(&s.urdf)?;
    let how = NodeRun { arm: &s.arm, bus: &s.bus, service: &s.service, report: s.report.as_deref() };
    let mut reloader = Reloader { args: args.clone(), env_prefix: "SPIKEARM_SIM", running: s.clone() };
    let reload = move |_: &Bus| {
        reloader.reread(
            |run, new| run.service.log_level.clone_from(&new.service.log_level),
            |s| s.service.log_level.clone(),
        );
    };
    let r = run_node(how, reload, |bus, stop, probe| SimNode::new(&s, arm, bus)?.with_probe(probe).run(stop))?;
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
    let how = NodeRun { arm: &s.arm, bus: &s.bus, service: &s.service, report: s.report.as_deref() };
    let (node, timeout) = (s.node.clone(), Duration::from_secs(2));
    let mut reloader = Reloader { args: args.clone(), env_prefix: "SPIKEARM_CONTROL", running: s.clone() };
    let reload = move |bus: &Bus| {
        let before = reloader.running.controller.clone();
        let soften = |run: &mut ControllerSettings, new: &ControllerSettings| {
            let (c, n) = (&mut run.controller, &new.controller);
            (c.kp, c.kv, c.learning_rate, c.learning) = (n.kp, n.kv, n.learning_rate, n.learning);
            run.service.log_level.clone_from(&new.service.log_level);
        };
        let Some(now) = reloader.reread(soften, |s| s.service.log_level.clone()) else { return };
        let set = soft_params(&before, &now.controller);
        if set.is_empty() {
            return;
        }
        match bus.query_params(&node, &ParamsRequest { v: SCHEMA_VERSION, set: set.clone() }, timeout) {
            Ok(r) if r.error.is_none() => tracing::info!(?set, "SIGHUP: parameters applied"),
            Ok(r) => tracing::error!("SIGHUP: parameters refused: {}", r.error.unwrap_or_default()),
            Err(e) => tracing::error!("SIGHUP: parameters not applied: {e}"),
        }
    };
    let r = run_node(how, reload, |bus, stop, probe| {
        ControllerNode::new(&s, arm, controller.as_mut(), bus)?.with_probe(probe).run(stop)
    })?;
    tracing::info!(ticks = r.ticks, checkpoints = r.checkpoints, restored = r.restored, "controller node stopped");
    Ok(())
}

/// The run-time parameters whose values differ between `old` and `new`.
fn soft_params(old: &ControllerParams, new: &ControllerParams) -> BTreeMap<String, f64> {
    let pairs = [
        ("kp", old.kp, new.kp),
        ("kv", old.kv, new.kv),
        ("learning_rate", old.learning_rate, new.learning_rate),
        ("learning", f64::from(u8::from(old.learning)), f64::from(u8::from(new.learning))),
    ];
    pairs.into_iter().filter(|(_, a, b)| a != b).map(|(k, _, b)| (k.to_string(), b)).collect()
}

/// Dotted paths of the settings that differ between `a` and `b`.
fn changed_keys<T: serde::Serialize>(a: &T, b: &T) -> Vec<String> {
    fn walk(a: &toml::Value, b: &toml::Value, path: &str, out: &mut Vec<String>) {
        match (a, b) {
            (toml::Value::Table(x), toml::Value::Table(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    match (x.get(k), y.get(k)) {
                        (Some(p), Some(q)) => walk(p, q, &sub, out),
                        _ => out.push(sub),
                    }
                }
            }
            _ if a != b => out.push(path.to_string()),
            _ => {}
        }
    }
    let (Ok(a), Ok(b)) = (toml::Value::try_from(a), toml::Value::try_from(b)) else { return vec!["(settings)".into()] };
    let mut out = Vec::new();
    walk(&a, &b, "", &mut out);
    out
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
