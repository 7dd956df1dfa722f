//! `spikearm ctl`: what an operator does to a running arm from a shell — set a target, put on a payload,
//! engage or clear the e-stop, read and set parameters, read the nodes' status, watch a live one-line view —
//! over the same zenoh bus and under the same access-control identity (the zenoh config given) as any tool.
//!
//! Commands wait until the node they address is alive on the bus before they publish (a put into a session
//! that has not yet learned of the subscriber would be lost), and confirm from the node's status where the
//! status carries the effect.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

use crate::bus::{
    Bus, Estop, LivelinessEvent, NodeState, ParamsRequest, Payload, SCHEMA_VERSION, Status, StatusBody, Target,
};
use crate::node::BusSettings;

/// Arguments of `spikearm ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Arm name: the key prefix `spikearm/<arm>/`.
    #[arg(long, default_value = "threelink")]
    pub arm: String,
    /// Endpoint to connect to (a node or a router). Repeatable.
    #[arg(long, default_value = "tcp/127.0.0.1:7447")]
    pub connect: Vec<String>,
    /// zenoh JSON5 config: the identity to act as (e.g. config/zenoh/tls-operator.json5). Default: a loopback
    /// peer without scouting.
    #[arg(long, value_name = "FILE.json5")]
    pub zenoh_config: Option<PathBuf>,
    /// How long to wait for a node to be alive, a reply or a confirmation, s.
    #[arg(long, default_value_t = 3.0)]
    pub timeout_s: f64,
    #[command(subcommand)]
    pub action: CtlAction,
}

/// What `spikearm ctl` does.
#[derive(Debug, Subcommand)]
pub enum CtlAction {
    /// Move the controller's target: X Y Z in the base frame, m.
    #[command(allow_negative_numbers = true)]
    Target {
        /// x, m.
        x: f64,
        /// y, m.
        y: f64,
        /// z, m.
        z: f64,
    },
    /// Attach a payload to the sim's end effector (0 kg removes it).
    #[command(allow_negative_numbers = true)]
    Payload {
        /// Mass, kg.
        mass_kg: f64,
        /// Position of the mass in the end-effector frame, m.
        #[arg(long, num_args = 3, value_names = ["X", "Y", "Z"], default_values_t = [0.0, 0.0, 0.0])]
        offset: Vec<f64>,
    },
    /// Engage or clear the e-stop (latched by every node until an explicit clear).
    Estop {
        /// `engage` or `clear`.
        action: EstopAction,
        /// Who asks, recorded in the nodes' e-stop logs.
        #[arg(long, default_value = "ctl")]
        source: String,
    },
    /// Read a node's parameters, or set some, all or none: `params` or `params kp=150 kv=17`.
    #[command(allow_negative_numbers = true)]
    Params {
        /// The node serving them.
        #[arg(long, default_value = "controller")]
        node: String,
        /// KEY=VALUE pairs to set.
        sets: Vec<String>,
    },
    /// Print each alive node's latest status (JSON, one line per node).
    Status,
    /// A live one-line view of the arm until Ctrl-C (or --for-s).
    Watch {
        /// Stop after this long, s (0 = until Ctrl-C).
        #[arg(long, default_value_t = 0.0)]
        for_s: f64,
    },
}

/// The e-stop actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EstopAction {
    /// Latch the e-stop: the sim holds the arm, the controller stops commanding.
    Engage,
    /// Release it.
    Clear,
}

/// Runs `spikearm ctl`.
pub fn run_ctl(args: &CtlArgs) -> anyhow::Result<()> {
    if !(args.timeout_s.is_finite() && args.timeout_s > 0.0) {
        bail!("--timeout-s must be a positive number of seconds, got {}", args.timeout_s);
    }
    let bus_settings = BusSettings {
        zenoh_config: Some(args.zenoh_config.clone().unwrap_or_default()),
        listen: vec![],
        connect: args.connect.clone(),
    };
    let bus = super::node_cmd::open_bus(&args.arm, &bus_settings)?;
    let result = Ctl { bus: &bus, timeout: Duration::from_secs_f64(args.timeout_s) }.run(&args.action);
    bus.close()?;
    result
}

struct Ctl<'b> {
    bus: &'b Bus,
    timeout: Duration,
}

