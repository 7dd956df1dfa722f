//! Why a node stopped with an error.

use super::controller::CheckpointError;

/// A node failure. Each variant says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node's spec is inconsistent (names the field).
    #[error("bad node spec: {0}")]
    Spec(String),
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    /// The physics refused something.
    #[error("sim: {0}")]
    Sim(#[from] spikearm_sim::SimError),
    /// The arm model failed.
    #[error("arm model: {0}")]
    Model(String),
    /// The controller failed outside a tick (e.g. restoring weights).
    #[error("controller: {0}")]
    Control(#[from] crate::control::controller::ControlError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}
