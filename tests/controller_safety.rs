//! Controller-side safety against the real nodes: the real sim node (rapier, lockstep) and the real controller
//! node on a zenoh bus over loopback TCP, an operator session beside them. Whatever the operator sends, every
//! command stays inside the URDF effort limits and the torque rate limit, a parameter request is applied whole
//! or not at all, an e-stop clear resumes from the hold torque without a jump, and a control law that fails
//! holds the arm instead of dropping it.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use spikearm::bus::{Bus, Estop, JointStates, ParamsRequest, SCHEMA_VERSION, Target};
use spikearm::control::controller::{ControlError, ControlInput, Controller};
use spikearm::control::factory::ControllerParams;
use spikearm::control::osc::{Osc, OscParams};
use spikearm::control::safety::SafetyParams;
use spikearm::node::{
    ControllerNodeReport, ControllerSettings, Shutdown, SimNodeReport, run_controller_node, run_sim_node,
};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

const URDF: &str = "threelink.urdf";
const Q0: [f64; 3] = [0.3, -0.6, 0.9];

struct Run {
    sim: SimNodeReport,
    ctrl: ControllerNodeReport,
}

/// The sim and a controller node (built by `controller`) in lockstep for `duration_s` of sim time, every state
/// and tick recorded, while `operate` acts on the operator's session.
fn run(
    duration_s: f64,
    controller: impl FnOnce() -> Box<dyn Controller> + Send + 'static,
    settings: ControllerSettings,
    operate: impl FnOnce(&Bus),
) -> Run {
    let mut b = mesh_buses("threelink", 3);
    let (op, ctrl_bus, sim_bus) = (b.pop().unwrap(), b.pop().unwrap(), b.pop().unwrap());
    let mut spec = sim_settings();
    spec.initial_q = Some(Q0.to_vec());
    spec.duration_s = Some(duration_s);
    spec.record_every = 1;
    let stop = Shutdown::new();
    let s2 = stop.clone();
    let sim = thread::spawn(move || {
        let r = run_sim_node(&spec, arm(URDF), &sim_bus, &s2);
        sim_bus.close().unwrap();
        r.unwrap()
    });
    let c2 = stop.clone();
    let ctrl = thread::spawn(move || {
        let mut c = controller();
        let mut cspec = settings;
        cspec.record_every = 1;
        cspec.stop_at_s = Some(duration_s - 0.0005);
        let r = run_controller_node(&cspec, arm(URDF), c.as_mut(), &ctrl_bus, &c2);
        ctrl_bus.close().unwrap();
        r.unwrap()
    });
    operate(&op);
    let sim = sim.join().unwrap();
    let ctrl = ctrl.join().unwrap();
    stop.trigger();
    op.close().unwrap();
    Run { sim, ctrl }
}

/// Waits until the sim has published a state with `seq` at least `at`; returns the seq seen, or `None` when the
/// run ended first.
fn wait_seq(op: &Bus, at: u64) -> Option<u64> {
    let states = op.latest::<JointStates>(&op.keys().joint_states()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(Ok(js))) = states.recv_timeout(Duration::from_millis(50))
            && js.seq >= at
        {
            return Some(js.seq);
        }
    }
    None
}

/// Effort limits of the shipped 3-link arm, N·m.
fn effort_limits() -> Vec<f64> {
    arm(URDF).envelope().effort_limits().to_vec()
}

/// Checks every recorded command against the effort limits and the rate limit; returns the largest step.
fn assert_commands_within_limits(ctrl: &ControllerNodeReport, rate: f64) -> f64 {
    let limits = effort_limits();
    assert_eq!(ctrl.sample_stride, 1);
    assert!(ctrl.samples.len() > 500, "{} ticks recorded", ctrl.samples.len());
    let mut largest: f64 = 0.0;
    for (k, s) in ctrl.samples.iter().enumerate() {
        for (j, (t, l)) in s.effort.iter().zip(&limits).enumerate() {
            assert!(t.is_finite() && t.abs() <= *l, "tick {k} joint {j}: {t} N·m beyond ±{l}");
        }
        if k > 0 {
            let p = &ctrl.samples[k - 1];
            let allowed = rate * (s.t - p.t) + 1e-9;
            for (j, (a, b)) in s.effort.iter().zip(&p.effort).enumerate() {
                assert!((a - b).abs() <= allowed, "tick {k} joint {j}: a step of {} N·m > {allowed}", (a - b).abs());
                largest = largest.max((a - b).abs());
            }
        }
    }
    largest
}

