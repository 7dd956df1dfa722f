//! JSON Schemas of what a recording holds: one per bus message kind (the bodies as they cross the bus), and
//! the Foxglove well-known schemas of the derived visualisation channels (`foxglove.PoseInFrame`,
//! `foxglove.FrameTransforms`), which Foxglove's 3D panel recognises by schema name.
//!
//! Two readers must accept these schemas:
//! - a JSON Schema validator (draft-07, named by `$schema`), which checks the recorded bodies;
//! - Foxglove's JSON-schema parser, which turns `properties` into message fields for plots and autocompletion.
//!   It needs `"type": "object"` with a `properties` map on every object, and exactly one type per field
//!   (`boolean`, `string`, `number`, `integer`, `object`, or `array` with one item type); a list of types
//!   (`["number", "null"]`) makes it refuse the whole schema.
//!
//! The bodies' optional fields are sent as `null` when unset. To keep both readers happy such a field is written
//! `{"$ref": "#/definitions/<nullable type>", "type": <type>}`: in draft-07 a `$ref` replaces its siblings, so
//! the validator accepts the value or `null`, while Foxglove, which ignores `$ref`, sees the one type it plots.

use serde_json::{Value, json};

/// Name of the schema of a bus message kind (`joint_states` → `spikearm.joint_states`).
pub fn kind_schema_name(kind: &str) -> String {
    format!("spikearm.{kind}")
}

