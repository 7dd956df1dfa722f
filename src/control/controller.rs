//! What every arm controller offers the nodes and the closed loop: one allocation-free tick.

use nalgebra::Vector3;

/// One tick's measurements and goal. Slices have one entry per actuated joint, in URDF order.
#[derive(Debug, Clone, Copy)]
pub struct ControlInput<'a> {
    /// Time since the controller started, s.
    pub t: f64,
    /// Joint angles, rad.
    pub q: &'a [f64],
    /// Joint velocities, rad/s.
    pub dq: &'a [f64],
    /// End-effector position target in the base frame, m.
    pub target: Vector3<f64>,
}

/// An arm controller. `tick` runs at the control rate and must not allocate or block once running.
pub trait Controller: Send {
    /// Computes joint torques (N·m) into `torque` (one per joint). On error `torque` is left safe (zeros
    /// or gravity compensation, as documented by the implementation) and the error says why.
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError>;
    /// Number of joints this controller drives.
    fn dof(&self) -> usize;
    /// Short name for logs and reports (e.g. `"osc"`, `"pid"`, `"adaptive-loihi"`).
    fn name(&self) -> &str;
}

/// Why a tick could not produce torques.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// A measurement or target had the wrong length or a non-finite value.
    #[error("bad input: {0}")]
    BadInput(String),
    /// The arm model failed (e.g. a singular configuration it could not guard against).
    #[error("model: {0}")]
    Model(String),
    /// The adaptive term's core refused a step.
    #[error("adaptive core: {0}")]
    Neuro(#[from] crate::neuro::NeuroError),
}
