//! `spikearm neuro learn` end to end: real files, the real binary.

use std::path::Path;
use std::process::Command;

const SPEC: &str = "[ensemble]\nneurons = 100\ndimensions = 1\nseed = 0\n[readout]\ndimensions = 1\nlearning_rate = 1e-3\n\
                    [data]\ninput = [\"x\"]\ntarget = [\"y\"]\n";

fn write_data(dir: &Path, seconds: f64) -> std::path::PathBuf {
    let mut csv = String::from("t,x,y\n");
    for i in 0..(seconds * 1000.0) as usize {
        let t = (i + 1) as f64 * 0.001;
        let x = (2.0 * std::f64::consts::PI * t).sin();
        csv += &format!("{t},{x},{}\n", x * x);
    }
    let p = dir.join("data.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

fn learn(dir: &Path, spec: &str, data: &Path, executor: &str) -> std::process::Output {
    let spec_path = dir.join("spec.toml");
    std::fs::write(&spec_path, spec).unwrap();
    Command::new(env!("CARGO_BIN_EXE_spikearm"))
        .args(["neuro", "learn", "--spec"])
        .arg(&spec_path)
        .arg("--data")
        .arg(data)
        .args(["--executor", executor, "--out"])
        .arg(dir.join("out.json"))
        .output()
        .unwrap()
}

#[test]
fn learns_from_csv_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 3.0);
    for executor in ["float", "loihi"] {
        let out = learn(dir.path(), SPEC, &data, executor);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
        let windows = report["rmse_per_window"].as_array().unwrap();
        assert_eq!(windows.len(), 3);
        let (first, last) = (report["rmse_first"].as_f64().unwrap(), report["rmse_last"].as_f64().unwrap());
        // The target alone has RMS 0.61; a readout that learns ends far below it and below its first window.
        assert!(last < 0.8 * first && last < 0.15, "{executor}: {first} -> {last}");
        assert_eq!(report["output"].as_array().unwrap().len(), 3000);
        assert!(report["accounting"]["neuron_updates"].as_u64().unwrap() >= 300_000);
        assert!(report["neuron_updates_per_s"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bad_data_gets_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("t,x,y\n0.001,0.1,0.01\n0.002,abc,0.02\n", "line 3"),
        ("t,x,y\n0.001,0.1,0.01\n0.002,0.2\n", "line 3"),
        ("t,x\n0.001,0.1\n", "'y'"),
        ("t,x,y\n0.001,NaN,0.01\n", "line 2"),
    ];
    for (csv, needle) in cases {
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, csv).unwrap();
        let out = learn(dir.path(), SPEC, &p, "loihi");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(needle), "expected {needle} in: {err}");
    }
}

#[test]
fn bad_specs_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path(), 0.01);
    let cases = [
        (SPEC.replace("neurons = 100", "neurons = 0"), "neurons"),
        (SPEC.replace("seed = 0", "seed = 0\nmax_rate = 3"), "max_rate"),
        (SPEC.replace("dimensions = 1\nseed", "dimensions = 2\nseed"), "dimensions"),
        ("not toml [".to_string(), "spec"),
    ];
    for (spec, needle) in cases {
        let out = learn(dir.path(), &spec, &data, "float");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(needle), "expected {needle} in: {err}");
    }
}
