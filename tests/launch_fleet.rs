//! Fleets: a lockstep scenario with three arms of both kinds (`[[arms]]`).
//!
//! - `spikearm launch --processes` (the real binary) runs every node as a process, all clients of the
//!   router it launches (`spikearm router`); each arm's trajectories equal, bit for bit, that arm's scenario
//!   run alone in one process — so arms neither disturb each other nor depend on how they were deployed.
//! - With `--hosted 1`, the same through two host processes on one worker thread each (`spikearm host`: all
//!   sims in one, all controllers in the other): again bit for bit each arm alone.
//! - In one process, the scenario's one session listens on an endpoint (`--listen`): an outside session
//!   joins the running scenario and sees every arm's keys; again each arm equals its lone run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use spikearm::bus::{Bus, BusConfig};
use spikearm::launch::{FleetResult, RunOptions, run_fleet};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;
#[path = "common/fleet_check.rs"]
mod fleet_check;
use fleet_check::*;

/// Runs the check fleet through the real binary, `launch --processes` plus `extra`, into `dir`; returns the
/// report directory and what the launch printed.
fn launch_processes(dir: &Path, extra: &[&str]) -> (PathBuf, String) {
    let file = dir.join("fleet.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out_dir = dir.join("report");
    let mut args = vec!["launch", file.to_str().unwrap(), "--processes", "--quiet", "--out", out_dir.to_str().unwrap()];
    args.extend(extra);
    let stdout = spikearm_ok(root(), &args, &format!("launch --processes {}", extra.join(" ")));
    (out_dir, stdout)
}

#[test]
fn three_arms_as_processes_through_the_router_equal_each_arm_alone() {
    let spec = spec();
    let arms = arms(&spec);
    let alone = alone(&spec, &arms);

    let dir = tempfile::tempdir().unwrap();
    let (out_dir, stdout) = launch_processes(dir.path(), &[]);
    // The fleet table names every arm.
    assert!(stdout.contains("fleet `fleet-check`"), "{stdout}");
    for a in ["ur5e", "threelink", "threelink_b"] {
        assert!(stdout.lines().any(|l| l.starts_with(a)), "{a} in the fleet table:\n{stdout}");
    }

    // The nodes met at the launched router, as its clients.
    let procs = out_dir.join("processes");
    let router_log = std::fs::read_to_string(procs.join("router.log")).unwrap();
    assert!(router_log.starts_with("$ ") && router_log.contains("'router'"), "{router_log}");
    let client = std::fs::read_to_string(procs.join("client.json5")).unwrap();
    assert!(client.contains("mode: \"client\""), "{client}");

    assert_processes_same(&alone, &out_dir);
    let fleet: serde_json::Value = read_json(&out_dir.join("fleet.json"));
    assert_eq!(fleet.as_array().map(Vec::len), Some(3), "{fleet}");
    assert!(out_dir.join("fleet_error.png").exists() && out_dir.join("ur5e").join("ee_error.png").exists());
}

#[test]
fn three_arms_served_by_two_single_threaded_hosts_equal_each_arm_alone() {
    let spec = spec();
    let arms = arms(&spec);
    let alone = alone(&spec, &arms);

    let dir = tempfile::tempdir().unwrap();
    let (out_dir, _) = launch_processes(dir.path(), &["--hosted", "1"]);

    // Per run, one host process per role served the three arms' nodes; no node ran as a process of its own.
    for run in ["adaptive-loihi", "osc"] {
        let run_dir = out_dir.join("processes").join(run);
        for role in ["sim", "controller"] {
            let log = std::fs::read_to_string(run_dir.join(format!("{role}-host.log"))).unwrap();
            let first = log.lines().next().unwrap_or_default();
            assert!(first.contains("'host' '--threads' '1' '--wait' 'sleep'"), "{first}");
            assert_eq!(first.matches(&format!("'--{role}'")).count(), 3, "{first}");
        }
        for arm in ["ur5e", "threelink", "threelink_b"] {
            assert!(!run_dir.join(arm).join("sim.log").exists(), "{run}/{arm} ran a node process of its own");
        }
    }
    assert_processes_same(&alone, &out_dir);
}

#[test]
fn an_outside_session_joins_a_fleet_running_in_one_process() {
    let spec = spec();
    let arms = arms(&spec);
    let ep = loopback_endpoint();
    // The outside tool: a peer that keeps trying to connect to the scenario's endpoint (which does not
    // listen yet) and taps everything under spikearm/.
    let tool_cfg = format!(
        r#"{{ mode: "peer", listen: {{ endpoints: [] }},
             connect: {{ endpoints: ["{ep}"], retry: {{ period_init_ms: 20, period_max_ms: 100 }} }},
             scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }} }}"#
    );
    let tool = Bus::open("ur5e", &BusConfig { zenoh_json5: Some(tool_cfg), listen: vec![], connect: vec![] }).unwrap();
    let tap = tool.tap("spikearm/**", 1 << 20).unwrap();

    let opts = RunOptions { listen: vec![ep.clone()], ..Default::default() };
    let fleet: FleetResult = run_fleet(&spec, &arms, &opts).unwrap();
    let mut keys = BTreeSet::new();
    while let Ok(Some(s)) = tap.recv_timeout(Duration::from_millis(200)) {
        keys.insert(s.key().to_string());
    }
    tool.close().unwrap();
    for a in ["ur5e", "threelink", "threelink_b"] {
        for k in ["joint_states", "torque_cmd"] {
            let key = format!("spikearm/{a}/{k}");
            assert!(keys.contains(&key), "the outside session never saw {key}: {keys:?}");
        }
    }

    let alone = alone(&spec, &arms);
    assert_eq!(fleet.arms.len(), 3);
    for (f, a) in fleet.arms.iter().zip(&alone) {
        for (k, run) in f.runs.iter().enumerate() {
            assert_run_same(&a.spec.arm, a, k, &run.sim, &run.ctrl);
        }
        assert_eq!(f.metrics.normalised_error.map(f64::to_bits), a.metrics.normalised_error.map(f64::to_bits));
    }
}
