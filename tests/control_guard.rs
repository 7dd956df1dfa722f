//! The controller's command guard in a closed loop with the physics: its velocity brake slows a joint that is
//! over its rated speed back to the brake's threshold without reversing it — also on the UR5e's light last
//! wrist joint, where an unbounded brake (full effort over a narrow speed band) overshot every tick and pumped
//! the joint up to ~200 rad/s.

use nalgebra::Vector3;
use spikearm::arm::description::ArmSpec;
use spikearm::arm::hold::HoldParams;
use spikearm::arm::model::{ArmModel, ArmModelParams};
use spikearm::control::osc::{Osc, OscParams};
use spikearm::control::safety::SafetyParams;
use spikearm::eval::closed_loop::{ClosedLoop, command_guard};
use spikearm_sim::{ArmWorld, SimParams};

const ARM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/arms/ur5e.urdf");
const Q0: [f64; 6] = [0.0, -1.2, 1.6, -1.97, -1.57, 0.0];

#[test]
fn the_velocity_brake_slows_an_overspeeding_wrist_without_reversing_it() {
    let urdf = std::fs::read_to_string(ARM).unwrap();
    let pi = std::f64::consts::PI;
    for joint in [3, 5] {
        let mut world = ArmWorld::from_urdf_str(&urdf, SimParams::default()).unwrap();
        let mut dq = [0.0; 6];
        dq[joint] = 0.95 * pi;
        world.set_state(&Q0, &dq).unwrap();
        let target = Vector3::from(world.state().ee_position);
        let osc =
            Osc::new(ArmModel::new(&ArmSpec::from_urdf_str(&urdf).unwrap(), ArmModelParams::default()).unwrap(), {
                OscParams { rest_posture: Some(Q0.to_vec()), ..OscParams::default() }
            })
            .unwrap();
        let guard = command_guard(&urdf, SafetyParams::default(), HoldParams::default()).unwrap();
        let mut lp = ClosedLoop::new(world, osc, guard).unwrap();
        let mut speeds = Vec::new();
        for _ in 0..300 {
            lp.step(&target).unwrap();
            speeds.push(lp.state().dq[joint]);
        }
        let peak = speeds.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak <= 0.95 * pi + 0.05, "joint {joint}: the brake let the speed grow to {peak} rad/s");
        let first_below = speeds.iter().position(|v| v.abs() <= 0.8 * pi + 0.05);
        assert!(first_below.is_some_and(|k| k < 100), "joint {joint}: not slowed to the threshold in 0.1 s");
        let reversed = speeds[..first_below.unwrap()].iter().any(|v| *v < 0.0);
        assert!(!reversed, "joint {joint}: the brake reversed the joint: {:?}", &speeds[..20]);
        assert!(speeds[200..].iter().all(|v| v.abs() < 0.8 * pi), "joint {joint}: still fast: {:?}", &speeds[290..]);
    }
}
