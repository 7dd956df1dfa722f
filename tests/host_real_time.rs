//! A hosted fleet in real time: `spikearm launch --processes --hosted 1` runs two arms' sims on one worker
//! thread and their controllers on another, at 1 kHz. In a file of its own so that no other test's processes
//! share the cores while it runs (test files run one after another).

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;
#[path = "common/fleet_check.rs"]
mod fleet_check;
use fleet_check::{read_json, root};

/// Real time, hosted: two 3-link arms' sims on one worker thread and their controllers on another, 1 s at
/// 1 kHz. Each arm is paced by its own clock (a thousand steps, not faster than the wall clock) and answered
/// by its own controller, and reaches its first target. Latency and deadline misses are the benchmark's
/// business (`benches/fleet_scale.rs`): a test machine shared with other tests says nothing reliable about them.
#[test]
fn two_real_time_arms_on_single_threaded_hosts_each_keep_their_rate_and_follow() {
    let scenario = r#"
name = "hosted-real-time"
timing = "real_time"
duration_s = 1.0
controllers = ["osc"]

[circle]
start_s = 0.2
reach_s = 0.8
targets = 4
radius_m = 0.06

[[windows]]
name = "all"
from_s = 0.6
to_s = 1.0

[[arms]]
id = "left"
urdf = "config/arms/threelink.urdf"
initial_q = [1.0, -1.4, -0.6]

[[arms]]
id = "right"
urdf = "config/arms/threelink.urdf"
initial_q = [0.8, -1.2, -0.5]
"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rt.toml");
    std::fs::write(&file, scenario).unwrap();
    let out_dir = dir.path().join("report");
    let out = out_dir.to_str().unwrap();
    let args =
        ["launch", file.to_str().unwrap(), "--processes", "--hosted", "1", "--quiet", "--no-record", "--out", out];
    spikearm_ok(root(), &args, "launch --processes --hosted 1, real time");
    let procs = out_dir.join("processes").join("osc");
    let first = std::fs::read_to_string(procs.join("sim-host.log")).unwrap();
    assert!(first.lines().next().unwrap().contains("'--wait' 'spin'"), "real time spins: {first}");
    for arm in ["left", "right"] {
        let sim: serde_json::Value = read_json(&procs.join(arm).join("sim_report.json"));
        let ctl: serde_json::Value = read_json(&procs.join(arm).join("controller_report.json"));
        let steps = sim["steps"].as_u64().unwrap();
        let ticks = ctl["ticks"].as_u64().unwrap();
        let wall = sim["wall_s"].as_f64().unwrap();
        assert!(steps == 1000 && wall >= 0.99, "{arm}: {steps} steps in {wall:.2} s of wall time");
        assert!(ticks >= 100, "{arm}: {ticks} answers to {steps} states");
        let m: serde_json::Value = read_json(&out_dir.join(arm).join("metrics.json"));
        let err = m["runs"][0]["window_error_m"]["all"].as_f64().unwrap();
        // Held at its start pose it would stay 0.06 m from the circle's first target.
        assert!(err < 0.02, "{arm} reaches its first target: {err} m");
    }
}
