//! Bus recording and replay: a launched run's traffic lands in an MCAP file holding every control message of
//! the run, decodable, in order; the file has zstd-compressed chunks, `joint_states` and `torque_cmd` as CDR
//! with a ros2msg schema, a JSON Schema for every other channel and the derived Foxglove channels, as
//! independent readers (the MCAP project's Python `mcap` package and `rosbags`' CDR deserializer, through
//! scripts/check_recording.py) see it; `spikearm replay` publishes it again onto a fresh bus over real zenoh
//! TCP, and reads uncompressed files of earlier builds too; the report's plots exist as SVG and valid PNG,
//! including the spike-rate plot.
//!
//! Without python3 or its `mcap`/`jsonschema`/`rosbags` modules the independent-reader test says "skipped: …" and
//! passes, unless `CI=true` or `SPIKEARM_REQUIRE_PYTHON=1` (set by `.ci/run`), where that is a failure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use spikearm::bus::{
    Bus, BusConfig, JointStates, ReplayOptions, Status, TorqueCmd, decode, recorded_bus_messages, replay_mcap,
};
use spikearm::launch::{ScenarioResult, ScenarioSpec, recording_file_name, run_scenario, write_report};
use spikearm::node::Shutdown;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

/// Two seconds of the adaptive controller (100 neurons) on the 3-link arm, lockstep, a payload at 1 s; two
/// whole laps of 4 targets (0.8 s each) from 0.2 s, the windows spanning them.
const SCENARIO: &str = r#"
name = "recording"
arm = "threelink"
urdf = "config/arms/threelink.urdf"
timing = "lockstep"
duration_s = 2.0
initial_q = [1.0, -1.4, -0.6]
record_every = 10
controllers = ["adaptive"]

[controller]
neurons = 100
seed = 3

[circle]
start_s = 0.2
reach_s = 0.2
targets = 4
radius_m = 0.05

[[events]]
t = 1.0
payload_kg = 1.0

[[windows]]
name = "before"
from_s = 0.2
to_s = 1.0

[[windows]]
name = "second_lap"
from_s = 1.0
to_s = 1.8
"#;

struct Run {
    _dir: tempfile::TempDir,
    report: PathBuf,
    result: ScenarioResult,
}

/// The scenario, run once for all tests of this file, its report written.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let spec = ScenarioSpec::from_toml(SCENARIO).unwrap();
        let urdf = std::fs::read_to_string(format!("{root}/{}", spec.urdf)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report");
        let arm = spikearm::arm::Arm::from_urdf(urdf).unwrap();
        let result = run_scenario(&spec, arm, &Shutdown::new(), false, Some(&report)).unwrap();
        write_report(&report, &result).unwrap();
        Run { _dir: dir, report, result }
    })
}

fn recording(r: &Run) -> Vec<u8> {
    std::fs::read(r.report.join(recording_file_name(&r.result.runs[0].controller))).unwrap()
}

/// `(topic, body)` of every message, in file order: the bus messages as their JSON bodies (the CDR of the
/// compact kinds decoded), the derived channels as written.
fn messages(mcap_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut bus = recorded_bus_messages(mcap_bytes).unwrap().into_iter();
    mcap::MessageStream::new(mcap_bytes)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            let compact = ["joint_states", "torque_cmd"].iter().any(|k| m.channel.topic.ends_with(k));
            assert_eq!(m.channel.message_encoding, if compact { "cdr" } else { "json" }, "{}", m.channel.topic);
            if m.channel.topic.starts_with("spikearm/") {
                bus.next().unwrap()
            } else {
                (m.channel.topic.clone(), m.data.into_owned())
            }
        })
        .collect()
}

/// `(topic, body)` of every bus message (the derived `viz/…` channels left out), in file order.
fn bus_messages(mcap_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    recorded_bus_messages(mcap_bytes).unwrap()
}

