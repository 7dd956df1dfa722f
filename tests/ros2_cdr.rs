//! The ROS 2 wire mapping (`spikearm::bus::ros2`) against independent implementations, in one Python call
//! (`tests/python/ros2_golden.py`):
//! - CDR bytes of every message type, from the `rosbags` package, byte for byte both ways (our encoder
//!   against its serializer; our decoder on its little- and big-endian output), with empty arrays, long and
//!   non-ASCII names and extreme doubles;
//! - RIHS01 type hashes of every type for Jazzy, Kilted and Rolling, from `rosbags`;
//! - entity GIDs (XXH3-128 of liveliness tokens) from the `xxhash` package;
//! - the sample attachment from zenoh's own serializer (the `eclipse-zenoh` package).
//!
//! Without python3 or `rosbags` the test says "skipped: …" loudly and passes, unless `CI=true` or
//! `SPIKEARM_REQUIRE_PYTHON=1`, where that (and a missing `xxhash` or `zenoh` module) is a failure.
//! `pip install -r examples/requirements.txt` installs all three.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use spikearm::bus::ros2::{
    Attachment, BoolMsg, Cdr, Distro, Duration, EntityKind, Float64Msg, Float64MultiArray, Header, Inertia, JointState,
    JointTrajectory, JointTrajectoryPoint, MultiArrayDimension, MultiArrayLayout, NodeIdentity, Point, PointStamped,
    Qos, RosMessage, StringMsg, Time, Vector3, decode, encode, entity_gid, messages::ALL_TYPES,
};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::python_required;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ros2_golden.py");

/// Skips (loudly) or, when the Python side is required, fails.
fn skip_or_fail(why: &str) {
    if python_required() {
        panic!("{why} (required under CI=true / SPIKEARM_REQUIRE_PYTHON=1: pip install -r examples/requirements.txt)");
    }
    eprintln!("\n*** skipped: {why}. pip install -r examples/requirements.txt to run the ROS 2 golden checks ***\n");
}

/// Compares our encoding with golden little-endian bytes and decodes golden little- and big-endian bytes.
type GoldenCheck = Box<dyn Fn(&[u8], &[u8]) -> Result<(), String>>;

/// One test message: its ROS type name, JSON value for the Python side, and typed round-trip checks.
struct Case {
    ros_type: &'static str,
    value: Value,
    /// Checks our encoding against the golden bytes and decodes both golden encodings.
    check: GoldenCheck,
}

fn case<M: RosMessage + serde::Serialize + PartialEq + std::fmt::Debug + 'static>(msg: M) -> Case {
    let value = serde_json::to_value(&msg).unwrap();
    let check = move |le: &[u8], be: &[u8]| -> Result<(), String> {
        let ours = encode(&msg);
        if ours != le {
            return Err(format!("encoding differs\n ours:    {}\n rosbags: {}", hex(&ours), hex(le)));
        }
        for (order, bytes) in [("LE", le), ("BE", be)] {
            let back: M = decode(bytes).map_err(|e| format!("decoding rosbags' {order} bytes: {e}"))?;
            // Re-encoding compares doubles bit for bit (PartialEq would take -0.0 for 0.0).
            if back != msg || encode(&back) != le {
                return Err(format!("decoding rosbags' {order} bytes gave {back:?}"));
            }
        }
        Ok(())
    };
    Case { ros_type: M::TYPE.name, value, check: Box::new(check) }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn header(sec: i32, nanosec: u32, frame: &str) -> Header {
    Header { stamp: Time { sec, nanosec }, frame_id: frame.into() }
}

