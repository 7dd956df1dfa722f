//! Runs a deployment with each node as an OS process (`spikearm sim node`, `spikearm control`) talking
//! zenoh over TCP on 127.0.0.1. Each node is started with one settings file, `<node>.toml`: the settings
//! the one-process runner hands its nodes, plus where to listen or connect and where to write the report.
//! The nodes write their reports as JSON on exit and the same metrics and report code as in one process
//! reads them, so a lockstep scenario gives bit-identical trajectories in both modes.
//!
//! Per run, `<dir>/processes/<controller>/` holds each node's settings file, its log (starting with its
//! command line) and its report.

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
use super::result::{RunResult, ScenarioResult};
use super::scenario::ScenarioSpec;
use crate::arm::Arm;
use crate::node::{BusSettings, ControllerNodeReport, Shutdown, SimNodeReport};

/// Where the node processes come from and where their files go.
#[derive(Debug, Clone)]
pub struct ProcessLaunch {
    /// The `spikearm` executable (the launcher's own: `std::env::current_exe()`).
    pub exe: PathBuf,
    /// The report directory; run files go under `<dir>/processes/`.
    pub dir: PathBuf,
}

/// Once one node has exited, how long the others get to finish on their own before SIGTERM. A controller
/// that missed the sim's last state would otherwise wait for more; stopping it then changes nothing it
/// recorded.
const AFTER_OTHER: Duration = Duration::from_secs(2);
/// After SIGTERM, how long a node gets before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);
/// Lines of a failed node's log quoted in the error.
const LOG_TAIL: usize = 20;

/// Runs every controller of `spec` on `arm` (the arm the scenario names, parsed once), each run as one
/// process per node. `shutdown` (the launcher's Ctrl-C) stops the running nodes cleanly — their reports are
/// still read — and skips the remaining runs.
pub fn run_scenario_processes(
    spec: &ScenarioSpec,
    arm: &Arc<Arm>,
    launch: &ProcessLaunch,
    shutdown: &Shutdown,
    progress: bool,
) -> anyhow::Result<ScenarioResult> {
    let deployment = Deployment::from_scenario(spec, arm)?;
    let root = launch.dir.join("processes");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // The nodes read the arm from a file; this copy also serves scenarios whose URDF is embedded (demo).
    let urdf = root.join("arm.urdf");
    std::fs::write(&urdf, arm.urdf()).with_context(|| format!("writing {}", urdf.display()))?;
    let mut runs: Vec<RunResult> = Vec::new();
    for (i, run) in deployment.runs.iter().enumerate() {
        if shutdown.is_triggered() {
            break;
        }
        let sub = if runs.iter().any(|r| r.controller == run.label) {
            format!("{}-{i}", run.label)
        } else {
            run.label.clone()
        };
        let dir = RunDir { dir: root.join(sub), urdf: urdf.clone() };
        runs.push(dir.run(&launch.exe, &deployment.name, run, shutdown, progress)?);
    }
    Ok(ScenarioResult::new(spec, runs))
}

/// One run's directory and the arm file its nodes read.
struct RunDir {
    dir: PathBuf,
    urdf: PathBuf,
}

