//! The compact form of the high-rate bus kinds in a recording: `joint_states` and `torque_cmd`, ~1,000
//! messages/s each, are stored as CDR (the encoding of ROS 2 messages) with a `ros2msg` schema that names
//! every field of the bus body, instead of the JSON that crosses the bus.
//!
//! Why: a float printed in JSON is ~18 digits that compress poorly; the same value as 4 or 8 binary bytes
//! is what a recording of 1-kHz states should cost (BENCHMARKS.md, "Recording size"). Foxglove decodes CDR
//! with a `ros2msg` schema of any type name, so its plots and message paths work on these channels as on
//! the JSON ones, and `rosbags` (Python) reads them from the schema text in the file.
//!
//! What is kept: every field of the bus body. The floats of the arrays are stored as `float32` by default
//! ([`RecordedFloats::F32`]: 7 significant digits, 0.2 µrad on a joint angle of 3 rad, 0.1 µN·m on 1 N·m),
//! or bit for bit as `float64` ([`RecordedFloats::F64`]); `stamp` (sim time) is always `float64` and `seq` a
//! `uint64`. [`CompactKind::decode_to_json`] turns a stored message back into the bus body, so `spikearm
//! replay` publishes JSON as the nodes did: with `F64` the very bytes the node sent, with `F32` the same
//! body with each array value rounded to the nearest `f32`.
//!
//! A body that the compact form would not give back exactly (a field this build does not know, a
//! hand-written body spaced differently, anything that does not parse) is recorded as JSON on a channel of
//! its own with the same topic, so nothing is lost or altered beyond the documented rounding.

use super::messages::{JointStates, TorqueCmd};
use super::ros2::{CdrError, CdrReader, CdrWriter, decode_with, encode_with};

/// How the array floats of the compact kinds are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordedFloats {
    /// `float32`: half the bytes, ~7 significant digits (relative rounding ≤ 6e-8). The default.
    #[default]
    F32,
    /// `float64`: every bit the node sent; replay gives back the exact bodies.
    F64,
}

impl RecordedFloats {
    fn ros_type(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F64 => "float64",
        }
    }

    fn write_seq(self, w: &mut CdrWriter<'_>, xs: &[f64]) {
        match self {
            Self::F32 => w.f32_seq(xs),
            Self::F64 => w.f64_seq(xs),
        }
    }

    fn read_seq(self, r: &mut CdrReader<'_>) -> Result<Vec<f64>, CdrError> {
        match self {
            Self::F32 => r.f32_seq(),
            Self::F64 => r.f64_seq(),
        }
    }

    fn write_one(self, w: &mut CdrWriter<'_>, x: f64) {
        match self {
            Self::F32 => w.f32(x as f32),
            Self::F64 => w.f64(x),
        }
    }

    fn read_one(self, r: &mut CdrReader<'_>) -> Result<f64, CdrError> {
        match self {
            Self::F32 => r.f32().map(f64::from),
            Self::F64 => r.f64(),
        }
    }
}

/// Schema name of the compact `joint_states` (a ROS 2 message type name, as Foxglove and rosbags expect).
pub const JOINT_STATES_TYPE: &str = "spikearm_msgs/msg/JointStates";
/// Schema name of the compact `torque_cmd`.
pub const TORQUE_CMD_TYPE: &str = "spikearm_msgs/msg/TorqueCmd";

/// A bus kind stored in compact form, with its float width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactKind {
    /// `joint_states` as [`JOINT_STATES_TYPE`].
    JointStates(RecordedFloats),
    /// `torque_cmd` as [`TORQUE_CMD_TYPE`].
    TorqueCmd(RecordedFloats),
}

/// What [`CompactKind::encode_json`] read of a body that the recorder's derived channels use too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoded {
    /// A joint state: its sim time, s, and end-effector position in the base frame, m.
    State { stamp: f64, ee_position: [f64; 3] },
    /// A torque command (nothing derived from it).
    Command,
}