fn adaptive() -> Box<dyn Controller> {
    let p = ControllerParams { neurons: 200, ..ControllerParams::default() };
    p.build(&arm(URDF)).unwrap()
}

/// A seeded stream of parameter requests: valid values, values out of bounds, NaN, negatives, names nobody
/// knows, alone and mixed in one request.
fn fuzzed_request(rng: &mut Xoshiro256PlusPlus) -> BTreeMap<String, f64> {
    let names = ["kp", "kv", "null_damping", "rest_kp", "rest_kv", "learning", "learning_rate", "zeta"];
    let values = [0.0, 0.5, 1.0, 1e-4, 5e-4, 1e-3, 10.0, 80.0, 300.0, 999.0, 5e3, 1e9, -1.0, f64::NAN, f64::INFINITY];
    (0..rng.random_range(1..=3))
        .map(|_| (names[rng.random_range(0..names.len())].to_string(), values[rng.random_range(0..values.len())]))
        .collect()
}

#[test]
fn a_fuzzed_parameter_stream_never_drives_a_command_past_the_limits_and_sets_are_all_or_none() {
    let mut settings = controller_settings();
    settings.arm = "threelink".into();
    // Far targets every 0.4 s: large commanded changes for the rate limit to shape.
    settings.target_events = (1..8)
        .map(|k| spikearm::node::TargetEvent {
            t: 0.4 * k as f64,
            position: if k % 2 == 0 { [0.5, 0.0, 0.6] } else { [0.2, 0.3, 0.3] },
        })
        .collect();
    let (mut accepted, mut refused) = (0, 0);
    let r = run(3.0, adaptive, settings, |op| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let t = Duration::from_secs(5);
        let empty = ParamsRequest { v: SCHEMA_VERSION, set: BTreeMap::new() };
        let mut before = None;
        for _ in 0..100 {
            before = op.query_params("controller", &empty, t).ok();
            if before.is_some() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let mut before = before.expect("the controller's parameters").params;
        let mut seq = 0;
        while let Some(s) = wait_seq(op, seq + 20) {
            seq = s;
            let set = fuzzed_request(&mut rng);
            let Ok(reply) = op.query_params("controller", &ParamsRequest { v: SCHEMA_VERSION, set: set.clone() }, t)
            else {
                break; // the run ended
            };
            if reply.error.is_none() {
                accepted += 1;
                for (k, x) in &set {
                    assert_eq!(reply.params[k], *x, "accepted {set:?} but {k} = {}", reply.params[k]);
                }
            } else {
                refused += 1;
                assert_eq!(reply.params, before, "refused {set:?} ({:?}) but something changed", reply.error);
            }
            before = reply.params;
        }
    });
    eprintln!("params: {accepted} accepted, {refused} refused; clamped {:?}", r.ctrl.clamped);
    assert!(accepted >= 5 && refused >= 20, "the stream exercised both: {accepted} accepted, {refused} refused");
    let largest = assert_commands_within_limits(&r.ctrl, SafetyParams::default().torque_rate_nm_per_s);
    eprintln!("largest step {largest:.3} N·m");
    assert!(r.ctrl.clamped.get("torque_rate").is_some_and(|&n| n > 0), "the rate limit acted: {:?}", r.ctrl.clamped);
    // The controller kept every command inside the limits: the sim never had to clamp one.
    assert_eq!(r.sim.clamped.get("torque"), None, "sim clamped {:?}", r.sim.clamped);
}

