//! What every arm controller offers the nodes and the closed loop: one allocation-free tick.

use nalgebra::Vector3;

use crate::neuro::{Accounting, LearnedWeights};

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

    /// The learned state worth checkpointing (the adaptive readout's decoders); `None` for controllers that
    /// learn nothing, which the controller node then never checkpoints. Called off the control tick.
    fn learned_weights(&self) -> Option<LearnedWeights> {
        None
    }
    /// Replaces the learned state with a checkpointed one (shape checked by the implementation). Controllers
    /// that learn nothing accept and ignore it.
    fn restore_weights(&mut self, _weights: &LearnedWeights) -> Result<(), ControlError> {
        Ok(())
    }
    /// A snapshot for the node's status message (~10 Hz, off the control tick).
    fn status(&self) -> ControllerStatus {
        ControllerStatus::default()
    }
    /// Names of the run-time tunable parameters (gains, learning rate, `learning` as 0/1), for the node's
    /// parameter queryable.
    fn param_names(&self) -> &'static [&'static str] {
        &[]
    }
    /// Current value of a tunable parameter; `None` if the name is unknown.
    fn param(&self, _name: &str) -> Option<f64> {
        None
    }
    /// Sets a tunable parameter between ticks; an unknown name or out-of-range value is an error and
    /// changes nothing.
    fn set_param(&mut self, name: &str, _value: f64) -> Result<(), ControlError> {
        Err(ControlError::BadInput(format!("unknown parameter `{name}`")))
    }
}

/// What a controller reports about itself for status messages. Fields a controller does not have stay `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ControllerStatus {
    /// Whether online learning is on.
    pub learning: Option<bool>,
    /// Learning rate (PES kappa).
    pub learning_rate: Option<f64>,
    /// Euclidean norm of the adaptive torque added on the last tick, N·m.
    pub adaptive_effort_norm: Option<f64>,
    /// Operation counts of the neuromorphic core since build.
    pub accounting: Option<Accounting>,
    /// Mean firing rate of the ensemble over the last core step (spikes / neurons / dt), Hz.
    pub spike_rate_hz: Option<f64>,
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
