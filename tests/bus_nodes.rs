//! The nodes over a real zenoh bus (TCP on loopback between two sessions) driving the real rapier arm:
//! lockstep determinism against the same loop without the bus, the watchdog, holding and resuming,
//! parameters, checkpoints.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use spikearm::arm::hold::{HoldLaw, HoldParams};
use spikearm::bus::{Bus, BusConfig, JointStates, NodeState, ParamsRequest, SCHEMA_VERSION, Status};
use spikearm::control::controller::{ControlError, ControlInput, Controller, ControllerStatus};
use spikearm::neuro::LearnedWeights;
use spikearm::node::{CheckpointError, Shutdown, TimingMode, load_checkpoint, run_controller_node, run_sim_node};
use spikearm_sim::{ArmState, ArmWorld, SimParams};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

/// Two sessions joined over TCP: the first listens, the second connects.
fn bus_pair() -> (Bus, Bus) {
    let ep = loopback_endpoint();
    let listen = BusConfig { zenoh_json5: None, listen: vec![ep.clone()], connect: vec![] };
    let connect = BusConfig { zenoh_json5: None, listen: vec![], connect: vec![ep] };
    let a = Bus::open("threelink", &listen).unwrap();
    let b = Bus::open("threelink", &connect).unwrap();
    (a, b)
}

/// Test-only controller: a gravity-compensated joint PD to a fixed posture (ignores the Cartesian target),
/// with a fake "learned" weight vector that counts ticks so checkpoints have something to hold.
struct TestPd {
    law: HoldLaw,
    q_ref: Vec<f64>,
    kp: f64,
    weights: LearnedWeights,
}

impl TestPd {
    fn new(q_ref: Vec<f64>) -> Self {
        Self {
            law: HoldLaw::new(&arm("threelink.urdf"), HoldParams { kp: 100.0, kd: 20.0 }).unwrap(),
            q_ref,
            kp: 100.0,
            weights: LearnedWeights { neurons: 2, dimensions: 3, decoders: vec![0.0; 6] },
        }
    }
}

impl Controller for TestPd {
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        self.law.torque(&self.q_ref, input.q, input.dq, torque).map_err(ControlError::Model)?;
        self.weights.decoders[0] += 1.0;
        Ok(())
    }
    fn dof(&self) -> usize {
        3
    }
    fn name(&self) -> &str {
        "test-pd"
    }
    fn learned_weights(&self) -> Option<LearnedWeights> {
        Some(self.weights.clone())
    }
    fn restore_weights(&mut self, w: &LearnedWeights) -> Result<(), ControlError> {
        self.weights = w.clone();
        Ok(())
    }
    fn status(&self) -> ControllerStatus {
        ControllerStatus { learning: Some(true), ..Default::default() }
    }
    fn param_names(&self) -> &'static [&'static str] {
        &["kp"]
    }
    fn param(&self, name: &str) -> Option<f64> {
        (name == "kp").then_some(self.kp)
    }
    fn set_param(&mut self, name: &str, value: f64) -> Result<(), ControlError> {
        match name {
            "kp" if value > 0.0 => {
                self.kp = value;
                Ok(())
            }
            _ => Err(ControlError::BadInput(format!("bad parameter {name}={value}"))),
        }
    }
}

const Q_REF: [f64; 3] = [0.4, -0.3, 0.2];

