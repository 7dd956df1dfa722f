//! A node as a system service, beside its loop and never in it:
//! - systemd's notify protocol when systemd sets `NOTIFY_SOCKET`: `READY=1` once the node's loop turns,
//!   `WATCHDOG=1` only while it keeps turning (a loop stuck in a call, deadlocked or starved stops the pings
//!   and systemd restarts the unit after `WatchdogSec`), `STOPPING=1` when shutdown begins;
//! - `/metrics` (Prometheus text format) and `/healthz` over HTTP when `[service] metrics_listen` is set.
//!
//! Both run on one background thread that reads the node's [`NodeProbe`]; the loop only counts its turns and
//! offers its status. A host (`spikearm host`) is one service for all its nodes: ready once every node's loop
//! turns, fed only while every one keeps turning, healthy only while every one is, and its `/metrics` carry
//! each node's figures labelled with its arm and name.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use sd_notify::NotifyState;

use crate::bus::{ControllerStatus, NodeState, SimStatus, Status, StatusBody};
use crate::node::{NodeProbe, ServiceSettings, Shutdown};

/// How often the service thread looks at the probe when no watchdog asks for more.
const PERIOD: Duration = Duration::from_millis(100);
/// `/healthz` fails when the loop has not turned for this long.
const STALL: Duration = Duration::from_secs(1);

/// The running service thread; [`ServiceThread::stop`] ends it.
pub struct ServiceThread {
    done: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// A node a service thread watches.
#[derive(Debug, Clone)]
pub struct WatchedNode {
    /// The node's vital signs.
    pub probe: Arc<NodeProbe>,
    /// On a host, which node this is: its figures carry these labels, so a host's nodes stay apart. `None`
    /// for a node in a process of its own.
    pub hosted: Option<HostedName>,
}

/// A hosted node's name, as `spikearm host` tells its nodes apart (`arm/node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedName {
    /// The arm the node belongs to.
    pub arm: String,
    /// The node's name on the bus.
    pub node: String,
}

impl ServiceThread {
    /// Starts the thread for a node reporting to `probe`; `shutdown` is the node's (its trigger sends
    /// `STOPPING=1`).
    pub fn spawn(settings: &ServiceSettings, probe: Arc<NodeProbe>, shutdown: Shutdown) -> anyhow::Result<Self> {
        Self::spawn_watching(settings, vec![WatchedNode { probe, hosted: None }], shutdown)
    }

    /// Starts the thread for several nodes (a host's), one service for all of them; `shutdown` is the
    /// process's.
    pub fn spawn_watching(
        settings: &ServiceSettings,
        nodes: Vec<WatchedNode>,
        shutdown: Shutdown,
    ) -> anyhow::Result<Self> {
        let http = match &settings.metrics_listen {
            Some(addr) => Some(
                tiny_http::Server::http(addr)
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(|| format!("serving /metrics on {addr}"))?,
            ),
            None => None,
        };
        let notify = Notifier::from_env();
        let done = Arc::new(AtomicBool::new(false));
        let d2 = done.clone();
        let nodes = nodes.into_iter().map(|node| (node, Health::new())).collect();
        let handle = std::thread::Builder::new().name("service".into()).spawn(move || {
            Watch { nodes, shutdown, notify, http }.run(&d2);
        })?;
        Ok(Self { done, handle: Some(handle) })
    }

