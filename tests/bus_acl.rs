//! Access control on the bus, over real zenoh (TCP on loopback): the sim node runs with the shipped
//! `config/zenoh/acl.json5`, the other sessions with the shipped identity configs. A logged-in viewer running
//! the very same controller loop as the real controller cannot move the arm, load it or e-stop it; the
//! controller identity can drive it and the operator identity can load and stop it. Sessions without valid
//! credentials are refused. And no shipped config listens beyond loopback.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use spikearm::arm::hold::{HoldLaw, HoldParams};
use spikearm::bus::{
    Bus, BusConfig, Estop, JointStates, Latest, NodeState, Payload, QosClass, Queue, SCHEMA_VERSION, Status, TorqueCmd,
    is_loopback_endpoint,
};
use spikearm::node::{Shutdown, SimNodeReport, TimingMode, run_sim_node};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

const ARM: &str = "threelink";
/// Where the sim starts (and is held until someone allowed drives it).
const Q0: [f64; 3] = [0.4, -0.3, 0.2];
/// Where the intruder tries to drive it.
const Q_BAD: [f64; 3] = [-0.6, 0.6, -0.6];
/// Where the controller drives it.
const Q1: [f64; 3] = [0.8, -0.6, 0.5];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The shipped sim config, its user dictionary found from any working directory, listening on `ep`.
fn sim_config(ep: &str) -> BusConfig {
    let users = root().join("config/zenoh/acl-users.txt");
    let text = read("config/zenoh/acl.json5").replace("\"config/zenoh/acl-users.txt\"", &format!("{:?}", users));
    assert!(text.contains(&format!("{:?}", users)), "acl.json5 names config/zenoh/acl-users.txt");
    BusConfig { zenoh_json5: Some(text), listen: vec![ep.to_string()], connect: vec![] }
}

/// A shipped identity config (`acl-<who>.json5`) connecting to `ep`.
fn identity(who: &str, ep: &str) -> Bus {
    let cfg = BusConfig {
        zenoh_json5: Some(read(&format!("config/zenoh/acl-{who}.json5"))),
        listen: vec![],
        connect: vec![ep.to_string()],
    };
    Bus::open(ARM, &cfg).unwrap_or_else(|e| panic!("{who}: {e}"))
}

/// A session that must be refused: one connection attempt, and failing it fails the open.
fn try_open(auth: &str, ep: &str) -> Result<Bus, String> {
    let text = format!(
        r#"{{ mode: "peer", listen: {{ endpoints: [] }},
             connect: {{ endpoints: ["{ep}"], timeout_ms: 0, exit_on_failure: true }},
             scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }},
             transport: {{ auth: {{ {auth} }} }} }}"#
    );
    Bus::open(ARM, &BusConfig { zenoh_json5: Some(text), listen: vec![], connect: vec![] }).map_err(|e| e.to_string())
}

/// What one run of [`drive`] did.
#[derive(Debug, Default)]
struct Driven {
    states: u64,
    commands: u64,
}

/// The controller loop both identities run: a gravity-compensated joint PD towards `q_ref`, one torque
/// command answering each joint state, until `stop`.
fn drive(bus: &Bus, q_ref: [f64; 3], stop: &AtomicBool) -> Driven {
    let mut law = HoldLaw::new(&arm("threelink.urdf"), HoldParams { kp: 100.0, kd: 20.0 }).unwrap();
    let states = bus.latest::<JointStates>(&bus.keys().joint_states()).unwrap();
    let mut cmd = bus.publisher::<TorqueCmd>(&bus.keys().torque_cmd(), QosClass::Control).unwrap();
    let mut out = Driven::default();
    let mut tau = vec![0.0; 3];
    while !stop.load(Ordering::Relaxed) {
        if let Some(Ok(s)) = states.recv_timeout(Duration::from_millis(5)).unwrap() {
            out.states += 1;
            law.torque(&q_ref, &s.position, &s.velocity, &mut tau).unwrap();
            cmd.put(&TorqueCmd { v: SCHEMA_VERSION, seq: s.seq, effort: tau.clone() }).unwrap();
            out.commands += 1;
        }
    }
    out
}

/// Runs [`drive`] on its own thread until the returned flag is set.
fn spawn_drive(bus: Bus, q_ref: [f64; 3]) -> (Arc<AtomicBool>, thread::JoinHandle<Driven>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    (stop, thread::spawn(move || drive(&bus, q_ref, &flag)))
}

/// The sim's latest state as seen on the bus (sim time, joint angles).
fn now(observer: &Latest<JointStates>) -> (f64, Vec<f64>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = None;
    // Drain to the newest; wait for one if none is pending.
    while Instant::now() < deadline {
        match observer.recv_timeout(Duration::from_millis(20)).unwrap() {
            Some(Ok(s)) => {
                last = Some((s.stamp, s.position));
                if observer.try_recv().unwrap().is_none() {
                    break;
                }
            }
            _ if last.is_some() => break,
            _ => {}
        }
    }
    last.expect("joint_states keep arriving")
}