#[test]
fn after_an_estop_clears_the_command_resumes_from_the_hold_torque_without_a_jump() {
    let osc =
        || -> Box<dyn Controller> { Box::new(Osc::new(arm(URDF).model().unwrap(), OscParams::default()).unwrap()) };
    let far = [0.15, 0.35, 0.45];
    let r = run(2.5, osc, controller_settings(), |op| {
        let k = op.keys().clone();
        let at = wait_seq(op, 600).unwrap();
        op.put(&k.estop(), &Estop { v: SCHEMA_VERSION, engaged: true, source: "test".into() }).unwrap();
        // While latched, the target moves far: without a ramp the first command after the clear would jump.
        op.put(&k.target(), &Target { v: SCHEMA_VERSION, position: far }).unwrap();
        let at = wait_seq(op, at + 300).unwrap();
        op.put(&k.estop(), &Estop { v: SCHEMA_VERSION, engaged: false, source: "test clear".into() }).unwrap();
        wait_seq(op, at + 100);
    });
    let c = &r.ctrl;
    assert_eq!(c.estop_log.len(), 2, "{:?}", c.estop_log);
    let (engaged_at, cleared_at) = (c.estop_log[0].stamp, c.estop_log[1].stamp);
    let last_before = c.samples.iter().rev().find(|s| s.t <= engaged_at).unwrap();
    let first_after = c.samples.iter().find(|s| s.t >= cleared_at).unwrap();
    let later = c.samples.iter().find(|s| s.t >= cleared_at + 0.6).unwrap();
    let gap = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    eprintln!(
        "before e-stop {:?}, first after clear {:?}, 0.6 s later {:?}",
        last_before.effort, first_after.effort, later.effort
    );
    // Before the engage and right after the clear the arm sits at the same held posture: the same torque.
    assert!(gap(&first_after.effort, &last_before.effort) < 3.0, "resumed with a jump");
    // The far target did demand a very different command: the ramp, not a quiet target, made the resume smooth.
    assert!(gap(&later.effort, &first_after.effort) > 10.0, "the new target changed the command");
    assert_commands_within_limits(c, SafetyParams::default().torque_rate_nm_per_s);
}

/// The real OSC, except that its solve fails from `fail_from_s` on (as when the task inertia is degenerate).
struct FailingOsc {
    osc: Osc,
    fail_from_s: f64,
}

impl Controller for FailingOsc {
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        if input.t >= self.fail_from_s {
            torque.fill(0.0);
            return Err(ControlError::Model("task-space inertia is degenerate".into()));
        }
        self.osc.tick(input, torque)
    }
    fn dof(&self) -> usize {
        3
    }
    fn name(&self) -> &str {
        "failing-osc"
    }
}

#[test]
fn a_control_law_that_cannot_solve_gets_the_hold_torque_and_the_arm_stays_put() {
    let failing = || -> Box<dyn Controller> {
        Box::new(FailingOsc {
            osc: Osc::new(arm(URDF).model().unwrap(), OscParams::default()).unwrap(),
            fail_from_s: 1.0,
        })
    };
    let r = run(2.5, failing, controller_settings(), |_| {});
    assert!(r.ctrl.control_errors > 1000, "{} failed ticks", r.ctrl.control_errors);
    let at = |t: f64| r.sim.samples.iter().find(|s| s.t >= t).unwrap();
    let (q1, q2) = (&at(1.0).q, &at(2.49).q);
    let drift = q1.iter().zip(q2).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    eprintln!("posture at 1.0 s {q1:?}, at 2.49 s {q2:?}: drift {drift:.4} rad");
    assert!(drift < 0.02, "the arm moved {drift} rad while the law failed");
    assert!(at(2.0).tau.iter().any(|t| t.abs() > 1.0), "gravity is held, not zero torque: {:?}", at(2.0).tau);
    assert!(!at(2.0).held, "the controller, not the sim's watchdog, held it");
}
