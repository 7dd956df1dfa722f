//! `spikearm launch <scenario.toml>` and `spikearm demo`: run a scenario in one process (or, with
//! `--processes`, its nodes as separate processes), write the report directory, print the summary.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::arm::Arm;
use crate::launch::{
    FleetResult, HostedLaunch, PerRole, ProcessLaunch, RunOptions, ScenarioResult, ScenarioSpec, fleet_table,
    lap_table, plain_controller_name, run_fleet, run_fleet_processes, write_fleet_report,
};
use crate::node::Shutdown;

/// Arguments of `spikearm launch`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// Scenario file, e.g. launch/ur5e_payload.toml or launch/fleet.toml (several arms, `[[arms]]`).
    pub scenario: PathBuf,
    #[command(flatten)]
    pub report: ReportArgs,
    /// Run every node as a separate OS process (`spikearm sim node`, `spikearm control`, each started with one
    /// settings file), all clients of a zenoh router the launcher starts (`spikearm router`) on a free
    /// loopback port, instead of threads in this process; their settings, logs and reports go to
    /// <DIR>/processes/ (the bus traffic is not recorded). Lockstep scenarios give bit-identical trajectories
    /// either way.
    #[arg(long)]
    pub processes: bool,
    /// Let outside tools join the running scenario (a viewer, the Python client, `spikearm fleet`): listen on
    /// this zenoh endpoint too, e.g. tcp/127.0.0.1:7447 (in one process: the scenario's session; with
    /// --processes: the launched router). Repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    pub listen: Vec<String>,
    /// Join a running zenoh router (or peer) instead: in one process the scenario's session connects to it;
    /// with --processes the nodes are its clients and no router is launched (it must admit them without
    /// credentials). Repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
    /// With --processes: start every node of ROLE (`sim` or `controller`) through COMMAND, on another host
    /// that sees this file system at the same paths, e.g. `--on sim="ip netns exec arm-host"`. The node's
    /// command line is appended to COMMAND (split at spaces; no quoting). Needs --connect: a router every
    /// host reaches. Once per role.
    #[arg(long, value_name = "ROLE=COMMAND", requires = "processes", value_parser = parse_host_command)]
    pub on: Vec<(String, Vec<String>)>,
    /// With --processes and --connect: every node of ROLE (`sim` or `controller`) opens this zenoh config, with
    /// its identity's credentials or certificates, instead of a plain client config, e.g.
    /// `--zenoh-config sim=config/zenoh/acl-sim.json5` for a router with access control. The nodes still connect
    /// to --connect's endpoints. Once per role.
    #[arg(long, value_name = "ROLE=FILE", requires = "processes", value_parser = parse_role_file)]
    pub zenoh_config: Vec<(String, PathBuf)>,
    /// With --processes: run a `spikearm host` per role instead of a process per node — one serving every
    /// arm's sim, one every arm's controller — each with THREADS worker threads: many arms on few cores. The
    /// workers spin in real-time scenarios and nap in lockstep ones.
    #[arg(long, value_name = "THREADS", requires = "processes", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub hosted: Option<u16>,
    /// With --hosted: how the host workers wait when none of their nodes has work, `spin` or `sleep` (naps of
    /// 50 µs), instead of the default (spin in real time, sleep in lockstep). Under real-time priority
    /// (`--connect ROUTER --on sim="chrt -f 50" --on controller="chrt -f 50"`) prefer `sleep`: spinning
    /// SCHED_FIFO threads run into the kernel's real-time throttle (by default 50 ms of every second).
    #[arg(long, value_name = "MODE", requires = "hosted", value_parser = ["spin", "sleep"])]
    pub host_wait: Option<String>,
}

/// `ROLE=VALUE` of the per-role options: the role, checked, and the text after `=`.
fn split_role<'a>(s: &'a str, example: &str) -> Result<(String, &'a str), String> {
    let (role, value) = s.split_once('=').ok_or_else(|| format!("expected {example}"))?;
    // `PerRole::set` is the one place that knows the roles.
    PerRole::<()>::default().set(role, ())?;
    Ok((role.to_string(), value))
}