impl CompactKind {
    /// The compact form of a bus message kind (`joint_states`, `torque_cmd`), if it has one.
    pub fn of_kind(kind: &str, floats: RecordedFloats) -> Option<Self> {
        match kind {
            "joint_states" => Some(Self::JointStates(floats)),
            "torque_cmd" => Some(Self::TorqueCmd(floats)),
            _ => None,
        }
    }

    /// The compact form a recorded channel's schema (`ros2msg` name and text) describes, if it is one of
    /// this build's.
    pub fn from_schema(name: &str, text: &[u8]) -> Option<Self> {
        [RecordedFloats::F32, RecordedFloats::F64].into_iter().find_map(|floats| {
            let kind = match name {
                JOINT_STATES_TYPE => Self::JointStates(floats),
                TORQUE_CMD_TYPE => Self::TorqueCmd(floats),
                _ => return None,
            };
            (kind.schema_text().as_bytes() == text).then_some(kind)
        })
    }

    /// Schema name (a ROS 2 type name).
    pub fn schema_name(self) -> &'static str {
        match self {
            Self::JointStates(_) => JOINT_STATES_TYPE,
            Self::TorqueCmd(_) => TORQUE_CMD_TYPE,
        }
    }

    /// The `ros2msg` schema text: the message definition, one field a line, with units.
    pub fn schema_text(self) -> String {
        match self {
            Self::JointStates(f) => {
                let t = f.ros_type();
                format!(
                    "# spikearm joint_states (JSON on the bus, CDR in recordings): the arm's measured state, sent by\n\
                     # the sim every physics step. Field names as sensor_msgs/JointState. Units: s, rad, rad/s, N.m, m.\n\
                     uint32 v # schema version of the bus body\n\
                     float64 stamp # simulation time of this state, s\n\
                     uint64 seq # step counter; a torque_cmd names the seq it answers\n\
                     string[] name # joint names, URDF order\n\
                     {t}[] position # joint angles, rad\n\
                     {t}[] velocity # joint velocities, rad/s\n\
                     {t}[] effort # torques applied during the step that led here, N.m\n\
                     {t}[3] ee_position # end-effector position in the base frame, m\n\
                     {t}[] payload_effort # torque the payload demanded at each joint (sim's model), N.m; empty without\n"
                )
            }
            Self::TorqueCmd(f) => {
                let t = f.ros_type();
                format!(
                    "# spikearm torque_cmd (JSON on the bus, CDR in recordings): joint torques from the controller,\n\
                     # answering one joint_states. Units: N.m.\n\
                     uint32 v # schema version of the bus body\n\
                     uint64 seq # seq of the joint state this command answers\n\
                     {t}[] effort # joint torques, N.m, URDF order\n\
                     {t}[] adaptive # the adaptive term's share of the torque, N.m; empty without one\n"
                )
            }
        }
    }

    /// Encodes a JSON bus body of this kind into `out` (CDR, header included) when the compact form gives it
    /// back exactly (up to the float width); `None` leaves it to be recorded as JSON. Without `detail` the
    /// informational torques (`payload_effort`, `adaptive`) are written empty, by choice of the recorder
    /// ([`super::recorder::RecordingParams::detail_every`]). `scratch` is reused. Returns what the recorder's
    /// derived channels need of the body, so that it is not parsed twice.
    pub fn encode_json(self, body: &[u8], detail: bool, scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> Option<Encoded> {
        match self {
            Self::JointStates(f) => {
                let js: JointStates = parse_exact(body, scratch)?;
                encode_with(out, |w| {
                    w.u32(js.v);
                    w.f64(js.stamp);
                    w.u64(js.seq);
                    w.string_seq(&js.name);
                    f.write_seq(w, &js.position);
                    f.write_seq(w, &js.velocity);
                    f.write_seq(w, &js.effort);
                    for &x in &js.ee_position {
                        f.write_one(w, x);
                    }
                    f.write_seq(w, if detail { &js.payload_effort } else { &[] });
                });
                Some(Encoded::State { stamp: js.stamp, ee_position: js.ee_position })
            }
            Self::TorqueCmd(f) => {
                let tc: TorqueCmd = parse_exact(body, scratch)?;
                encode_with(out, |w| {
                    w.u32(tc.v);
                    w.u64(tc.seq);
                    f.write_seq(w, &tc.effort);
                    f.write_seq(w, if detail { &tc.adaptive } else { &[] });
                });
                Some(Encoded::Command)
            }
        }
    }

    /// The JSON bus body of a stored message.
    pub fn decode_to_json(self, cdr: &[u8]) -> Result<Vec<u8>, CdrError> {
        Ok(match self {
            Self::JointStates(f) => serde_json::to_vec(&decode_with(cdr, |r| {
                Ok(JointStates {
                    v: r.u32()?,
                    stamp: r.f64()?,
                    seq: r.u64()?,
                    name: r.string_seq()?,
                    position: f.read_seq(r)?,
                    velocity: f.read_seq(r)?,
                    effort: f.read_seq(r)?,
                    ee_position: [f.read_one(r)?, f.read_one(r)?, f.read_one(r)?],
                    payload_effort: f.read_seq(r)?,
                })
            })?),
            Self::TorqueCmd(f) => serde_json::to_vec(&decode_with(cdr, |r| {
                Ok(TorqueCmd { v: r.u32()?, seq: r.u64()?, effort: f.read_seq(r)?, adaptive: f.read_seq(r)? })
            })?),
        }
        .expect("wire types serialise infallibly"))
    }
}

