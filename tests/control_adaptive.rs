//! The adaptive controller's run-time controls: learning pause/resume, rate change, weight export/import,
//! parameter access by name, and the training-signal/input settings.

use nalgebra::Vector3;
use spikearm::arm::description::ArmSpec;
use spikearm::arm::hold::HoldParams;
use spikearm::arm::model::{ArmModel, ArmModelParams};
use spikearm::control::adaptive::{AdaptiveInputs, AdaptiveOsc, AdaptiveParams};
use spikearm::control::controller::Controller;
use spikearm::control::learned_ensemble::EnsembleRecipe;
use spikearm::control::osc::{Osc, OscParams};
use spikearm::control::safety::SafetyParams;
use spikearm::control::task_ensemble::dynamic_task_force;
use spikearm::eval::closed_loop::{ClosedLoop, command_guard};
use spikearm::neuro::ExecutorKind;
use spikearm_sim::{ArmWorld, PayloadSpec, SimParams};

const ARM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/arms/threelink.urdf");
const Q0: [f64; 3] = [1.0, -1.4, -0.6];

/// The default adaptive settings with a joint-space ensemble of `neurons`.
fn sized(neurons: usize) -> AdaptiveParams {
    AdaptiveParams { ensemble: EnsembleRecipe { neurons, ..EnsembleRecipe::default() }, ..AdaptiveParams::default() }
}

fn adaptive(params: AdaptiveParams) -> AdaptiveOsc {
    let spec = ArmSpec::from_urdf_file(ARM).unwrap();
    let osc = Osc::new(ArmModel::new(&spec, ArmModelParams::default()).unwrap(), OscParams::default()).unwrap();
    AdaptiveOsc::new(osc, params).unwrap()
}

/// The controller node's command guard with its default settings.
fn guard(urdf: &str) -> spikearm::control::safety::CommandGuard {
    command_guard(urdf, SafetyParams::default(), HoldParams::default()).unwrap()
}

/// A closed loop holding the start pose with a 1 kg payload, so the adaptive term has something to learn.
fn looped(params: AdaptiveParams) -> (ClosedLoop<AdaptiveOsc>, Vector3<f64>) {
    let urdf = std::fs::read_to_string(ARM).unwrap();
    let mut world = ArmWorld::from_urdf_str(&urdf, SimParams::default()).unwrap();
    world.set_state(&Q0, &[0.0; 3]).unwrap();
    world.set_payload(Some(PayloadSpec::at_ee(1.0))).unwrap();
    let target = Vector3::from(world.state().ee_position);
    (ClosedLoop::new(world, adaptive(params), guard(&urdf)).unwrap(), target)
}

fn run(lp: &mut ClosedLoop<AdaptiveOsc>, target: &Vector3<f64>, steps: usize) {
    for _ in 0..steps {
        lp.step(target).unwrap();
    }
}

fn weights(lp: &ClosedLoop<AdaptiveOsc>) -> Vec<f64> {
    lp.controller().export_weights().decoders
}

#[test]
fn learning_pauses_resumes_and_follows_the_rate() {
    for kind in [ExecutorKind::Loihi, ExecutorKind::Float] {
        let (mut lp, target) =
            looped(AdaptiveParams { ensemble: EnsembleRecipe { executor: kind, ..sized(200).ensemble }, ..sized(200) });
        run(&mut lp, &target, 300);
        let w1 = weights(&lp);
        assert!(w1.iter().any(|&w| w != 0.0), "{kind:?}: nothing learned while holding a payload");
        lp.controller_mut().set_param("learning", 0.0).unwrap();
        assert_eq!(lp.controller().param("learning"), Some(0.0));
        run(&mut lp, &target, 200);
        assert_eq!(weights(&lp), w1, "{kind:?}: weights changed while paused");
        assert!(lp.controller().status().learning == Some(false));
        lp.controller_mut().set_param("learning", 1.0).unwrap();
        lp.controller_mut().set_param("learning_rate", 0.0).unwrap();
        run(&mut lp, &target, 200);
        assert_eq!(weights(&lp), w1, "{kind:?}: weights changed at rate 0");
        lp.controller_mut().set_learning_rate(1e-4).unwrap();
        run(&mut lp, &target, 200);
        assert_ne!(weights(&lp), w1, "{kind:?}: learning did not resume");
        assert!(lp.controller_mut().set_param("learning", 0.5).is_err());
        assert!(lp.controller_mut().set_param("learning_rate", f64::NAN).is_err());
        assert!(lp.controller_mut().set_param("no_such_gain", 1.0).is_err());
    }
}

