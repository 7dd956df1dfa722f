//! Wire types. Every body carries the schema version `v`; field names of [`JointStates`] follow ROS
//! `sensor_msgs/JointState`. Units: s, rad, rad/s, N·m, m, kg.
//!
//! Version policy: one [`SCHEMA_VERSION`] for every body. Adding an optional field (with a serde default, so
//! older bodies still parse and older readers ignore it) keeps the version; removing, renaming or changing
//! the meaning of a field bumps it, and a body of another version is refused as `version`.
//!
//! Each type's [`Message::check`] is the stateless part of input validation (finite numbers, consistent
//! lengths, sane magnitudes); what needs the arm (its joint names, reach, payload limit) is checked by the
//! nodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The schema version this build writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// Most joints a body may carry. Bounds what a hostile body can make a node copy or compute on.
pub const MAX_JOINTS: usize = 64;
/// Longest joint name or e-stop source accepted, bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Largest coordinate accepted for positions in the base or end-effector frame, m. Anything larger is not a
/// place an arm can be asked to go (the controller clamps smaller far targets to its reach).
pub const MAX_COORD_M: f64 = 1000.0;
/// Largest payload offset from the end-effector frame, m, per axis.
pub const MAX_PAYLOAD_OFFSET_M: f64 = 10.0;
/// Most parameters one [`ParamsRequest`] may set.
pub const MAX_PARAMS: usize = 64;

/// What is wrong with a well-formed body. Each variant is a counter reason (see [`Violation::reason`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Violation {
    /// A NaN or infinite number (JSON cannot carry them, but a huge exponent such as `1e999` parses to ∞).
    #[error("{0}")]
    NonFinite(String),
    /// Lists of the wrong or inconsistent length.
    #[error("{0}")]
    Dimension(String),
    /// A number or size outside its documented range.
    #[error("{0}")]
    OutOfRange(String),
}

impl Violation {
    /// Counter label: `non_finite`, `dimension` or `out_of_range`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NonFinite(_) => "non_finite",
            Self::Dimension(_) => "dimension",
            Self::OutOfRange(_) => "out_of_range",
        }
    }
}

/// A bus message: serde both ways, a kind name for errors, and a content check run after decoding.
pub trait Message: Serialize + DeserializeOwned {
    /// Name used in errors and counters.
    const KIND: &'static str;
    /// Checks contents (finite numbers, consistent lengths, ranges); says what is wrong.
    fn check(&self) -> Result<(), Violation> {
        Ok(())
    }
    /// [`Message::check`] with the violation as text.
    fn validate(&self) -> Result<(), String> {
        self.check().map_err(|v| v.to_string())
    }
}

fn finite(name: &str, xs: &[f64]) -> Result<(), Violation> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Violation::NonFinite(format!("{name}[{i}] is not finite"))),
        None => Ok(()),
    }
}

fn joints(name: &str, len: usize) -> Result<(), Violation> {
    if len > MAX_JOINTS {
        return Err(Violation::Dimension(format!(
            "{name} has {len} entries, at most {MAX_JOINTS} joints are accepted"
        )));
    }
    Ok(())
}

fn within(name: &str, xs: &[f64], max_abs: f64) -> Result<(), Violation> {
    match xs.iter().position(|x| x.abs() > max_abs) {
        Some(i) => Err(Violation::OutOfRange(format!("{name}[{i}] = {} exceeds ±{max_abs}", xs[i]))),
        None => Ok(()),
    }
}

fn short(name: &str, s: &str) -> Result<(), Violation> {
    if s.len() > MAX_NAME_BYTES {
        return Err(Violation::OutOfRange(format!("{name} is {} bytes long, at most {MAX_NAME_BYTES}", s.len())));
    }
    Ok(())
}

