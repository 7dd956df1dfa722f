//! Runs a deployment with each node as an OS process (`spikearm sim node`, `spikearm control`), every one a
//! zenoh client of a router: the launcher starts `spikearm router` on a free loopback port (and on the
//! endpoints `--listen` names, for outside tools), or uses the router `--connect` names. Each node is started
//! with one settings file, `<node>.toml`: the settings the one-process runner hands its nodes, plus the
//! router to connect to and where to write the report. The nodes write their reports as JSON on exit and the
//! same metrics and report code as in one process reads them, so a lockstep scenario gives bit-identical
//! trajectories in both modes.
//!
//! Per run, `<dir>/processes/<controller>/` (a fleet: `<dir>/processes/<controller>/<arm>/`) holds each
//! node's settings file, its log (starting with its command line) and its report; the router's config and
//! log are in `<dir>/processes/`. With `hosted`, each role's nodes run in one `spikearm host` process instead
//! (`<dir>/processes/<controller>/{sim,controller}-host.log`), reading the same settings files and writing the
//! same reports.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::de::DeserializeOwned;

use super::graph::{Deployment, NodeSpec, RunGraph};
use super::result::{FleetResult, RunResult, ScenarioResult};
use super::scenario::ScenarioSpec;
use crate::arm::Arm;
use crate::node::{BusSettings, ControllerNodeReport, Shutdown, SimNodeReport, TimingMode};

/// Where the node processes come from, where their files go, and the router they meet at.
#[derive(Debug, Clone, Default)]
pub struct ProcessLaunch {
    /// The `spikearm` executable (the launcher's own: `std::env::current_exe()`).
    pub exe: PathBuf,
    /// The report directory; run files go under `<dir>/processes/`.
    pub dir: PathBuf,
    /// Extra endpoints the launched router listens on, so that outside tools can join (e.g.
    /// `tcp/127.0.0.1:7447`).
    pub listen: Vec<String>,
    /// A running router to use instead of launching one (its endpoints). It must let the nodes in without
    /// credentials (a router without access control, like the one the launcher starts).
    pub connect: Vec<String>,
    /// Command prefixes that start a role's nodes on another host sharing this file system: the node's own
    /// command line (`spikearm sim node --config …`) is appended, e.g. `ip netns exec arm-host`. None: here.
    pub hosts: PerRole<Vec<String>>,
    /// The zenoh config (credentials, TLS) a role's nodes open instead of the launcher's plain client config,
    /// e.g. `config/zenoh/acl-sim.json5`; they still connect to the run's router. For a router with access
    /// control (`--connect`).
    pub identities: PerRole<PathBuf>,
    /// Serve each role's nodes, of every arm, from one `spikearm host` process instead of a process per node.
    /// `None`: a process per node.
    pub hosted: Option<HostedLaunch>,
}

/// How `launch --processes --hosted` runs its hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedLaunch {
    /// Worker threads per host.
    pub threads: u16,
    /// `spin` or `sleep` (see `spikearm host --wait`); `None`: spin in real time, sleep in lockstep.
    pub wait: Option<String>,
}

/// A launch setting per node role; `None`: the launcher's own choice for that role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerRole<T> {
    /// For every sim node.
    pub sim: Option<T>,
    /// For every controller node.
    pub controller: Option<T>,
}

impl<T> Default for PerRole<T> {
    fn default() -> Self {
        Self { sim: None, controller: None }
    }
}

impl<T> PerRole<T> {
    /// Sets the value of `role` (`sim` or `controller`); refuses another role or a second value.
    pub fn set(&mut self, role: &str, value: T) -> Result<(), String> {
        let slot = match NodeKind::ALL.into_iter().find(|k| k.role() == role) {
            Some(NodeKind::Sim) => &mut self.sim,
            Some(NodeKind::Controller) => &mut self.controller,
            None => return Err(format!("role `{role}`: sim or controller")),
        };
        if slot.is_some() {
            return Err(format!("role `{role}` given twice"));
        }
        *slot = Some(value);
        Ok(())
    }

