//! `spikearm host --sim a.toml --controller b.toml … [--threads N]`: the nodes of many arms in one process,
//! served by a fixed pool of worker threads ([`crate::node::host`]), over one zenoh session. Each node reads
//! the same settings file its own command (`spikearm sim node`, `spikearm control`) would, and writes its
//! report where those settings say. `spikearm launch --processes --hosted` runs a scenario this way: one host
//! for the sims, one for the controllers.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;

use super::layered_config::load_layered;
use super::node_cmd::{open_bus, read_arm, write_report};
use super::service::{HostedName, ServiceThread, WatchedNode};
use crate::arm::Arm;
use crate::control::controller::Controller;
use crate::launch::NodeSpec;
use crate::node::host::{HostParams, HostedNode, HostedReport, serve};
use crate::node::{
    ControllerNode, ControllerSettings, NodeProbe, ServiceSettings, Shutdown, SimNode, SimSettings, WaitMode,
};

/// Arguments of `spikearm host`.
#[derive(Debug, Clone, Args)]
pub struct HostArgs {
    /// A sim node's settings file (what `spikearm sim node --config` reads). Repeatable: one per arm.
    #[arg(long = "sim", value_name = "FILE.toml")]
    pub sims: Vec<PathBuf>,
    /// A controller node's settings file (what `spikearm control --config` reads). Repeatable.
    #[arg(long = "controller", value_name = "FILE.toml")]
    pub controllers: Vec<PathBuf>,
    /// Worker threads serving the nodes; each node is served by one of them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// How a worker waits when none of its nodes has work: `spin` (1 kHz real time: one busy core per
    /// worker) or `sleep` (naps of 50 µs once 300 µs pass without work: shared machines, lockstep runs, and
    /// real-time priority, under which a thread that never sleeps is throttled). The nodes' own `wait`
    /// settings are not used.
    #[arg(long, default_value = "spin", value_parser = parse_wait)]
    pub wait: WaitMode,
    /// Serve `/metrics` (Prometheus text, every hosted node's figures labelled `arm` and `node`) and
    /// `/healthz` (200 while every hosted node's loop turns and none is e-stopped or holding) over HTTP on
    /// this address, e.g. 127.0.0.1:9464. The nodes' own `[service] metrics_listen` is not used by a host.
    /// systemd's notify protocol needs no flag: the host is ready once every node's loop turns.
    #[arg(long, value_name = "IP:PORT")]
    pub metrics_listen: Option<String>,
}

fn parse_wait(s: &str) -> Result<WaitMode, String> {
    match s {
        "spin" => Ok(WaitMode::Spin),
        "sleep" => Ok(WaitMode::Sleep),
        other => Err(format!("`{other}`: spin or sleep")),
    }
}

/// `arm/node`: what must be unique among a host's nodes.
fn id(spec: &NodeSpec) -> String {
    format!("{}/{}", spec.arm(), spec.name())
}

/// Each hosted node's settings, loaded as its own command loads them (defaults < file < environment), with
/// its arm; refuses an empty host, a node given twice and nodes that would not share a session.
fn load(args: &HostArgs) -> anyhow::Result<Vec<(NodeSpec, Arc<Arm>)>> {
    let mut specs = Vec::new();
    for f in &args.sims {
        let s: SimSettings = load_layered(Some(f), "SPIKEARM_SIM", std::env::vars(), &[])
            .with_context(|| format!("the sim settings {}", f.display()))?;
        specs.push(NodeSpec::Sim(s));
    }
    for f in &args.controllers {
        let c: ControllerSettings = load_layered(Some(f), "SPIKEARM_CONTROL", std::env::vars(), &[])
            .with_context(|| format!("the controller settings {}", f.display()))?;
        specs.push(NodeSpec::Controller(c));
    }
    let Some(first) = specs.first() else {
        bail!("nothing to host: give --sim FILE and/or --controller FILE (see --help)");
    };
    let mut ids = std::collections::BTreeSet::new();
    for n in &specs {
        if !ids.insert(id(n)) {
            bail!("two hosted nodes are both `{}`: each arm's nodes need distinct names", id(n));
        }
        if n.bus() != first.bus() {
            bail!(
                "hosted nodes share one zenoh session, so their [bus] settings must agree: `{}` has {:?}, `{}` {:?}",
                id(n),
                n.bus(),
                id(first),
                first.bus()
            );
        }
    }
    specs
        .into_iter()
        .map(|n| {
            let arm = read_arm(n.urdf())?;
            Ok((n, arm))
        })
        .collect()
}

/// `spikearm host`.
pub fn run_host(args: &HostArgs) -> anyhow::Result<()> {
    let service = ServiceSettings { metrics_listen: args.metrics_listen.clone(), log_level: None };
    service.validate().map_err(|e| anyhow::anyhow!(e.replace("service.metrics_listen", "--metrics-listen")))?;
    let loaded = load(args)?;
    for (n, _) in &loaded {
        if n.service() != &ServiceSettings::default() {
            tracing::warn!(node = %id(n), "a host does not serve a node's own [service]; its --metrics-listen covers every hosted node");
        }
    }
    let mut controllers: Vec<Box<dyn Controller>> = Vec::new();
    for (n, arm) in &loaded {
        if let NodeSpec::Controller(c) = n {
            controllers.push(c.controller.build(arm).with_context(|| format!("the controller of `{}`", id(n)))?);
        }
    }
    let shutdown = Shutdown::new();
    super::signals::install(shutdown.clone())?;
    let bus = open_bus(loaded[0].0.arm(), loaded[0].0.bus())?;
    let mut nodes = Vec::with_capacity(loaded.len());
    let mut watched = Vec::with_capacity(loaded.len());
    let mut ctls = controllers.iter_mut();
    for (n, arm) in &loaded {
        let arm_bus = bus.for_arm(n.arm())?;
        let probe = Arc::new(NodeProbe::new());
        let node = match n {
            NodeSpec::Sim(s) => {
                HostedNode::Sim(Box::new(SimNode::new(s, arm.clone(), &arm_bus)?.with_probe(probe.clone())))
            }
            NodeSpec::Controller(c) => {
                let ctl = ctls.next().expect("one controller per controller node");
                let node = ControllerNode::new(c, arm.clone(), ctl.as_mut(), &arm_bus)?;
                HostedNode::Controller(Box::new(node.with_probe(probe.clone())))
            }
        };
        nodes.push(node);
        let name = HostedName { arm: n.arm().to_string(), node: n.name().to_string() };
        watched.push(WatchedNode { probe, hosted: Some(name) });
    }
    let service = ServiceThread::spawn_watching(&service, watched, shutdown.clone())?;
    let params = HostParams { threads: usize::from(args.threads), wait: args.wait };
    tracing::info!(nodes = nodes.len(), threads = params.threads, wait = ?params.wait, "host: serving");
    let results = serve(nodes, params, &shutdown);
    shutdown.trigger();
    service.stop();
    bus.close()?;
    let mut failed = Vec::new();
    for ((n, _), r) in loaded.iter().zip(results) {
        let written = match (&r, n.report()) {
            (Ok(HostedReport::Sim(rep)), Some(p)) => write_report(p, rep),
            (Ok(HostedReport::Controller(rep)), Some(p)) => write_report(p, rep),
            _ => Ok(()),
        };
        if let Err(e) = r.map_err(anyhow::Error::from).and(written) {
            failed.push(format!("{}: {e:#}", id(n)));
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} hosted nodes failed:\n  {}", failed.len(), loaded.len(), failed.join("\n  "));
    }
    tracing::info!("host: every node finished");
    Ok(())
}