/// The arm's measured state, published by the sim every physics step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JointStates {
    /// Schema version.
    pub v: u32,
    /// Simulation time of this state, s.
    pub stamp: f64,
    /// Step counter; a [`TorqueCmd`] names the `seq` it answers.
    pub seq: u64,
    /// Joint names, URDF order.
    pub name: Vec<String>,
    /// Joint angles, rad.
    pub position: Vec<f64>,
    /// Joint velocities, rad/s.
    pub velocity: Vec<f64>,
    /// Torques applied during the step that led here, N·m.
    pub effort: Vec<f64>,
    /// End-effector position in the base frame, m.
    pub ee_position: [f64; 3],
    /// The torque the payload demanded at each joint during the step that led here, N·m, URDF order: what a
    /// controller must add to carry it (the sim computes it from the arm model at the step's acceleration).
    /// Empty when the arm carries no payload or the publisher does not know it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payload_effort: Vec<f64>,
}

impl Message for JointStates {
    const KIND: &'static str = "joint_states";
    fn check(&self) -> Result<(), Violation> {
        let n = self.position.len();
        joints("position", n)?;
        let optional_len_ok = |len: usize| len == 0 || len == n;
        if self.velocity.len() != n
            || self.effort.len() != n
            || !optional_len_ok(self.name.len())
            || !optional_len_ok(self.payload_effort.len())
        {
            return Err(Violation::Dimension(format!(
                "lengths differ: name {}, position {n}, velocity {}, effort {}, payload_effort {}",
                self.name.len(),
                self.velocity.len(),
                self.effort.len(),
                self.payload_effort.len()
            )));
        }
        for name in &self.name {
            short("joint name", name)?;
        }
        finite("stamp", &[self.stamp])?;
        finite("position", &self.position)?;
        finite("velocity", &self.velocity)?;
        finite("effort", &self.effort)?;
        finite("payload_effort", &self.payload_effort)?;
        finite("ee_position", &self.ee_position)?;
        if self.stamp < 0.0 {
            return Err(Violation::OutOfRange(format!("stamp must be ≥ 0 s, got {}", self.stamp)));
        }
        within("ee_position", &self.ee_position, MAX_COORD_M)
    }
}

/// Joint torques from the controller, answering one [`JointStates`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorqueCmd {
    /// Schema version.
    pub v: u32,
    /// `seq` of the joint state this command answers.
    pub seq: u64,
    /// Joint torques, N·m, URDF order.
    pub effort: Vec<f64>,
    /// The adaptive term's share of the controller's torque before the safety guard, N·m, URDF order (what it
    /// has learned to add for the payload). Empty for controllers without an adaptive term.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adaptive: Vec<f64>,
}

impl Message for TorqueCmd {
    const KIND: &'static str = "torque_cmd";
    /// Magnitudes are not refused here: the sim clamps each torque to its joint's URDF effort limit.
    fn check(&self) -> Result<(), Violation> {
        joints("effort", self.effort.len())?;
        if !self.adaptive.is_empty() && self.adaptive.len() != self.effort.len() {
            return Err(Violation::Dimension(format!(
                "adaptive has {} entries, effort {}",
                self.adaptive.len(),
                self.effort.len()
            )));
        }
        finite("effort", &self.effort)?;
        finite("adaptive", &self.adaptive)
    }
}

/// End-effector position goal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Schema version.
    pub v: u32,
    /// Goal in the base frame, m.
    pub position: [f64; 3],
}

impl Message for Target {
    const KIND: &'static str = "target";
    /// Beyond [`MAX_COORD_M`] is refused; a finite target outside the arm's reach is clamped by the controller.
    fn check(&self) -> Result<(), Violation> {
        finite("position", &self.position)?;
        within("position", &self.position, MAX_COORD_M)
    }
}

/// A mass attached to (or, with `mass_kg` 0, removed from) the end-effector link of the simulated arm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// Schema version.
    pub v: u32,
    /// Mass, kg; 0 removes the payload.
    pub mass_kg: f64,
    /// Position of the mass in the end-effector frame, m.
    pub offset_m: [f64; 3],
}