#[test]
fn exported_weights_import_into_a_fresh_controller() {
    let (mut lp, target) = looped(sized(200));
    run(&mut lp, &target, 500);
    let w = lp.controller().learned_weights().unwrap();
    let mut fresh = adaptive(sized(200));
    fresh.restore_weights(&w).unwrap();
    let back = fresh.export_weights();
    let scale = w.decoders.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let worst = w.decoders.iter().zip(&back.decoders).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    // The fixed-point core stores 8-bit mantissas: a round trip is exact up to one quantum of the largest weight.
    assert!(worst <= scale / 64.0, "round trip error {worst} of {scale}");
    let mut wrong = w.clone();
    wrong.neurons = 10;
    assert!(fresh.import_weights(&wrong).is_err());
    // The inertial design's readout holds both ensembles: 3 joint torques from 200 neurons and 2 task forces
    // from the task ensemble's, block-diagonal; and both blocks learned something while holding the payload.
    let task_n = AdaptiveParams::default().task.neurons;
    assert_eq!((w.dimensions, w.neurons), (5, 200 + task_n));
    let joint_block = (0..3).any(|r| w.decoders[r * w.neurons..][..200].iter().any(|&x| x != 0.0));
    let task_block = (3..5).any(|r| w.decoders[r * w.neurons + 200..][..task_n].iter().any(|&x| x != 0.0));
    assert!(joint_block && task_block, "joint block learned {joint_block}, task block {task_block}");
    let off_block = (0..3).all(|r| w.decoders[r * w.neurons + 200..][..task_n].iter().all(|&x| x == 0.0));
    assert!(off_block);
}

/// Without a payload the model residual is (nearly) zero, so the inertial design learns (nearly) nothing and
/// its torque stays small; with one, the residual is the payload's weight at the held pose.
#[test]
fn residual_is_the_payload_and_quiet_without_one() {
    let (mut lp, target) = looped(sized(200));
    run(&mut lp, &target, 1500);
    let r = lp.controller().residual().unwrap().to_vec();
    // 1 kg at the 3-link's tip: joint 0 carries about 9.81 N times the tip's horizontal reach (> 0.3 m here).
    assert!(r[0].abs() > 3.0, "residual with a 1 kg payload: {r:?}");
    let urdf = std::fs::read_to_string(ARM).unwrap();
    let mut world = ArmWorld::from_urdf_str(&urdf, SimParams::default()).unwrap();
    world.set_state(&Q0, &[0.0; 3]).unwrap();
    let mut quiet = ClosedLoop::new(world, adaptive(sized(200)), guard(&urdf)).unwrap();
    run(&mut quiet, &target, 1500);
    let r0 = quiet.controller().residual().unwrap();
    let u0 = quiet.controller().adaptive_torque().unwrap();
    assert!(r0.iter().all(|x| x.abs() < 0.5), "residual without payload: {r0:?}");
    assert!(u0.iter().all(|x| x.abs() < 0.5), "adaptive torque without payload: {u0:?}");
}

