//! Torque commands (clamping, NaN/Inf refusal), hard joint stops, and bit-identical reruns.

mod common;

use spikearm_sim::{ArmState, PayloadSpec, SimError, SimParams};

#[test]
fn torques_are_clamped_to_the_urdf_effort_limits() {
    let mut w = common::threelink(SimParams::default());
    let clamped = w.set_torques(&[500.0, -500.0, 3.0]).unwrap();
    assert_eq!(clamped, 2);
    assert_eq!(w.applied_torques(), &[80.0, -40.0, 3.0]);
    // What moves the arm is the clamped torque.
    let a_big = w.accelerations_at_rest(&[0.0; 3], &[80.0, -40.0, 3.0]).unwrap();
    w.step();
    let a_step: Vec<f64> = w.dq().iter().map(|v| v / 0.001).collect();
    assert!(common::rel_err(&a_step, &a_big) < 1e-6, "{a_step:?} vs {a_big:?}");
}

#[test]
fn nan_and_inf_never_reach_the_physics() {
    let mut w = common::threelink(SimParams::default());
    w.set_torques(&[1.0, 2.0, 3.0]).unwrap();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = w.set_torques(&[0.0, bad, 0.0]).unwrap_err();
        assert!(matches!(err, SimError::NonFinite { what: "torque", index: 1, .. }), "{err}");
        assert!(w.step_with_torques(&[bad, 0.0, 0.0]).is_err());
        assert!(w.set_state(&[bad, 0.0, 0.0], &[0.0; 3]).is_err());
        assert!(w.set_state(&[0.0; 3], &[0.0, 0.0, bad]).is_err());
    }
    assert_eq!(w.applied_torques(), &[1.0, 2.0, 3.0], "refused commands leave the previous torques");
    assert_eq!(w.steps(), 0, "a refused step_with_torques does not step");
    assert!(matches!(w.set_torques(&[1.0]), Err(SimError::DimensionMismatch { expected: 3, got: 1, .. })));
}

#[test]
fn joint_limits_are_hard_stops() {
    // Joint 3 of the 3-link arm (limit +π) driven by its full 15 N·m: it reaches the stop and stays.
    let mut w = common::threelink(SimParams::default());
    let upper = w.joint_limits()[2].upper;
    w.set_state(&[0.0, 0.0, 3.0], &[0.0, 0.0, 0.0]).unwrap();
    w.set_torques(&[0.0, 0.0, 15.0]).unwrap();
    let mut worst: f64 = 0.0;
    let mut hold = [0.0; 3];
    for i in 0..3000 {
        // Hold joints 1 and 2 with gravity compensation so only joint 3 runs into its stop.
        if i % 10 == 0 {
            let g = w.holding_torque(&w.q()).unwrap();
            hold = [g[0], g[1], 15.0];
        }
        w.set_torques(&hold).unwrap();
        w.step();
        worst = worst.max(w.q()[2] - upper);
    }
    let q3 = w.q()[2];
    println!("joint 3 stop: worst overshoot {worst:.5} rad, final {:.5} rad past the stop", q3 - upper);
    assert!(worst < 0.05, "overshoot {worst} rad");
    assert!((q3 - upper).abs() < 0.01, "rests at the stop: {q3}");
    assert!(w.set_state(&[0.0, 0.0, 3.5], &[0.0; 3]).is_err(), "positions past the limits are refused");
}

#[test]
fn limits_can_be_disabled() {
    let mut w = common::threelink(SimParams { enforce_position_limits: false, ..SimParams::default() });
    w.set_state(&[0.0, 0.0, 3.5], &[0.0; 3]).unwrap();
    assert!((w.q()[2] - 3.5).abs() < 1e-6);
}

fn run(urdf: &str, n: usize) -> Vec<ArmState> {
    let mut w = spikearm_sim::ArmWorld::from_urdf_str(urdf, SimParams::default()).unwrap();
    let dof = w.dof();
    let q0: Vec<f64> = (0..dof).map(|i| 0.1 * i as f64 - 0.2).collect();
    w.set_state(&q0, &vec![0.5; dof]).unwrap();
    let mut out = Vec::new();
    for k in 0..2000 {
        let tau: Vec<f64> = (0..dof).map(|i| 5.0 * ((k as f64) * 0.01 + i as f64).sin()).collect();
        w.set_torques(&tau).unwrap();
        if k == 500 {
            w.set_payload(Some(PayloadSpec { mass_kg: 1.5, offset_m: [0.0, 0.01, 0.02] })).unwrap();
        }
        if k == 1500 {
            w.set_payload(None).unwrap();
        }
        w.step();
        if k % 100 == 0 {
            out.push(w.state());
        }
    }
    assert_eq!(out.len(), n);
    out
}

fn bits(states: &[ArmState]) -> Vec<u64> {
    states
        .iter()
        .flat_map(|s| {
            s.q.iter().chain(&s.dq).chain(&s.ee_position).chain(&s.ee_orientation).copied().collect::<Vec<_>>()
        })
        .map(f64::to_bits)
        .collect()
}

#[test]
fn same_inputs_give_bit_identical_trajectories() {
    for urdf in [common::THREELINK, common::UR5E] {
        let a = bits(&run(urdf, 20));
        let b = bits(&run(urdf, 20));
        assert_eq!(a, b);
    }
}

#[test]
fn bad_urdf_is_a_clear_error() {
    let err = spikearm_sim::ArmWorld::from_urdf_str("<robot", SimParams::default()).unwrap_err();
    assert!(matches!(err, SimError::UrdfParse(_)), "{err}");
    let no_ee = common::THREELINK.replace("name=\"ee\"", "name=\"tool\"");
    let err = spikearm_sim::ArmWorld::from_urdf_str(&no_ee, SimParams::default()).unwrap_err();
    assert!(err.to_string().contains("'ee'"), "{err}");
    let err = spikearm_sim::ArmWorld::from_urdf_str(common::THREELINK, SimParams { dt: 0.0, ..SimParams::default() })
        .unwrap_err();
    assert!(matches!(err, SimError::InvalidParams(_)), "{err}");
}
