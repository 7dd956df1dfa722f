//! The payload protocol of DeWolf et al. 2020, run in a closed loop:
//! settle at the start pose, attach the payload (the controller is not told), then reach to 8 targets on a
//! circle around the start end-effector position in the world x–z plane, 2 s each, lap after lap; the mean
//! end-effector error of every lap is the score. Optionally the payload is removed again for more laps and then
//! put back for more, and the circle can be swapped for seeded random targets or a continuous figure-8
//! (`eval::targets`). Every command passes the controller node's command guard ([`ClosedLoop`]).

use nalgebra::Vector3;
use spikearm_sim::{ArmWorld, PayloadSpec, SimParams};

use super::closed_loop::{ClosedLoop, ClosedLoopError};
use super::targets::{TargetPattern, TargetSequence};
use crate::control::controller::Controller;
use crate::control::safety::CommandGuard;

/// Timeline and geometry of the protocol. Defaults are the reference's, for the UR5e-class arm.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadProtocolParams {
    /// Start pose, rad.
    pub q0: Vec<f64>,
    /// Payload attached after settling; `None` runs the same timeline without it (the "no payload" row).
    pub payload: Option<PayloadSpec>,
    /// Settling time at the start pose before the payload, s. Default 1.
    pub settle_s: f64,
    /// Time per target, s. Default 2.
    pub reach_s: f64,
    /// Targets per lap. Default 8.
    pub targets: usize,
    /// Circle radius, m. Default 0.15.
    pub radius_m: f64,
    /// Laps scored with the payload on. Default 11 (176 s).
    pub laps: usize,
    /// Laps run after removing the payload again (scored separately). Default 0.
    pub laps_after_removal: usize,
    /// Laps run after putting the payload back on at the end of the removal laps (scored separately).
    /// Default 0.
    pub laps_after_return: usize,
    /// Target pattern. Default the circle.
    pub pattern: TargetPattern,
    /// Seed of the random pattern. Default 0.
    pub targets_seed: u64,
}

impl PayloadProtocolParams {
    /// UR5e-class start pose q0 = (0, −1.2, 1.6, −1.97, −1.57, 0) rad, `payload_kg` at the `ee` frame.
    pub fn ur5e(payload_kg: f64) -> Self {
        Self::with_q0(vec![0.0, -1.2, 1.6, -1.97, -1.57, 0.0], payload_kg)
    }

    /// Planar 3-link start pose q0 = (1.0, −1.4, −0.6) rad, `payload_kg` at the `ee` frame.
    pub fn threelink(payload_kg: f64) -> Self {
        Self::with_q0(vec![1.0, -1.4, -0.6], payload_kg)
    }

    /// The reference start pose for an arm with `dof` joints (6: UR5e-class, 3: planar 3-link).
    pub fn for_dof(dof: usize, payload_kg: f64) -> Option<Self> {
        match dof {
            6 => Some(Self::ur5e(payload_kg)),
            3 => Some(Self::threelink(payload_kg)),
            _ => None,
        }
    }

    /// Defaults with start pose `q0` and `payload_kg` (≤ 0: none).
    pub fn with_q0(q0: Vec<f64>, payload_kg: f64) -> Self {
        Self {
            q0,
            payload: (payload_kg > 0.0).then(|| PayloadSpec::at_ee(payload_kg)),
            settle_s: 1.0,
            reach_s: 2.0,
            targets: 8,
            radius_m: 0.15,
            laps: 11,
            laps_after_removal: 0,
            laps_after_return: 0,
            pattern: TargetPattern::Circle,
            targets_seed: 0,
        }
    }

    /// Length of one lap, s.
    pub fn lap_s(&self) -> f64 {
        self.reach_s * self.targets as f64
    }

    fn validate(&self, dof: usize) -> Result<(), ClosedLoopError> {
        let ok = self.q0.len() == dof
            && self.q0.iter().all(|q| q.is_finite())
            && self.settle_s.is_finite()
            && self.settle_s >= 0.0
            && self.reach_s.is_finite()
            && self.reach_s > 0.0
            && self.targets > 0
            && self.radius_m.is_finite()
            && self.radius_m >= 0.0;
        if ok {
            Ok(())
        } else {
            Err(ClosedLoopError::Setup(format!("bad protocol parameters for {dof} joints: {self:?}")))
        }
    }
}

