//! `spikearm ctl` against the real nodes: the real sim node (rapier) and the real adaptive controller node on
//! zenoh over loopback TCP; the operator tool is the built binary, run as a user would.

use std::process::{Command, Output};
use std::thread;

use spikearm::bus::{Bus, BusConfig, NodeState, Status};
use spikearm::control::factory::ControllerParams;
use spikearm::node::{Shutdown, run_controller_node, run_sim_node};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

fn ctl(endpoints: &[String], args: &[&str]) -> Output {
    ctl_within("5", endpoints, args)
}

fn ctl_within(timeout_s: &str, endpoints: &[String], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spikearm"));
    cmd.args(["ctl", "--arm", "threelink", "--timeout-s", timeout_s]);
    for e in endpoints {
        cmd.args(["--connect", e]);
    }
    cmd.args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_operator_sets_target_parameters_and_estop_and_reads_status_from_the_shell() {
    let (sim_ep, ctl_ep) = (loopback_endpoint(), loopback_endpoint());
    let stop = Shutdown::new();
    let sim = sim_settings();
    let (s2, c2) = (stop.clone(), stop.clone());
    let sim_listen = sim_ep.clone();
    let sim_thread = thread::spawn(move || {
        let bus = Bus::open("threelink", &BusConfig { zenoh_json5: None, listen: vec![sim_listen], connect: vec![] })
            .unwrap();
        let r = run_sim_node(&sim, arm("threelink.urdf"), &bus, &s2);
        bus.close().unwrap();
        r.unwrap()
    });
    let ctl_listen = ctl_ep.clone();
    let sim_connect = sim_ep.clone();
    let ctrl_thread = thread::spawn(move || {
        let settings = controller_settings();
        let mut c =
            ControllerParams { neurons: 200, ..ControllerParams::default() }.build(&arm("threelink.urdf")).unwrap();
        let bus = Bus::open(
            "threelink",
            &BusConfig { zenoh_json5: None, listen: vec![ctl_listen], connect: vec![sim_connect] },
        )
        .unwrap();
        let r = run_controller_node(&settings, arm("threelink.urdf"), c.as_mut(), &bus, &c2);
        bus.close().unwrap();
        r.unwrap()
    });
    let eps = [sim_ep.clone(), ctl_ep.clone()];

    let o = ctl(&eps, &["params"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let params: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(params["kp"], 200.0, "{params}");

    let o = ctl(&eps, &["params", "kp=150", "learning_rate=1e-4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let params: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!((params["kp"].as_f64(), params["learning_rate"].as_f64()), (Some(150.0), Some(1e-4)));
    // Out of bounds: refused whole, exit status says so, nothing changed.
    let o = ctl(&eps, &["params", "kv=15", "kp=5000"]);
    assert!(!o.status.success() && stderr(&o).contains("outside"), "{}", stderr(&o));
    let params: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!((params["kp"].as_f64(), params["kv"].as_f64()), (Some(150.0), Some(20.0)));

    let o = ctl(&eps, &["target", "0.3", "0.2", "0.4"]);
    assert!(o.status.success() && stdout(&o).contains("follows it"), "{}{}", stdout(&o), stderr(&o));
    // Far outside the reach sphere: taken, moved onto it, and the tool says where.
    let o = ctl(&eps, &["target", "5", "0", "0.4"]);
    assert!(o.status.success() && stdout(&o).contains("was moved to"), "{}{}", stdout(&o), stderr(&o));

    let o = ctl(&eps, &["estop", "engage"]);
    assert!(o.status.success() && stdout(&o).contains("engaged"), "{}{}", stdout(&o), stderr(&o));
    let o = ctl(&eps, &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = stdout(&o);
    let status_of = |node: &str| -> Status {
        let line = lines.lines().find(|l| l.starts_with(&format!("{node}: "))).unwrap_or_else(|| panic!("{lines}"));
        serde_json::from_str(&line[node.len() + 2..]).unwrap()
    };
    assert_eq!(status_of("sim").state, NodeState::Estop, "{lines}");
    assert_eq!(status_of("controller").state, NodeState::Estop, "{lines}");
    let o = ctl(&eps, &["estop", "clear"]);
    assert!(o.status.success() && stdout(&o).contains("cleared"), "{}{}", stdout(&o), stderr(&o));

    let o = ctl(&eps, &["watch", "--for-s", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let view = stdout(&o);
    assert!(view.contains("sim running") && view.contains("error") && view.contains("learning on"), "{view}");

    // Nobody there: a clear error, not a hang.
    let o = ctl_within("0.5", &[loopback_endpoint()], &["target", "0", "0", "0.5"]);
    assert!(!o.status.success() && stderr(&o).contains("no node `controller` alive"), "{}", stderr(&o));

    stop.trigger();
    ctrl_thread.join().unwrap();
    sim_thread.join().unwrap();
}