impl RunDir {
    fn run(
        &self,
        exe: &Path,
        scenario: &str,
        run: &RunGraph,
        shutdown: &Shutdown,
        progress: bool,
    ) -> anyhow::Result<RunResult> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let endpoint = format!("tcp/127.0.0.1:{}", free_port()?);
        let mut nodes = Nodes(Vec::new());
        for spec in &run.nodes {
            let (settings, report) = self.settings_file(spec, &endpoint)?;
            nodes.0.push(Node::spawn(spec, exe, &settings, report, &dir.join(format!("{}.log", spec.name())))?);
        }
        let bar = if progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>24} {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{scenario} / {}", run.label));
        let pids: Vec<String> = nodes.0.iter().map(|n| format!("{} {}", n.what, n.child.id())).collect();
        bar.set_message(format!("processes {}, logs in {}", pids.join(", "), dir.display()));
        bar.enable_steady_tick(Duration::from_millis(200));
        let waited = nodes.wait(shutdown);
        bar.finish_and_clear();
        waited?;
        let (mut sim, mut ctrl) = (None, None);
        for n in &nodes.0 {
            match n.kind {
                NodeKind::Sim => sim = sim.or(Some(n.read_report::<SimNodeReport>()?)),
                NodeKind::Controller => ctrl = ctrl.or(Some(n.read_report::<ControllerNodeReport>()?)),
            }
        }
        let (Some(sim), Some(ctrl)) = (sim, ctrl) else {
            bail!("run `{}` needs a sim node and a controller node", run.label)
        };
        Ok(RunResult { controller: run.label.clone(), sim, ctrl, health: Vec::new() })
    }

    /// Writes `<dir>/<node>.toml`: the node's settings with this run's arm file, bus endpoints and report
    /// path. The sim listens on the run's endpoint, every other node connects to it. Returns the file and
    /// the report path (a stale report removed).
    fn settings_file(&self, spec: &NodeSpec, endpoint: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
        let name = spec.name();
        let report = self.dir.join(format!("{name}_report.json"));
        if report.exists() {
            std::fs::remove_file(&report).with_context(|| format!("removing the old {}", report.display()))?;
        }
        // The built-in loopback peer (no file); only the sim owns a known port.
        let built_in = |b: BusSettings| BusSettings { zenoh_config: Some(PathBuf::new()), ..b };
        let mut spec = spec.clone();
        match &mut spec {
            NodeSpec::Sim(s) => {
                s.urdf = self.urdf.clone();
                s.report = Some(report.clone());
                s.bus = built_in(BusSettings::listening(endpoint));
            }
            NodeSpec::Controller(c) => {
                c.urdf = self.urdf.clone();
                c.report = Some(report.clone());
                c.bus = built_in(BusSettings::connecting(endpoint));
            }
        }
        let path = self.dir.join(format!("{name}.toml"));
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

/// One node process.
struct Node {
    what: String,
    kind: NodeKind,
    child: Child,
    log: PathBuf,
    report: PathBuf,
    status: Option<ExitStatus>,
    term_sent: Option<Instant>,
}

impl Node {
    /// Starts `spikearm <command> --config <settings>` with its output in `log`.
    fn spawn(spec: &NodeSpec, exe: &Path, settings: &Path, report: PathBuf, log: &Path) -> anyhow::Result<Self> {
        let kind = match spec {
            NodeSpec::Sim(_) => NodeKind::Sim,
            NodeSpec::Controller(_) => NodeKind::Controller,
        };
        let what = format!("{} node", spec.name());
        let mut args: Vec<String> = spec.command().iter().map(|s| s.to_string()).collect();
        args.extend(["--config".to_string(), settings.display().to_string()]);
        let mut f = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        writeln!(f, "$ {} {}", exe.display(), quoted.join(" "))?;
        let mut cmd = Command::new(exe);
        // NO_COLOR: plain log files (tracing's colours are escape codes in a file).
        cmd.args(&args).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
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
        let child = cmd.spawn().with_context(|| format!("starting the {what} ({})", exe.display()))?;
        Ok(Self { what, kind, child, log: log.to_path_buf(), report, status: None, term_sent: None })
    }

    /// The report the node wrote on exit.
    fn read_report<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        let text = std::fs::read_to_string(&self.report).with_context(|| {
            format!("the {} wrote no report {}{}", self.what, self.report.display(), tail(&self.log))
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("reading the {}'s report {}", self.what, self.report.display()))
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
    /// Waits until every node has exited. The sim ends the run (its duration); the controller then returns on
    /// the sim's last state. A node failing stops the other and is an error quoting its log.
    fn wait(&mut self, shutdown: &Shutdown) -> anyhow::Result<()> {
        let mut first_exit: Option<Instant> = None;
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
            if self.0.iter().any(|n| n.status.is_some()) {
                let since = *first_exit.get_or_insert(now);
                if now - since > AFTER_OTHER {
                    for m in &mut self.0 {
                        m.terminate();
                    }
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