#[test]
fn textbook_and_position_settings_build_with_their_input_sizes() {
    let a = adaptive(AdaptiveParams::default());
    assert_eq!(a.scaling().inputs(), 3);
    assert_eq!(a.scaling().outputs(), 4);
    assert_eq!(a.name(), "adaptive-loihi");
    let task = a.task_ensemble().expect("the default design has a task-space ensemble");
    assert_eq!(task.rows(), &[0, 2]);
    assert_eq!(task.ensemble().scaling().outputs(), 3);
    let p = adaptive(AdaptiveParams::posture());
    assert!(p.task_ensemble().is_none());
    assert_eq!(p.name(), "adaptive-posture-loihi");
    let t = adaptive(AdaptiveParams::textbook());
    assert_eq!(t.scaling().inputs(), 6);
    assert_eq!(t.name(), "adaptive-posture-loihi");
    let spec = ArmSpec::from_urdf_file(ARM).unwrap();
    let osc = Osc::new(ArmModel::new(&spec, ArmModelParams::default()).unwrap(), OscParams::default()).unwrap();
    let velocities = AdaptiveParams { inputs: AdaptiveInputs::PositionsAndVelocities, ..AdaptiveParams::default() };
    assert!(AdaptiveOsc::new(osc, velocities).is_err(), "the inertial design reads angles only");
    let spec = ArmSpec::from_urdf_file(ARM).unwrap();
    let osc = Osc::new(ArmModel::new(&spec, ArmModelParams::default()).unwrap(), OscParams::default()).unwrap();
    let bad = AdaptiveOsc::new(osc, AdaptiveParams { joints: Some(vec![0, 7]), ..AdaptiveParams::default() });
    assert!(bad.is_err());
}

/// The joint-space ensemble's share: a torque the task-space force can supply (`Jᵀ F`, a payload's weight and
/// inertia) is taken out entirely, one that gives the end effector no acceleration (`(I − Jᵀ J̄ᵀ) z`) is left
/// as it is, on the UR5e at a bent posture with all three task rows.
#[test]
fn joint_share_keeps_only_what_no_task_force_supplies() {
    let spec = ArmSpec::from_urdf_file(concat!(env!("CARGO_MANIFEST_DIR"), "/config/arms/ur5e.urdf")).unwrap();
    let osc = Osc::new(ArmModel::new(&spec, ArmModelParams::default()).unwrap(), OscParams::default()).unwrap();
    let mut a = AdaptiveOsc::new(osc, sized(50)).unwrap();
    let q = [0.3, -1.2, 1.4, -1.6, -1.5, 0.2];
    a.osc_mut().compute(&q, &[0.0; 6], &Vector3::new(0.4, 0.1, 0.4), &Vector3::zeros()).unwrap();
    let (osc, task) = (a.osc(), a.task_ensemble().unwrap());
    assert_eq!(task.rows(), &[0, 1, 2], "a 6-DoF arm adapts all three task rows by default");
    let (j, minv_jt, mx) = (osc.jacobian().clone(), osc.minv_jt().clone(), *osc.task_inertia());
    // Jᵀ F for a force of 2 kg under gravity plus a sideways push.
    let force = nalgebra::DVector::from_vec(vec![3.0, -1.5, -19.6]);
    let mut e: Vec<f64> = (j.transpose() * &force).iter().copied().collect();
    let scale = e.iter().map(|x| x.abs()).fold(0.0, f64::max);
    let f = dynamic_task_force(osc, &e);
    task.remove_task_part(osc, &f, &mut e);
    assert!(e.iter().all(|x| x.abs() < 1e-6 * scale), "a task force's torque left {e:?} (of {scale} N·m)");
    // (I − Jᵀ J̄ᵀ) z with J̄ᵀ = Mx (M⁻¹ Jᵀ)ᵀ, computed here with nalgebra's dense products.
    let z = nalgebra::DVector::from_vec(vec![1.0, -2.0, 0.5, 3.0, -1.0, 0.7]);
    let jbar_t = nalgebra::DMatrix::from_fn(3, 3, |r, c| mx[(r, c)]) * minv_jt.transpose();
    let null: Vec<f64> = (&z - j.transpose() * (jbar_t * &z)).iter().copied().collect();
    assert!(null.iter().any(|x| x.abs() > 0.1), "the test torque must not vanish: {null:?}");
    let mut kept = null.clone();
    let f = dynamic_task_force(osc, &kept);
    task.remove_task_part(osc, &f, &mut kept);
    for (a, b) in kept.iter().zip(&null) {
        assert!((a - b).abs() < 1e-9 * scale.max(1.0), "a null-space torque changed: {kept:?} vs {null:?}");
    }
}