/// `ROLE=FILE` of `--zenoh-config`.
fn parse_role_file(s: &str) -> Result<(String, PathBuf), String> {
    let (role, file) = split_role(s, "ROLE=FILE, e.g. sim=config/zenoh/acl-sim.json5")?;
    let file = PathBuf::from(file);
    if !file.is_file() {
        return Err(format!("{}: no such file", file.display()));
    }
    Ok((role, file))
}

/// `ROLE=COMMAND` of `--on`.
fn parse_host_command(s: &str) -> Result<(String, Vec<String>), String> {
    let (role, command) = split_role(s, "ROLE=COMMAND, e.g. sim=\"ip netns exec arm-host\"")?;
    let words: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return Err(format!("--on {role}=: no command"));
    }
    Ok((role, words))
}

/// Arguments of `spikearm demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Where and how a scenario run reports, shared by `launch` and `demo`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report directory [default: reports/<scenario name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Do not record the bus traffic (by default each run's goes to <DIR>/bus-<controller>.mcap, for
    /// `spikearm replay` and Foxglove).
    #[arg(long)]
    pub no_record: bool,
    /// Serve a live view of the (first) arm for Foxglove while the scenario runs, on this address, e.g.
    /// 127.0.0.1:8765 (read-only; for a view that sets targets use `spikearm view` with allow_publish).
    /// Not with --processes: there, run `spikearm view` against the launched router.
    #[arg(long, value_name = "HOST:PORT")]
    pub live_view: Option<String>,
}

const DEMO_SCENARIO: &str = include_str!("../../launch/ur5e_payload.toml");
const DEMO_URDF: &str = include_str!("../../config/arms/ur5e.urdf");

/// Where the nodes meet: the endpoints a run listens on or connects to, and the hosts they run on.
#[derive(Debug, Clone, Default)]
struct Meeting {
    listen: Vec<String>,
    connect: Vec<String>,
    hosts: PerRole<Vec<String>>,
    identities: PerRole<PathBuf>,
    /// Worker threads per host process and how they wait (`--hosted`, `--host-wait`); `None`: a process per
    /// node.
    hosted: Option<HostedLaunch>,
}

fn execute(
    spec: &ScenarioSpec,
    arms: Vec<Arc<Arm>>,
    report: &ReportArgs,
    processes: bool,
    meeting: Meeting,
) -> anyhow::Result<(FleetResult, PathBuf)> {
    let ReportArgs { out, quiet, no_record, live_view } = report;
    let shutdown = Shutdown::new();
    super::signals::install(shutdown.clone())?;
    let dir = out.clone().unwrap_or_else(|| PathBuf::from("reports").join(&spec.name));
    let Meeting { listen, mut connect, hosts, identities, hosted } = meeting;
    let view = match live_view {
        Some(_) if processes => {
            anyhow::bail!("--live-view runs beside one process; with --processes run `spikearm view`")
        }
        Some(addr) => {
            // The view's session listens on a free loopback port and the scenario's session connects to it, so
            // the view is there before the first state is published.
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let endpoint = format!("tcp/127.0.0.1:{port}");
            let first = spec.arm_scenarios().into_iter().next().context("a scenario without arms")?;
            let v = super::view_cmd::LiveViewThread::spawn(&first.arm, &arms[0], &endpoint, addr)?;
            connect.push(endpoint);
            Some(v)
        }
        None => None,
    };
    let result = if processes {
        let exe = std::env::current_exe().context("locating the spikearm executable for the node processes")?;
        let launch = ProcessLaunch { exe, dir: dir.clone(), listen, connect, hosts, identities, hosted };
        run_fleet_processes(spec, &arms, &launch, &shutdown, !quiet)?
    } else {
        let record_dir = (!no_record).then(|| dir.clone());
        run_fleet(spec, &arms, &RunOptions { shutdown, progress: !quiet, record_dir, listen, connect })?
    };
    if let Some(v) = view {
        v.stop();
    }
    write_fleet_report(&dir, &result)?;
    Ok((result, dir))
}