#[test]
fn lockstep_over_zenoh_equals_the_direct_loop_bit_for_bit() {
    let steps = 400;
    // Reference: the same controller and physics, no bus.
    let mut world = ArmWorld::from_urdf_str(&arm_urdf("threelink.urdf"), SimParams::default()).unwrap();
    let mut ctrl = TestPd::new(Q_REF.to_vec());
    let mut st = ArmState::default();
    let mut tau = vec![0.0; 3];
    let mut reference = Vec::new();
    world.read_state_into(&mut st);
    reference.push(st.clone());
    for _ in 0..steps {
        let input = ControlInput { t: st.t, q: &st.q, dq: &st.dq, target: st.ee_position.into() };
        ctrl.tick(&input, &mut tau).unwrap();
        world.step_with_torques(&tau).unwrap();
        world.read_state_into(&mut st);
        reference.push(st.clone());
    }

    let (sim_bus, ctrl_bus) = bus_pair();
    let mut spec = sim_settings();
    spec.duration_s = Some(steps as f64 * 0.001);
    spec.record_every = 1;
    let stop_ctrl = Shutdown::new();
    let stop2 = stop_ctrl.clone();
    let ctrl_thread = thread::spawn(move || {
        let mut c = TestPd::new(Q_REF.to_vec());
        let r = run_controller_node(&controller_settings(), arm("threelink.urdf"), &mut c, &ctrl_bus, &stop2);
        ctrl_bus.close().unwrap();
        r.unwrap()
    });
    let sim = run_sim_node(&spec, arm("threelink.urdf"), &sim_bus, &Shutdown::new()).unwrap();
    stop_ctrl.trigger();
    let ctrl_report = ctrl_thread.join().unwrap();
    sim_bus.close().unwrap();

    assert_eq!(sim.steps, steps as u64);
    // Each state ticked exactly once (the state after the last step may be answered too, unused).
    assert!(ctrl_report.ticks == steps as u64 || ctrl_report.ticks == steps as u64 + 1, "{}", ctrl_report.ticks);
    assert_eq!(sim.samples.len(), steps + 1);
    for (k, (s, r)) in sim.samples.iter().zip(&reference).enumerate() {
        assert_eq!(s.t.to_bits(), r.t.to_bits(), "t at step {k}");
        for j in 0..3 {
            assert_eq!(s.q[j].to_bits(), r.q[j].to_bits(), "q[{j}] at step {k}: {} vs {}", s.q[j], r.q[j]);
            assert_eq!(s.dq[j].to_bits(), r.dq[j].to_bits(), "dq[{j}] at step {k}");
            assert_eq!(s.tau[j].to_bits(), r.tau[j].to_bits(), "tau[{j}] at step {k}");
        }
    }
    // And the loop did something: the arm moved towards the reference posture.
    let last = sim.samples.last().unwrap();
    assert!((last.q[0] - Q_REF[0]).abs() < 0.1, "q0 {}", last.q[0]);
}

#[test]
fn watchdog_engages_within_60_ms_of_the_controller_vanishing() {
    let (sim_bus, ctrl_bus) = bus_pair();
    let mut spec = sim_settings();
    spec.timing = TimingMode::RealTime;
    spec.initial_q = Some(Q_REF.to_vec());
    spec.record_every = 10;
    let stop_sim = Shutdown::new();
    let stop_sim2 = stop_sim.clone();
    let sim_thread =
        thread::spawn(move || run_sim_node(&spec, arm("threelink.urdf"), &sim_bus, &stop_sim2).map(|r| (r, sim_bus)));

    let stop_ctrl = Shutdown::new();
    let stop2 = stop_ctrl.clone();
    let ctrl_thread = thread::spawn(move || {
        let mut c = TestPd::new(Q_REF.to_vec());
        let r = run_controller_node(&controller_settings(), arm("threelink.urdf"), &mut c, &ctrl_bus, &stop2);
        // Vanish abruptly: the session goes away with the node.
        ctrl_bus.close().unwrap();
        (r.unwrap(), Instant::now())
    });
    thread::sleep(Duration::from_millis(400));
    stop_ctrl.trigger();
    let (ctrl_report, vanished) = ctrl_thread.join().unwrap();
    thread::sleep(Duration::from_millis(200));
    stop_sim.trigger();
    let (sim, sim_bus) = sim_thread.join().unwrap().unwrap();
    sim_bus.close().unwrap();
    let _ = vanished;

    assert!(ctrl_report.ticks > 100, "controller ran: {} ticks", ctrl_report.ticks);
    // The trip that matters is the last one (a loaded machine may cause an earlier, transient one).
    assert!(sim.watchdog_trips >= 1, "{sim:?}");
    let latency = *sim.watchdog_latency_s.last().unwrap();
    eprintln!("watchdog latency after the last torque: {:.1} ms", latency * 1e3);
    assert!((0.050..0.060).contains(&latency), "watchdog engaged {latency} s after the last torque");
    // Held: the arm stays near where it was (the hold law is stiff and damped).
    let last = sim.samples.last().unwrap();
    assert!(last.held);
    for j in 0..3 {
        assert!((last.q[j] - Q_REF[j]).abs() < 0.05, "joint {j} drifted to {}", last.q[j]);
    }
}