    /// Ends the thread (after its last `STOPPING=1`).
    pub fn stop(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// systemd's side, if it asked for notifications.
struct Notifier {
    enabled: bool,
    /// Ping at half the watchdog timeout, as sd_watchdog_enabled(3) advises.
    watchdog_every: Option<Duration>,
}

impl Notifier {
    fn from_env() -> Self {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        // As sd_watchdog_enabled(3): WATCHDOG_USEC applies to us unless WATCHDOG_PID names another process.
        let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        let ours = var("WATCHDOG_PID").is_none_or(|pid| pid == u64::from(std::process::id()));
        let watchdog_every =
            var("WATCHDOG_USEC").filter(|&u| enabled && ours && u > 0).map(|u| Duration::from_micros(u / 2));
        Self { enabled, watchdog_every }
    }

    fn send(&self, state: NotifyState) {
        if self.enabled
            && let Err(e) = sd_notify::notify(false, &[state])
        {
            tracing::warn!(error = %e, "service: notifying systemd failed");
        }
    }
}

/// Whether the loop is turning: the last turn count and when it last changed.
struct Health {
    turns: u64,
    changed: Instant,
}

impl Health {
    fn new() -> Self {
        Self { turns: 0, changed: Instant::now() }
    }

    /// Takes the probe's count; true when the loop turned since the last look.
    fn observe(&mut self, turns: u64) -> bool {
        let moved = turns != self.turns;
        if moved {
            self.turns = turns;
            self.changed = Instant::now();
        }
        moved
    }

    fn turning(&self) -> bool {
        self.turns > 0 && self.changed.elapsed() < STALL
    }
}

struct Watch {
    nodes: Vec<(WatchedNode, Health)>,
    shutdown: Shutdown,
    notify: Notifier,
    http: Option<tiny_http::Server>,
}

impl Watch {
    fn run(mut self, done: &AtomicBool) {
        let mut ready = false;
        let mut last_ping = Instant::now();
        let mut stopping = false;
        let period = self.notify.watchdog_every.map_or(PERIOD, |w| w.min(PERIOD));
        while !done.load(Ordering::Relaxed) {
            // Every node's loop turned since the last look (`fold`, not `all`: each node's health is updated).
            let moved = self.nodes.iter_mut().fold(true, |all, (n, h)| h.observe(n.probe.turns()) && all);
            let started = self.nodes.iter().all(|(_, h)| h.turns > 0);
            if !ready && started {
                self.notify.send(NotifyState::Ready);
                ready = true;
            }
            if let Some(every) = self.notify.watchdog_every
                && moved
                && last_ping.elapsed() >= every
            {
                self.notify.send(NotifyState::Watchdog);
                last_ping = Instant::now();
            }
            if !stopping && self.shutdown.is_triggered() {
                self.notify.send(NotifyState::Stopping);
                stopping = true;
            }
            self.serve_http(period);
        }
        if !stopping {
            self.notify.send(NotifyState::Stopping);
        }
    }

    /// Answers HTTP requests for up to `wait` (or just sleeps without a server).
    fn serve_http(&mut self, wait: Duration) {
        let Some(server) = &self.http else {
            std::thread::sleep(wait);
            return;
        };
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(Some(req)) = server.recv_timeout(left) else { return };
            let (code, body, kind) = match req.url() {
                "/metrics" => (200, self.metrics(), PROMETHEUS),
                "/healthz" => match Self::all_healthy(&mut self.nodes) {
                    Ok(()) => (200, "ok\n".to_string(), TEXT),
                    Err(why) => (503, format!("{why}\n"), TEXT),
                },
                _ => (404, "try /metrics or /healthz\n".to_string(), TEXT),
            };
            let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], kind.as_bytes()).expect("valid header");
            let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(code).with_header(header));
        }
    }

    /// Every watched node's figures in the exposition format.
    fn metrics(&self) -> String {
        let statuses: Vec<_> = self.nodes.iter().map(|(n, _)| n.probe.status()).collect();
        let figures: Vec<_> = self
            .nodes
            .iter()
            .zip(&statuses)
            .map(|((n, _), s)| NodeFigures { hosted: n.hosted.as_ref(), turns: n.probe.turns(), status: s.as_ref() })
            .collect();
        metrics_text(&figures)
    }

    /// Healthy when every node is; else what is wrong with each that is not (named on a host).
    fn all_healthy(nodes: &mut [(WatchedNode, Health)]) -> Result<(), String> {
        let mut wrong = Vec::new();
        for (n, h) in nodes {
            h.observe(n.probe.turns());
            if let Err(why) = healthz(h, n.probe.status().as_ref()) {
                wrong.push(match &n.hosted {
                    Some(name) => format!("{}/{}: {why}", name.arm, name.node),
                    None => why,
                });
            }
        }
        if wrong.is_empty() { Ok(()) } else { Err(wrong.join("\n")) }
    }
}

