//! Bus recording and replay: a launched run's traffic lands in an MCAP file holding every control message of
//! the run, decodable, in order; `spikearm replay` publishes it again onto a fresh bus over real zenoh TCP;
//! the report's plots exist as SVG and valid PNG, including the spike-rate plot.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use spikearm::bus::{Bus, BusConfig, JointStates, ReplayOptions, Status, TorqueCmd, decode, replay_mcap};
use spikearm::launch::{ScenarioResult, ScenarioSpec, recording_file_name, run_scenario, write_report};
use spikearm::node::Shutdown;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

/// Two seconds of the adaptive controller (100 neurons) on the 3-link arm, lockstep, a payload at 1 s.
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
reach_s = 0.5
targets = 4
radius_m = 0.05

[[events]]
t = 1.0
payload_kg = 1.0

[[windows]]
name = "before"
from_s = 0.2
to_s = 1.0
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

/// `(topic, body)` of every message, in file order.
fn messages(mcap_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    mcap::MessageStream::new(mcap_bytes)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            assert_eq!(m.channel.message_encoding, "json");
            (m.channel.topic.clone(), m.data.into_owned())
        })
        .collect()
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
    let rates: Vec<f64> = samples.iter().map(|s| s.spike_rate_hz.expect("the adaptive core reports spike rates")).collect();
    assert!(rates.iter().all(|x| x.is_finite() && *x >= 0.0), "{rates:?}");
    assert!(rates.iter().any(|x| *x > 0.0), "the ensemble never fired");
    for name in ["ee_error", "torques", "adaptive_torque", "spike_rate"] {
        let png = std::fs::read(r.report.join(format!("{name}.png"))).unwrap_or_else(|e| panic!("{name}.png: {e}"));
        assert!(png.len() > 2000, "{name}.png is {} bytes", png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png is not a PNG");
        // The header chunk names the size the plots are drawn at.
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!((u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap())), (900, 420));
        let svg = std::fs::read_to_string(r.report.join(format!("{name}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("sim time, s"), "{name}.svg");
    }
}

#[test]
fn replay_publishes_the_same_joint_states_on_a_fresh_bus_over_tcp() {
    let r = run();
    let recorded: Vec<Vec<u8>> =
        messages(&recording(r)).into_iter().filter(|(t, _)| t == "spikearm/threelink/joint_states").map(|(_, b)| b).collect();
    let file = r.report.join(recording_file_name(&r.result.runs[0].controller));

    let info = Command::new(env!("CARGO_BIN_EXE_spikearm")).args(["replay", "--info"]).arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{text}\n{}", String::from_utf8_lossy(&info.stderr));
    let line = text.lines().find(|l| l.starts_with("spikearm/threelink/joint_states")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line.split_whitespace().last().unwrap(), recorded.len().to_string(), "{text}");

    // A fresh session listening on loopback; the replay runs in its own process and connects to it, under
    // another arm name.
    let endpoint = loopback_endpoint();
    let bus = Bus::open("replayed", &BusConfig { zenoh_json5: None, listen: vec![endpoint.clone()], connect: vec![] }).unwrap();
    let tap = bus.tap("spikearm/replayed/joint_states", 1 << 16).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spikearm"))
        .args(["replay", "--speed", "0", "--arm", "replayed", "--wait-s", "10", "--connect", &endpoint])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
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
    let recorded = messages(&bytes);
    // In-process: one session publishes and taps. Half speed: the replay must take twice the recorded span.
    let bus = Bus::open("paced", &BusConfig::default()).unwrap();
    let tap = bus.tap("spikearm/paced/**", 1 << 16).unwrap();
    let opts = ReplayOptions { speed: 0.5, only: vec![], wait_for_subscriber: Duration::from_secs(1) };
    let rep = replay_mcap(&bus, &bytes, &opts, &|| false).unwrap();
    assert!(rep.subscriber_seen);
    assert_eq!((rep.messages, rep.skipped), (recorded.len() as u64, 0));
    assert!(rep.recorded_s > 0.01, "recorded span {} s", rep.recorded_s);
    // Never faster than asked (a slow machine may only make it slower).
    assert!(rep.wall_s >= 0.95 * rep.recorded_s / 0.5, "{} s of wall time for {} s at half speed", rep.wall_s, rep.recorded_s);
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