/// The JSON Schema of a bus message kind, or `None` for a kind this build does not describe (it is then
/// recorded with [`unknown_kind_schema`]).
pub fn kind_schema(kind: &str) -> Option<Value> {
    let title = kind_schema_name(kind);
    let (description, properties, required): (&str, Value, &[&str]) = match kind {
        "joint_states" => (
            "The arm's measured state, published by the sim every physics step (field names as ROS sensor_msgs/JointState).",
            json!({
                "v": version(),
                "stamp": num("Simulation time of this state, s"),
                "seq": int("Step counter; a torque_cmd names the seq it answers"),
                "name": array("string", "Joint names, URDF order"),
                "position": array("number", "Joint angles, rad"),
                "velocity": array("number", "Joint velocities, rad/s"),
                "effort": array("number", "Torques applied during the step that led here, N·m"),
                "ee_position": xyz("End-effector position in the base frame, m"),
                "payload_effort": array("number", "Torque the payload demanded at each joint during the step, N·m (absent without a payload)"),
            }),
            &["v", "stamp", "seq", "name", "position", "velocity", "effort", "ee_position"],
        ),
        "torque_cmd" => (
            "Joint torques from the controller, answering one joint_states.",
            json!({
                "v": version(),
                "seq": int("seq of the joint state this command answers"),
                "effort": array("number", "Joint torques, N·m, URDF order"),
                "adaptive": array("number", "The adaptive term's share of the torque before the safety guard, N·m (absent without one)"),
            }),
            &["v", "seq", "effort"],
        ),
        "target" => (
            "End-effector position goal.",
            json!({ "v": version(), "position": xyz("Goal in the base frame, m") }),
            &["v", "position"],
        ),
        "payload" => (
            "A mass attached to (mass_kg 0: removed from) the end-effector link of the simulated arm.",
            json!({
                "v": version(),
                "mass_kg": num("Mass, kg; 0 removes the payload"),
                "offset_m": xyz("Position of the mass in the end-effector frame, m"),
            }),
            &["v", "mass_kg", "offset_m"],
        ),
        "estop" => (
            "Emergency stop: engaged latches every node in its safe state until engaged false clears it.",
            json!({
                "v": version(),
                "engaged": { "type": "boolean", "description": "Engage (true) or clear (false)" },
                "source": { "type": "string", "description": "Who or why, for logs" },
            }),
            &["v", "engaged"],
        ),
        "status" => (
            "A node's periodic report (~10 Hz): a common header and the body of its kind of node (sim or controller).",
            json!({
                "v": version(),
                "node": { "type": "string", "description": "Node name (controller, sim, …)" },
                "stamp": num("Latest simulation time the node has seen, s"),
                "state": {
                    "type": "string",
                    "enum": ["waiting", "running", "holding", "estop", "stopping"],
                    "description": "What the node is doing",
                },
                "ticks": int("Ticks (controller) or physics steps (sim) since start"),
                "rejected": counts("Dropped bodies by reason"),
                "clamped": counts("Accepted values that were clamped, by what"),
                "last_refusal": nullable("string", json!({ "type": "string", "description": "The latest refusal or clamp, in words" })),
                "sim": {
                    "type": "object",
                    "description": "A sim node's body",
                    "properties": {
                        "deadline_misses": int("Real-time deadline misses since start"),
                        "watchdog_trips": int("Times the watchdog engaged since start"),
                    },
                },
                "controller": {
                    "type": "object",
                    "description": "A controller node's body",
                    "properties": {
                        "name": { "type": "string", "description": "Controller name (osc, adaptive-loihi, …)" },
                        "tracking_error_m": nullable("number", num("Distance from end effector to target, m")),
                        "target": nullable("array", xyz("Current target in the base frame, m")),
                        "learning": nullable("boolean", json!({ "type": "boolean", "description": "Whether online learning is on (adaptive controllers)" })),
                        "learning_rate": nullable("number", num("Learning rate (adaptive controllers)")),
                        "adaptive_effort_norm": nullable("number", num("Norm of the adaptive torque, N·m (adaptive controllers)")),
                        "accounting": nullable("object", json!({
                            "type": "object",
                            "description": "Core accounting totals since start (adaptive controllers)",
                            "properties": {
                                "steps": int("Core time steps"),
                                "neuron_updates": int("Neuron (compartment) updates"),
                                "spikes": int("Spikes"),
                                "synaptic_events": int("Synaptic events"),
                                "weight_updates": int("Learned-weight updates"),
                                "energy_neuromorphic_j": num("Energy estimate of these operations on a neuromorphic chip, J"),
                                "energy_dense_cpu_j": num("Energy estimate of the same network run densely in float on a CPU, J"),
                            },
                        })),
                        "checkpoints": int("Checkpoints written since start"),
                        "checkpoint_errors": int("Checkpoint writes that failed since start"),
                        "checkpoint_alert": { "type": "string", "description": "The checkpoint problem a human should know of (absent when none)" },
                    },
                },
            }),
            &["v", "node", "stamp", "state", "ticks"],
        ),
        _ => return None,
    };
    Some(json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": title,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": required,
        "definitions": {
            "number_or_null": { "type": ["number", "null"] },
            "boolean_or_null": { "type": ["boolean", "null"] },
            "string_or_null": { "type": ["string", "null"] },
            "array_or_null": {
                "oneOf": [{ "type": "null" }, { "type": "array", "items": { "type": "number" }, "minItems": 3, "maxItems": 3 }],
            },
            "object_or_null": {
                "oneOf": [{ "type": "null" }, {
                    "type": "object",
                    // The accounting's counters are integers, its energy estimates (J) numbers.
                    "patternProperties": { "^energy_.*_j$": { "type": "number", "minimum": 0 } },
                    "additionalProperties": { "type": "integer", "minimum": 0 },
                }],
            },
        },
    }))
}

/// The schema of a kind this build does not know (a newer node's message): any JSON object. Foxglove infers
/// nothing from it but still opens the channel as raw JSON.
pub fn unknown_kind_schema(kind: &str) -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": kind_schema_name(kind),
        "description": "A bus message kind this recorder does not describe; bodies as published.",
        "type": "object",
        "properties": {},
    })
}

/// Schema name of [`pose_in_frame_schema`], as Foxglove expects it.
pub const POSE_IN_FRAME: &str = "foxglove.PoseInFrame";
/// Schema name of [`frame_transforms_schema`], as Foxglove expects it.
pub const FRAME_TRANSFORMS: &str = "foxglove.FrameTransforms";

/// `foxglove.PoseInFrame`: a timestamped pose in a named frame (positions in m).
pub fn pose_in_frame_schema() -> Value {
    json!({
        "title": POSE_IN_FRAME,
        "description": "A timestamped pose in a named frame",
        "type": "object",
        "properties": {
            "timestamp": time("Time of the pose"),
            "frame_id": { "type": "string", "description": "Frame the pose is expressed in" },
            "pose": {
                "title": "foxglove.Pose",
                "type": "object",
                "description": "Position (m) and orientation",
                "properties": { "position": vector3("Position, m"), "orientation": quaternion("Orientation") },
                "required": ["position", "orientation"],
            },
        },
        "required": ["timestamp", "frame_id", "pose"],
    })
}

