//! The e-stop over a real zenoh bus (three sessions on loopback TCP: sim, controller, operator) with the real
//! rapier arm in lockstep: latched, obeyed by the sim and the controller at the first step / state after
//! they see it, not cleared by repeats, time, targets or payloads, cleared only by an explicit clear; a body
//! on the e-stop key that cannot be decoded engages it too (fail-safe).

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use spikearm::arm::hold::{HoldLaw, HoldParams};
use spikearm::bus::{Bus, Estop, JointStates, Message, NodeState, Payload, SCHEMA_VERSION, Status, Target, TorqueCmd};
use spikearm::control::controller::{ControlError, ControlInput, Controller};
use spikearm::node::{ControllerNodeReport, Shutdown, SimNodeReport, run_controller_node, run_sim_node};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

const Q_REF: [f64; 3] = [0.4, -0.3, 0.2];

/// Gravity-compensated joint PD to a fixed posture that logs the sim time of every state it ticks on (its
/// "learning" is that log: no tick, nothing learned).
struct LoggingPd {
    law: HoldLaw,
    ticked: Arc<Mutex<Vec<f64>>>,
}

impl Controller for LoggingPd {
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        self.ticked.lock().unwrap().push(input.t);
        self.law.torque(&Q_REF, input.q, input.dq, torque).map_err(ControlError::Model)
    }
    fn dof(&self) -> usize {
        3
    }
    fn name(&self) -> &str {
        "logging-pd"
    }
}

struct Run {
    sim: SimNodeReport,
    ctrl: ControllerNodeReport,
    ticked: Vec<f64>,
    commanded: Vec<u64>,
    statuses: Vec<Status>,
}

/// Runs sim and controller in lockstep while `operate` acts on the operator's bus, then stops both.
fn run(operate: impl FnOnce(&Bus)) -> Run {
    let mut b = mesh_buses("threelink", 3);
    let (op, ctrl_bus, sim_bus) = (b.pop().unwrap(), b.pop().unwrap(), b.pop().unwrap());
    let commands = op.queue::<TorqueCmd>(&op.keys().torque_cmd(), 1 << 20).unwrap();
    let statuses = op.queue::<Status>(&op.keys().status("controller"), 1 << 16).unwrap();
    let mut spec = sim_settings();
    spec.initial_q = Some(Q_REF.to_vec());
    spec.record_every = 1;
    spec.max_samples = 1 << 22;
    let stop_sim = Shutdown::new();
    let s2 = stop_sim.clone();
    let sim = thread::spawn(move || {
        let r = run_sim_node(&spec, arm("threelink.urdf"), &sim_bus, &s2);
        sim_bus.close().unwrap();
        r.unwrap()
    });
    let ticked = Arc::new(Mutex::new(Vec::new()));
    let t2 = ticked.clone();
    let stop_ctrl = Shutdown::new();
    let c2 = stop_ctrl.clone();
    let ctrl = thread::spawn(move || {
        let mut c = LoggingPd { law: HoldLaw::new(&arm("threelink.urdf"), HoldParams::default()).unwrap(), ticked: t2 };
        let mut cspec = controller_settings();
        cspec.status_period_s = 0.01;
        let r = run_controller_node(&cspec, arm("threelink.urdf"), &mut c, &ctrl_bus, &c2);
        ctrl_bus.close().unwrap();
        r.unwrap()
    });
    operate(&op);
    stop_sim.trigger();
    let sim = sim.join().unwrap();
    stop_ctrl.trigger();
    let ctrl = ctrl.join().unwrap();
    let mut commanded = Vec::new();
    while let Ok(Some(Ok(c))) = commands.try_recv() {
        commanded.push(c.seq);
    }
    let mut st = Vec::new();
    while let Ok(Some(Ok(s))) = statuses.try_recv() {
        st.push(s);
    }
    op.close().unwrap();
    let ticked = ticked.lock().unwrap().clone();
    Run { sim, ctrl, ticked, commanded, statuses: st }
}

fn estop(engaged: bool, source: &str) -> Estop {
    Estop { v: SCHEMA_VERSION, engaged, source: source.into() }
}

/// Waits until the sim has published a state with `seq` at least `at` (the machine may be slow: progress,
/// not wall time, paces the operator). Returns the seq seen.
fn wait_seq(op: &Bus, at: u64) -> u64 {
    let states = op.latest::<JointStates>(&op.keys().joint_states()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(Ok(js))) = states.recv_timeout(Duration::from_millis(50))
            && js.seq >= at
        {
            return js.seq;
        }
    }
    panic!("the sim did not reach state {at}");
}