    /// Whether any role has a value.
    pub fn any(&self) -> bool {
        self.sim.is_some() || self.controller.is_some()
    }

    fn of(&self, spec: &NodeSpec) -> Option<&T> {
        match NodeKind::of(spec) {
            NodeKind::Sim => self.sim.as_ref(),
            NodeKind::Controller => self.controller.as_ref(),
        }
    }
}

/// Once one node of an arm has exited, how long that arm's other nodes get to finish on their own before
/// SIGTERM. A controller that missed the sim's last state would otherwise wait for more; stopping it then
/// changes nothing it recorded. (Other arms, which may be slower, run on.)
const AFTER_OTHER: Duration = Duration::from_secs(2);
/// After SIGTERM, how long a node gets before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);
/// Lines of a failed node's log quoted in the error.
const LOG_TAIL: usize = 20;

/// Runs every controller of the one-arm scenario `spec` on `arm` (the arm the scenario names, parsed once),
/// each run as one process per node. `shutdown` (the launcher's Ctrl-C) stops the running nodes cleanly —
/// their reports are still read — and skips the remaining runs.
pub fn run_scenario_processes(
    spec: &ScenarioSpec,
    arm: &Arc<Arm>,
    launch: &ProcessLaunch,
    shutdown: &Shutdown,
    progress: bool,
) -> anyhow::Result<ScenarioResult> {
    anyhow::ensure!(!spec.is_fleet(), "scenario `{}` has [[arms]]: run it with run_fleet_processes", spec.name);
    let mut r = run_fleet_processes(spec, std::slice::from_ref(arm), launch, shutdown, progress)?;
    Ok(r.arms.remove(0))
}

/// Runs every controller of `spec` with all its arms at once (`arms` in the order of
/// [`ScenarioSpec::arm_scenarios`]), one process per node, through one router for the whole scenario.
pub fn run_fleet_processes(
    spec: &ScenarioSpec,
    arms: &[Arc<Arm>],
    launch: &ProcessLaunch,
    shutdown: &Shutdown,
    progress: bool,
) -> anyhow::Result<FleetResult> {
    anyhow::ensure!(
        !launch.identities.any() || !launch.connect.is_empty(),
        "per-role zenoh configs are for a running router with access control (--connect)"
    );
    anyhow::ensure!(
        !launch.hosts.any() || !launch.connect.is_empty(),
        "nodes started on other hosts need a router every host reaches (--connect): the launched one listens on \
         this host's loopback only"
    );
    let refs: Vec<&Arm> = arms.iter().map(|a| a.as_ref()).collect();
    let deployment = Deployment::from_scenario(spec, &refs)?;
    let root = launch.dir.join("processes");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // The nodes read each arm from a file; these copies also serve scenarios whose URDF is embedded (demo).
    let mut urdfs = BTreeMap::new();
    for (id, arm) in deployment.arms.iter().zip(arms) {
        let name = if spec.is_fleet() { format!("{id}.urdf") } else { "arm.urdf".to_string() };
        let urdf = root.join(name);
        std::fs::write(&urdf, arm.urdf()).with_context(|| format!("writing {}", urdf.display()))?;
        urdfs.insert(id.clone(), urdf);
    }
    let (_router, endpoint) = match launch.connect.first() {
        Some(ep) => (None, ep.clone()),
        None => {
            let (r, ep) = RouterProcess::start(&launch.exe, &root, &launch.listen)?;
            (Some(r), ep)
        }
    };
    let client = root.join("client.json5");
    std::fs::write(&client, client_config(&launch.connect, &endpoint))
        .with_context(|| format!("writing {}", client.display()))?;
    let mut per_arm: Vec<Vec<RunResult>> = vec![Vec::new(); deployment.arms.len()];
    let mut labels: Vec<String> = Vec::new();
    for (i, run) in deployment.runs.iter().enumerate() {
        if shutdown.is_triggered() {
            break;
        }
        let sub = if labels.contains(&run.label) { format!("{}-{i}", run.label) } else { run.label.clone() };
        labels.push(run.label.clone());
        let dir = RunDir {
            dir: root.join(sub),
            urdfs: urdfs.clone(),
            client: client.clone(),
            fleet: spec.is_fleet(),
            hosts: launch.hosts.clone(),
            identities: launch.identities.clone(),
            connect: launch.connect.clone(),
            hosted: launch.hosted.clone(),
        };
        for (k, r) in dir.run(&launch.exe, &deployment, run, shutdown, progress)?.into_iter().enumerate() {
            per_arm[k].push(r);
        }
    }
    let arms = spec.arm_scenarios().iter().zip(per_arm).map(|(s, runs)| ScenarioResult::new(s, runs)).collect();
    Ok(FleetResult { spec: spec.clone(), arms })
}