const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Healthy: the loop turns, and the node is neither e-stopped, holding nor stopping.
fn healthz(health: &Health, status: Option<&Status>) -> Result<(), String> {
    if !health.turning() {
        return Err(format!("the node's loop has not turned for {:.1} s", health.changed.elapsed().as_secs_f64()));
    }
    match status.map(|s| s.state) {
        None | Some(NodeState::Running | NodeState::Waiting) => Ok(()),
        Some(s) => Err(format!("state {}", state_name(s))),
    }
}

fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Waiting => "waiting",
        NodeState::Running => "running",
        NodeState::Holding => "holding",
        NodeState::Estop => "estop",
        NodeState::Stopping => "stopping",
    }
}

/// What `/metrics` shows of one node.
#[derive(Debug, Clone, Copy)]
pub struct NodeFigures<'a> {
    /// On a host, which node (labels `arm` and `node` on every figure); `None` for a node on its own.
    pub hosted: Option<&'a HostedName>,
    /// Turns of its loop so far.
    pub turns: u64,
    /// Its latest status, if it has offered one.
    pub status: Option<&'a Status>,
}

impl NodeFigures<'_> {
    /// The labels of its loop's turns: none for a node on its own (the process is the node).
    fn turn_labels(&self) -> String {
        self.hosted.map_or(String::new(), |h| format!("arm=\"{}\",node=\"{}\"", escape(&h.arm), escape(&h.node)))
    }

    /// The labels of its status figures.
    fn labels(&self, status: &Status) -> String {
        match self.hosted {
            Some(_) => self.turn_labels(),
            None => format!("node=\"{}\"", escape(&status.node)),
        }
    }
}

/// A family's samples: labels and value.
type Samples = Vec<(String, f64)>;

const STATES: [NodeState; 5] =
    [NodeState::Waiting, NodeState::Running, NodeState::Holding, NodeState::Estop, NodeState::Stopping];

