//! A node as a system service, beside its loop and never in it:
//! - systemd's notify protocol when systemd sets `NOTIFY_SOCKET`: `READY=1` once the node's loop turns,
//!   `WATCHDOG=1` only while it keeps turning (a loop stuck in a call, deadlocked or starved stops the pings
//!   and systemd restarts the unit after `WatchdogSec`), `STOPPING=1` when shutdown begins;
//! - `/metrics` (Prometheus text format) and `/healthz` over HTTP when `[service] metrics_listen` is set.
//!
//! Both run on one background thread that reads the node's [`NodeProbe`]; the loop only counts its turns and
//! offers its status.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use sd_notify::NotifyState;

use crate::bus::{NodeState, Status, StatusBody};
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

impl ServiceThread {
    /// Starts the thread for a node reporting to `probe`; `shutdown` is the node's (its trigger sends
    /// `STOPPING=1`).
    pub fn spawn(settings: &ServiceSettings, probe: Arc<NodeProbe>, shutdown: Shutdown) -> anyhow::Result<Self> {
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
        let handle = std::thread::Builder::new().name("service".into()).spawn(move || {
            Watch { probe, shutdown, notify, http, health: Health::new() }.run(&d2);
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
    probe: Arc<NodeProbe>,
    shutdown: Shutdown,
    notify: Notifier,
    http: Option<tiny_http::Server>,
    health: Health,
}

impl Watch {
    fn run(mut self, done: &AtomicBool) {
        let mut ready = false;
        let mut last_ping = Instant::now();
        let mut stopping = false;
        let period = self.notify.watchdog_every.map_or(PERIOD, |w| w.min(PERIOD));
        while !done.load(Ordering::Relaxed) {
            let moved = self.health.observe(self.probe.turns());
            if !ready && moved {
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
                "/metrics" => (200, metrics_text(self.probe.turns(), self.probe.status().as_ref()), PROMETHEUS),
                "/healthz" => {
                    self.health.observe(self.probe.turns());
                    let status = self.probe.status();
                    match healthz(&self.health, status.as_ref()) {
                        Ok(()) => (200, "ok\n".to_string(), TEXT),
                        Err(why) => (503, format!("{why}\n"), TEXT),
                    }
                }
                _ => (404, "try /metrics or /healthz\n".to_string(), TEXT),
            };
            let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], kind.as_bytes()).expect("valid header");
            let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(code).with_header(header));
        }
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

/// The node's figures in Prometheus text exposition format (version 0.0.4).
pub fn metrics_text(turns: u64, status: Option<&Status>) -> String {
    let mut m = Metrics::default();
    m.family("spikearm_loop_turns_total", "counter", "Turns of the node's loop.");
    m.sample("spikearm_loop_turns_total", "", turns as f64);
    let Some(s) = status else { return m.0 };
    let node = format!("node=\"{}\"", escape(&s.node));
    m.family("spikearm_node_state", "gauge", "1 for the node's current state.");
    for st in [NodeState::Waiting, NodeState::Running, NodeState::Holding, NodeState::Estop, NodeState::Stopping] {
        let labels = format!("{node},state=\"{}\"", state_name(st));
        m.sample("spikearm_node_state", &labels, f64::from(u8::from(s.state == st)));
    }
    m.family("spikearm_sim_time_seconds", "gauge", "Sim time of the node's latest state.");
    m.sample("spikearm_sim_time_seconds", &node, s.stamp);
    m.family("spikearm_ticks_total", "counter", "Steps (sim) or control ticks (controller).");
    m.sample("spikearm_ticks_total", &node, s.ticks as f64);
    m.family("spikearm_rejected_total", "counter", "Bodies from the bus refused, by reason.");
    for (reason, n) in &s.rejected {
        m.sample("spikearm_rejected_total", &format!("{node},reason=\"{}\"", escape(reason)), *n as f64);
    }
    m.family("spikearm_clamped_total", "counter", "Values accepted but limited, by kind.");
    for (kind, n) in &s.clamped {
        m.sample("spikearm_clamped_total", &format!("{node},kind=\"{}\"", escape(kind)), *n as f64);
    }
    match &s.body {
        StatusBody::Sim(b) => {
            m.family("spikearm_deadline_misses_total", "counter", "Real-time steps started a whole period late.");
            m.sample("spikearm_deadline_misses_total", &node, b.deadline_misses as f64);
            m.family("spikearm_watchdog_trips_total", "counter", "Times the sim's watchdog took over the arm.");
            m.sample("spikearm_watchdog_trips_total", &node, b.watchdog_trips as f64);
        }
        StatusBody::Controller(c) => {
            if let Some(e) = c.tracking_error_m {
                m.family("spikearm_tracking_error_meters", "gauge", "Distance from end effector to target.");
                m.sample("spikearm_tracking_error_meters", &node, e);
            }
            if let Some(l) = c.learning {
                m.family("spikearm_learning", "gauge", "1 while online learning is on.");
                m.sample("spikearm_learning", &node, f64::from(u8::from(l)));
            }
            if let Some(a) = c.adaptive_effort_norm {
                m.family("spikearm_adaptive_effort_newton_meters", "gauge", "Norm of the adaptive torque.");
                m.sample("spikearm_adaptive_effort_newton_meters", &node, a);
            }
            m.family("spikearm_checkpoints_total", "counter", "Learned-weight checkpoints written.");
            m.sample("spikearm_checkpoints_total", &node, c.checkpoints as f64);
            m.family("spikearm_checkpoint_errors_total", "counter", "Checkpoint writes that failed.");
            m.sample("spikearm_checkpoint_errors_total", &node, c.checkpoint_errors as f64);
        }
    }
    m.0
}

#[derive(Default)]
struct Metrics(String);

impl Metrics {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &str, value: f64) {
        let value = if value.is_finite() { value.to_string() } else { "NaN".to_string() };
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
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
    use crate::bus::{SCHEMA_VERSION, SimStatus};

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
        let text = metrics_text(42, Some(&sim_status()));
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
