//! `LiveView`: a bus client that serves one arm to Foxglove over WebSocket. Its loop reads as its stages:
//! publish what clients asked for, drain the bus, send the fast channels when due (decimated to `rate_hz`),
//! housekeeping (the arm's visuals and the view's counters). It runs on its own thread and its own zenoh
//! session, never on a control tick; a slow or hostile client costs the nodes nothing but the bus samples the
//! view already receives.

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use foxglove::WebSocketServer;
use foxglove::websocket::Capability;
use serde_json::json;

use super::channels::{Channels, Derived, frame_transform, pose_in_frame};
use super::client_input::{ClientCommand, ClientCounts, ClientInput};
use super::frames::{ArmFrames, LinkTransform};
use super::settings::LiveViewSettings;
use crate::bus::{Bus, ControllerStatus, JointStates, Status, TorqueCmd, decode};
use crate::node::{NodeError, Shutdown};

/// Bus samples queued between the session and the loop (~1 s of a 1 kHz arm's states and torques).
const TAP_QUEUE: usize = 4096;

/// Longest the loop waits for a bus sample before it looks at clients and the clock again.
const POLL: Duration = Duration::from_millis(2);

/// What a live view did, for its log line and tests.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LiveViewReport {
    /// Joint states received from the bus.
    pub states_received: u64,
    /// Joint states sent to clients (after decimation).
    pub states_sent: u64,
    /// Bus bodies the view could not decode.
    pub bus_refused: u64,
    /// Bus samples dropped because the view fell behind.
    pub bus_dropped: u64,
    /// Client messages published on the bus.
    pub published: u64,
    /// Client messages, accepted and refused.
    pub clients: ClientCounts,
}

/// The controller's core accounting at one status report.
#[derive(Debug, Clone, Copy)]
struct Activity {
    stamp: f64,
    steps: u64,
    neuron_updates: u64,
    spikes: u64,
    synaptic_events: u64,
}

/// The newest of each thing the fast channels show.
#[derive(Default)]
struct Latest {
    state: Option<Vec<u8>>,
    state_fresh: bool,
    torque: Option<Vec<u8>>,
    target: Option<[f64; 3]>,
    controller: Option<ControllerStatus>,
    activity: Option<Activity>,
}