#[test]
fn estop_latches_at_the_next_step_and_tick_and_only_an_explicit_clear_releases_it() {
    let far = [0.1, 0.0, 0.3];
    let r = run(|op| {
        let k = op.keys().clone();
        let at = wait_seq(op, 200);
        op.put(&k.estop(), &estop(true, "operator")).unwrap();
        let at = wait_seq(op, at + 100);
        // None of these may release the latch: repeats, a target, a payload, time.
        for _ in 0..3 {
            op.put(&k.estop(), &estop(true, "operator again")).unwrap();
        }
        op.put(&k.target(), &Target { v: SCHEMA_VERSION, position: far }).unwrap();
        op.put(&k.payload(), &Payload { v: SCHEMA_VERSION, mass_kg: 0.5, offset_m: [0.0; 3] }).unwrap();
        // Statuses go out on wall time (every 10 ms here) while lockstep steps as fast as the machine allows:
        // stay latched for several status periods, so one reports the new target whatever the step rate.
        thread::sleep(Duration::from_millis(60));
        let at = wait_seq(op, at + 200);
        op.put(&k.estop(), &estop(false, "operator clear")).unwrap();
        wait_seq(op, at + 200);
    });
    let (sim, ctrl) = (&r.sim, &r.ctrl);
    eprintln!(
        "sim: {} steps, e-stop {:?}; controller: {} ticks, e-stop {:?}",
        sim.steps, sim.estop_log, ctrl.ticks, ctrl.estop_log
    );
    assert_eq!(sim.sample_stride, 1);
    assert_eq!(sim.samples.len() as u64, sim.steps + 1, "one sample per state, indexed by seq");

    // The sim: exactly one engage and one clear, whatever else arrived.
    let log: Vec<_> = sim.estop_log.iter().map(|e| (e.engaged, e.source.as_str())).collect();
    assert_eq!(log, [(true, "operator"), (false, "operator clear")], "{:?}", sim.estop_log);
    let (s1, s2) = (sim.estop_log[0].seq.unwrap() as usize, sim.estop_log[1].seq.unwrap() as usize);
    assert!(s2 > s1 + 100, "the latch held for many steps: {s1}..{s2}");
    assert!(!sim.samples[s1].held, "running before the engage");
    let mut law = HoldLaw::new(&arm("threelink.urdf"), HoldParams::default()).unwrap();
    let q_hold = sim.samples[s1].q.clone();
    let mut tau = vec![0.0; 3];
    for k in s1 + 1..=s2 {
        let (prev, s) = (&sim.samples[k - 1], &sim.samples[k]);
        assert!(s.held, "step {k} (engaged after state {s1}, cleared after {s2}) not held");
        // The hold law pulling towards the posture at the engage, evaluated at the previous state.
        law.torque(&q_hold, &prev.q, &prev.dq, &mut tau).unwrap();
        for j in 0..3 {
            assert_eq!(s.tau[j].to_bits(), tau[j].to_bits(), "step {k} joint {j}: {} vs hold {}", s.tau[j], tau[j]);
        }
    }
    assert!(sim.samples[s1 + 1..=s2].iter().any(|s| s.payload_kg == 0.5), "the payload arrived while latched");
    assert!(!sim.samples[s2 + 1].held, "control resumed at the first step after the clear");
    assert!(sim.samples.len() > s2 + 50 && sim.samples[s2 + 1..].iter().all(|s| !s.held), "and stayed resumed");

    // The controller: the first state after the engage is the first it does not tick or answer.
    let log: Vec<_> = ctrl.estop_log.iter().map(|e| (e.engaged, e.source.as_str())).collect();
    assert_eq!(log, [(true, "operator"), (false, "operator clear")], "{:?}", ctrl.estop_log);
    let (c1, c2) = (ctrl.estop_log[0].seq.unwrap(), ctrl.estop_log[1].seq.unwrap());
    assert!(c2 > c1, "states kept arriving while latched: {c1}..{c2}");
    let (t1, t2) = (ctrl.estop_log[0].stamp, ctrl.estop_log[1].stamp);
    // The state the clear was recorded at was seen while latched; the sim, released at the same state, re-sends
    // it for an answer, so it may be the first one ticked again.
    assert!(!r.ticked.iter().any(|&t| t > t1 && t < t2), "ticked while latched ({t1}..{t2} s)");
    assert!(!r.commanded.iter().any(|&q| q > c1 && q < c2), "commanded while latched ({c1}..{c2})");
    assert!(
        r.ticked.iter().any(|&t| t <= t1) && r.ticked.iter().filter(|&&t| t > t2).count() > 50,
        "ticks before and after"
    );
    assert_eq!(ctrl.ticks as usize, r.ticked.len());
    // Its status said so, and the target sent while latched was taken (not a clear).
    let latched: Vec<_> = r.statuses.iter().filter(|s| s.state == NodeState::Estop).collect();
    assert!(!latched.is_empty(), "an estop status");
    assert!(
        r.statuses.iter().any(|s| s.state == NodeState::Estop && s.controller().is_some_and(|c| c.target == Some(far))),
        "target taken while latched"
    );
}

/// The e-stop as a future build might send it: a version this build does not speak.
#[derive(Serialize, Deserialize)]
struct FutureEstop {
    v: u32,
    engaged: bool,
}

impl Message for FutureEstop {
    const KIND: &'static str = "estop";
}

#[test]
fn an_undecodable_body_on_the_estop_key_engages_and_counts_and_only_a_valid_clear_releases() {
    let r = run(|op| {
        let k = op.keys().clone();
        let at = wait_seq(op, 200);
        // Even "engaged: false" in an unknown version is refused, counted, and treated as a stop request.
        op.put(&k.estop(), &FutureEstop { v: SCHEMA_VERSION + 1, engaged: false }).unwrap();
        let at = wait_seq(op, at + 100);
        op.put(&k.estop(), &estop(false, "operator clear")).unwrap();
        wait_seq(op, at + 200);
    });
    for (who, log, rejected) in
        [("sim", &r.sim.estop_log, &r.sim.rejected), ("controller", &r.ctrl.estop_log, &r.ctrl.rejected)]
    {
        let got: Vec<_> = log.iter().map(|e| (e.engaged, e.source.as_str())).collect();
        assert_eq!(got, [(true, "refused version body"), (false, "operator clear")], "{who}");
        assert_eq!(rejected.get("version"), Some(&1), "{who}: {rejected:?}");
    }
    let (s1, s2) = (r.sim.estop_log[0].seq.unwrap() as usize, r.sim.estop_log[1].seq.unwrap() as usize);
    assert!(r.sim.samples[s1 + 1..=s2].iter().all(|s| s.held));
    assert!(r.sim.samples[s2 + 1..].iter().all(|s| !s.held) && r.sim.samples.len() > s2 + 50);
}