/// `foxglove.FrameTransforms`: a list of parent → child frame transforms (translations in m).
pub fn frame_transforms_schema() -> Value {
    json!({
        "title": FRAME_TRANSFORMS,
        "description": "Transforms between frames",
        "type": "object",
        "properties": {
            "transforms": {
                "type": "array",
                "description": "The transforms",
                "items": {
                    "title": "foxglove.FrameTransform",
                    "type": "object",
                    "description": "Pose of a child frame in its parent frame (translation applied first, then rotation)",
                    "properties": {
                        "timestamp": time("Time of the transform"),
                        "parent_frame_id": { "type": "string", "description": "Parent frame" },
                        "child_frame_id": { "type": "string", "description": "Child frame" },
                        "translation": vector3("Origin of the child frame in the parent frame, m"),
                        "rotation": quaternion("Orientation of the child frame in the parent frame"),
                    },
                    "required": ["timestamp", "parent_frame_id", "child_frame_id", "translation", "rotation"],
                },
            },
        },
        "required": ["transforms"],
    })
}

fn version() -> Value {
    json!({ "type": "integer", "minimum": 0, "description": "Schema version of the body" })
}

fn num(description: &str) -> Value {
    json!({ "type": "number", "description": description })
}

fn int(description: &str) -> Value {
    json!({ "type": "integer", "minimum": 0, "description": description })
}

fn array(item: &str, description: &str) -> Value {
    json!({ "type": "array", "items": { "type": item }, "description": description })
}

fn xyz(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "number" }, "minItems": 3, "maxItems": 3, "description": description })
}

fn counts(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "properties": {},
        "additionalProperties": { "type": "integer", "minimum": 0 },
    })
}

/// `field` (one type, for Foxglove) that may also be `null` (for a draft-07 validator): see the module doc.
fn nullable(ty: &str, mut field: Value) -> Value {
    field["$ref"] = Value::String(format!("#/definitions/{ty}_or_null"));
    field
}

fn time(description: &str) -> Value {
    json!({
        "type": "object",
        "title": "time",
        "description": description,
        "properties": {
            "sec": { "type": "integer", "minimum": 0 },
            "nsec": { "type": "integer", "minimum": 0, "maximum": 999_999_999 },
        },
        "required": ["sec", "nsec"],
    })
}

fn vector3(description: &str) -> Value {
    json!({
        "title": "foxglove.Vector3",
        "type": "object",
        "description": description,
        "properties": { "x": { "type": "number" }, "y": { "type": "number" }, "z": { "type": "number" } },
        "required": ["x", "y", "z"],
    })
}