/// The nodes' figures in Prometheus text exposition format (version 0.0.4): each family once, with a sample
/// per node that has it.
pub fn metrics_text(nodes: &[NodeFigures<'_>]) -> String {
    let mut m = Metrics::default();
    let turns = nodes.iter().map(|n| (n.turn_labels(), n.turns as f64)).collect();
    m.family("spikearm_loop_turns_total", "counter", "Turns of the node's loop.", turns);
    let reporting: Vec<(String, &Status)> = nodes.iter().filter_map(|n| n.status.map(|s| (n.labels(s), s))).collect();
    // Samples of every reporting node: `f` gives a node's, from its labels and status.
    let each = |f: &dyn Fn(&str, &Status) -> Samples| -> Samples {
        reporting.iter().flat_map(|(labels, s)| f(labels, s)).collect()
    };
    // One sample per node, for the nodes that have the figure.
    let one =
        |value: fn(&Status) -> Option<f64>| each(&|l, s| value(s).map(|v| (l.to_string(), v)).into_iter().collect());
    let states = each(&|l, s| {
        let sample = |st: NodeState| (format!("{l},state=\"{}\"", state_name(st)), f64::from(u8::from(s.state == st)));
        STATES.into_iter().map(sample).collect()
    });
    m.family("spikearm_node_state", "gauge", "1 for the node's current state.", states);
    m.family("spikearm_sim_time_seconds", "gauge", "Sim time of the node's latest state.", one(|s| Some(s.stamp)));
    let ticks = one(|s| Some(s.ticks as f64));
    m.family("spikearm_ticks_total", "counter", "Steps (sim) or control ticks (controller).", ticks);
    let by = |label: &'static str, counts: fn(&Status) -> &std::collections::BTreeMap<String, u64>| {
        each(&|l, s| counts(s).iter().map(|(k, n)| (format!("{l},{label}=\"{}\"", escape(k)), *n as f64)).collect())
    };
    m.family(
        "spikearm_rejected_total",
        "counter",
        "Bodies from the bus refused, by reason.",
        by("reason", |s| &s.rejected),
    );
    m.family("spikearm_clamped_total", "counter", "Values accepted but limited, by kind.", by("kind", |s| &s.clamped));
    let misses = one(|s| sim(s).map(|b| b.deadline_misses as f64));
    m.family("spikearm_deadline_misses_total", "counter", "Real-time steps started a whole period late.", misses);
    let trips = one(|s| sim(s).map(|b| b.watchdog_trips as f64));
    m.family("spikearm_watchdog_trips_total", "counter", "Times the sim's watchdog took over the arm.", trips);
    let error = one(|s| ctl(s)?.tracking_error_m);
    m.family("spikearm_tracking_error_meters", "gauge", "Distance from end effector to target.", error);
    let learning = one(|s| ctl(s)?.learning.map(|l| f64::from(u8::from(l))));
    m.family("spikearm_learning", "gauge", "1 while online learning is on.", learning);
    let effort = one(|s| ctl(s)?.adaptive_effort_norm);
    m.family("spikearm_adaptive_effort_newton_meters", "gauge", "Norm of the adaptive torque.", effort);
    let written = one(|s| ctl(s).map(|c| c.checkpoints as f64));
    m.family("spikearm_checkpoints_total", "counter", "Learned-weight checkpoints written.", written);
    let failed = one(|s| ctl(s).map(|c| c.checkpoint_errors as f64));
    m.family("spikearm_checkpoint_errors_total", "counter", "Checkpoint writes that failed.", failed);
    m.0
}

/// A sim's part of its status.
fn sim(s: &Status) -> Option<&SimStatus> {
    match &s.body {
        StatusBody::Sim(b) => Some(b),
        StatusBody::Controller(_) => None,
    }
}

/// A controller's part of its status.
fn ctl(s: &Status) -> Option<&ControllerStatus> {
    match &s.body {
        StatusBody::Controller(c) => Some(c),
        StatusBody::Sim(_) => None,
    }
}

#[derive(Default)]
struct Metrics(String);

impl Metrics {
    /// A family's help, type and samples (`(labels, value)`); nothing when it has no samples.
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: Samples) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let value = if value.is_finite() { value.to_string() } else { "NaN".to_string() };
            if labels.is_empty() {
                let _ = writeln!(self.0, "{name} {value}");
            } else {
                let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
            }
        }
    }
}