fn cases() -> Vec<Case> {
    let long_name = "joint_with_a_rather_long_name_".repeat(12);
    vec![
        case(Time { sec: -5, nanosec: 999_999_999 }),
        case(Duration { sec: i32::MAX, nanosec: 1 }),
        case(header(0, 0, "")),
        case(header(1_700_000_000, 123, "base_link")),
        case(JointState::default()),
        case(JointState {
            header: header(12, 500_000_000, "world"),
            name: vec!["shoulder".into(), "elbow".into(), "wrist_ä_ü_关节".into()],
            position: vec![0.1, -2.5, std::f64::consts::PI],
            velocity: vec![],
            effort: vec![1e308, -0.0, 5e-324],
        }),
        // Odd string lengths so that each f64 array needs padding after the names.
        case(JointState {
            header: header(1, 2, "a"),
            name: vec![long_name.clone(), "x".into()],
            position: vec![],
            velocity: vec![1.0, 2.0],
            effort: vec![],
        }),
        case(Float64MultiArray::default()),
        case(Float64MultiArray::from_data(vec![0.5, -1.25, 3.0, 1e-300, -123456.789, 0.0])),
        case(Float64MultiArray {
            layout: MultiArrayLayout {
                dim: vec![
                    MultiArrayDimension { label: "joints".into(), size: 2, stride: 6 },
                    MultiArrayDimension { label: "xyzé".into(), size: 3, stride: 3 },
                ],
                data_offset: 1,
            },
            data: vec![9.0; 7],
        }),
        case(PointStamped { header: header(3, 4, "base"), point: Point { x: 0.3, y: -0.2, z: 0.55 } }),
        case(PointStamped { header: header(0, 0, ""), point: Point { x: 0.0, y: 0.0, z: 0.0 } }),
        case(Inertia {
            m: 1.5,
            com: Vector3 { x: 0.0, y: 0.0, z: 0.05 },
            ixx: 1e-3,
            ixy: 0.0,
            ixz: 0.0,
            iyy: 1e-3,
            iyz: 0.0,
            izz: 2e-3,
        }),
        case(BoolMsg { data: true }),
        case(BoolMsg { data: false }),
        case(Float64Msg { data: -9.81 }),
        case(StringMsg { data: String::new() }),
        case(StringMsg { data: format!("<robot name=\"ärm\">{long_name}</robot>") }),
        case(JointTrajectory::default()),
        case(JointTrajectory {
            header: header(0, 0, "base_link"),
            joint_names: vec!["j1".into(), "j2".into(), "j3".into()],
            points: vec![
                JointTrajectoryPoint {
                    positions: vec![0.0, 0.5, 1.0],
                    velocities: vec![],
                    accelerations: vec![],
                    effort: vec![],
                    time_from_start: Duration { sec: 0, nanosec: 0 },
                },
                JointTrajectoryPoint {
                    positions: vec![0.1, 0.6, 1.1],
                    velocities: vec![0.0; 3],
                    accelerations: vec![1.0, 2.0, 3.0],
                    effort: vec![5.0],
                    time_from_start: Duration { sec: 2, nanosec: 500_000_000 },
                },
            ],
        }),
    ]
}

fn tokens() -> Vec<String> {
    let node = NodeIdentity::new(0, "8b20917502ee955ac4476e0266340d5c", 0, "/", "spikearm_sim");
    let long = NodeIdentity::new(42, "1", 7, "/arm1/left", "controller");
    let mut out = vec![node.node_token().unwrap(), long.node_token().unwrap()];
    for ty in ALL_TYPES {
        out.push(
            node.endpoint_token(3, EntityKind::Publisher, "/joint_states", ty, Distro::Jazzy, &Qos::default()).unwrap(),
        );
    }
    out.push(
        long.endpoint_token(
            300,
            EntityKind::Subscription,
            "/arm1/left/effort_controller/commands",
            Float64MultiArray::TYPE,
            Distro::Humble,
            &Qos::sensor_data(),
        )
        .unwrap(),
    );
    out
}

fn attachments() -> Vec<Attachment> {
    vec![
        Attachment { sequence_number: 1, source_timestamp_ns: 1_764_892_800_123_456_789, source_gid: entity_gid("x") },
        Attachment { sequence_number: i64::MAX, source_timestamp_ns: -1, source_gid: [0xff; 16] },
        Attachment { sequence_number: 0, source_timestamp_ns: 0, source_gid: [0; 16] },
    ]
}

