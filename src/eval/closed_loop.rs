//! A controller and a simulated arm in lockstep, no bus: the controller answers every state with torques,
//! the controller-side command guard shapes them exactly as the controller node's tick does (limit pushback,
//! velocity brake, effort saturation, rate limit; the controller is then handed the command the plant
//! receives), and the sim steps once with them. Deterministic and as fast as the machine allows — what tests,
//! benchmarks and `spikearm eval` run scenarios on, so that they measure what the node would do.

use nalgebra::Vector3;
use spikearm_sim::{ArmState, ArmWorld, PayloadSpec, SimError};

use crate::arm::Arm;
use crate::arm::hold::HoldParams;
use crate::control::controller::{ControlError, ControlInput, Controller};
use crate::control::safety::{CommandGuard, SafetyParams};

/// Why a closed-loop step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClosedLoopError {
    /// The controller refused the tick.
    #[error("controller: {0}")]
    Control(#[from] ControlError),
    /// The sim refused the torques or a payload.
    #[error("sim: {0}")]
    Sim(#[from] SimError),
    /// The loop was set up inconsistently (joint counts, protocol parameters).
    #[error("setup: {0}")]
    Setup(String),
}

/// The command guard the controller node builds for the arm in `urdf` from its `[safety]` and `[hold]` settings.
pub fn command_guard(urdf: &str, safety: SafetyParams, hold: HoldParams) -> Result<CommandGuard, ClosedLoopError> {
    let arm = Arm::from_urdf(urdf).map_err(|e| ClosedLoopError::Setup(e.to_string()))?;
    CommandGuard::new(&arm, safety, hold).map_err(ClosedLoopError::Setup)
}

/// Controller × command guard × sim in lockstep at the sim's `dt`.
pub struct ClosedLoop<C: Controller> {
    world: ArmWorld,
    controller: C,
    guard: CommandGuard,
    state: ArmState,
    torque: Vec<f64>,
}

impl<C: Controller> ClosedLoop<C> {
    /// Couples `controller` to `world` (already in its initial state) through `guard` (the node's
    /// [`CommandGuard`] for the same arm, e.g. [`command_guard`]). Joint counts must agree.
    pub fn new(world: ArmWorld, controller: C, guard: CommandGuard) -> Result<Self, ClosedLoopError> {
        if world.dof() != controller.dof() {
            return Err(ClosedLoopError::Setup(format!(
                "sim has {} joints, controller {} drives {}",
                world.dof(),
                controller.name(),
                controller.dof()
            )));
        }
        let state = world.state();
        let torque = vec![0.0; world.dof()];
        Ok(Self { world, controller, guard, state, torque })
    }

    /// One control period: the controller ticks on the current state toward `target` (m, base frame), the
    /// guard shapes its torques and hands them back to the controller ([`Controller::applied`]), and the sim
    /// steps once with them. Allocation-free. On a controller error nothing is stepped (the node would hold the
    /// arm instead; an evaluation stops).
    pub fn step(&mut self, target: &Vector3<f64>) -> Result<(), ClosedLoopError> {
        let s = &self.state;
        let input = ControlInput { t: s.t, q: &s.q, dq: &s.dq, target: *target };
        self.controller.tick(&input, &mut self.torque)?;
        self.guard.controller_ok();
        self.guard.apply(s.t, &s.q, &s.dq, &mut self.torque);
        self.controller.applied(&self.torque);
        self.world.step_with_torques(&self.torque)?;
        self.world.read_state_into(&mut self.state);
        Ok(())
    }

    /// Attaches (`Some`) or removes (`None`) the payload in the physics; the controller is not told.
    pub fn set_payload(&mut self, payload: Option<PayloadSpec>) -> Result<(), ClosedLoopError> {
        self.world.set_payload(payload)?;
        Ok(())
    }

    /// Sim state after the last step.
    pub fn state(&self) -> &ArmState {
        &self.state
    }

    /// End-effector position after the last step, m.
    pub fn ee_position(&self) -> Vector3<f64> {
        Vector3::from(self.state.ee_position)
    }

    /// Torques sent to the sim on the last step, N·m (after the command guard).
    pub fn commanded_torque(&self) -> &[f64] {
        &self.torque
    }

    /// The controller.
    pub fn controller(&self) -> &C {
        &self.controller
    }

    /// The controller, mutably (learning switches, rates, weights between steps).
    pub fn controller_mut(&mut self) -> &mut C {
        &mut self.controller
    }

    /// The sim.
    pub fn world(&self) -> &ArmWorld {
        &self.world
    }

    /// Takes the loop apart.
    pub fn into_parts(self) -> (ArmWorld, C) {
        (self.world, self.controller)
    }
}