impl Message for Payload {
    const KIND: &'static str = "payload";
    /// The upper mass limit belongs to the sim (`SimSettings::max_payload_kg`), which refuses heavier ones.
    fn check(&self) -> Result<(), Violation> {
        finite("mass_kg", &[self.mass_kg])?;
        finite("offset_m", &self.offset_m)?;
        if self.mass_kg < 0.0 {
            return Err(Violation::OutOfRange(format!("mass_kg must be ≥ 0, got {}", self.mass_kg)));
        }
        within("offset_m", &self.offset_m, MAX_PAYLOAD_OFFSET_M)
    }
}

/// Emergency stop. `engaged: true` latches every node in its safe state until a message with
/// `engaged: false` clears it explicitly. `engaged` is required (no default), so a clear is always spelled
/// out; nothing else clears: not time, not a repeated engage, not a target or payload. A body on the e-stop
/// key that cannot be decoded (wrong version, malformed, too large) is counted *and* engages the e-stop:
/// a stop request in a form this build does not understand is still a stop request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estop {
    /// Schema version.
    pub v: u32,
    /// Engage (true) or clear (false).
    pub engaged: bool,
    /// Who or why, for logs.
    #[serde(default)]
    pub source: String,
}

impl Message for Estop {
    const KIND: &'static str = "estop";
    fn check(&self) -> Result<(), Violation> {
        short("source", &self.source)
    }
}

/// What a node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Waiting for its peer (no joint state / torque yet).
    Waiting,
    /// Normal operation.
    Running,
    /// Inputs stopped: the controller stopped commanding and learning, or the sim's watchdog holds the arm.
    Holding,
    /// E-stop latched.
    Estop,
    /// Shutting down.
    Stopping,
}

/// Core accounting totals carried in [`Status`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusAccounting {
    /// Core time steps.
    pub steps: u64,
    /// Neuron (compartment) updates.
    pub neuron_updates: u64,
    /// Spikes.
    pub spikes: u64,
    /// Synaptic events.
    pub synaptic_events: u64,
    /// Learned-weight updates.
    pub weight_updates: u64,
    /// Energy these operations take on a neuromorphic chip, J (synaptic events and weight updates at the
    /// per-operation figures of `neuro::EnergyTable`; 0 from senders that predate the field).
    #[serde(default)]
    pub energy_neuromorphic_j: f64,
    /// Energy the same network would take run densely in float on a CPU, J (multiply-accumulates at
    /// `neuro::EnergyTable`'s figure; 0 from senders that predate the field).
    #[serde(default)]
    pub energy_dense_cpu_j: f64,
}

/// A node's periodic report (~10 Hz): a header every node fills, and the body of its kind of node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Schema version.
    pub v: u32,
    /// Node name (`controller`, `sim`, …).
    pub node: String,
    /// Latest simulation time the node has seen, s.
    pub stamp: f64,
    /// Current state.
    pub state: NodeState,
    /// Ticks (controller) or physics steps (sim) since start.
    pub ticks: u64,
    /// Dropped bodies by reason: `too_large`, `malformed`, `version`, `non_finite`, `dimension`,
    /// `out_of_range`, `unknown_arm`, `invalid` (see README, "Hostile input").
    #[serde(default)]
    pub rejected: BTreeMap<String, u64>,
    /// Accepted values that were clamped, by what: `target` (outside the arm's reach), `torque` (above a
    /// joint's effort limit).
    #[serde(default)]
    pub clamped: BTreeMap<String, u64>,
    /// The latest refusal or clamp, in words (kind, reason, detail), if any.
    #[serde(default)]
    pub last_refusal: Option<String>,
    /// What only this kind of node reports: `{"sim": {…}}` or `{"controller": {…}}` beside the header.
    #[serde(flatten)]
    pub body: StatusBody,
}

/// The per-node part of a [`Status`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusBody {
    /// A sim node's.
    Sim(SimStatus),
    /// A controller node's.
    Controller(ControllerStatus),
}

/// What a sim node reports beside the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SimStatus {
    /// Real-time steps that started a whole period late, since start.
    #[serde(default)]
    pub deadline_misses: u64,
    /// Times the watchdog engaged since start.
    #[serde(default)]
    pub watchdog_trips: u64,
}