#[test]
fn the_recording_holds_every_control_message_of_the_run_in_order() {
    let r = run();
    let run = &r.result.runs[0];
    assert!(run.sim.steps >= 1900, "the run took {} steps", run.sim.steps);
    let msgs = messages(&recording(r));
    let mut per_topic: BTreeMap<&str, u64> = BTreeMap::new();
    for (t, _) in &msgs {
        *per_topic.entry(t.as_str()).or_default() += 1;
    }

    // Every state the sim published, in order: seq 0 (the start) to `steps`, each once or, when the lockstep
    // sim re-sent it while waiting for its torque, repeated right after itself.
    let states: Vec<JointStates> =
        msgs.iter().filter(|(t, _)| t == "spikearm/threelink/joint_states").map(|(_, b)| decode(b).unwrap()).collect();
    assert!(states.windows(2).all(|w| w[1].seq == w[0].seq || w[1].seq == w[0].seq + 1), "states out of order");
    assert_eq!((states[0].seq, states.last().unwrap().seq), (0, run.sim.steps));
    let resent = states.windows(2).filter(|w| w[1].seq == w[0].seq).count() as u64;
    assert!(resent * 20 < run.sim.steps, "{resent} resends in {} steps", run.sim.steps);
    assert!((states.last().unwrap().stamp - 2.0).abs() < 1e-6);

    // Every torque the controller sent: one per tick, its resends, and at most one parting hold torque.
    let torques: Vec<TorqueCmd> =
        msgs.iter().filter(|(t, _)| t == "spikearm/threelink/torque_cmd").map(|(_, b)| decode(b).unwrap()).collect();
    let sent = run.ctrl.ticks + run.ctrl.resent;
    assert!((sent..=sent + 1).contains(&(torques.len() as u64)), "{} torques for {sent} answers", torques.len());
    assert!(run.ctrl.ticks >= run.sim.steps, "ticks {} < steps {}", run.ctrl.ticks, run.sim.steps);
    for seq in 0..run.sim.steps {
        assert!(torques.iter().any(|c| c.seq == seq), "no torque answering state {seq}");
    }

    // Status reports of both nodes, and the scheduled payload event is in the sim's state effort.
    for node in ["sim", "controller"] {
        let key = format!("spikearm/threelink/status/{node}");
        let st: Vec<Status> = msgs.iter().filter(|(t, _)| *t == key).map(|(_, b)| decode(b).unwrap()).collect();
        assert!(!st.is_empty(), "no status from {node}: {per_topic:?}");
        assert!(st.iter().all(|s| s.node == node));
    }
}

