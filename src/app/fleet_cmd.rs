//! `spikearm fleet --connect <router>`: the arms and nodes alive on a router (their liveliness tokens) with
//! each one's health from its `status` messages: state, tracking error, deadline misses, watchdog trips,
//! learning on or off.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::bus::{Bus, BusConfig, Keys, NodeState, Status, StatusBody, decode};

/// Arguments of `spikearm fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The router (or any session of the bus) to ask, e.g. tcp/127.0.0.1:7447. Repeatable.
    #[arg(long, value_name = "ENDPOINT", required = true)]
    pub connect: Vec<String>,
    /// zenoh client config with this tool's identity, e.g. config/zenoh/acl-viewer.json5 for a router with
    /// access control (its connect endpoints are replaced by --connect). Default: a client without credentials.
    #[arg(long, value_name = "FILE.json5")]
    pub config: Option<PathBuf>,
    /// How long to listen for status messages (nodes send one about every 0.1 s), s.
    #[arg(long, default_value_t = 1.0)]
    pub listen_s: f64,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One node alive on the bus and what its latest status said.
#[derive(Debug, Clone, Serialize)]
pub struct FleetNode {
    /// Arm id (`spikearm/<arm>/…`).
    pub arm: String,
    /// Node name.
    pub node: String,
    /// Its state, if a status arrived.
    pub state: Option<NodeState>,
    /// Controller: end-effector tracking error, m.
    pub tracking_error_m: Option<f64>,
    /// Controller: whether the adaptive term learns.
    pub learning: Option<bool>,
    /// Sim: deadline misses so far.
    pub deadline_misses: Option<u64>,
    /// Sim: watchdog trips so far.
    pub watchdog_trips: Option<u64>,
    /// Sim time of the status, s.
    pub stamp: Option<f64>,
}

const CLIENT: &str = r#"{ mode: "client", scouting: { multicast: { enabled: false } } }"#;

/// `spikearm fleet`.
pub fn run_fleet_view(args: &FleetArgs) -> anyhow::Result<()> {
    let text = match &args.config {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading zenoh config {}", p.display()))?,
        None => CLIENT.to_string(),
    };
    let cfg = BusConfig { zenoh_json5: Some(text), listen: vec![], connect: args.connect.clone() };
    // The arm name only sets this session's default keys; the queries below cover every arm.
    let bus = Bus::open("fleet", &cfg).context("joining the bus")?;
    let statuses = bus.tap(&format!("{}/*/status/*", Keys::ROOT), 4096)?;
    let end = Instant::now() + Duration::from_secs_f64(args.listen_s.max(0.0));
    let mut latest: BTreeMap<(String, String), Status> = BTreeMap::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let Some(s) = statuses.recv_timeout(left.min(Duration::from_millis(50)))? else { continue };
        let arm = s.key().split('/').nth(1).unwrap_or_default().to_string();
        if let Ok(st) = decode::<Status>(&s.body()) {
            latest.insert((arm, st.node.clone()), st);
        }
    }
    let alive = bus.alive_everywhere(Duration::from_secs(2))?;
    bus.close()?;
    let nodes: Vec<FleetNode> = alive.into_iter().map(|(arm, node)| fleet_node(&latest, arm, node)).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&nodes)?);
    } else {
        print!("{}", table(&nodes));
    }
    Ok(())
}

fn fleet_node(latest: &BTreeMap<(String, String), Status>, arm: String, node: String) -> FleetNode {
    let s = latest.get(&(arm.clone(), node.clone()));
    let mut n = FleetNode {
        arm,
        node,
        state: s.map(|s| s.state),
        tracking_error_m: None,
        learning: None,
        deadline_misses: None,
        watchdog_trips: None,
        stamp: s.map(|s| s.stamp),
    };
    match s.map(|s| &s.body) {
        Some(StatusBody::Controller(c)) => {
            n.tracking_error_m = c.tracking_error_m;
            n.learning = c.learning;
        }
        Some(StatusBody::Sim(x)) => {
            n.deadline_misses = Some(x.deadline_misses);
            n.watchdog_trips = Some(x.watchdog_trips);
        }
        _ => {}
    }
    n
}

fn table(nodes: &[FleetNode]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<16}{:<14}{:<10}{:>10}{:>12}{:>10}{:>10}",
        "arm", "node", "state", "sim s", "error mm", "misses", "learning"
    );
    let opt = |x: Option<String>| x.unwrap_or_else(|| "-".into());
    for n in nodes {
        let _ = writeln!(
            s,
            "{:<16}{:<14}{:<10}{:>10}{:>12}{:>10}{:>10}",
            n.arm,
            n.node,
            opt(n.state.map(|st| format!("{st:?}").to_lowercase())),
            opt(n.stamp.map(|t| format!("{t:.1}"))),
            opt(n.tracking_error_m.map(|e| format!("{:.2}", e * 1e3))),
            opt(n.deadline_misses.map(|m| m.to_string())),
            opt(n.learning.map(|l| if l { "on" } else { "off" }.to_string())),
        );
    }
    if nodes.is_empty() {
        s.push_str("(no node alive)\n");
    }
    s
}