/// What a controller node reports beside the header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControllerStatus {
    /// The controller's name (`osc`, `adaptive-loihi`, …).
    #[serde(default)]
    pub name: String,
    /// Distance from end effector to target, m (NaN is sent as null).
    #[serde(default)]
    pub tracking_error_m: Option<f64>,
    /// Current target, m.
    #[serde(default)]
    pub target: Option<[f64; 3]>,
    /// Whether online learning is on (adaptive controllers only).
    #[serde(default)]
    pub learning: Option<bool>,
    /// Learning rate (adaptive controllers only).
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// Norm of the adaptive torque, N·m (adaptive controllers only).
    #[serde(default)]
    pub adaptive_effort_norm: Option<f64>,
    /// Core accounting (adaptive controllers only).
    #[serde(default)]
    pub accounting: Option<StatusAccounting>,
    /// Checkpoints written since start.
    #[serde(default)]
    pub checkpoints: u64,
    /// Checkpoint writes that failed since start (the previous checkpoint stays intact; control continues).
    #[serde(default)]
    pub checkpoint_errors: u64,
    /// The checkpoint problem a human should know of, if any: the last write error while writes keep
    /// failing, else a corrupt checkpoint set aside at start (the node then runs on fresh weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_alert: Option<String>,
}

impl Status {
    /// The sim's body, if this is a sim's status.
    pub fn sim(&self) -> Option<&SimStatus> {
        match &self.body {
            StatusBody::Sim(s) => Some(s),
            StatusBody::Controller(_) => None,
        }
    }

    /// The controller's body, if this is a controller's status.
    pub fn controller(&self) -> Option<&ControllerStatus> {
        match &self.body {
            StatusBody::Controller(c) => Some(c),
            StatusBody::Sim(_) => None,
        }
    }
}

impl Message for Status {
    const KIND: &'static str = "status";
    fn check(&self) -> Result<(), Violation> {
        finite("stamp", &[self.stamp])?;
        short("node", &self.node)
    }
}

/// A parameter query: read all (empty `set`) or set some, then read all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamsRequest {
    /// Schema version.
    pub v: u32,
    /// Parameters to set, by name.
    #[serde(default)]
    pub set: BTreeMap<String, f64>,
}

impl Message for ParamsRequest {
    const KIND: &'static str = "params_request";
    fn check(&self) -> Result<(), Violation> {
        if self.set.len() > MAX_PARAMS {
            return Err(Violation::Dimension(format!(
                "{} parameters set at once, at most {MAX_PARAMS}",
                self.set.len()
            )));
        }
        for (k, x) in &self.set {
            short("parameter name", k)?;
            if !x.is_finite() {
                return Err(Violation::NonFinite(format!("parameter `{k}` is not finite")));
            }
        }
        Ok(())
    }
}

/// The answer to a [`ParamsRequest`]: every parameter's value after the request was applied, or why not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamsReply {
    /// Schema version.
    pub v: u32,
    /// Current values.
    pub params: BTreeMap<String, f64>,
    /// Set to the reason when (part of) the request was refused; refused sets change nothing.
    #[serde(default)]
    pub error: Option<String>,
}