/// The client configuration every node of the run opens: a client of the router (no scouting; it listens
/// nowhere).
fn client_config(connect: &[String], endpoint: &str) -> String {
    let eps = if connect.is_empty() { vec![endpoint.to_string()] } else { connect.to_vec() };
    format!(
        "// Written by `spikearm launch --processes`: every node is a client of the run's router.\n{{\n  mode: \"client\",\n  \
         listen: {{ endpoints: [] }},\n  connect: {{ endpoints: {} }},\n  scouting: {{ multicast: {{ enabled: false }} }},\n}}\n",
        serde_json::to_string(&eps).expect("strings serialise")
    )
}

/// The router the launcher started; stopped (SIGTERM, then SIGKILL) when dropped.
struct RouterProcess {
    child: Child,
}

/// How long a launched router gets to accept connections.
const ROUTER_START: Duration = Duration::from_secs(20);

impl RouterProcess {
    /// Writes `<root>/router.json5` (a router on a free loopback port and on `listen`, without access
    /// control: the launcher's own nodes on this machine) and starts `spikearm router` with it, its log in
    /// `<root>/router.log`. Returns once the router accepts connections, with the endpoint the nodes use.
    fn start(exe: &Path, root: &Path, listen: &[String]) -> anyhow::Result<(Self, String)> {
        let port = free_port()?;
        let endpoint = format!("tcp/127.0.0.1:{port}");
        let mut endpoints = vec![endpoint.clone()];
        endpoints.extend(listen.iter().cloned());
        let config = root.join("router.json5");
        let text = format!(
            "// Written by `spikearm launch --processes`: the run's router (loopback, no access control; see\n\
             // config/zenoh/router.json5 for a deployment's).\n{{\n  mode: \"router\",\n  \
             listen: {{ endpoints: {} }},\n  connect: {{ endpoints: [] }},\n  \
             scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: true, multihop: false, target: [], autoconnect: [] }} }},\n}}\n",
            serde_json::to_string(&endpoints).expect("strings serialise")
        );
        std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
        let log = root.join("router.log");
        let mut f = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let args = ["router".to_string(), "--config".to_string(), config.display().to_string()];
        writeln!(f, "$ {} {}", exe.display(), args.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" "))?;
        let mut cmd = Command::new(exe);
        cmd.args(&args).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
        cmd.process_group(0);
        let child = cmd.spawn().with_context(|| format!("starting the router ({})", exe.display()))?;
        let mut router = Self { child };
        let deadline = Instant::now() + ROUTER_START;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = router.child.try_wait()? {
                bail!("the router exited at start: {status}{}", tail(&log));
            }
            if Instant::now() > deadline {
                bail!("the router did not accept connections within {ROUTER_START:?}{}", tail(&log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok((router, endpoint))
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-s", "TERM", &pid]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let end = Instant::now() + GRACE;
        while Instant::now() < end {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run's directory, the arm files its nodes read and the client config they open.
struct RunDir {
    dir: PathBuf,
    urdfs: BTreeMap<String, PathBuf>,
    client: PathBuf,
    /// A fleet: each arm's files in a subdirectory named after it.
    fleet: bool,
    hosts: PerRole<Vec<String>>,
    identities: PerRole<PathBuf>,
    /// The router's endpoints, for nodes opening their own config.
    connect: Vec<String>,
    /// A host process per role, or `None` for a process per node.
    hosted: Option<HostedLaunch>,
}

impl RunDir {
    /// Runs one run's nodes; results per arm, in deployment order.
    fn run(
        &self,
        exe: &Path,
        deployment: &Deployment,
        run: &RunGraph,
        shutdown: &Shutdown,
        progress: bool,
    ) -> anyhow::Result<Vec<RunResult>> {
        let mut members = Vec::new();
        for spec in &run.nodes {
            let dir = self.arm_dir(spec.arm());
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let (settings, report) = self.settings_file(spec, &dir)?;
            members.push((spec, Member { arm: spec.arm().to_string(), kind: NodeKind::of(spec), settings, report }));
        }
        let mut nodes = Nodes(Vec::new());
        match &self.hosted {
            None => {
                for (spec, m) in members {
                    let log = m.settings.with_extension("log");
                    let settings = m.settings.display().to_string();
                    let line = spec.command().iter().map(|s| s.to_string()).chain(["--config".into(), settings]);
                    let line = line.collect();
                    let what = format!("{} node of {}", spec.name(), spec.arm());
                    nodes.0.push(Node::spawn(what, (exe, self.hosts.of(spec)), line, vec![m], &log)?);
                }
            }
            Some(hosted) => {
                for kind in NodeKind::ALL {
                    let (specs, mine): (Vec<&NodeSpec>, Vec<Member>) =
                        members.iter().filter(|(_, m)| m.kind == kind).map(|(s, m)| (*s, m.clone())).unzip();
                    let Some(first) = specs.first() else { continue };
                    let line = host_command(hosted, run, &mine);
                    let log = self.dir.join(format!("{}-host.log", kind.role()));
                    let what = format!("{} host ({} nodes)", kind.role(), mine.len());
                    nodes.0.push(Node::spawn(what, (exe, self.hosts.of(first)), line, mine, &log)?);
                }
            }
        }
        let bar = if progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>24} {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{} / {}", deployment.name, run.label));
        bar.set_message(format!("{} node processes, logs in {}", nodes.0.len(), self.dir.display()));
        bar.enable_steady_tick(Duration::from_millis(200));
        let waited = nodes.wait(shutdown);
        bar.finish_and_clear();
        waited?;
        let mut results = Vec::new();
        for arm in &deployment.arms {
            let (mut sim, mut ctrl) = (None, None);
            for n in &nodes.0 {
                for m in n.members.iter().filter(|m| &m.arm == arm) {
                    match m.kind {
                        NodeKind::Sim => sim = sim.or(Some(n.read_report::<SimNodeReport>(m)?)),
                        NodeKind::Controller => ctrl = ctrl.or(Some(n.read_report::<ControllerNodeReport>(m)?)),
                    }
                }
            }
            let (Some(sim), Some(ctrl)) = (sim, ctrl) else {
                bail!("run `{}` needs a sim node and a controller node for arm `{arm}`", run.label)
            };
            results.push(RunResult { controller: run.label.clone(), sim, ctrl, health: Vec::new() });
        }
        Ok(results)
    }

    fn arm_dir(&self, arm: &str) -> PathBuf {
        if self.fleet { self.dir.join(arm) } else { self.dir.clone() }
    }

    /// Writes `<dir>/<node>.toml`: the node's settings with this run's arm file, the router's client config
    /// and the report path. Returns the file and the report path (a stale report removed).
    fn settings_file(&self, spec: &NodeSpec, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
        let name = spec.name();
        let report = dir.join(format!("{name}_report.json"));
        if report.exists() {
            std::fs::remove_file(&report).with_context(|| format!("removing the old {}", report.display()))?;
        }
        let urdf = self.urdfs.get(spec.arm()).context("a node of an arm the scenario does not name")?.clone();
        let bus = match self.identities.of(spec) {
            Some(file) => {
                BusSettings { zenoh_config: Some(file.clone()), listen: vec![], connect: self.connect.clone() }
            }
            None => BusSettings { zenoh_config: Some(self.client.clone()), listen: vec![], connect: vec![] },
        };
        let mut spec = spec.clone();
        match &mut spec {
            NodeSpec::Sim(s) => {
                s.urdf = urdf;
                s.report = Some(report.clone());
                s.bus = bus;
            }
            NodeSpec::Controller(c) => {
                c.urdf = urdf;
                c.report = Some(report.clone());
                c.bus = bus;
            }
        }
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, spec.to_toml()?).with_context(|| format!("writing {}", path.display()))?;
        Ok((path, report))
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// The last lines of a log, as an indented block for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(LOG_TAIL);
    let mut s = format!("\n--- last lines of {} ---", log.display());
    for l in &lines[from..] {
        s.push_str("\n  ");
        s.push_str(l);
    }
    s
}

/// Which kind of node a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Sim,
    Controller,
}

impl NodeKind {
    const ALL: [NodeKind; 2] = [NodeKind::Sim, NodeKind::Controller];

    fn of(spec: &NodeSpec) -> Self {
        match spec {
            NodeSpec::Sim(_) => NodeKind::Sim,
            NodeSpec::Controller(_) => NodeKind::Controller,
        }
    }

    /// The role's name, as `--on` and `--zenoh-config` spell it.
    fn role(self) -> &'static str {
        match self {
            NodeKind::Sim => "sim",
            NodeKind::Controller => "controller",
        }
    }
}

/// A node a process runs: its arm, its kind, its settings file and the report it writes.
#[derive(Debug, Clone)]
struct Member {
    arm: String,
    kind: NodeKind,
    settings: PathBuf,
    report: PathBuf,
}

/// `spikearm host` serving `members` (all of one role). Unless told otherwise the workers spin when the run is
/// in real time (what 1 kHz needs) and nap in lockstep, where nothing waits on the wall clock.
fn host_command(hosted: &HostedLaunch, run: &RunGraph, members: &[Member]) -> Vec<String> {
    let real_time = run.nodes.iter().any(|s| matches!(s, NodeSpec::Sim(x) if x.timing == TimingMode::RealTime));
    let wait = hosted.wait.clone().unwrap_or_else(|| if real_time { "spin" } else { "sleep" }.to_string());
    let mut line = vec!["host".to_string(), "--threads".into(), hosted.threads.to_string(), "--wait".into(), wait];
    for m in members {
        line.push(format!("--{}", m.kind.role()));
        line.push(m.settings.display().to_string());
    }
    line
}

/// One process: a node, or a host of several.
struct Node {
    what: String,
    members: Vec<Member>,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
    term_sent: Option<Instant>,
}

impl Node {
    /// Starts `[host prefix] spikearm <args>` running `members`, with its output in `log`.
    fn spawn(
        what: String,
        (exe, prefix): (&Path, Option<&Vec<String>>),
        args: Vec<String>,
        members: Vec<Member>,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut line: Vec<String> = prefix.cloned().unwrap_or_default();
        line.push(exe.display().to_string());
        line.extend(args);
        let mut f = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let quoted: Vec<String> = line.iter().map(|a| format!("'{a}'")).collect();
        writeln!(f, "$ {}", quoted.join(" "))?;
        let (program, args) = (&line[0], &line[1..]);
        let mut cmd = Command::new(program);
        // NO_COLOR: plain log files (tracing's colours are escape codes in a file).
        cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
        // The launcher owns the run: settings come from its settings file, not from variables meant for
        // nodes started by hand.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("SPIKEARM_SIM__") || k.starts_with("SPIKEARM_CONTROL__") {
                cmd.env_remove(&*k);
            }
        }
        // Own process group: a terminal's Ctrl-C reaches the launcher only, which stops the nodes with one
        // SIGTERM each (a second signal would make a node exit at once, without its report).
        cmd.process_group(0);
        let child = cmd.spawn().with_context(|| format!("starting the {what} ({program})"))?;
        Ok(Self { what, members, child, log: log.to_path_buf(), status: None, term_sent: None })
    }

    /// The report `member` wrote on exit.
    fn read_report<T: DeserializeOwned>(&self, member: &Member) -> anyhow::Result<T> {
        let text = std::fs::read_to_string(&member.report).with_context(|| {
            format!("the {} wrote no report {}{}", self.what, member.report.display(), tail(&self.log))
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("reading the {}'s report {}", self.what, member.report.display()))
    }

    fn poll(&mut self) -> anyhow::Result<()> {
        if self.status.is_none() {
            self.status = self.child.try_wait().with_context(|| format!("waiting for the {}", self.what))?;
        }
        Ok(())
    }

    fn terminate(&mut self) {
        if self.status.is_none() && self.term_sent.is_none() {
            // std only sends SIGKILL; SIGTERM runs the node's shutdown protocol (report, checkpoint, close).
            let sent = Command::new("kill")
                .args(["-s", "TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !sent.is_ok_and(|s| s.success()) {
                let _ = self.child.kill();
            }
            self.term_sent = Some(Instant::now());
        }
    }

    fn failure(&self, status: ExitStatus) -> anyhow::Error {
        anyhow::anyhow!("the {} (pid {}) failed: {status}{}", self.what, self.child.id(), tail(&self.log))
    }
}

/// The nodes of a run; dropping it kills whatever still runs (an error path must not leave processes behind).
struct Nodes(Vec<Node>);

impl Nodes {
    /// Waits until every process has exited. An arm's sim ends its part of the run (its duration); its
    /// controller then returns on the sim's last state. A process failing stops all the others and is an
    /// error quoting its log.
    fn wait(&mut self, shutdown: &Shutdown) -> anyhow::Result<()> {
        // Per arm, when its first node exited.
        let mut first_exit: BTreeMap<String, Instant> = BTreeMap::new();
        loop {
            for n in &mut self.0 {
                n.poll()?;
            }
            if let Some(n) = self.0.iter().find(|n| n.status.is_some_and(|s| !s.success())) {
                let status = n.status.expect("exited");
                let err = n.failure(status);
                for m in &mut self.0 {
                    m.terminate();
                }
                self.reap();
                return Err(err);
            }
            if self.0.iter().all(|n| n.status.is_some()) {
                return Ok(());
            }
            let now = Instant::now();
            for n in self.0.iter().filter(|n| n.status.is_some()) {
                for m in &n.members {
                    first_exit.entry(m.arm.clone()).or_insert(now);
                }
            }
            for p in &mut self.0 {
                let overdue = |m: &Member| first_exit.get(&m.arm).is_some_and(|since| now - *since > AFTER_OTHER);
                if p.members.iter().any(overdue) {
                    p.terminate();
                }
            }
            if shutdown.is_triggered() {
                for m in &mut self.0 {
                    m.terminate();
                }
            }
            for m in &mut self.0 {
                if m.status.is_none() && m.term_sent.is_some_and(|t| now - t > GRACE) {
                    let _ = m.child.kill();
                    let _ = m.child.wait();
                    bail!(
                        "the {} (pid {}) did not stop within {GRACE:?} of SIGTERM and was killed{}",
                        m.what,
                        m.child.id(),
                        tail(&m.log)
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to the grace period for signalled nodes, then kills them.
    fn reap(&mut self) {
        let end = Instant::now() + GRACE;
        for n in &mut self.0 {
            while n.status.is_none() && Instant::now() < end {
                let _ = n.poll();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for n in &mut self.0 {
            if n.status.is_none() && !matches!(n.child.try_wait(), Ok(Some(_))) {
                let _ = n.child.kill();
                let _ = n.child.wait();
            }
        }
    }
}