/// A label value with `\`, `"` and newlines escaped as the exposition format requires.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;

    use super::*;
    use crate::bus::SCHEMA_VERSION;

    fn sim_status() -> Status {
        Status {
            v: SCHEMA_VERSION,
            node: "sim".into(),
            stamp: 1.5,
            state: NodeState::Running,
            ticks: 1500,
            rejected: [("malformed".to_string(), 3)].into(),
            clamped: Default::default(),
            last_refusal: None,
            body: StatusBody::Sim(SimStatus { deadline_misses: 2, watchdog_trips: 1 }),
        }
    }

    #[test]
    fn metrics_are_in_the_exposition_format() {
        let status = sim_status();
        let text = metrics_text(&[NodeFigures { hosted: None, turns: 42, status: Some(&status) }]);
        for line in [
            "spikearm_loop_turns_total 42",
            "spikearm_node_state{node=\"sim\",state=\"running\"} 1",
            "spikearm_node_state{node=\"sim\",state=\"estop\"} 0",
            "spikearm_ticks_total{node=\"sim\"} 1500",
            "spikearm_rejected_total{node=\"sim\",reason=\"malformed\"} 3",
            "spikearm_deadline_misses_total{node=\"sim\"} 2",
            "# TYPE spikearm_ticks_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_hosts_metrics_name_each_node_and_give_each_family_once() {
        let (sim, mut ctl) = (sim_status(), sim_status());
        ctl.node = "controller".into();
        ctl.body = StatusBody::Controller(Default::default());
        let names = [("left", "sim"), ("left", "controller"), ("right", "sim")]
            .map(|(arm, node)| HostedName { arm: arm.into(), node: node.into() });
        let text = metrics_text(&[
            NodeFigures { hosted: Some(&names[0]), turns: 7, status: Some(&sim) },
            NodeFigures { hosted: Some(&names[1]), turns: 8, status: Some(&ctl) },
            NodeFigures { hosted: Some(&names[2]), turns: 9, status: None },
        ]);
        for line in [
            "spikearm_loop_turns_total{arm=\"left\",node=\"sim\"} 7",
            "spikearm_loop_turns_total{arm=\"left\",node=\"controller\"} 8",
            "spikearm_loop_turns_total{arm=\"right\",node=\"sim\"} 9",
            "spikearm_ticks_total{arm=\"left\",node=\"sim\"} 1500",
            "spikearm_ticks_total{arm=\"left\",node=\"controller\"} 1500",
            "spikearm_deadline_misses_total{arm=\"left\",node=\"sim\"} 2",
            "spikearm_checkpoints_total{arm=\"left\",node=\"controller\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        for family in ["spikearm_loop_turns_total", "spikearm_ticks_total", "spikearm_node_state"] {
            let headers = text
                .lines()
                .filter(|l| {
                    *l == format!(
                        "# TYPE {family} {}",
                        if family == "spikearm_node_state" { "gauge" } else { "counter" }
                    )
                })
                .count();
            assert_eq!(headers, 1, "{family} declared once in\n{text}");
        }
        assert!(!text.contains("deadline_misses_total{arm=\"left\",node=\"controller\"}"), "a sim's figure only");
    }

    /// The watchdog pings only while the loop turns: a fake notify socket, a probe turned by hand.
    #[test]
    fn the_watchdog_is_fed_only_while_the_loop_turns() {
        let dir = std::env::temp_dir().join(format!("spikearm-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        // SAFETY: this test is the only one in the crate that touches these variables.
        unsafe {
            std::env::set_var("NOTIFY_SOCKET", &path);
            std::env::set_var("WATCHDOG_USEC", "100000");
            std::env::remove_var("WATCHDOG_PID");
        }
        let probe = Arc::new(NodeProbe::new());
        let shutdown = Shutdown::new();
        let service = ServiceThread::spawn(&ServiceSettings::default(), probe.clone(), shutdown.clone()).unwrap();
        let collect = |for_ms: u64, turning: bool| {
            let end = Instant::now() + Duration::from_millis(for_ms);
            let mut buf = [0u8; 256];
            let mut msgs = Vec::new();
            while Instant::now() < end {
                if turning {
                    probe.turn();
                }
                if let Ok(n) = sock.recv(&mut buf) {
                    msgs.push(String::from_utf8_lossy(&buf[..n]).trim().to_string());
                }
            }
            msgs
        };
        let before = collect(300, false);
        let turning = collect(600, true);
        // One look may still see the last turns; after that, silence.
        let _settling = collect(150, false);
        let stalled = collect(600, false);
        shutdown.trigger();
        let after = collect(300, false);
        service.stop();
        unsafe {
            std::env::remove_var("NOTIFY_SOCKET");
            std::env::remove_var("WATCHDOG_USEC");
        }
        assert!(before.is_empty(), "nothing before the loop turns: {before:?}");
        assert_eq!(turning.first().map(String::as_str), Some("READY=1"), "{turning:?}");
        let pings = turning.iter().filter(|m| *m == "WATCHDOG=1").count();
        assert!(pings >= 4, "pings every 50 ms while turning: {turning:?}");
        assert!(!stalled.iter().any(|m| m == "WATCHDOG=1"), "no ping once the loop stalls: {stalled:?}");
        assert_eq!(after, ["STOPPING=1"], "{after:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