/// `spikearm launch`.
pub fn run_launch(args: &LaunchArgs) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(&args.scenario).with_context(|| format!("reading {}", args.scenario.display()))?;
    let spec = ScenarioSpec::from_toml(&text).with_context(|| format!("scenario {}", args.scenario.display()))?;
    let arms = spec
        .arm_scenarios()
        .iter()
        .map(|a| super::node_cmd::read_arm(Path::new(&a.urdf)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (mut hosts, mut identities) = (PerRole::default(), PerRole::default());
    for (role, command) in &args.on {
        hosts.set(role, command.clone()).map_err(|e| anyhow::anyhow!("--on: {e}"))?;
    }
    for (role, file) in &args.zenoh_config {
        identities.set(role, file.clone()).map_err(|e| anyhow::anyhow!("--zenoh-config: {e}"))?;
    }
    let hosted = args.hosted.map(|threads| HostedLaunch { threads, wait: args.host_wait.clone() });
    let meeting = Meeting { listen: args.listen.clone(), connect: args.connect.clone(), hosts, identities, hosted };
    let (result, dir) = execute(&spec, arms, &args.report, args.processes, meeting)?;
    println!("{}", fleet_table(&result));
    println!("report: {}", dir.display());
    Ok(())
}

/// `spikearm demo`: the UR5e payload scenario, embedded (runs from any directory).
pub fn run_demo(args: &DemoArgs) -> anyhow::Result<()> {
    let spec = ScenarioSpec::from_toml(DEMO_SCENARIO).context("the embedded demo scenario")?;
    let arm = Arm::from_urdf(DEMO_URDF).context("the embedded demo arm")?;
    let (fleet, dir) = execute(&spec, vec![arm], &args.report, false, Meeting::default())?;
    print!("{}", demo_summary(&fleet.arms[0]));
    println!("report (metrics, plots, recordings for Foxglove): {}", dir.display());
    Ok(())
}

/// What the demo prints: the run in one sentence, the per-lap errors of both controllers, and how much of the
/// payload's effect the adaptive controller removed, in words.
fn demo_summary(r: &ScenarioResult) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let (laps, kg) = (r.metrics.laps.len(), r.spec.payload_times().first().map_or((0.0, 0.0), |p| *p));
    let lap_s = r.metrics.laps.first().map_or(0.0, |l| l[1] - l[0]);
    let targets = r.spec.circle.map_or(0, |c| c.targets);
    let _ = writeln!(
        s,
        "UR5e reaching {targets} targets in turn, {lap_s:.0} s per lap; at t = {:.0} s it picks up a {} kg payload \
         its controller is not told about.",
        kg.0, kg.1
    );
    let _ = writeln!(s, "Mean distance from the end effector to its target, per lap ({laps} laps):\n");
    if let Some(t) = lap_table(r) {
        for line in t.lines() {
            let _ = writeln!(s, "  {line}");
        }
    }
    if let Some(x) = r.metrics.normalised_error {
        let main = plain_controller_name(&r.metrics.runs[0].controller);
        let share = ((1.0 - x) * 100.0).clamp(0.0, 100.0);
        // Rounded first so that a tiny overshoot (the adaptive lap a hair better than the OSC's without the
        // payload) reads 0.00, not -0.00.
        let x = (x * 100.0).round() / 100.0 + 0.0;
        let _ = writeln!(
            s,
            "\nIn the last lap the {main} controller removes {share:.0} % of the error the payload adds to the plain \
             OSC's\n(normalised error {x:.2}: 1 = the payload's whole effect remains, 0 = fully compensated)."
        );
    }
    s
}
