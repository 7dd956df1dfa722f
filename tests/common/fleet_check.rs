//! The three-arm lockstep fleet the fleet tests run, and the checks that each arm's run equals that arm's
//! scenario run alone in one process, bit for bit. Include with `#[path = "common/fleet_check.rs"] mod
//! fleet_check;` beside `fixtures`.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use spikearm::arm::Arm;
use spikearm::launch::{ScenarioResult, ScenarioSpec, run_scenario};
use spikearm::node::{ControllerNodeReport, ControllerSample, Shutdown, SimNodeReport, SimSample};

/// Short: two controllers, 1.2 s of sim time each, a payload per arm; small ensembles.
pub const SCENARIO: &str = r#"
name = "fleet-check"
timing = "lockstep"
duration_s = 1.2
record_every = 7
controllers = ["adaptive", "osc"]

[controller]
neurons = 100
seed = 3
learning_rate = 1e-3

[circle]
start_s = 0.1
reach_s = 0.3
targets = 4
radius_m = 0.08

[[windows]]
name = "before"
from_s = 0.1
to_s = 0.6

[[windows]]
name = "after_payload"
from_s = 0.6
to_s = 1.2

[[arms]]
id = "ur5e"
urdf = "config/arms/ur5e.urdf"
initial_q = [0.0, -1.2, 1.6, -1.97, -1.57, 0.0]
[[arms.events]]
t = 0.6
payload_kg = 2.0

[[arms]]
id = "threelink"
urdf = "config/arms/threelink.urdf"
initial_q = [1.0, -1.4, -0.6]
[[arms.events]]
t = 0.6
payload_kg = 1.0

[[arms]]
id = "threelink_b"
urdf = "config/arms/threelink.urdf"
initial_q = [0.8, -1.2, -0.4]
[arms.controller]
neurons = 100
seed = 7
learning_rate = 1e-3
[[arms.events]]
t = 0.4
payload_kg = 0.5
"#;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn spec() -> ScenarioSpec {
    ScenarioSpec::from_toml(SCENARIO).unwrap()
}

pub fn arms(spec: &ScenarioSpec) -> Vec<Arc<Arm>> {
    spec.arm_scenarios()
        .iter()
        .map(|a| Arm::from_urdf(std::fs::read_to_string(root().join(&a.urdf)).unwrap()).unwrap())
        .collect()
}

/// Each arm's scenario run alone, in one process.
pub fn alone(spec: &ScenarioSpec, arms: &[Arc<Arm>]) -> Vec<ScenarioResult> {
    spec.arm_scenarios()
        .iter()
        .zip(arms)
        .map(|(a, arm)| run_scenario(a, arm.clone(), &Shutdown::new(), false, None).unwrap())
        .collect()
}

pub fn sim_bits(s: &SimSample) -> Vec<u64> {
    let mut v: Vec<f64> = vec![s.t, s.payload_kg, f64::from(u8::from(s.held))];
    v.extend(&s.q);
    v.extend(&s.dq);
    v.extend(&s.tau);
    v.extend(s.ee);
    v.iter().map(|x| x.to_bits()).collect()
}

pub fn ctrl_bits(s: &ControllerSample) -> Vec<u64> {
    let mut v: Vec<f64> = vec![s.t, s.error_m, s.adaptive_norm];
    v.extend(s.target);
    v.extend(s.ee);
    v.extend(&s.effort);
    v.iter().map(|x| x.to_bits()).collect()
}

/// Equal bit patterns, sample by sample; the message names the first difference.
pub fn assert_same<T: std::fmt::Debug>(what: &str, a: &[T], b: &[T], bits: fn(&T) -> Vec<u64>) {
    assert_eq!(a.len(), b.len(), "{what}: {} samples alone, {} in the fleet", a.len(), b.len());
    if let Some(i) = (0..a.len()).find(|&i| bits(&a[i]) != bits(&b[i])) {
        panic!("{what}: sample {i} differs\n alone:    {:?}\n in fleet: {:?}", a[i], b[i]);
    }
}

/// One arm's run in the fleet against the same run alone: same steps, ticks and samples, bit for bit.
pub fn assert_run_same(
    arm: &str,
    alone: &ScenarioResult,
    run: usize,
    sim: &SimNodeReport,
    ctrl: &ControllerNodeReport,
) {
    let a = &alone.runs[run];
    let what = format!("{arm} / {}", a.controller);
    assert_eq!((sim.steps, ctrl.ticks), (a.sim.steps, a.ctrl.ticks), "{what}: steps, ticks");
    assert_eq!(sim.steps, 1200, "{what}: 1.2 s at 1 ms");
    assert!(a.sim.samples.len() > 150, "{what}: samples recorded");
    assert_same(&format!("{what}: sim samples"), &a.sim.samples, &sim.samples, sim_bits);
    assert_same(&format!("{what}: controller samples"), &a.ctrl.samples, &ctrl.samples, ctrl_bits);
    // Not a trivial trajectory: the arm's own payload went on, and (adaptive) the spiking term acted.
    let kg = alone.spec.payload_times()[0].1;
    assert!(sim.samples.iter().any(|s| s.payload_kg == kg) && sim.samples[0].payload_kg == 0.0, "{what}");
    if a.controller.contains("adaptive") {
        assert!(ctrl.samples.iter().any(|s| s.adaptive_norm > 0.0), "{what}: the adaptive term acted");
    }
}

pub fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> T {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every arm's node reports and metrics of a `launch --processes` run in `out_dir` against its lone runs; the
/// sims were clients of the router.
pub fn assert_processes_same(alone: &[ScenarioResult], out_dir: &Path) {
    let procs = out_dir.join("processes");
    for (arm_alone, id) in alone.iter().zip(["ur5e", "threelink", "threelink_b"]) {
        assert_eq!(arm_alone.spec.arm, id);
        for (k, run) in arm_alone.runs.iter().enumerate() {
            let d = procs.join(&run.controller).join(id);
            let sim: SimNodeReport = read_json(&d.join("sim_report.json"));
            let ctrl: ControllerNodeReport = read_json(&d.join("controller_report.json"));
            assert_run_same(id, arm_alone, k, &sim, &ctrl);
            let settings = std::fs::read_to_string(d.join("sim.toml")).unwrap();
            assert!(settings.contains("client.json5"), "{id}: the sim is a client of the router:\n{settings}");
        }
        // Per-arm report, with its metrics equal to the lone run's.
        let m: serde_json::Value = read_json(&out_dir.join(id).join("metrics.json"));
        for (r, a) in m["runs"].as_array().unwrap().iter().zip(&arm_alone.metrics.runs) {
            assert_eq!(r["mean_error_m"].as_f64().map(f64::to_bits), Some(a.mean_error_m.to_bits()), "{id}");
        }
    }
}