#[test]
fn controller_holds_when_joint_states_stop_and_resumes() {
    let (ctrl_bus, feeder) = bus_pair();
    let stop = Shutdown::new();
    let stop2 = stop.clone();
    let ctrl_thread = thread::spawn(move || {
        let mut c = TestPd::new(Q_REF.to_vec());
        let r = run_controller_node(&controller_settings(), arm("threelink.urdf"), &mut c, &ctrl_bus, &stop2);
        ctrl_bus.close().unwrap();
        r.unwrap()
    });
    let statuses = feeder.queue::<Status>(&feeder.keys().status("controller"), 1000).unwrap();
    let mut publish =
        feeder.publisher::<JointStates>(&feeder.keys().joint_states(), spikearm::bus::QosClass::Control).unwrap();
    let mut seq = 0u64;
    let mut feed = |ms: u64, seq: &mut u64| {
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            publish
                .put(&JointStates {
                    v: SCHEMA_VERSION,
                    stamp: *seq as f64 * 1e-3,
                    seq: *seq,
                    name: vec![],
                    position: vec![0.1, 0.0, 0.0],
                    velocity: vec![0.0; 3],
                    effort: vec![0.0; 3],
                    ee_position: [1.0, 0.0, 0.0],
                    payload_effort: Vec::new(),
                })
                .unwrap();
            *seq += 1;
            thread::sleep(Duration::from_millis(1));
        }
    };
    feed(300, &mut seq);
    thread::sleep(Duration::from_millis(400));
    feed(300, &mut seq);
    thread::sleep(Duration::from_millis(150));
    stop.trigger();
    let report = ctrl_thread.join().unwrap();

    let mut states = Vec::new();
    while let Ok(Some(Ok(s))) = statuses.try_recv() {
        if states.last() != Some(&s.state) {
            states.push(s.state);
        }
    }
    feeder.close().unwrap();
    assert!(report.holds >= 2, "held in the gap and after the end: {report:?}");
    let pos = |x| states.iter().position(|s| *s == x);
    let first_hold = pos(NodeState::Holding).expect("a holding status");
    assert!(states[first_hold + 1..].contains(&NodeState::Running), "resumed after holding: {states:?}");
    assert!(report.ticks > 200, "{}", report.ticks);
}