/// `body` parsed as `M` if serialising it again gives the same bytes (so no field is unknown to this build and
/// the body is as the nodes write it).
fn parse_exact<M: serde::Serialize + serde::de::DeserializeOwned>(body: &[u8], scratch: &mut Vec<u8>) -> Option<M> {
    let msg: M = serde_json::from_slice(body).ok()?;
    scratch.clear();
    serde_json::to_writer(&mut *scratch, &msg).ok()?;
    (scratch.as_slice() == body).then_some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> JointStates {
        JointStates {
            v: 1,
            stamp: 17.001,
            seq: 17_001,
            name: vec!["a".into(), "b".into()],
            position: vec![-1.1942957622211399, 1.5200882476585127],
            velocity: vec![-0.000560220233030312, 1e-300],
            effort: vec![-36.70489989553521, 4.0194218398063755e-6],
            ee_position: [-0.5087976861412188, -0.133379, 0.25],
            payload_effort: vec![0.0, -19.62000000000001],
        }
    }

    #[test]
    fn f64_gives_back_the_exact_bodies() {
        let (mut scratch, mut cdr) = (Vec::new(), Vec::new());
        let js = serde_json::to_vec(&state()).unwrap();
        let kind = CompactKind::JointStates(RecordedFloats::F64);
        kind.encode_json(&js, true, &mut scratch, &mut cdr).unwrap();
        assert!(cdr.len() * 5 < js.len() * 3, "{} B of CDR for {} B of JSON", cdr.len(), js.len());
        assert_eq!(kind.decode_to_json(&cdr).unwrap(), js);
        let kind = CompactKind::TorqueCmd(RecordedFloats::F64);
        for adaptive in [vec![], vec![0.5, 1e-9, -3.25]] {
            let tc = TorqueCmd { v: 1, seq: u64::MAX, effort: vec![0.1, -2e-7, 150.0], adaptive };
            let tc = serde_json::to_vec(&tc).unwrap();
            kind.encode_json(&tc, true, &mut scratch, &mut cdr).unwrap();
            assert_eq!(kind.decode_to_json(&cdr).unwrap(), tc);
        }
        // Without a payload the field is left out of the body, and comes back left out.
        let kind = CompactKind::JointStates(RecordedFloats::F64);
        let bare = serde_json::to_vec(&JointStates { payload_effort: vec![], ..state() }).unwrap();
        assert!(!String::from_utf8_lossy(&bare).contains("payload_effort"));
        kind.encode_json(&bare, true, &mut scratch, &mut cdr).unwrap();
        assert_eq!(kind.decode_to_json(&cdr).unwrap(), bare);
    }

    #[test]
    fn f32_rounds_only_the_array_values() {
        let (mut scratch, mut cdr) = (Vec::new(), Vec::new());
        let kind = CompactKind::JointStates(RecordedFloats::F32);
        kind.encode_json(&serde_json::to_vec(&state()).unwrap(), true, &mut scratch, &mut cdr).unwrap();
        let back: JointStates = serde_json::from_slice(&kind.decode_to_json(&cdr).unwrap()).unwrap();
        let s = state();
        assert_eq!((back.v, back.stamp, back.seq, &back.name), (s.v, s.stamp, s.seq, &s.name));
        let rounded = |xs: &[f64]| xs.iter().map(|&x| f64::from(x as f32)).collect::<Vec<_>>();
        assert_eq!(back.position, rounded(&s.position));
        assert_eq!(back.velocity, rounded(&s.velocity));
        assert_eq!(back.effort, rounded(&s.effort));
        assert_eq!(back.ee_position.to_vec(), rounded(&s.ee_position));
        assert_eq!(back.payload_effort, rounded(&s.payload_effort));
        for (b, x) in back.position.iter().zip(&s.position) {
            assert!((b - x).abs() <= 6e-8 * x.abs(), "{b} vs {x}");
        }
    }

    #[test]
    fn without_detail_the_informational_torques_are_left_out() {
        let kind = CompactKind::JointStates(RecordedFloats::F64);
        let (mut scratch, mut cdr) = (Vec::new(), Vec::new());
        let s = state();
        let encoded = kind.encode_json(&serde_json::to_vec(&s).unwrap(), false, &mut scratch, &mut cdr);
        assert_eq!(encoded, Some(Encoded::State { stamp: s.stamp, ee_position: s.ee_position }));
        let back: JointStates = serde_json::from_slice(&kind.decode_to_json(&cdr).unwrap()).unwrap();
        assert_eq!(back, JointStates { payload_effort: vec![], ..state() });
    }

    #[test]
    fn bodies_the_compact_form_would_alter_are_left_as_json() {
        let (mut scratch, mut cdr) = (Vec::new(), Vec::new());
        let kind = CompactKind::TorqueCmd(RecordedFloats::F64);
        for body in [
            &br#"{"v":1,"seq":3,"effort":[1.0],"extra":true}"#[..],
            br#"{"v":1, "seq":3, "effort":[1.0]}"#,
            br#"{"v":1,"seq":3}"#,
            b"not json",
        ] {
            assert!(
                kind.encode_json(body, true, &mut scratch, &mut cdr).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(kind.encode_json(br#"{"v":1,"seq":3,"effort":[1.0]}"#, true, &mut scratch, &mut cdr).is_some());
    }

    #[test]
    fn schemas_are_recognised_by_name_and_text() {
        for floats in [RecordedFloats::F32, RecordedFloats::F64] {
            for kind in ["joint_states", "torque_cmd"] {
                let k = CompactKind::of_kind(kind, floats).unwrap();
                assert_eq!(CompactKind::from_schema(k.schema_name(), k.schema_text().as_bytes()), Some(k));
            }
        }
        let js = CompactKind::JointStates(RecordedFloats::F32);
        assert_eq!(CompactKind::from_schema(TORQUE_CMD_TYPE, js.schema_text().as_bytes()), None);
        assert_eq!(CompactKind::from_schema(JOINT_STATES_TYPE, b"float64 x\n"), None);
        assert_eq!(CompactKind::of_kind("status", RecordedFloats::F32), None);
    }

    #[test]
    fn truncated_messages_are_refused() {
        let (mut scratch, mut cdr) = (Vec::new(), Vec::new());
        let kind = CompactKind::JointStates(RecordedFloats::F32);
        kind.encode_json(&serde_json::to_vec(&state()).unwrap(), true, &mut scratch, &mut cdr).unwrap();
        for n in [0, 3, 4, 20, cdr.len() - 4] {
            assert!(kind.decode_to_json(&cdr[..n]).is_err(), "{n} bytes accepted");
        }
    }
}