impl Message for ParamsReply {
    const KIND: &'static str = "params_reply";
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeError, decode, encode_into};
    use super::*;

    fn js() -> JointStates {
        JointStates {
            v: SCHEMA_VERSION,
            stamp: 0.123,
            seq: 7,
            name: vec!["a".into(), "b".into()],
            position: vec![0.1, -1.0 / 3.0],
            velocity: vec![1e-300, 2.5],
            effort: vec![0.0, -59.76],
            ee_position: [0.1, 0.2, std::f64::consts::PI],
            payload_effort: Vec::new(),
        }
    }

    #[test]
    fn every_message_round_trips_bit_for_bit() {
        let mut buf = Vec::new();
        let m = js();
        encode_into(&m, &mut buf);
        assert_eq!(decode::<JointStates>(&buf).unwrap(), m);
        let t = TorqueCmd { v: 1, seq: 3, effort: vec![0.1 + 0.2, f64::MIN_POSITIVE, -1e10], adaptive: Vec::new() };
        encode_into(&t, &mut buf);
        let back = decode::<TorqueCmd>(&buf).unwrap();
        for (a, b) in back.effort.iter().zip(&t.effort) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        let p = Payload { v: 1, mass_kg: 2.5, offset_m: [0.0, 0.0, 0.05] };
        encode_into(&p, &mut buf);
        assert_eq!(decode::<Payload>(&buf).unwrap(), p);
        let e = Estop { v: 1, engaged: true, source: "test".into() };
        encode_into(&e, &mut buf);
        assert_eq!(decode::<Estop>(&buf).unwrap(), e);
        let tg = Target { v: 1, position: [0.4, 0.1, 0.5] };
        encode_into(&tg, &mut buf);
        assert_eq!(decode::<Target>(&buf).unwrap(), tg);
    }

    #[test]
    fn garbage_is_refused_with_a_reason_not_a_panic() {
        let cases: &[&[u8]] = &[b"", b"{", b"null", b"[1,2]", b"\xff\xfe", b"{\"v\":1}", b"{\"v\":\"1\"}"];
        for c in cases {
            let e = decode::<JointStates>(c).unwrap_err();
            assert_eq!(e.reason(), "malformed", "{c:?}: {e}");
        }
        assert!(matches!(
            decode::<TorqueCmd>(br#"{"v":2,"seq":0,"effort":[]}"#),
            Err(DecodeError::Version { got: 2, want: 1, .. })
        ));
        // JSON has no NaN literal, but a huge exponent overflows to infinity in some parsers: refuse either way.
        let e = decode::<TorqueCmd>(br#"{"v":1,"seq":0,"effort":[1e999]}"#).unwrap_err();
        assert!(matches!(e.reason(), "malformed" | "non_finite"), "{e}");
        let e = decode::<JointStates>(
            br#"{"v":1,"stamp":0,"seq":0,"name":[],"position":[1,2],"velocity":[1],"effort":[1,2],"ee_position":[0,0,0]}"#,
        )
        .unwrap_err();
        assert_eq!(e.reason(), "dimension");
        let e = decode::<Payload>(br#"{"v":1,"mass_kg":-1,"offset_m":[0,0,0]}"#).unwrap_err();
        assert_eq!(e.reason(), "out_of_range");
        let big = vec![b' '; MAX + 1];
        assert_eq!(decode::<Target>(&big).unwrap_err().reason(), "too_large");
    }

    const MAX: usize = super::super::MAX_BODY_BYTES;

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic byte soup, plus every truncation of a valid body.
        let mut buf = Vec::new();
        encode_into(&js(), &mut buf);
        for cut in 0..buf.len() {
            let _ = decode::<JointStates>(&buf[..cut]);
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..2000usize {
            let bytes: Vec<u8> = (0..len % 97)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    const ALPHABET: &[u8] = b"{}[]\",:0123456789.eE-+truefalsnl v\\";
                    ALPHABET[(x % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let _ = decode::<JointStates>(&bytes);
            let _ = decode::<Status>(&bytes);
        }
    }

    #[test]
    fn status_accounting_without_energy_reads_as_zero_and_with_it_round_trips() {
        let old = r#"{"steps":3,"neuron_updates":30,"spikes":2,"synaptic_events":9,"weight_updates":4}"#;
        let a: StatusAccounting = serde_json::from_str(old).unwrap();
        assert_eq!((a.steps, a.energy_neuromorphic_j, a.energy_dense_cpu_j), (3, 0.0, 0.0));
        let b = StatusAccounting { energy_neuromorphic_j: 1.5e-4, energy_dense_cpu_j: 1.75e-4, ..a };
        let json = serde_json::to_string(&b).unwrap();
        assert!(json.contains("\"energy_neuromorphic_j\":0.00015"), "{json}");
        assert_eq!(serde_json::from_str::<StatusAccounting>(&json).unwrap(), b);
    }
}