impl Ctl<'_> {
    fn run(&self, action: &CtlAction) -> anyhow::Result<()> {
        let k = self.bus.keys().clone();
        match action {
            CtlAction::Target { x, y, z } => {
                let position = [*x, *y, *z];
                self.await_alive("controller")?;
                let target_of = |s: &Status| s.controller().and_then(|c| c.target);
                let before = self.await_status("controller", |_| true).ok().and_then(|s| target_of(&s));
                self.bus.put(&k.target(), &Target { v: SCHEMA_VERSION, position })?;
                // Taken as sent, or moved onto the reach sphere (then the status names the clamp).
                let taken = |s: &Status| target_of(s).is_some_and(|t| near(t, position) || Some(t) != before);
                match self.await_status("controller", taken) {
                    Ok(s) if target_of(&s).is_some_and(|t| near(t, position)) => {
                        println!("target {position:?} m: the controller follows it")
                    }
                    Ok(s) => println!(
                        "target {position:?} m was moved to {:?} m: {}",
                        target_of(&s).unwrap_or_default(),
                        s.last_refusal.unwrap_or_default()
                    ),
                    Err(last) => bail!(
                        "the controller did not take target {position:?} within {:?} (its status: {last})",
                        self.timeout
                    ),
                }
            }
            CtlAction::Payload { mass_kg, offset } => {
                let offset_m = [offset[0], offset[1], offset[2]];
                self.await_alive("sim")?;
                self.bus.put(&k.payload(), &Payload { v: SCHEMA_VERSION, mass_kg: *mass_kg, offset_m })?;
                println!("payload {mass_kg} kg at {offset_m:?} m sent to the sim");
            }
            CtlAction::Estop { action, source } => {
                let engaged = *action == EstopAction::Engage;
                self.await_alive("sim")?;
                self.bus.put(&k.estop(), &Estop { v: SCHEMA_VERSION, engaged, source: source.clone() })?;
                let in_estop = |s: &Status| s.state == NodeState::Estop;
                match self.await_status("sim", |s| in_estop(s) == engaged) {
                    Ok(_) => println!("e-stop {}: the sim confirms", if engaged { "engaged" } else { "cleared" }),
                    Err(last) => {
                        bail!("the sim did not confirm the e-stop within {:?} (its status: {last})", self.timeout)
                    }
                }
            }
            CtlAction::Params { node, sets } => {
                let set = sets.iter().map(|s| parse_set(s)).collect::<anyhow::Result<_>>()?;
                self.await_alive(node)?;
                let reply = self.bus.query_params(node, &ParamsRequest { v: SCHEMA_VERSION, set }, self.timeout)?;
                println!("{}", serde_json::to_string(&reply.params)?);
                if let Some(e) = reply.error {
                    bail!("{node} refused: {e}");
                }
            }
            CtlAction::Status => {
                for (node, st) in self.latest_statuses()? {
                    println!("{node}: {}", serde_json::to_string(&st)?);
                }
            }
            CtlAction::Watch { for_s } => self.watch(*for_s)?,
        }
        Ok(())
    }

    /// Waits until `node`'s liveliness token is seen.
    fn await_alive(&self, node: &str) -> anyhow::Result<()> {
        let watch = self.bus.watch_liveliness()?;
        let deadline = Instant::now() + self.timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Some(LivelinessEvent::Alive(name)) = watch.recv_timeout(left)?
                && name == node
            {
                return Ok(());
            }
        }
        bail!(
            "no node `{node}` alive on arm `{}` within {:?} (is it running, and may this identity see it?)",
            self.bus.keys().prefix(),
            self.timeout
        )
    }

    /// Waits for a status of `node` that `done` accepts; `Err` holds the last status seen (or why none).
    fn await_status(&self, node: &str, done: impl Fn(&Status) -> bool) -> Result<Status, String> {
        let statuses = self.bus.queue::<Status>(&self.bus.keys().status(node), 64).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + self.timeout;
        let mut last = "none received".to_string();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match statuses.recv_timeout(left) {
                Ok(Some(Ok(s))) if done(&s) => return Ok(s),
                Ok(Some(Ok(s))) => last = serde_json::to_string(&s).unwrap_or_default(),
                Ok(Some(Err(e))) => last = e.to_string(),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(last)
    }

    /// One status from every node that reports within the timeout, by node name.
    fn latest_statuses(&self) -> anyhow::Result<std::collections::BTreeMap<String, Status>> {
        let statuses = self.bus.queue::<Status>(&self.bus.keys().status_all(), 256)?;
        let mut seen = std::collections::BTreeMap::new();
        let deadline = Instant::now() + self.timeout;
        // Statuses come ~10 Hz: a second without a new node means every reporting node was heard.
        let mut quiet_until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline.min(quiet_until) {
            if let Some(Ok(s)) = statuses.recv_timeout(Duration::from_millis(50))? {
                if !seen.contains_key(&s.node) {
                    quiet_until = Instant::now() + Duration::from_secs(1);
                }
                seen.insert(s.node.clone(), s);
            }
        }
        if seen.is_empty() {
            bail!("no status from any node of arm `{}` within {:?}", self.bus.keys().prefix(), self.timeout);
        }
        Ok(seen)
    }

    /// Rewrites one terminal line ~5 times a second from the nodes' statuses.
    fn watch(&self, for_s: f64) -> anyhow::Result<()> {
        use std::io::Write as _;
        let statuses = self.bus.queue::<Status>(&self.bus.keys().status_all(), 256)?;
        let stop = crate::node::Shutdown::new();
        super::signals::install(stop.clone())?;
        let end = (for_s > 0.0).then(|| Instant::now() + Duration::from_secs_f64(for_s));
        let (mut sim, mut ctl): (Option<Status>, Option<Status>) = (None, None);
        let mut last_draw = Instant::now();
        while !stop.is_triggered() && end.is_none_or(|e| Instant::now() < e) {
            if let Some(Ok(s)) = statuses.recv_timeout(Duration::from_millis(50))? {
                match s.body {
                    StatusBody::Sim(_) => sim = Some(s),
                    StatusBody::Controller(_) => ctl = Some(s),
                }
            }
            if last_draw.elapsed() >= Duration::from_millis(200) {
                print!("\r{}\x1b[K", watch_line(sim.as_ref(), ctl.as_ref()));
                std::io::stdout().flush().context("writing to the terminal")?;
                last_draw = Instant::now();
            }
        }
        println!();
        Ok(())
    }
}