#[test]
fn the_report_has_svg_and_png_plots_with_spike_rates() {
    let r = run();
    let samples = &r.result.runs[0].ctrl.samples;
    let rates: Vec<f64> =
        samples.iter().map(|s| s.spike_rate_hz.expect("the adaptive core reports spike rates")).collect();
    assert!(rates.iter().all(|x| x.is_finite() && *x >= 0.0), "{rates:?}");
    assert!(rates.iter().any(|x| *x > 0.0), "the ensemble never fired");
    for name in ["ee_error", "torques", "adaptive_torque", "spike_rate"] {
        let png = std::fs::read(r.report.join(format!("{name}.png"))).unwrap_or_else(|e| panic!("{name}.png: {e}"));
        assert!(png.len() > 2000, "{name}.png is {} bytes", png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png is not a PNG");
        // The header chunk names the size the plots are drawn at.
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(
            (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap())),
            (900, 420)
        );
        let svg = std::fs::read_to_string(r.report.join(format!("{name}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("sim time, s"), "{name}.svg");
    }
}

#[test]
fn replay_publishes_the_same_joint_states_on_a_fresh_bus_over_tcp() {
    let r = run();
    let recorded: Vec<Vec<u8>> = messages(&recording(r))
        .into_iter()
        .filter(|(t, _)| t == "spikearm/threelink/joint_states")
        .map(|(_, b)| b)
        .collect();
    let file = r.report.join(recording_file_name(&r.result.runs[0].controller));

    let info = Command::new(env!("CARGO_BIN_EXE_spikearm")).args(["replay", "--info"]).arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{text}\n{}", String::from_utf8_lossy(&info.stderr));
    let line =
        text.lines().find(|l| l.starts_with("spikearm/threelink/joint_states")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line.split_whitespace().last().unwrap(), recorded.len().to_string(), "{text}");

    // A fresh session listening on loopback; the replay runs in its own process and connects to it, under
    // another arm name.
    let endpoint = loopback_endpoint();
    let bus = Bus::open("replayed", &BusConfig { zenoh_json5: None, listen: vec![endpoint.clone()], connect: vec![] })
        .unwrap();
    let tap = bus.tap("spikearm/replayed/joint_states", 1 << 16).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spikearm"))
        .args(["replay", "--speed", "0", "--arm", "replayed", "--wait-s", "10", "--connect", &endpoint])
        .arg(&file)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // A clean run warns of nothing (zenoh used to warn that gossip was disabled at every session open).
    assert!(!stderr.contains("WARN") && !stderr.contains("ERROR"), "{stderr}");
    let mut got = Vec::new();
    while let Some(s) = tap.recv_timeout(Duration::from_secs(2)).unwrap() {
        assert_eq!(s.key(), "spikearm/replayed/joint_states");
        got.push(s.body().into_owned());
        if got.len() == recorded.len() {
            break;
        }
    }
    assert_eq!(tap.dropped(), 0);
    assert_eq!(got.len(), recorded.len(), "{stdout}");
    assert!(got == recorded, "the replayed joint_states differ from the recorded ones");
    bus.close().unwrap();
}

#[test]
fn replay_keeps_the_recorded_pace_scaled_by_the_speed() {
    let r = run();
    let bytes = recording(r);
    let recorded = bus_messages(&bytes);
    let derived = messages(&bytes).len() - recorded.len();
    assert!(derived > 0, "no derived channels in the recording");
    // In-process: one session publishes and taps. Half speed: the replay must take twice the recorded span.
    let bus = Bus::open("paced", &BusConfig::default()).unwrap();
    let tap = bus.tap("spikearm/paced/**", 1 << 16).unwrap();
    let opts = ReplayOptions { speed: 0.5, only: vec![], wait_for_subscriber: Duration::from_secs(1) };
    let rep = replay_mcap(&bus, &bytes, &opts, &|| false).unwrap();
    assert!(rep.subscriber_seen);
    assert_eq!((rep.messages, rep.skipped, rep.derived), (recorded.len() as u64, 0, derived as u64));
    assert!(rep.recorded_s > 0.01, "recorded span {} s", rep.recorded_s);
    // Never faster than asked (a slow machine may only make it slower).
    assert!(
        rep.wall_s >= 0.95 * rep.recorded_s / 0.5,
        "{} s of wall time for {} s at half speed",
        rep.wall_s,
        rep.recorded_s
    );
    let mut got = Vec::new();
    while let Some(s) = tap.try_recv() {
        got.push((s.key().replace("spikearm/paced/", "spikearm/threelink/"), s.body().into_owned()));
    }
    assert!(got == recorded, "the replayed sequence differs from the recording");

    // Kind selection: only status reports go out.
    let opts = ReplayOptions { speed: 0.0, only: vec!["status".into()], wait_for_subscriber: Duration::ZERO };
    let rep = replay_mcap(&bus, &bytes, &opts, &|| false).unwrap();
    let statuses = recorded.iter().filter(|(t, _)| t.starts_with("spikearm/threelink/status/")).count() as u64;
    assert_eq!((rep.messages, rep.skipped), (statuses, recorded.len() as u64 - statuses));
    let mut n = 0;
    while let Some(s) = tap.try_recv() {
        assert!(s.key().starts_with("spikearm/paced/status/"), "{}", s.key());
        decode::<Status>(&s.body()).unwrap();
        n += 1;
    }
    assert_eq!(n, statuses);
    bus.close().unwrap();
}

/// Runs scripts/check_recording.py on `file`; its JSON summary, or None when it cannot run here (skipped).
fn independent_check(file: &std::path::Path, extra: &[&str]) -> Option<serde_json::Value> {
    if !python_available("import mcap, zstandard, jsonschema, rosbags.typesys") {
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check_recording.py");
    let out = Command::new("python3").arg(script).arg(file).args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check_recording.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")))
}

#[test]
fn an_independent_reader_finds_compressed_chunks_schemas_and_valid_messages() {
    let r = run();
    let file = r.report.join(recording_file_name(&r.result.runs[0].controller));
    let Some(summary) = independent_check(&file, &[]) else { return };
    // Every chunk zstd (the script also checks each is smaller than what it holds), every message validated.
    let chunks = summary["chunks"].as_u64().unwrap();
    assert!(chunks >= 1 && summary["compression"] == serde_json::json!({ "zstd": chunks }), "{summary:#}");
    let (packed, unpacked) =
        (summary["chunk_compressed_bytes"].as_u64().unwrap(), summary["chunk_uncompressed_bytes"].as_u64().unwrap());
    assert!(packed * 3 < unpacked, "{packed} B of chunks hold {unpacked} B");
    let all = messages(&recording(r));
    assert_eq!(summary["messages"].as_u64(), Some(all.len() as u64));
    assert_eq!(summary["validated"].as_u64(), Some(all.len() as u64));
    // The same topics and counts as the Rust reader sees, each with its schema.
    let mut per_topic: BTreeMap<&str, u64> = BTreeMap::new();
    for (t, _) in &all {
        *per_topic.entry(t.as_str()).or_default() += 1;
    }
    let topics = summary["topics"].as_object().unwrap();
    assert_eq!(topics.len(), per_topic.len(), "{summary:#}");
    for (topic, n) in &per_topic {
        assert_eq!(topics[*topic]["messages"].as_u64(), Some(*n), "{topic}");
    }
    let schema = |topic: &str| topics[topic]["schema"].as_str().unwrap().to_string();
    assert_eq!(schema("spikearm/threelink/joint_states"), "spikearm_msgs/msg/JointStates");
    assert_eq!(schema("spikearm/threelink/torque_cmd"), "spikearm_msgs/msg/TorqueCmd");
    assert_eq!(summary["schemas"]["spikearm_msgs/msg/JointStates"], "ros2msg");
    assert_eq!(schema("spikearm/threelink/status/controller"), "spikearm.status");
    assert_eq!(schema("viz/threelink/ee"), "foxglove.PoseInFrame");
    assert_eq!(schema("viz/threelink/target"), "foxglove.PoseInFrame");
    assert_eq!(schema("viz/threelink/tf"), "foxglove.FrameTransforms");
    // 2 s of sim time at one end-effector pose per 20 ms.
    let ee = topics["viz/threelink/ee"]["messages"].as_u64().unwrap();
    assert!((100..=101).contains(&ee), "{ee} end-effector poses");
}

#[test]
fn the_derived_poses_are_the_recorded_end_effector_and_target() {
    let r = run();
    let all = messages(&recording(r));
    let json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
    let states: Vec<JointStates> =
        all.iter().filter(|(t, _)| t == "spikearm/threelink/joint_states").map(|(_, b)| decode(b).unwrap()).collect();
    let ee: Vec<serde_json::Value> =
        all.iter().filter(|(t, _)| t == "viz/threelink/ee").map(|(_, b)| json(b)).collect();
    // Each pose is the end effector of some recorded state, bit for bit.
    for pose in &ee {
        let p = &pose["pose"]["position"];
        let xyz = [p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap(), p["z"].as_f64().unwrap()];
        // The states hold their floats as f32 (the recording's default), the derived poses the bus's f64.
        let xyz = xyz.map(|x| f64::from(x as f32));
        assert!(states.iter().any(|s| s.ee_position == xyz), "{pose}");
        assert_eq!(pose["frame_id"], "base_link");
    }
    // The target poses follow the controller's reported targets (the circle moves it every 0.5 s).
    let statuses: Vec<Status> = all
        .iter()
        .filter(|(t, _)| t == "spikearm/threelink/status/controller")
        .map(|(_, b)| decode(b).unwrap())
        .collect();
    let reported: Vec<[f64; 3]> = statuses.iter().filter_map(|s| s.controller().and_then(|c| c.target)).collect();
    let targets: Vec<[f64; 3]> = all
        .iter()
        .filter(|(t, _)| t == "viz/threelink/target")
        .map(|(_, b)| {
            let p = json(b)["pose"]["position"].clone();
            [p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap(), p["z"].as_f64().unwrap()]
        })
        .collect();
    assert_eq!(targets, reported);
    assert!(!targets.is_empty(), "no target pose recorded");
    // Statuses go out every 0.1 s of wall time, so how much sim time they span depends on the machine's speed
    // in lockstep; where they span a target change (every 0.2 s of sim time), the derived pose moves too.
    let span = statuses.last().unwrap().stamp - statuses[0].stamp;
    let distinct = targets.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(span < 0.2 || distinct >= 1, "the target never moved over {span} s of statuses");
}

/// Files of earlier builds (uncompressed chunks, a bare schema) still replay and list.
#[test]
fn replay_reads_an_uncompressed_recording_of_an_earlier_build() {
    let r = run();
    let recorded = bus_messages(&recording(r));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.mcap");
    {
        // What the recorder wrote before compression: the same channels, uncompressed chunks.
        let out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let mut w = mcap::WriteOptions::new().compression(None).profile("").create(out).unwrap();
        let mut channels = BTreeMap::new();
        for (i, (topic, body)) in recorded.iter().enumerate() {
            let id = *channels.entry(topic.clone()).or_insert_with(|| {
                let schema = w.add_schema("spikearm.old", "jsonschema", br#"{"type":"object"}"#).unwrap();
                w.add_channel(schema, topic, "json", &BTreeMap::new()).unwrap()
            });
            let t = 1_000_000 * i as u64;
            let header =
                mcap::records::MessageHeader { channel_id: id, sequence: i as u32, log_time: t, publish_time: t };
            w.write_to_known_channel(&header, body).unwrap();
        }
        w.finish().unwrap();
    }
    let bytes = std::fs::read(&file).unwrap();
    let bus = Bus::open("old", &BusConfig::default()).unwrap();
    let tap = bus.tap("spikearm/old/**", 1 << 16).unwrap();
    let opts = ReplayOptions { speed: 0.0, only: vec![], wait_for_subscriber: Duration::from_secs(1) };
    let rep = replay_mcap(&bus, &bytes, &opts, &|| false).unwrap();
    assert_eq!((rep.messages, rep.skipped, rep.derived), (recorded.len() as u64, 0, 0));
    let mut got = Vec::new();
    while let Some(s) = tap.try_recv() {
        got.push((s.key().replace("spikearm/old/", "spikearm/threelink/"), s.body().into_owned()));
    }
    assert!(got == recorded, "the replayed sequence differs from the recording");
    bus.close().unwrap();
    let info = Command::new(env!("CARGO_BIN_EXE_spikearm")).args(["replay", "--info"]).arg(&file).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains(&format!("{} messages", recorded.len())), "{text}");
}

/// rosbags, with the definition the file carries, decodes the joint states the controller answered: each
/// of its logged ticks (sim time, end effector) is in the file, to the f32 the recording keeps; and the
/// replayed JSON (this build's decoder) holds the values rosbags reads.
#[test]
fn rosbags_reads_the_states_the_controller_saw() {
    let r = run();
    let file = r.report.join(recording_file_name(&r.result.runs[0].controller));
    let Some(summary) = independent_check(&file, &["--dump", "spikearm/threelink/joint_states"]) else { return };
    let dumped = summary["dump"]["spikearm/threelink/joint_states"].as_array().unwrap();
    let ours: Vec<JointStates> = bus_messages(&recording(r))
        .iter()
        .filter(|(t, _)| t == "spikearm/threelink/joint_states")
        .map(|(_, b)| decode(b).unwrap())
        .collect();
    assert_eq!(dumped.len(), ours.len());
    let floats =
        |v: &serde_json::Value| -> Vec<f64> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    for (d, js) in dumped.iter().zip(&ours) {
        assert_eq!((d["seq"].as_u64().unwrap(), d["stamp"].as_f64().unwrap()), (js.seq, js.stamp));
        assert_eq!(floats(&d["position"]), js.position);
        assert_eq!(floats(&d["velocity"]), js.velocity);
        assert_eq!(floats(&d["effort"]), js.effort);
        assert_eq!(floats(&d["ee_position"]), js.ee_position.to_vec());
        assert_eq!(d["name"].as_array().unwrap().len(), 3);
    }
    let samples = &r.result.runs[0].ctrl.samples;
    assert!(samples.len() > 100, "{} samples", samples.len());
    for s in samples {
        let d = dumped
            .iter()
            .find(|d| d["stamp"].as_f64() == Some(s.t))
            .unwrap_or_else(|| panic!("no recorded state at t = {}", s.t));
        let ee = floats(&d["ee_position"]);
        for (a, b) in ee.iter().zip(&s.ee) {
            assert!((a - b).abs() <= 1e-7 * b.abs().max(1e-3), "t = {}: {ee:?} vs {:?}", s.t, s.ee);
        }
    }
}

/// The per-lap errors (metrics, the terminal's lap table, the `lap_error` plot) are the controller's every-tick
/// means over the laps of the circle: equal to the windows that span the same laps.
#[test]
fn per_lap_errors_agree_with_the_windows_and_are_plotted() {
    let r = run();
    let m = &r.result.metrics;
    assert_eq!(m.laps, [[0.2, 1.0], [1.0, 1.8]]);
    let run = &m.runs[0];
    assert_eq!(run.lap_error_m, [run.window_error_m["before"], run.window_error_m["second_lap"]]);
    assert!(run.lap_error_m.iter().all(|e| e.is_finite() && *e > 0.0), "{:?}", run.lap_error_m);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.report.join("metrics.json")).unwrap()).unwrap();
    let written: Vec<f64> =
        json["runs"][0]["lap_error_m"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(written, run.lap_error_m);
    let table = spikearm::launch::lap_table(&r.result).unwrap();
    let row = table.lines().find(|l| l.starts_with("adaptive (spiking core)")).unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().rev().skip(1).take(2).collect();
    assert_eq!(cells, [format!("{:.2}", run.lap_error_m[1] * 1e3), format!("{:.2}", run.lap_error_m[0] * 1e3)]);
    assert!(table.contains("no load") && table.contains("1 kg"), "{table}");
    let png = std::fs::read(r.report.join("lap_error.png")).unwrap();
    assert!(png.len() > 2000 && png.starts_with(b"\x89PNG"), "lap_error.png: {} bytes", png.len());
    let svg = std::fs::read_to_string(r.report.join("lap_error.svg")).unwrap();
    assert!(svg.contains("per lap") && svg.contains("+1 kg"), "lap_error.svg");
}
