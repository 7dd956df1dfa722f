//! `spikearm fleet --connect <router>` (the real binary) lists the arms and nodes alive on a router — real sim
//! and controller nodes of two arms, clients of an in-process router — with each one's health from its
//! status; once the nodes stop, it lists none.

use std::thread;
use std::time::{Duration, Instant};

use spikearm::bus::{Bus, BusConfig, Router, Status, StatusBody};
use spikearm::node::{ControllerNode, Shutdown, SimNode};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

fn client(ep: &str) -> BusConfig {
    let text = r#"{ mode: "client", scouting: { multicast: { enabled: false } } }"#.to_string();
    BusConfig { zenoh_json5: Some(text), listen: vec![], connect: vec![ep.to_string()] }
}

fn fleet(ep: &str) -> serde_json::Value {
    let args = ["fleet", "--connect", ep, "--json", "--listen-s", "1.0"];
    let stdout = spikearm_ok(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &args, "spikearm fleet");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn fleet_lists_the_nodes_alive_on_a_router_with_their_health() {
    let ep = loopback_endpoint();
    let router = Router::open(&BusConfig { zenoh_json5: None, listen: vec![ep.clone()], connect: vec![] }).unwrap();
    let stop = Shutdown::new();
    let mut threads = Vec::new();
    // Arm "alpha" under OSC, arm "beta" under the adaptive controller (learning).
    for (arm_id, kind) in [("alpha", "osc"), ("beta", "adaptive")] {
        let sim_bus = Bus::open(arm_id, &client(&ep)).unwrap();
        let mut sim = sim_settings();
        sim.arm = arm_id.into();
        sim.initial_q = Some(vec![1.0, -1.4, -0.6]);
        let s = stop.clone();
        threads.push(thread::spawn(move || {
            SimNode::new(&sim, arm("threelink.urdf"), &sim_bus).unwrap().run(&s).unwrap();
            sim_bus.close().unwrap();
        }));
        let ctrl_bus = Bus::open(arm_id, &client(&ep)).unwrap();
        let mut ctrl = controller_settings();
        ctrl.arm = arm_id.into();
        ctrl.controller.kind = kind.into();
        ctrl.controller.neurons = 100;
        let s = stop.clone();
        threads.push(thread::spawn(move || {
            let a = arm("threelink.urdf");
            let mut c = ctrl.controller.build(&a).unwrap();
            ControllerNode::new(&ctrl, a, c.as_mut(), &ctrl_bus).unwrap().run(&s).unwrap();
            ctrl_bus.close().unwrap();
        }));
    }
    // Both controllers running (their status says so) before asking.
    let observer = Bus::open("beta", &client(&ep)).unwrap();
    let statuses = observer.tap("spikearm/*/status/controller", 1024).unwrap();
    let mut running = std::collections::BTreeSet::new();
    let end = Instant::now() + Duration::from_secs(30);
    while running.len() < 2 {
        assert!(Instant::now() < end, "controllers running: {running:?}");
        if let Some(s) = statuses.recv_timeout(Duration::from_millis(100)).unwrap() {
            let st: Status = spikearm::bus::decode(&s.body()).unwrap();
            if st.state == spikearm::bus::NodeState::Running {
                running.insert(s.key().to_string());
            }
        }
    }

    let listed = fleet(&ep);
    let nodes = listed.as_array().unwrap();
    let names: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n["arm"].as_str().unwrap().to_string(), n["node"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> = ["alpha", "beta"]
        .iter()
        .flat_map(|a| [(a.to_string(), "controller".to_string()), (a.to_string(), "sim".to_string())])
        .collect();
    assert_eq!(names, want, "{listed:#}");
    for n in nodes {
        assert_eq!(n["state"], "running", "{n}");
        if n["node"] == "controller" {
            assert!(n["tracking_error_m"].as_f64().is_some_and(|e| e.is_finite() && e < 0.5), "{n}");
        } else {
            assert!(n["deadline_misses"].as_u64().is_some() && n["watchdog_trips"].as_u64().is_some(), "{n}");
        }
    }
    let beta = nodes.iter().find(|n| n["arm"] == "beta" && n["node"] == "controller").unwrap();
    assert_eq!(beta["learning"], true, "{beta}");
    let alpha = nodes.iter().find(|n| n["arm"] == "alpha" && n["node"] == "controller").unwrap();
    assert_ne!(alpha["learning"], true, "OSC does not learn: {alpha}");
    // The health came from the nodes' own statuses, not made up: it matches what the observer sees.
    let seen = std::iter::from_fn(|| statuses.try_recv())
        .filter_map(|s| spikearm::bus::decode::<Status>(&s.body()).ok())
        .any(|s| matches!(s.body, StatusBody::Controller(ref c) if c.learning == Some(true)));
    assert!(seen, "the observer saw beta's controller learning too");

    stop.trigger();
    for t in threads {
        t.join().unwrap();
    }
    let after = fleet(&ep);
    assert_eq!(after.as_array().map(Vec::len), Some(0), "nodes listed after they stopped: {after:#}");
    observer.close().unwrap();
    router.close().unwrap();
}