#[test]
fn ros2_wire_matches_independent_implementations() {
    let cases = cases();
    let types: Vec<&str> = ALL_TYPES.iter().map(|t| t.name).collect();
    let tokens = tokens();
    let attachments = attachments();
    let request = json!({
        "messages": cases.iter().map(|c| json!({"type": c.ros_type, "value": c.value})).collect::<Vec<_>>(),
        "types": types,
        "tokens": tokens,
        "attachments": attachments.iter().map(|a| json!({
            "sequence_number": a.sequence_number,
            "source_timestamp_ns": a.source_timestamp_ns,
            "gid": hex(&a.source_gid),
        })).collect::<Vec<_>>(),
    });

    let child =
        Command::new("python3").arg(SCRIPT).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return skip_or_fail(&format!("python3 not runnable ({e})")),
    };
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        return skip_or_fail(&format!("python3 cannot import rosbags: {}", stderr.trim()));
    }
    assert!(out.status.success(), "golden script failed: {stderr}");
    let answer: Value = serde_json::from_slice(&out.stdout).expect("golden script answers JSON");

    // CDR, both directions, every case.
    let golden = answer["messages"].as_array().unwrap();
    assert_eq!(golden.len(), cases.len());
    let mut failures = Vec::new();
    for (i, (c, g)) in cases.iter().zip(golden).enumerate() {
        let (le, be) = (unhex(g["le"].as_str().unwrap()), unhex(g["be"].as_str().unwrap()));
        if let Err(e) = (c.check)(&le, &be) {
            failures.push(format!("case {i} ({}): {e}", c.ros_type));
        }
    }
    assert!(failures.is_empty(), "{} CDR mismatches:\n{}", failures.len(), failures.join("\n"));

    // RIHS01 for every type and every distro with hashes.
    for (distro, name) in [(Distro::Jazzy, "jazzy"), (Distro::Kilted, "kilted"), (Distro::Rolling, "rolling")] {
        for ty in ALL_TYPES {
            let theirs = answer["hashes"][name][ty.name].as_str().unwrap();
            assert_eq!(ty.type_hash(distro), theirs, "{name} hash of {}", ty.name);
        }
    }
    assert_eq!(JointState::TYPE.type_hash(Distro::Humble), "TypeHashNotSupported");

    let missing: Vec<&str> = answer["missing"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    if !missing.is_empty() {
        skip_or_fail(&format!("GID and attachment checks need the python modules {missing:?}"));
    }
    if let Some(gids) = answer["gids"].as_array() {
        for (token, g) in tokens.iter().zip(gids) {
            assert_eq!(hex(&entity_gid(token)), g.as_str().unwrap(), "GID of {token}");
        }
    }
    if let Some(theirs) = answer["attachments"].as_array() {
        for (a, t) in attachments.iter().zip(theirs) {
            assert_eq!(hex(&a.encode()), t.as_str().unwrap(), "attachment {a:?}");
            assert_eq!(Attachment::decode(&unhex(t.as_str().unwrap())), Ok(*a));
        }
    }
    eprintln!(
        "ros2 golden: {} CDR cases, {} types x 3 distros, {} GIDs, {} attachments checked",
        cases.len(),
        ALL_TYPES.len(),
        answer["gids"].as_array().map_or(0, Vec::len),
        answer["attachments"].as_array().map_or(0, Vec::len)
    );
}

/// Random bytes and mutated valid messages never panic the decoder of any type (the property test of the
/// decoders; the errors themselves are checked in the unit tests).
mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn all_decoders(bytes: &[u8]) {
        fn one<M: Cdr>(b: &[u8]) {
            let _ = decode::<M>(b);
        }
        one::<Time>(bytes);
        one::<Header>(bytes);
        one::<JointState>(bytes);
        one::<Float64MultiArray>(bytes);
        one::<PointStamped>(bytes);
        one::<Inertia>(bytes);
        one::<BoolMsg>(bytes);
        one::<Float64Msg>(bytes);
        one::<StringMsg>(bytes);
        one::<JointTrajectory>(bytes);
        let _ = Attachment::decode(bytes);
    }

    /// Valid messages that the mutation test corrupts.
    fn seeds() -> Vec<Vec<u8>> {
        vec![
            encode(&JointState {
                header: header(1, 2, "w"),
                name: vec!["a".into(), "bc".into()],
                position: vec![1.0, 2.0],
                velocity: vec![],
                effort: vec![3.0, 4.0],
            }),
            encode(&Float64MultiArray::from_data(vec![1.0, 2.0, 3.0])),
            encode(&PointStamped { header: header(1, 2, "base"), point: Point { x: 1.0, y: 2.0, z: 3.0 } }),
            encode(&JointTrajectory {
                header: header(0, 0, ""),
                joint_names: vec!["j".into()],
                points: vec![JointTrajectoryPoint { positions: vec![1.0], ..Default::default() }],
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(14),
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_bytes(body in proptest::collection::vec(any::<u8>(), 0..256), le in any::<bool>()) {
            let mut bytes = vec![0, u8::from(le), 0, 0];
            bytes.extend(body);
            all_decoders(&bytes);
        }

        #[test]
        fn mutated_messages(
            case in 0usize..4,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
        ) {
            let msgs = seeds();
            let mut bytes = msgs[case].clone();
            for (at, x) in flips {
                let n = bytes.len();
                bytes[4 + at % (n - 4)] ^= x;
            }
            bytes.truncate(4 + cut % (bytes.len() - 3));
            all_decoders(&bytes);
        }
    }
}
