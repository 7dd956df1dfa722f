//! `spikearm launch` end to end: a short scenario through the real binary writes metrics, plots and a table.

use std::process::Command;

#[test]
fn launch_writes_a_report_directory_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_spikearm"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["launch", "tests/data/launch_short.toml", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("osc") && stdout.contains("pid") && stdout.contains("normalised error"), "{stdout}");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let runs = m["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["steps"], 3000);
        let before = r["window_error_m"]["before"].as_f64().unwrap();
        assert!(before.is_finite() && before < 0.05, "{r}");
    }
    for f in ["ee_error.svg", "torques.svg", "scenario.toml"] {
        assert!(out.join(f).metadata().unwrap().len() > 100, "{f}");
    }
}

/// `spikearm host` refuses what it cannot serve, with the reason: nothing to serve, or nodes that would have
/// to share one zenoh session but name different ones.
#[test]
fn host_refuses_no_nodes_and_disagreeing_bus_settings() {
    let host = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_spikearm"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("host")
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success(), "host {args:?} succeeded");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(host(&[]).contains("nothing to host"));
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&a, "arm = \"left\"\n[bus]\nconnect = [\"tcp/127.0.0.1:7447\"]\n").unwrap();
    std::fs::write(&b, "arm = \"right\"\n[bus]\nconnect = [\"tcp/127.0.0.1:7448\"]\n").unwrap();
    let err = host(&["--sim", a.to_str().unwrap(), "--sim", b.to_str().unwrap()]);
    assert!(err.contains("must agree") && err.contains("right/sim"), "{err}");
    let err = host(&["--sim", a.to_str().unwrap(), "--sim", a.to_str().unwrap()]);
    assert!(err.contains("both `left/sim`"), "{err}");
    assert!(host(&["--threads", "0", "--sim", a.to_str().unwrap()]).contains("--threads"));
}