/// The live line: sim time and state, the controller's state, error, target, learning and the sim's misses.
fn watch_line(sim: Option<&Status>, ctl: Option<&Status>) -> String {
    let mut line = String::new();
    match sim {
        Some(s) => {
            let b = s.sim().cloned().unwrap_or_default();
            line += &format!(
                "t {:8.3} s  sim {:<8} misses {:<5} trips {:<3}",
                s.stamp,
                format!("{:?}", s.state).to_lowercase(),
                b.deadline_misses,
                b.watchdog_trips
            );
        }
        None => line += "sim: no status yet",
    }
    match ctl {
        Some(s) => {
            let c = s.controller().cloned().unwrap_or_default();
            let err = c.tracking_error_m.map_or("-".into(), |e| format!("{:.1} mm", e * 1e3));
            let target = c.target.map_or("-".into(), |t| format!("[{:.3}, {:.3}, {:.3}]", t[0], t[1], t[2]));
            let learning = match c.learning {
                Some(true) => "on",
                Some(false) => "off",
                None => "-",
            };
            line += &format!(
                "  | {} {:<8} error {err:>9}  target {target}  learning {learning}",
                c.name,
                format!("{:?}", s.state).to_lowercase()
            );
        }
        None => line += "  | controller: no status yet",
    }
    line
}

/// `KEY=VALUE` with a number for VALUE.
fn parse_set(s: &str) -> anyhow::Result<(String, f64)> {
    let (k, v) = s.split_once('=').with_context(|| format!("`{s}` is not KEY=VALUE"))?;
    let x: f64 = v.trim().parse().with_context(|| format!("the value of `{k}` is not a number: `{v}`"))?;
    Ok((k.trim().to_string(), x))
}

fn near(a: [f64; 3], b: [f64; 3]) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_parse_and_bad_ones_say_why() {
        assert_eq!(parse_set("kp=150").unwrap(), ("kp".to_string(), 150.0));
        assert_eq!(parse_set(" learning_rate = 1e-4").unwrap(), ("learning_rate".to_string(), 1e-4));
        assert!(parse_set("kp").unwrap_err().to_string().contains("KEY=VALUE"));
        assert!(parse_set("kp=fast").unwrap_err().to_string().contains("not a number"));
    }
}