/// One arm's live view. Built from its settings, the arm's URDF and a bus session of its own.
pub struct LiveView {
    settings: LiveViewSettings,
    frames: ArmFrames,
    bus: Bus,
    report: LiveViewReport,
    latest: Latest,
    transforms: Vec<LinkTransform>,
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl LiveView {
    /// Checks the settings and reads the arm's links, joints and visuals from `urdf`.
    pub fn new(settings: &LiveViewSettings, urdf: &str, bus: Bus) -> Result<Self, NodeError> {
        if !(settings.rate_hz > 0.0 && settings.rate_hz.is_finite()) {
            return Err(NodeError::Spec(format!("live view: rate_hz must be > 0, got {}", settings.rate_hz)));
        }
        if !(settings.scene_period_s > 0.0 && settings.scene_period_s.is_finite()) {
            return Err(NodeError::Spec(format!(
                "live view: scene_period_s must be > 0, got {}",
                settings.scene_period_s
            )));
        }
        let frames = ArmFrames::from_urdf(urdf).map_err(|e| NodeError::Spec(e.to_string()))?;
        Ok(Self {
            settings: settings.clone(),
            frames,
            bus,
            report: LiveViewReport::default(),
            latest: Latest::default(),
            transforms: Vec::new(),
        })
    }

    /// Serves Foxglove clients until `shutdown`. `on_listening` is told the address the server bound (useful
    /// with port 0).
    pub fn run(
        mut self,
        shutdown: &Shutdown,
        on_listening: impl FnOnce(std::net::SocketAddr),
    ) -> Result<LiveViewReport, NodeError> {
        let s = &self.settings;
        let (host, port) = split_host_port(&s.listen)?;
        let (input, commands, counts) = ClientInput::new(self.bus.keys(), s.allow_publish);
        let ctx = foxglove::Context::new();
        let mut channels = Channels::new(&ctx, self.bus.keys().prefix(), &s.arm);
        let mut server = WebSocketServer::new()
            .name(format!("spikearm {}", s.arm))
            .bind(host, port)
            .context(&ctx)
            .listener(Arc::new(input));
        if s.allow_publish {
            server = server.capabilities([Capability::ClientPublish]).supported_encodings(["json"]);
        }
        let server = server
            .start_blocking()
            .map_err(|e| NodeError::Spec(format!("live view: cannot serve on {}: {e}", s.listen)))?;
        let addr = std::net::SocketAddr::new(host.parse().unwrap_or([127, 0, 0, 1].into()), server.port());
        tracing::info!(
            "live view of `{}`: Foxglove WebSocket on ws://{addr} ({})",
            s.arm,
            if s.allow_publish { "clients may set target, payload, e-stop" } else { "read-only" }
        );
        on_listening(addr);
        let tap = self.bus.tap(&format!("{}/**", self.bus.keys().prefix()), TAP_QUEUE)?;
        let period = Duration::from_secs_f64(1.0 / self.settings.rate_hz);
        let scene_period = Duration::from_secs_f64(self.settings.scene_period_s);
        let (mut next_send, mut next_scene) = (Instant::now(), Instant::now());
        while !shutdown.is_triggered() {
            self.publish_commands(&commands);
            self.drain(&tap, &mut channels)?;
            let now = Instant::now();
            if now >= next_send && self.latest.state_fresh {
                self.send_fast(&mut channels);
                next_send = (next_send + period).max(now);
            }
            if now >= next_scene {
                self.report.bus_dropped = tap.dropped();
                self.housekeeping(&channels, &counts);
                next_scene = now + scene_period;
            }
        }
        server.stop().wait_blocking();
        self.report.clients = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(self.report)
    }

    /// Stage 1: what clients asked for, onto the bus through this view's own session (its identity, so the
    /// router's access control decides as for any client).
    fn publish_commands(&mut self, commands: &Receiver<ClientCommand>) {
        let keys = self.bus.keys().clone();
        while let Ok(cmd) = commands.try_recv() {
            let sent = match &cmd {
                ClientCommand::Target(t) => self.bus.put(&keys.target(), t),
                ClientCommand::Payload(p) => self.bus.put(&keys.payload(), p),
                ClientCommand::Estop(e) => self.bus.put(&keys.estop(), e),
            };
            match sent {
                Ok(()) => {
                    self.report.published += 1;
                    tracing::info!("live view: published a client's {cmd:?}");
                }
                Err(e) => tracing::warn!("live view: could not publish a client's {cmd:?}: {e}"),
            }
        }
    }

    /// Stage 2: the bus. Keeps the newest joint state and torque (sent when due), forwards the slow keys at
    /// once, and follows the target and the controller's accounting.
    fn drain(&mut self, tap: &crate::bus::Tap, channels: &mut Channels) -> Result<(), NodeError> {
        let prefix_len = self.bus.keys().prefix().len() + 1;
        let mut next = tap.recv_timeout(POLL)?;
        while let Some(sample) = next {
            let key = sample.key();
            let leaf = key.get(prefix_len..).unwrap_or_default().to_string();
            let body = sample.body();
            match leaf.as_str() {
                "joint_states" => {
                    self.report.states_received += 1;
                    reuse(&mut self.latest.state, &body);
                    self.latest.state_fresh = true;
                }
                "torque_cmd" => reuse(&mut self.latest.torque, &body),
                "target" | "payload" | "estop" => {
                    if leaf == "target" {
                        match decode::<crate::bus::Target>(&body) {
                            Ok(t) => self.latest.target = Some(t.position),
                            Err(_) => self.report.bus_refused += 1,
                        }
                    }
                    channels.forward(&leaf, &body, unix_ns(sample.received()));
                }
                l if l.starts_with("status/") => {
                    match decode::<Status>(&body) {
                        Ok(st) => self.follow_status(st, channels, unix_ns(sample.received())),
                        Err(_) => self.report.bus_refused += 1,
                    }
                    channels.forward(&leaf, &body, unix_ns(sample.received()));
                }
                _ => {}
            }
            next = tap.try_recv();
        }
        Ok(())
    }

    /// A controller's status: its target (what it actually steers to) and the core's spike rates since its
    /// previous report.
    fn follow_status(&mut self, st: Status, channels: &Channels, log_ns: u64) {
        let Some(c) = st.controller() else { return };
        if let Some(t) = c.target {
            self.latest.target = Some(t);
        }
        if let Some(a) = c.accounting {
            let now = Activity {
                stamp: st.stamp,
                steps: a.steps,
                neuron_updates: a.neuron_updates,
                spikes: a.spikes,
                synaptic_events: a.synaptic_events,
            };
            if let Some(prev) = self.latest.activity
                && now.stamp > prev.stamp
                && now.steps > prev.steps
            {
                let dt = now.stamp - prev.stamp;
                let neurons =
                    now.neuron_updates.saturating_sub(prev.neuron_updates) as f64 / (now.steps - prev.steps) as f64;
                let spikes_per_s = now.spikes.saturating_sub(prev.spikes) as f64 / dt;
                let msg = json!({
                    "stamp": now.stamp,
                    "spikes_per_s": spikes_per_s,
                    "neurons": neurons,
                    "mean_rate_hz": if neurons > 0.0 { spikes_per_s / neurons } else { 0.0 },
                    "synaptic_events_per_s": now.synaptic_events.saturating_sub(prev.synaptic_events) as f64 / dt,
                });
                channels.send(Derived::Spikes, &msg, log_ns);
            }
            self.latest.activity = Some(now);
        }
        self.latest.controller = Some(c.clone());
    }

    /// Stage 3: the newest joint state and torque, the per-link transforms, end effector and target, the
    /// tracking error and the torques.
    fn send_fast(&mut self, channels: &mut Channels) {
        self.latest.state_fresh = false;
        let Some(body) = self.latest.state.as_deref() else { return };
        let log_ns = unix_ns(SystemTime::now());
        let state = match decode::<JointStates>(body) {
            Ok(s) => s,
            Err(_) => {
                self.report.bus_refused += 1;
                return;
            }
        };
        channels.forward("joint_states", body, log_ns);
        self.report.states_sent += 1;

        let root = self.frames.root().to_string();
        self.frames.transforms_into(&state.name, &state.position, &mut self.transforms);
        let mut tf: Vec<_> = self
            .transforms
            .iter()
            .map(|t| frame_transform(log_ns, &t.parent, &t.child, t.translation, t.rotation))
            .collect();
        if let Some(target) = self.latest.target {
            tf.push(frame_transform(log_ns, &root, "target", target, [0.0, 0.0, 0.0, 1.0]));
        }
        channels.send(Derived::Tf, &json!({ "transforms": tf }), log_ns);
        channels.send(Derived::Ee, &pose_in_frame(&root, log_ns, state.ee_position), log_ns);
        if let Some(target) = self.latest.target {
            channels.send(Derived::Target, &pose_in_frame(&root, log_ns, target), log_ns);
            let e: Vec<f64> = (0..3).map(|i| state.ee_position[i] - target[i]).collect();
            let msg = json!({
                "stamp": state.stamp,
                "tracking_error_m": e.iter().map(|x| x * x).sum::<f64>().sqrt(),
                "error_m": e,
                "target_m": target,
            });
            channels.send(Derived::Errors, &msg, log_ns);
        }

        let (mut command, mut adaptive) = (Vec::new(), Vec::new());
        if let Some(t) = self.latest.torque.as_deref() {
            channels.forward("torque_cmd", t, log_ns);
            if let Ok(cmd) = decode::<TorqueCmd>(t) {
                (command, adaptive) = (cmd.effort, cmd.adaptive);
            }
        }
        let adaptive_norm = self.latest.controller.as_ref().and_then(|c| c.adaptive_effort_norm);
        let msg = json!({
            "stamp": state.stamp,
            "name": state.name,
            "command": command,
            "adaptive": adaptive,
            "payload": state.payload_effort,
            "adaptive_norm": adaptive_norm,
        });
        channels.send(Derived::Torques, &msg, log_ns);
    }

    /// Stage 4: the arm's visuals again (for clients that joined since) and the view's counters.
    fn housekeeping(&self, channels: &Channels, counts: &Mutex<ClientCounts>) {
        let log_ns = unix_ns(SystemTime::now());
        channels.send_scene(self.frames.scene(), log_ns);
        let c = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let r = &self.report;
        let msg = json!({
            "client_accepted": c.accepted,
            "client_refused": c.refused,
            "client_last_refusal": c.last_refusal.unwrap_or_default(),
            "bus_refused": r.bus_refused,
            "bus_dropped": r.bus_dropped,
            "states_received": r.states_received,
            "states_sent": r.states_sent,
        });
        channels.send(Derived::Counters, &msg, log_ns);
    }
}

/// Copies `body` into the kept buffer (its capacity is reused).
fn reuse(slot: &mut Option<Vec<u8>>, body: &[u8]) {
    let buf = slot.get_or_insert_with(Vec::new);
    buf.clear();
    buf.extend_from_slice(body);
}

/// `host:port` → (host, port); `[::1]:8765` for IPv6.
fn split_host_port(listen: &str) -> Result<(&str, u16), NodeError> {
    let bad = || NodeError::Spec(format!("live view: listen `{listen}` is not host:port"));
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host, port.parse().map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_split_into_host_and_port() {
        assert_eq!(split_host_port("127.0.0.1:8765").unwrap(), ("127.0.0.1", 8765));
        assert_eq!(split_host_port("[::1]:0").unwrap(), ("::1", 0));
        assert!(split_host_port("localhost").is_err());
        assert!(split_host_port("host:port").is_err());
    }
}
