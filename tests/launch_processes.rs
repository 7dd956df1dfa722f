//! `spikearm launch --processes`: a lockstep scenario run as separate node processes over zenoh TCP (the real
//! binary) records bit-for-bit the trajectories and metrics of the same scenario run in one process (the
//! library), payload event and learning included.

use std::path::Path;
use std::process::{Command, Stdio};

use spikearm::launch::{ScenarioSpec, run_scenario};
use spikearm::node::{ControllerNodeReport, Shutdown, SimNodeReport};

#[path = "common/fleet_check.rs"]
mod fleet_check;
use fleet_check::{assert_same, ctrl_bits, read_json, sim_bits};

/// Short: two controllers, 3 s of sim time each, a target lap and a payload the controller is not told of.
const SCENARIO: &str = r#"
name = "processes-check"
arm = "threelink"
urdf = "config/arms/threelink.urdf"
timing = "lockstep"
duration_s = 3.0
initial_q = [1.0, -1.4, -0.6]
record_every = 7
controllers = ["adaptive", "osc"]

[controller]
neurons = 200
seed = 3
learning_rate = 1e-3

[circle]
start_s = 0.2
reach_s = 0.4
targets = 4
radius_m = 0.1

[[events]]
t = 1.5
payload_kg = 1.0

[[windows]]
name = "before"
from_s = 0.2
to_s = 1.5

[[windows]]
name = "after_payload"
from_s = 1.5
to_s = 3.0
"#;

#[test]
fn processes_record_the_one_process_trajectories_bit_for_bit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = ScenarioSpec::from_toml(SCENARIO).unwrap();
    let urdf = std::fs::read_to_string(root.join(&spec.urdf)).unwrap();
    let one = run_scenario(&spec, spikearm::arm::Arm::from_urdf(urdf).unwrap(), &Shutdown::new(), false, None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenario.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out_dir = dir.path().join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_spikearm"))
        .current_dir(root)
        .args(["launch", file.to_str().unwrap(), "--processes", "--quiet", "--out", out_dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "launch --processes: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("normalised error"), "{stdout}");

    for run in &one.runs {
        let d = out_dir.join("processes").join(&run.controller);
        let sim: SimNodeReport = read_json(&d.join("sim_report.json"));
        let ctrl: ControllerNodeReport = read_json(&d.join("controller_report.json"));
        let name = &run.controller;
        assert_eq!((sim.steps, ctrl.ticks), (run.sim.steps, run.ctrl.ticks), "{name}: steps, ticks");
        assert_eq!(sim.steps, 3000, "{name}: 3 s at 1 ms");
        assert_eq!(ctrl.ticks, sim.steps, "{name}: every state the sim waited on was answered once");
        assert!(run.sim.samples.len() > 400 && run.ctrl.samples.len() > 400, "{name}: samples recorded");
        assert_same(&format!("{name}: sim samples"), &run.sim.samples, &sim.samples, sim_bits);
        assert_same(&format!("{name}: controller samples"), &run.ctrl.samples, &ctrl.samples, ctrl_bits);
        // Not a trivial trajectory: the payload went on and (adaptive) the spiking term learned a torque.
        assert!(sim.samples.iter().any(|s| s.payload_kg == 1.0) && sim.samples[0].payload_kg == 0.0);
        if name.contains("adaptive") {
            assert!(ctrl.samples.iter().any(|s| s.adaptive_norm > 0.0), "{name}: the adaptive term acted");
        }
    }

    let metrics: serde_json::Value = read_json(&out_dir.join("metrics.json"));
    let runs = metrics["runs"].as_array().unwrap();
    assert_eq!(runs.len(), one.metrics.runs.len());
    for (m, r) in one.metrics.runs.iter().zip(runs) {
        assert_eq!(r["controller"], m.controller.as_str());
        assert_eq!(r["ticks"].as_u64(), Some(m.ticks));
        assert_eq!(r["steps"].as_u64(), Some(m.steps));
        assert_eq!(r["mean_error_m"].as_f64().map(f64::to_bits), Some(m.mean_error_m.to_bits()), "{}", m.controller);
        for (w, e) in &m.window_error_m {
            assert!(e.is_finite(), "{w}");
            assert_eq!(r["window_error_m"][w].as_f64().map(f64::to_bits), Some(e.to_bits()), "{} {w}", m.controller);
        }
    }
    let x = one.metrics.normalised_error.expect("a normalised error");
    assert_eq!(metrics["normalised_error"].as_f64().map(f64::to_bits), Some(x.to_bits()));
    for run in &one.runs {
        let d = out_dir.join("processes").join(&run.controller);
        for log in ["sim.log", "controller.log"] {
            let text = std::fs::read_to_string(d.join(log)).unwrap();
            assert!(text.starts_with("$ "), "{log} starts with the node's command line:\n{text}");
            // One settings file per node, nothing else on the command line.
            let line = text.lines().next().unwrap();
            assert!(line.matches("'--config'").count() == 1 && !line.contains("--set"), "{log}: {line}");
        }
    }
}
