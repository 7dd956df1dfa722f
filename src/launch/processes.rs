//! Runs a scenario with each controller's sim node and controller node as two OS processes (`spikearm sim
//! node`, `spikearm control`) talking zenoh over TCP on 127.0.0.1. The nodes get the specs the one-process
//! runner builds ([`super::runner::node_specs`]): scalars as `--set key=value`, timed events in a run plan
//! file ([`RunPlan`]). Each node writes its report as JSON on exit and the same metrics and report code as
//! in one process reads them, so a lockstep scenario gives bit-identical trajectories in both modes.
//!
//! Per run, `<dir>/processes/<controller>/` holds the plan, the node logs (`sim.log`, `control.log`, each
//! starting with the node's command line) and the node reports.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde::de::DeserializeOwned;
use spikearm_sim::SimParams;

use super::plan::RunPlan;
use super::runner::{RunResult, ScenarioResult, finish, node_specs, start_and_targets};
use super::scenario::ScenarioSpec;
use crate::node::{
    ControllerNodeReport, ControllerNodeSpec, ControllerSection, Shutdown, SimNodeReport, SimNodeSpec,
    build_controller,
};

/// Where the node processes come from and where their files go.
#[derive(Debug, Clone)]
pub struct ProcessLaunch {
    /// The `spikearm` executable (the launcher's own: `std::env::current_exe()`).
    pub exe: PathBuf,
    /// The report directory; run files go under `<dir>/processes/`.
    pub dir: PathBuf,
}

/// Once one node has exited, how long the other gets to finish on its own before SIGTERM. A controller that
/// missed the sim's last state would otherwise wait for more; stopping it then changes nothing it recorded.
const AFTER_OTHER: Duration = Duration::from_secs(2);
/// After SIGTERM, how long a node gets before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);
/// Lines of a failed node's log quoted in the error.
const LOG_TAIL: usize = 20;

/// Runs every controller of `spec` on the arm `urdf` (text), each run as a sim process and a controller
/// process. `shutdown` (the launcher's Ctrl-C) stops the running pair cleanly — their reports are still
/// read — and skips the remaining runs.
pub fn run_scenario_processes(
    spec: &ScenarioSpec,
    urdf: &str,
    launch: &ProcessLaunch,
    shutdown: &Shutdown,
    progress: bool,
) -> anyhow::Result<ScenarioResult> {
    let (start_ee, targets) = start_and_targets(spec, urdf)?;
    let root = launch.dir.join("processes");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // The nodes read the arm from a file; this copy also serves scenarios whose URDF is embedded (demo).
    let urdf_path = root.join("arm.urdf");
    std::fs::write(&urdf_path, urdf).with_context(|| format!("writing {}", urdf_path.display()))?;
    let mut runs: Vec<RunResult> = Vec::new();
    for (i, kind) in spec.controllers.iter().enumerate() {
        if shutdown.is_triggered() {
            break;
        }
        let section = ControllerSection { kind: kind.clone(), ..spec.controller.clone() };
        // Built here too: its name labels the run as in one process, and bad settings fail before any spawn.
        let name = build_controller(&section, urdf).with_context(|| format!("building controller `{kind}`"))?.name().to_string();
        let (sim, cspec) = node_specs(spec, urdf, &name, start_ee, &targets)?;
        let sub = if runs.iter().any(|r| r.controller == name) { format!("{name}-{i}") } else { name.clone() };
        let pair = Pair { spec, sim: &sim, cspec: &cspec, section: &section, urdf: &urdf_path, dir: root.join(sub) };
        let (sim_report, ctrl_report) = pair.run(&launch.exe, shutdown, progress)?;
        runs.push(RunResult { controller: name, sim: sim_report, ctrl: ctrl_report, health: Vec::new() });
    }
    Ok(finish(spec, runs))
}

/// One controller's run: the specs and its directory.
struct Pair<'a> {
    spec: &'a ScenarioSpec,
    sim: &'a SimNodeSpec,
    cspec: &'a ControllerNodeSpec,
    section: &'a ControllerSection,
    urdf: &'a Path,
    dir: PathBuf,
}