/// What one protocol run measured. Errors are end-effector-to-target distances, m.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolRun {
    /// Controller name.
    pub controller: String,
    /// Mean error per lap after the payload is attached (one lap = `targets × reach_s`).
    pub error_per_lap: Vec<f64>,
    /// Mean error per lap after the payload is removed again.
    pub error_after_removal: Vec<f64>,
    /// Mean error per lap after the payload is put back.
    pub error_after_return: Vec<f64>,
    /// Error at the end of every reach, in order (laps with payload, then after removal).
    pub final_error_per_reach: Vec<f64>,
    /// Start end-effector position (circle centre), m.
    pub center: Vector3<f64>,
    /// Per-joint extremes of q (rad) and q̇ (rad/s) over the scored laps, for input scaling.
    pub q_min: Vec<f64>,
    /// See `q_min`.
    pub q_max: Vec<f64>,
    /// See `q_min`.
    pub dq_min: Vec<f64>,
    /// See `q_min`.
    pub dq_max: Vec<f64>,
}

/// Runs the protocol on the arm in `urdf` with `controller` (which must know nothing of the payload), every
/// command shaped by `guard`. The controller's first tick is at the start pose, so a latched rest posture is q0.
pub fn run_payload_protocol<C: Controller>(
    urdf: &str,
    sim: SimParams,
    params: &PayloadProtocolParams,
    controller: C,
    guard: CommandGuard,
) -> Result<ProtocolRun, ClosedLoopError> {
    let dt = sim.dt;
    let mut world = ArmWorld::from_urdf_str(urdf, sim)?;
    let n = world.dof();
    params.validate(n)?;
    world.set_state(&params.q0, &vec![0.0; n])?;
    let center = Vector3::from(world.state().ee_position);
    let mut lp = ClosedLoop::new(world, controller, guard)?;
    let steps = |s: f64| (s / dt).round() as usize;
    let (settle, reach) = (steps(params.settle_s), steps(params.reach_s).max(1));
    let mut targets =
        TargetSequence::new(params.pattern, center.into(), params.radius_m, params.targets, reach, params.targets_seed);
    let mut lap_index = 0;
    let lap = reach * params.targets;

    for _ in 0..settle {
        lp.step(&center)?;
    }
    let mut run = ProtocolRun {
        controller: lp.controller().name().to_string(),
        error_per_lap: Vec::with_capacity(params.laps),
        error_after_removal: Vec::with_capacity(params.laps_after_removal),
        error_after_return: Vec::with_capacity(params.laps_after_return),
        final_error_per_reach: Vec::new(),
        center,
        q_min: vec![f64::INFINITY; n],
        q_max: vec![f64::NEG_INFINITY; n],
        dq_min: vec![f64::INFINITY; n],
        dq_max: vec![f64::NEG_INFINITY; n],
    };
    lp.set_payload(params.payload)?;
    // Phases: 0 with the payload, 1 removed, 2 put back.
    for phase in 0..3 {
        let laps = [params.laps, params.laps_after_removal, params.laps_after_return][phase];
        if laps > 0 && phase > 0 {
            lp.set_payload(if phase == 1 { None } else { params.payload })?;
        }
        for _ in 0..laps {
            let mut sum = 0.0;
            for k in 0..lap {
                let target = Vector3::from(targets.target(lap_index, k));
                lp.step(&target)?;
                let e = (lp.ee_position() - target).norm();
                sum += e;
                if k % reach == reach - 1 {
                    run.final_error_per_reach.push(e);
                }
                if phase == 0 {
                    let s = lp.state();
                    for i in 0..n {
                        run.q_min[i] = run.q_min[i].min(s.q[i]);
                        run.q_max[i] = run.q_max[i].max(s.q[i]);
                        run.dq_min[i] = run.dq_min[i].min(s.dq[i]);
                        run.dq_max[i] = run.dq_max[i].max(s.dq[i]);
                    }
                }
            }
            lap_index += 1;
            let mean = sum / lap as f64;
            [&mut run.error_per_lap, &mut run.error_after_removal, &mut run.error_after_return][phase].push(mean);
        }
    }
    Ok(run)
}