#[test]
fn parameters_are_read_and_set_through_the_queryable() {
    let (ctrl_bus, client) = bus_pair();
    let stop = Shutdown::new();
    let stop2 = stop.clone();
    let ctrl_thread = thread::spawn(move || {
        let mut c = TestPd::new(Q_REF.to_vec());
        let r = run_controller_node(&controller_settings(), arm("threelink.urdf"), &mut c, &ctrl_bus, &stop2);
        ctrl_bus.close().unwrap();
        (r.unwrap(), c.kp)
    });
    let t = Duration::from_secs(2);
    // The queryable may not be declared yet: retry briefly.
    let mut got = None;
    for _ in 0..50 {
        if let Ok(r) = client.query_params("controller", &ParamsRequest { v: 1, set: BTreeMap::new() }, t) {
            got = Some(r);
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(got.unwrap().params["kp"], 100.0);
    let set = ParamsRequest { v: 1, set: BTreeMap::from([("kp".to_string(), 42.0)]) };
    let r = client.query_params("controller", &set, t).unwrap();
    assert_eq!((r.params["kp"], r.error), (42.0, None));
    let bad = ParamsRequest { v: 1, set: BTreeMap::from([("nope".to_string(), 1.0)]) };
    let r = client.query_params("controller", &bad, t).unwrap();
    assert!(r.error.unwrap().contains("nope"));
    stop.trigger();
    let (_, kp) = ctrl_thread.join().unwrap();
    client.close().unwrap();
    assert_eq!(kp, 42.0);
}

#[test]
fn checkpoints_are_written_on_shutdown_restored_on_start_and_corrupt_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.json");
    let (sim_bus, ctrl_bus) = bus_pair();
    let mut spec = sim_settings();
    spec.duration_s = Some(0.2);
    let mut cspec = controller_settings();
    cspec.checkpoint = Some(path.clone());
    cspec.checkpoint_period_s = 0.05;
    let stop = Shutdown::new();
    let (stop2, cspec2) = (stop.clone(), cspec.clone());
    let ctrl_thread = thread::spawn(move || {
        let mut c = TestPd::new(Q_REF.to_vec());
        let r = run_controller_node(&cspec2, arm("threelink.urdf"), &mut c, &ctrl_bus, &stop2).unwrap();
        (r, c, ctrl_bus)
    });
    run_sim_node(&spec, arm("threelink.urdf"), &sim_bus, &Shutdown::new()).unwrap();
    stop.trigger();
    let (report, c, ctrl_bus) = ctrl_thread.join().unwrap();
    assert!(report.checkpoints >= 1);
    let ckpt = load_checkpoint(&path).unwrap().unwrap();
    assert_eq!(ckpt.weights, c.weights, "the final checkpoint holds the last weights");
    let ticks = ckpt.weights.decoders[0];
    assert!(ticks == 200.0 || ticks == 201.0, "{ticks}");
    // No temp files left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // Restored on start.
    let mut c2 = TestPd::new(Q_REF.to_vec());
    let stop = Shutdown::new();
    stop.trigger();
    let r = run_controller_node(&cspec, arm("threelink.urdf"), &mut c2, &ctrl_bus, &stop).unwrap();
    assert!(r.restored);
    assert_eq!(c2.weights.decoders[0], ticks);

    // Corrupt: truncated, then a flipped digit. Loading refuses it with a message naming the file and leaves it
    // untouched; the node then sets it aside and starts fresh (the whole fault is tested in tests/faults.rs).
    let good = std::fs::read(&path).unwrap();
    for bad in [
        good[..good.len() / 2].to_vec(),
        String::from_utf8(good.clone()).unwrap().replacen(&format!("{ticks:?}"), "1234.0", 1).into_bytes(),
    ] {
        std::fs::write(&path, &bad).unwrap();
        let err = load_checkpoint(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, CheckpointError::Corrupt { .. }), "{msg}");
        assert!(msg.contains("weights.json") && msg.contains("corrupt"), "{msg}");
        assert_eq!(std::fs::read(&path).unwrap(), bad, "loading leaves the file as it was");
        let mut c3 = TestPd::new(Q_REF.to_vec());
        let r = run_controller_node(&cspec, arm("threelink.urdf"), &mut c3, &ctrl_bus, &stop).unwrap();
        assert!(!r.restored && r.fresh_start.is_some(), "{r:?}");
        assert_eq!(c3.weights.decoders[0], 0.0, "started on fresh weights");
    }
    ctrl_bus.close().unwrap();
    sim_bus.close().unwrap();
}

/// A checkpoint records what its weights belong to; a controller built with other settings (another seed,
/// another design) refuses it with an error naming the difference, and its weights stay as they were.
#[test]
fn a_checkpoint_of_other_adaptive_settings_is_refused_by_name() {
    use spikearm::control::adaptive::AdaptiveDesign;
    use spikearm::control::factory::ControllerParams;
    use spikearm::node::{Checkpoint, write_checkpoint};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.json");
    let build = |seed: u64, design: AdaptiveDesign| {
        ControllerParams { neurons: 50, seed, design, ..ControllerParams::default() }
            .build(&arm("threelink.urdf"))
            .unwrap()
    };
    let learned = build(0, AdaptiveDesign::Inertial);
    let mut w = learned.learned_weights().unwrap();
    w.decoders[0] = 0.5;
    let ckpt = Checkpoint::new("threelink", learned.name(), learned.weights_provenance(), 3.0, w.clone());
    write_checkpoint(&path, &ckpt).unwrap();
    assert!(load_checkpoint(&path).unwrap().unwrap().provenance.unwrap().0["seed"] == "0");

    let (_sim_bus, ctrl_bus) = bus_pair();
    let mut cspec = controller_settings();
    cspec.checkpoint = Some(path.clone());
    let stop = Shutdown::new();
    stop.trigger();
    let cases = [(1, AdaptiveDesign::Inertial, "seed: 0 ≠ 1"), (0, AdaptiveDesign::Posture, "adaptive-posture-loihi")];
    for (seed, design, says) in cases {
        let mut other = build(seed, design);
        let before = other.learned_weights().unwrap();
        let err = run_controller_node(&cspec, arm("threelink.urdf"), other.as_mut(), &ctrl_bus, &stop).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(says) && msg.contains("weights.json"), "{msg}");
        assert_eq!(other.learned_weights().unwrap(), before, "a refused checkpoint changes nothing");
        assert_eq!(load_checkpoint(&path).unwrap().unwrap(), ckpt, "a refused checkpoint is left as it was");
    }
    // The same settings load it.
    let mut same = build(0, AdaptiveDesign::Inertial);
    let r = run_controller_node(&cspec, arm("threelink.urdf"), same.as_mut(), &ctrl_bus, &stop).unwrap();
    assert!(r.restored);
    assert!((same.learned_weights().unwrap().decoders[0] - 0.5).abs() < 0.05);
    ctrl_bus.close().unwrap();
}