impl Pair<'_> {
    fn run(&self, exe: &Path, shutdown: &Shutdown, progress: bool) -> anyhow::Result<(SimNodeReport, ControllerNodeReport)> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let plan_path = dir.join("plan.json");
        let sim_report = dir.join("sim_report.json");
        let ctrl_report = dir.join("control_report.json");
        for stale in [&sim_report, &ctrl_report] {
            if stale.exists() {
                std::fs::remove_file(stale).with_context(|| format!("removing the old {}", stale.display()))?;
            }
        }
        let plan = RunPlan {
            payload_events: self.sim.payload_events.clone(),
            estop_events: self.sim.estop_events.clone(),
            target_events: self.cspec.target_events.clone(),
            error_windows: self.cspec.error_windows.clone(),
        };
        std::fs::write(&plan_path, plan.to_json()).with_context(|| format!("writing {}", plan_path.display()))?;
        let endpoint = format!("tcp/127.0.0.1:{}", free_port()?);
        let sim_args = self.sim_args(&plan_path, &sim_report, &endpoint)?;
        let ctrl_args = self.control_args(&plan_path, &ctrl_report, &endpoint)?;

        let mut nodes = Nodes(Vec::new());
        nodes.0.push(Node::spawn("sim node", exe, &sim_args, &dir.join("sim.log"))?);
        nodes.0.push(Node::spawn("controller node", exe, &ctrl_args, &dir.join("control.log"))?);
        let bar = if progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>24} {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{} / {}", self.spec.name, self.section.kind));
        bar.set_message(format!(
            "{:.0} sim s in processes {} (sim) and {} (controller), logs in {}",
            self.spec.duration_s,
            nodes.0[0].child.id(),
            nodes.0[1].child.id(),
            dir.display()
        ));
        bar.enable_steady_tick(Duration::from_millis(200));
        let waited = nodes.wait(shutdown);
        bar.finish_and_clear();
        waited?;
        let sim: SimNodeReport = read_report(&sim_report, "sim node", &dir.join("sim.log"))?;
        let ctrl: ControllerNodeReport = read_report(&ctrl_report, "controller node", &dir.join("control.log"))?;
        Ok((sim, ctrl))
    }

    fn sim_args(&self, plan: &Path, report: &Path, endpoint: &str) -> anyhow::Result<Vec<String>> {
        let s = self.sim;
        // What the node command cannot be told must be what it builds by default.
        let expressible = SimParams { dt: s.sim.dt, substeps: s.sim.substeps, joint_damping: s.sim.joint_damping, ..SimParams::default() };
        anyhow::ensure!(s.sim == expressible, "the sim's physics settings have no node-config keys: {:?}", s.sim);
        let mut a = vec!["sim".to_string(), "node".to_string()];
        set(&mut a, "arm", &self.spec.arm)?;
        set(&mut a, "urdf", self.urdf)?;
        set(&mut a, "timing", s.timing)?;
        set(&mut a, "wait", s.wait)?;
        set(&mut a, "duration_s", s.duration_s.unwrap_or(0.0))?;
        set(&mut a, "watchdog_ms", s.watchdog_s * 1e3)?;
        if let Some(q) = &s.initial_q {
            set(&mut a, "initial_q", q)?;
        }
        set(&mut a, "dt", s.sim.dt)?;
        set(&mut a, "substeps", s.sim.substeps)?;
        set(&mut a, "joint_damping", s.sim.joint_damping)?;
        set(&mut a, "hold_kp", s.hold.kp)?;
        set(&mut a, "hold_kd", s.hold.kd)?;
        set(&mut a, "record_every", s.record_every)?;
        set(&mut a, "plan", plan)?;
        set(&mut a, "report", report)?;
        set(&mut a, "bus.zenoh_config", "")?;
        set(&mut a, "bus.listen", [endpoint])?;
        set(&mut a, "bus.connect", Vec::<String>::new())?;
        Ok(a)
    }

    fn control_args(&self, plan: &Path, report: &Path, endpoint: &str) -> anyhow::Result<Vec<String>> {
        let c = self.cspec;
        let mut a = vec!["control".to_string()];
        set(&mut a, "arm", &c.arm)?;
        set(&mut a, "urdf", self.urdf)?;
        // Every key of the section, so a setting added to it later reaches the node without a change here.
        let section = toml::Table::try_from(self.section).context("the controller section")?;
        for (k, v) in section {
            a.extend(["--set".to_string(), format!("controller.{k}={v}")]);
        }
        if let Some(t) = c.initial_target {
            set(&mut a, "target", t)?;
        }
        if let Some(p) = &c.checkpoint_path {
            set(&mut a, "checkpoint", p)?;
        }
        set(&mut a, "checkpoint_period_s", c.checkpoint_period_s)?;
        set(&mut a, "hold_after_ms", c.hold_after_s * 1e3)?;
        set(&mut a, "wait", c.wait)?;
        set(&mut a, "status_hz", 1.0 / c.status_period_s)?;
        set(&mut a, "record_every", c.record_every)?;
        set(&mut a, "stop_at_s", c.stop_at_s.unwrap_or(0.0))?;
        set(&mut a, "plan", plan)?;
        set(&mut a, "report", report)?;
        set(&mut a, "bus.zenoh_config", "")?;
        // An ephemeral listener: only the sim owns a known port.
        set(&mut a, "bus.listen", ["tcp/127.0.0.1:0"])?;
        set(&mut a, "bus.connect", [endpoint])?;
        Ok(a)
    }
}

/// Appends `--set key=<value as TOML>`: the node parses it back as TOML, floats exactly (shortest
/// round-trip form), strings quoted and escaped.
fn set(args: &mut Vec<String>, key: &str, value: impl Serialize) -> anyhow::Result<()> {
    let v = toml::Value::try_from(value).with_context(|| format!("the value of {key}"))?;
    args.extend(["--set".to_string(), format!("{key}={v}")]);
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

fn read_report<T: DeserializeOwned>(path: &Path, who: &str, log: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("the {who} wrote no report {}{}", path.display(), tail(log)))?;
    serde_json::from_str(&text).with_context(|| format!("reading the {who}'s report {}", path.display()))
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

/// One node process.
struct Node {
    what: &'static str,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
    term_sent: Option<Instant>,
}

impl Node {
    fn spawn(what: &'static str, exe: &Path, args: &[String], log: &Path) -> anyhow::Result<Self> {
        let mut f = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        writeln!(f, "$ {} {}", exe.display(), quoted.join(" "))?;
        let mut cmd = Command::new(exe);
        // NO_COLOR: plain log files (tracing's colours are escape codes in a file).
        cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
        // The launcher owns the run: settings come from its --set keys, not from variables meant for nodes
        // started by hand.
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
        Ok(Self { what, child, log: log.to_path_buf(), status: None, term_sent: None })
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

/// Both nodes of a run; dropping it kills whatever still runs (an error path must not leave processes behind).
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
                    bail!("the {} (pid {}) did not stop within {GRACE:?} of SIGTERM and was killed{}", m.what, m.child.id(), tail(&m.log));
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
