//! Wire types. Every body carries the schema version `v`; field names of [`JointStates`] follow ROS
//! `sensor_msgs/JointState`. Units: s, rad, rad/s, N·m, m, kg.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The schema version this build writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// A bus message: serde both ways, a kind name for errors, and a content check run after decoding.
pub trait Message: Serialize + DeserializeOwned {
    /// Name used in errors and counters.
    const KIND: &'static str;
    /// Checks contents (finite numbers, consistent lengths); the message says what is wrong.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

fn finite(name: &str, xs: &[f64]) -> Result<(), String> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(format!("{name}[{i}] is not finite")),
        None => Ok(()),
    }
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
}

impl Message for JointStates {
    const KIND: &'static str = "joint_states";
    fn validate(&self) -> Result<(), String> {
        let n = self.position.len();
        if self.velocity.len() != n || self.effort.len() != n || (!self.name.is_empty() && self.name.len() != n) {
            return Err(format!(
                "lengths differ: name {}, position {n}, velocity {}, effort {}",
                self.name.len(),
                self.velocity.len(),
                self.effort.len()
            ));
        }
        finite("stamp", &[self.stamp])?;
        finite("position", &self.position)?;
        finite("velocity", &self.velocity)?;
        finite("effort", &self.effort)?;
        finite("ee_position", &self.ee_position)
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
}

impl Message for TorqueCmd {
    const KIND: &'static str = "torque_cmd";
    fn validate(&self) -> Result<(), String> {
        finite("effort", &self.effort)
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
    fn validate(&self) -> Result<(), String> {
        finite("position", &self.position)
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
    fn validate(&self) -> Result<(), String> {
        finite("mass_kg", &[self.mass_kg])?;
        finite("offset_m", &self.offset_m)?;
        if self.mass_kg < 0.0 {
            return Err(format!("mass_kg must be ≥ 0, got {}", self.mass_kg));
        }
        Ok(())
    }
}

/// Emergency stop. `engaged: true` latches every node in its safe state until a message with
/// `engaged: false` clears it explicitly.
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
}

/// A node's periodic report (~10 Hz).
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
    /// Controller name (`osc`, `adaptive-loihi`, …); empty for the sim.
    #[serde(default)]
    pub controller: String,
    /// Distance from end effector to target, m (controller only; NaN is sent as null).
    #[serde(default)]
    pub tracking_error_m: Option<f64>,
    /// Current target, m (controller only).
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
    /// Ticks (controller) or physics steps (sim) since start.
    pub ticks: u64,
    /// Real-time deadline misses since start.
    #[serde(default)]
    pub deadline_misses: u64,
    /// Times the sim's watchdog engaged since start.
    #[serde(default)]
    pub watchdog_trips: u64,
    /// Checkpoints written since start.
    #[serde(default)]
    pub checkpoints: u64,
    /// Dropped bodies by reason (`malformed`, `version`, `invalid`, `too_large`, `dimension`, …).
    #[serde(default)]
    pub rejected: BTreeMap<String, u64>,
}

impl Message for Status {
    const KIND: &'static str = "status";
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
    fn validate(&self) -> Result<(), String> {
        for (k, x) in &self.set {
            if !x.is_finite() {
                return Err(format!("parameter `{k}` is not finite"));
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
        }
    }

    #[test]
    fn every_message_round_trips_bit_for_bit() {
        let mut buf = Vec::new();
        let m = js();
        encode_into(&m, &mut buf);
        assert_eq!(decode::<JointStates>(&buf).unwrap(), m);
        let t = TorqueCmd { v: 1, seq: 3, effort: vec![0.1 + 0.2, f64::MIN_POSITIVE, -1e10] };
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
        assert!(matches!(e.reason(), "malformed" | "invalid"), "{e}");
        let e = decode::<JointStates>(
            br#"{"v":1,"stamp":0,"seq":0,"name":[],"position":[1,2],"velocity":[1],"effort":[1,2],"ee_position":[0,0,0]}"#,
        )
        .unwrap_err();
        assert_eq!(e.reason(), "invalid");
        let e = decode::<Payload>(br#"{"v":1,"mass_kg":-1,"offset_m":[0,0,0]}"#).unwrap_err();
        assert_eq!(e.reason(), "invalid");
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
}