fn estop(source: &str) -> Estop {
    Estop { v: SCHEMA_VERSION, engaged: true, source: source.into() }
}

/// The sim's states reported since the last call.
fn drain_states(statuses: &Queue<Status>) -> Vec<NodeState> {
    std::iter::from_fn(|| statuses.try_recv().unwrap()).map(|s| s.unwrap().state).collect()
}

fn between(r: &SimNodeReport, t0: f64, t1: f64) -> Vec<&spikearm::node::SimSample> {
    r.samples.iter().filter(|s| s.t >= t0 && s.t <= t1).collect()
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn only_the_allowed_identities_can_move_load_or_stop_the_arm() {
    let ep = loopback_endpoint();
    let sim_bus = Bus::open(ARM, &sim_config(&ep)).unwrap();
    let mut spec = sim_settings();
    spec.timing = TimingMode::RealTime;
    spec.initial_q = Some(Q0.to_vec());
    spec.record_every = 5;
    let stop_sim = Shutdown::new();
    let stop_sim2 = stop_sim.clone();
    let sim = thread::spawn(move || {
        let r = run_sim_node(&spec, arm("threelink.urdf"), &sim_bus, &stop_sim2);
        sim_bus.close().unwrap();
        r.unwrap()
    });

    // No credentials, or a wrong password: the sim refuses the session outright.
    let refused = try_open("", &ep).map(|b| b.close());
    assert!(refused.is_err(), "a session without credentials was accepted");
    let refused = try_open(r#"usrpwd: { user: "controller", password: "guess" }"#, &ep).map(|b| b.close());
    assert!(refused.is_err(), "a session with a wrong password was accepted");

    let viewer = identity("viewer", &ep);
    let controller = identity("controller", &ep);
    let operator = identity("operator", &ep);
    let observer = viewer.latest::<JointStates>(&viewer.keys().joint_states()).unwrap();
    let statuses = viewer.queue::<Status>(&viewer.keys().status("sim"), 1000).unwrap();
    let (t_start, _) = now(&observer);

    // A: the viewer (logged in, may read) runs the controller loop towards Q_BAD, loads the arm and e-stops it.
    let (stop_bad, bad) = spawn_drive(viewer.clone(), Q_BAD);
    for _ in 0..3 {
        viewer.put(&viewer.keys().payload(), &Payload { v: SCHEMA_VERSION, mass_kg: 3.0, offset_m: [0.0; 3] }).unwrap();
        viewer.put(&viewer.keys().estop(), &estop("intruder")).unwrap();
        thread::sleep(Duration::from_millis(200));
    }
    stop_bad.store(true, Ordering::Relaxed);
    let bad = bad.join().unwrap();
    let (t_a, q_a) = now(&observer);
    let status_a = drain_states(&statuses);

    // B: the controller runs the same loop towards Q1.
    let (stop_good, good) = spawn_drive(controller.clone(), Q1);
    thread::sleep(Duration::from_millis(800));
    let (t_b, q_b) = now(&observer);

    // C: the operator loads the arm (the controller still driving), D: and e-stops it.
    operator.put(&operator.keys().payload(), &Payload { v: SCHEMA_VERSION, mass_kg: 0.5, offset_m: [0.0; 3] }).unwrap();
    thread::sleep(Duration::from_millis(250));
    let (t_c, _) = now(&observer);
    operator.put(&operator.keys().estop(), &estop("operator")).unwrap();
    thread::sleep(Duration::from_millis(300));
    let (t_d, _) = now(&observer);
    let status_d = drain_states(&statuses);
    stop_good.store(true, Ordering::Relaxed);
    let good = good.join().unwrap();
    stop_sim.trigger();
    let report = sim.join().unwrap();
    for b in [viewer, controller, operator] {
        b.close().unwrap();
    }
    eprintln!(
        "viewer: {bad:?}, q after A {q_a:?}; controller: {good:?}, q after B {q_b:?}; \
         sim t: start {t_start:.3} A {t_a:.3} B {t_b:.3} C {t_c:.3} D {t_d:.3}; statuses A {status_a:?} D {status_d:?}"
    );

    // A: the viewer was connected and reading (so its commands did go out) …
    assert!(bad.states > 100 && bad.commands > 100, "the viewer saw the arm and commanded it: {bad:?}");
    // … yet the arm stayed held where it started, unloaded, not e-stopped.
    let a = between(&report, t_start, t_a);
    assert!(a.len() > 50, "{} samples in phase A", a.len());
    for s in &a {
        assert!(s.held, "t={}: the intruder's torque was applied", s.t);
        assert_eq!(s.payload_kg, 0.0, "t={}: the intruder's payload was applied", s.t);
        assert!(dist(&s.q, &Q0) < 0.02, "t={}: the arm moved to {:?}", s.t, s.q);
    }
    assert!(!status_a.is_empty() && !status_a.contains(&NodeState::Estop), "sim states in A: {status_a:?}");

    // B: the controller's commands drive the arm to Q1.
    assert!(good.commands > 100, "{good:?}");
    assert!(dist(&q_b, &Q1) < 0.1, "the controller did not bring the arm to {Q1:?}: {q_b:?}");
    // Driven, not held (a loaded machine may trip the watchdog for a moment: most, and the last, suffice).
    let b = between(&report, t_b - 0.2, t_b);
    let driven = b.iter().filter(|s| !s.held).count();
    assert!(driven * 5 >= b.len() * 4 && b.last().is_some_and(|s| !s.held), "phase B: {driven} of {} driven", b.len());
    assert!(b.iter().all(|s| s.payload_kg == 0.0), "phase B: loaded before the operator's payload");

    // C: the operator's payload is applied; D: its e-stop holds the arm although the controller keeps commanding.
    let c = between(&report, t_c - 0.05, t_c);
    assert!(!c.is_empty() && c.iter().all(|s| s.payload_kg == 0.5), "phase C samples: {c:?}");
    let d = between(&report, t_d - 0.1, t_d);
    assert!(!d.is_empty() && d.iter().all(|s| s.held), "phase D: not held after the operator's e-stop");
    assert!(status_d.contains(&NodeState::Estop), "sim states after the operator's e-stop: {status_d:?}");
    let rejected = report.rejected.values().sum::<u64>();
    assert_eq!(rejected, 0, "nothing reached the sim as a bad body: {:?}", report.rejected);
}

#[test]
fn shipped_and_built_in_configs_listen_on_loopback_only() {
    // The built-in isolated peer listens nowhere.
    assert_eq!(BusConfig::default().listen_endpoints().unwrap(), Vec::<String>::new());
    // Every shipped zenoh config, as a node would open it.
    let dir = root().join("config/zenoh");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json5") {
            continue;
        }
        files += 1;
        let cfg = BusConfig { zenoh_json5: Some(std::fs::read_to_string(&path).unwrap()), ..Default::default() };
        let eps = cfg.listen_endpoints().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for ep in eps {
            assert!(is_loopback_endpoint(&ep), "{} listens on {ep}", path.display());
        }
    }
    assert!(files >= 5, "found {files} zenoh configs in {}", dir.display());
    // And the node configs' [bus] endpoints.
    for node in ["config/sim.toml", "config/control.toml"] {
        let t: toml::Table = read(node).parse().unwrap();
        let listen = t["bus"].get("listen").and_then(|l| l.as_array()).cloned().unwrap_or_default();
        for ep in listen {
            let ep = ep.as_str().unwrap();
            assert!(is_loopback_endpoint(ep), "{node} listens on {ep}");
        }
    }
    // The check itself tells loopback from the rest.
    for ep in ["tcp/127.0.0.1:7447", "tls/localhost:7447", "tcp/[::1]:7447", "tcp/127.0.0.2:1#iface=lo"] {
        assert!(is_loopback_endpoint(ep), "{ep}");
    }
    for ep in ["tcp/0.0.0.0:7447", "tcp/[::]:7447", "tcp/192.168.1.2:7447", "tls/example.org:7447", "garbage"] {
        assert!(!is_loopback_endpoint(ep), "{ep}");
    }
}

#[test]
fn listen_endpoints_see_overrides_and_zenoh_defaults() {
    // A node's `bus.listen` replaces the file's.
    let cfg = BusConfig {
        zenoh_json5: Some(read("config/zenoh/peer.json5")),
        listen: vec!["tcp/0.0.0.0:7447".into()],
        connect: vec![],
    };
    assert_eq!(cfg.listen_endpoints().unwrap(), vec!["tcp/0.0.0.0:7447".to_string()]);
    // A peer file that names no listen endpoint gets zenoh's default, which is not loopback: the shipped
    // files must name theirs (the check above would catch one that did not).
    let bare = BusConfig { zenoh_json5: Some(r#"{ mode: "peer" }"#.into()), ..Default::default() };
    let eps = bare.listen_endpoints().unwrap();
    assert!(!eps.is_empty() && eps.iter().any(|e| !is_loopback_endpoint(e)), "{eps:?}");
    // A client listens nowhere by default.
    let client = BusConfig { zenoh_json5: Some(r#"{ mode: "client" }"#.into()), ..Default::default() };
    assert_eq!(client.listen_endpoints().unwrap(), Vec::<String>::new());
}