fn quaternion(description: &str) -> Value {
    json!({
        "title": "foxglove.Quaternion",
        "type": "object",
        "description": description,
        "properties": {
            "x": { "type": "number" },
            "y": { "type": "number" },
            "z": { "type": "number" },
            "w": { "type": "number" },
        },
        "required": ["x", "y", "z", "w"],
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::messages::*;
    use super::*;

    /// Every message kind with every optional field set, serialised as the nodes do.
    fn samples() -> Vec<(&'static str, Value)> {
        let header = |body| Status {
            v: SCHEMA_VERSION,
            node: "controller".into(),
            stamp: 1.5,
            state: NodeState::Running,
            ticks: 10,
            rejected: BTreeMap::from([("malformed".to_string(), 2)]),
            clamped: BTreeMap::new(),
            last_refusal: Some("target: out_of_range".into()),
            body,
        };
        let controller = header(StatusBody::Controller(ControllerStatus {
            name: "adaptive-loihi".into(),
            tracking_error_m: Some(0.01),
            target: Some([0.1, 0.2, 0.3]),
            learning: Some(true),
            learning_rate: Some(1e-4),
            adaptive_effort_norm: Some(2.0),
            accounting: Some(StatusAccounting::default()),
            checkpoints: 1,
            checkpoint_errors: 0,
            checkpoint_alert: Some("disk full".into()),
        }));
        let sim = header(StatusBody::Sim(SimStatus { deadline_misses: 0, watchdog_trips: 0 }));
        vec![
            (
                "joint_states",
                to(&JointStates {
                    v: 1,
                    stamp: 0.1,
                    seq: 3,
                    name: vec!["a".into()],
                    position: vec![0.0],
                    velocity: vec![0.0],
                    effort: vec![0.0],
                    ee_position: [0.0; 3],
                    payload_effort: vec![2.5],
                }),
            ),
            ("torque_cmd", to(&TorqueCmd { v: 1, seq: 3, effort: vec![1.0], adaptive: vec![0.5] })),
            ("target", to(&Target { v: 1, position: [0.1, 0.2, 0.3] })),
            ("payload", to(&Payload { v: 1, mass_kg: 2.0, offset_m: [0.0; 3] })),
            ("estop", to(&Estop { v: 1, engaged: true, source: "test".into() })),
            ("status", to(&controller)),
            ("status", to(&sim)),
        ]
    }

    fn to<T: serde::Serialize>(msg: &T) -> Value {
        serde_json::to_value(msg).unwrap()
    }

    #[test]
    fn every_field_a_message_sends_is_described_and_every_required_one_is_sent() {
        let samples = samples();
        for (kind, body) in &samples {
            let schema = kind_schema(kind).unwrap_or_else(|| panic!("no schema for {kind}"));
            described(&schema, body, kind);
            for field in schema["required"].as_array().unwrap() {
                assert!(body.get(field.as_str().unwrap()).is_some(), "{kind}: required {field} is not sent");
            }
        }
        // Every described field is sent by some sample of its kind (a status body is one kind of node's).
        for (kind, _) in &samples {
            let schema = kind_schema(kind).unwrap();
            let bodies: Vec<&Value> = samples.iter().filter(|(k, _)| k == kind).map(|(_, b)| b).collect();
            sent(&schema, &bodies, kind);
        }
    }

    /// Every field of `body` is in `schema`'s properties, nested objects included.
    fn described(schema: &Value, body: &Value, path: &str) {
        let props = schema["properties"].as_object().unwrap();
        for (field, value) in body.as_object().unwrap() {
            let s = props.get(field).unwrap_or_else(|| panic!("{path}.{field} is sent but not in the schema"));
            if s["type"] == "object" && value.is_object() && !s["properties"].as_object().unwrap().is_empty() {
                described(s, value, &format!("{path}.{field}"));
            }
        }
    }

    /// Every property of `schema` appears in one of `bodies`, nested objects included.
    fn sent(schema: &Value, bodies: &[&Value], path: &str) {
        for (field, s) in schema["properties"].as_object().unwrap() {
            let values: Vec<&Value> = bodies.iter().filter_map(|b| b.get(field)).collect();
            assert!(!values.is_empty(), "{path}.{field} is described but never sent");
            if s["type"] == "object" && !s["properties"].as_object().unwrap().is_empty() {
                sent(
                    s,
                    &values.iter().copied().filter(|v| v.is_object()).collect::<Vec<_>>(),
                    &format!("{path}.{field}"),
                );
            }
        }
    }

    /// What Foxglove's JSON-schema parser accepts (see the module doc): every object has `properties`, every
    /// field one type, arrays one item type.
    fn foxglove_parsable(schema: &Value, path: &str) {
        assert_eq!(schema["type"], "object", "{path}: not an object");
        let props = schema["properties"].as_object().unwrap_or_else(|| panic!("{path}: no properties"));
        for (name, field) in props {
            let path = format!("{path}.{name}");
            match field["type"].as_str() {
                Some("boolean" | "string" | "number" | "integer") => {}
                Some("object") => foxglove_parsable(field, &path),
                Some("array") => match field["items"]["type"].as_str() {
                    Some("boolean" | "string" | "number" | "integer") => {}
                    Some("object") => foxglove_parsable(&field["items"], &path),
                    t => panic!("{path}: item type {t:?}"),
                },
                t => panic!("{path}: type {t:?}"),
            }
        }
    }

    #[test]
    fn every_schema_is_one_foxglove_can_parse() {
        for (kind, _) in samples() {
            foxglove_parsable(&kind_schema(kind).unwrap(), kind);
        }
        foxglove_parsable(&unknown_kind_schema("new_kind"), "new_kind");
        foxglove_parsable(&pose_in_frame_schema(), POSE_IN_FRAME);
        foxglove_parsable(&frame_transforms_schema(), FRAME_TRANSFORMS);
        assert!(kind_schema("new_kind").is_none());
    }
}
