//! Proves a control tick allocates nothing once running: OSC, PID, joint PD and the adaptive controller on
//! both executors, on the UR5e-class arm driven through the sim (the sim's own step is not counted).
//!
//! Allocations are counted per thread (`tests/common/counting_alloc.rs`).

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

use nalgebra::Vector3;
use spikearm::arm::description::ArmSpec;
use spikearm::arm::model::{ArmModel, ArmModelParams};
use spikearm::control::adaptive::{AdaptiveOsc, AdaptiveParams};
use spikearm::control::controller::{ControlInput, Controller};
use spikearm::control::joint_pd::{JointPd, JointPdParams};
use spikearm::control::learned_ensemble::EnsembleRecipe;
use spikearm::control::osc::{Osc, OscParams};
use spikearm::control::pid::{Pid, PidParams};
use spikearm::neuro::ExecutorKind;
use spikearm_sim::{ArmState, ArmWorld, PayloadSpec, SimParams};

const UR5E: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/arms/ur5e.urdf");
const Q0: [f64; 6] = [0.0, -1.2, 1.6, -1.97, -1.57, 0.0];

fn osc() -> Osc {
    let spec = ArmSpec::from_urdf_file(UR5E).unwrap();
    Osc::new(ArmModel::new(&spec, ArmModelParams::default()).unwrap(), OscParams::default()).unwrap()
}

/// Runs `ctl` closed-loop for 300 warm-up ticks, then counts the allocations of 700 more ticks (payload
/// attached half-way so the adaptive term learns), returning the count.
fn tick_allocations(mut ctl: impl Controller) -> usize {
    let urdf = std::fs::read_to_string(UR5E).unwrap();
    let mut world = ArmWorld::from_urdf_str(&urdf, SimParams::default()).unwrap();
    world.set_state(&Q0, &[0.0; 6]).unwrap();
    let mut state = ArmState::default();
    world.read_state_into(&mut state);
    let target = Vector3::from(state.ee_position) + Vector3::new(0.1, 0.0, 0.05);
    let mut tau = vec![0.0; 6];
    let mut counted = 0;
    for k in 0..1000 {
        if k == 500 {
            world.set_payload(Some(PayloadSpec::at_ee(2.0))).unwrap();
        }
        let input = ControlInput { t: state.t, q: &state.q, dq: &state.dq, target };
        let before = allocations();
        ctl.tick(&input, &mut tau).unwrap();
        if k >= 300 {
            counted += allocations() - before;
        }
        world.step_with_torques(&tau).unwrap();
        world.read_state_into(&mut state);
    }
    counted
}

#[test]
fn osc_pid_and_joint_pd_ticks_do_not_allocate() {
    assert_eq!(tick_allocations(osc()), 0, "osc");
    assert_eq!(tick_allocations(Pid::new(osc(), PidParams::default()).unwrap()), 0, "pid");
    let spec = ArmSpec::from_urdf_file(UR5E).unwrap();
    let pd = JointPd::new(ArmModel::new(&spec, ArmModelParams::default()).unwrap(), JointPdParams::default()).unwrap();
    assert_eq!(tick_allocations(pd), 0, "joint pd");
}

/// Both designs (the inertial one with its residual estimate, task-space ensemble and Jᵀ path) on both cores.
#[test]
fn adaptive_ticks_do_not_allocate_on_either_core() {
    for design in [AdaptiveParams::default(), AdaptiveParams::posture()] {
        for kind in [ExecutorKind::Loihi, ExecutorKind::Float] {
            let params = AdaptiveParams {
                joints: Some(vec![1, 2, 3]),
                ensemble: EnsembleRecipe { executor: kind, ..design.ensemble.clone() },
                ..design.clone()
            };
            let ctl = AdaptiveOsc::new(osc(), params).unwrap();
            assert_eq!(tick_allocations(ctl), 0, "adaptive {:?} {kind:?}", design.design);
        }
    }
}