/// The sim publishes what the payload demands at each joint: nothing before it is attached, and after, the
/// force that moves a point mass with the end effector through the Jacobian, Jᵀ m (a − g), with the
/// acceleration a taken from the published end-effector positions (second differences): independent of the
/// inverse dynamics the sim computes it with.
#[test]
fn joint_states_carry_the_payload_torque_once_a_payload_is_on() {
    let (sim_bus, ctrl_bus) = bus_pair();
    let states = ctrl_bus.queue::<JointStates>(&ctrl_bus.keys().joint_states(), 4096).unwrap();
    let mass = 1.0;
    let mut spec = sim_settings();
    spec.duration_s = Some(1.0);
    spec.payload_events = vec![spikearm::node::PayloadEvent { t: 0.3, mass_kg: mass, offset_m: [0.0; 3] }];
    let stop_ctrl = Shutdown::new();
    let stop2 = stop_ctrl.clone();
    let ctrl_thread = thread::spawn(move || {
        let mut c = TestPd::new(Q_REF.to_vec());
        let r = run_controller_node(&controller_settings(), arm("threelink.urdf"), &mut c, &ctrl_bus, &stop2);
        (r.unwrap(), ctrl_bus)
    });
    run_sim_node(&spec, arm("threelink.urdf"), &sim_bus, &Shutdown::new()).unwrap();
    stop_ctrl.trigger();
    let (_, ctrl_bus) = ctrl_thread.join().unwrap();
    let mut received = Vec::new();
    while let Some(js) = states.try_recv().unwrap() {
        received.push(js.unwrap());
    }
    ctrl_bus.close().unwrap();
    sim_bus.close().unwrap();

    assert!(received.len() > 900, "{} states", received.len());
    let before = received.iter().filter(|js| js.stamp < 0.29);
    assert!(before.into_iter().all(|js| js.payload_effort.is_empty()), "no payload, no payload torque");
    let mut model = arm("threelink.urdf").model().unwrap();
    let g = model.params().gravity;
    let mut j = nalgebra::DMatrix::zeros(3, 3);
    let (mut worst, mut largest, mut checked) = (0.0f64, 0.0f64, 0);
    for w in received.windows(3).filter(|w| w[0].stamp > 0.35) {
        let dt = w[2].stamp - w[1].stamp;
        // The state after a step carries that step's torque; the step ran from w[1] to w[2].
        let a: Vec<f64> = (0..3)
            .map(|r| (w[2].ee_position[r] - 2.0 * w[1].ee_position[r] + w[0].ee_position[r]) / (dt * dt))
            .collect();
        model.jacobian(&w[1].position, &mut j).unwrap();
        assert_eq!(w[2].payload_effort.len(), 3, "at {} s", w[2].stamp);
        for i in 0..3 {
            let expect: f64 = (0..3).map(|r| j[(r, i)] * mass * (a[r] - g[r])).sum();
            worst = worst.max((w[2].payload_effort[i] - expect).abs());
            largest = largest.max(expect.abs());
        }
        checked += 1;
    }
    eprintln!("payload torque vs Jᵀ m (a − g) over {checked} steps: worst {worst:.4} N·m, largest {largest:.3} N·m");
    assert!(checked > 500 && largest > 1.0, "{checked} steps, largest {largest}");
    assert!(worst < 0.05 * largest, "worst difference {worst} N·m against {largest} N·m");
}
