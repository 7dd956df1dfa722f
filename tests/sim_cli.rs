//! `spikearm sim run` end to end: trajectories, torque files, payloads, determinism and clear errors.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_spikearm");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn arm(name: &str) -> String {
    format!("{ROOT}/config/arms/{name}.urdf")
}

fn sim(args: &[&str]) -> Output {
    Command::new(BIN).arg("sim").arg("run").args(args).output().expect("spikearm runs")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("trajectory written")).expect("valid JSON")
}

#[test]
fn run_writes_a_trajectory_with_energy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("traj.json");
    let o = sim(&[
        "--arm",
        &arm("ur5e"),
        "--q0",
        "0,-1.57,0,0,0,0",
        "--steps",
        "100",
        "--every",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = read(&out);
    let t = v["t"].as_array().unwrap();
    assert_eq!(t.len(), 11, "initial state plus every 10th of 100 steps");
    assert!((t[10].as_f64().unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(v["q"][0].as_array().unwrap().len(), 6);
    assert!((v["q"][0][1].as_f64().unwrap() + 1.57).abs() < 1e-6);
    assert_eq!(v["ee"][0].as_array().unwrap().len(), 3);
    assert_eq!(v["energy"].as_array().unwrap().len(), 11);
    assert_eq!(v["joint_names"][0], "shoulder_pan_joint");
    assert!(v["payload"].is_null());
}

#[test]
fn const_torque_equal_to_gravity_holds_the_threelink_arm() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hold.json");
    let o = sim(&[
        "--arm",
        &arm("threelink"),
        "--const-torque",
        "25.506,8.3385,1.4715",
        "--steps",
        "200",
        "--every",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = read(&out);
    for q in v["q"][1].as_array().unwrap() {
        assert!(q.as_f64().unwrap().abs() < 1e-3, "{}", v["q"][1]);
    }
}

#[test]
fn torque_file_and_payload_are_used_and_runs_are_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tau.json");
    std::fs::write(&file, r#"{"torques": [[30, 10, 2], [20, 5, 1]], "hold_steps": 50}"#).unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let o = sim(&[
            "--arm",
            &arm("threelink"),
            "--q0",
            "0.1,-0.2,0.3",
            "--dq0",
            "0,0.5,0",
            "--torques",
            file.to_str().unwrap(),
            "--payload-kg",
            "0.5",
            "--payload-offset",
            "0,0,0.02",
            "--steps",
            "300",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap()
    };
    let a = run("a.json");
    let b = run("b.json");
    assert_eq!(a, b, "same inputs, same bytes");
    let v: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(v["payload"]["mass_kg"], 0.5);
    assert_eq!(v["tau"][1], serde_json::json!([30.0, 10.0, 2.0]));
    assert_eq!(v["tau"][100], serde_json::json!([20.0, 5.0, 1.0]));
    assert_eq!(v["tau"][300], serde_json::json!([20.0, 5.0, 1.0]), "last row held");
}

fn fails_with(args: &[&str], needle: &str) {
    let o = sim(args);
    assert!(!o.status.success(), "should fail: {args:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
}

#[test]
fn bad_arguments_and_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.json");
    let out = out.to_str().unwrap();
    let three = arm("threelink");
    fails_with(&["--arm", "no/such.urdf", "--steps", "1", "--out", out], "cannot read the arm file");
    fails_with(&["--arm", &three, "--q0", "0,0", "--steps", "1", "--out", out], "3 actuated joints");
    fails_with(&["--arm", &three, "--q0", "0,0,9", "--steps", "1", "--out", out], "outside its limits");
    fails_with(&["--arm", &three, "--const-torque", "1,nan,0", "--steps", "1", "--out", out], "not a finite");
    fails_with(&["--arm", &three, "--steps", "1", "--dt=-1", "--out", out], "dt must be");
    fails_with(&["--arm", &three, "--steps", "1", "--payload-kg=-2", "--out", out], "invalid payload");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"torque\": 3}").unwrap();
    fails_with(
        &["--arm", &three, "--torques", bad.to_str().unwrap(), "--steps", "1", "--out", out],
        "is not a torque file",
    );
    std::fs::write(&bad, "[[1, 2]]").unwrap();
    fails_with(
        &["--arm", &three, "--torques", bad.to_str().unwrap(), "--steps", "1", "--out", out],
        "row 0 has 2 values",
    );
    let not_urdf = dir.path().join("arm.urdf");
    std::fs::write(&not_urdf, "<robot name=\"x\"><link name=\"a\"/></robot>").unwrap();
    fails_with(&["--arm", not_urdf.to_str().unwrap(), "--steps", "1", "--out", out], "cannot build the arm");
    fails_with(&["--arm", &three, "--steps", "1", "--out", "/no/such/dir/x.json"], "cannot create the output file");
}
