//! What every arm controller offers the nodes and the closed loop: one allocation-free tick.

use std::collections::BTreeMap;

use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

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
    /// What the learned state belongs to (design, executor, seed, input scaling, core parameters…), recorded
    /// with a checkpoint so that weights are never loaded into a controller that would read them differently.
    /// `None` for controllers that learn nothing. Called off the control tick.
    fn weights_provenance(&self) -> Option<WeightsProvenance> {
        None
    }
    /// The torque actually sent for the last tick, N·m, after a safety layer between controller and plant
    /// (rate limit, brakes, a hold) changed what [`tick`](Self::tick) wrote. Controllers that learn from
    /// their own commands use it instead. Called on the control tick: must not allocate.
    fn applied(&mut self, _torque: &[f64]) {}
    /// Which of [`RASTER_NEURONS`] evenly spaced neurons of the (joint-space) ensemble spiked in the last core
    /// step: bit k for neuron `k·n/RASTER_NEURONS` of n (for spike rasters); `None` without a spiking core.
    /// Cheap enough for every tick (a look at 64 neurons), never allocates.
    fn raster_spikes(&self) -> Option<u64> {
        None
    }
    /// The adaptive term's torque of the last tick, N·m, one per joint; `None` for controllers without one.
    /// Read on the control tick: must not allocate.
    fn adaptive_torque(&self) -> Option<&[f64]> {
        None
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

/// The settings that give a learned readout its meaning, by name (values as text, floats in their shortest
/// exact form). Two readouts with different provenance must not be exchanged: the same decoders would act on
/// different inputs (another seed's encoders, another input scaling) or at another scale (another core).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WeightsProvenance(pub BTreeMap<String, String>);

impl WeightsProvenance {
    /// Records `key = value`.
    pub fn with(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.0.insert(key.to_string(), value.to_string());
        self
    }

    /// Every entry where `self` (e.g. a checkpoint's) and `other` (the running controller's) differ, as
    /// `key: <self> ≠ <other>` lines; empty when they agree. A key missing on one side reads `(none)`.
    pub fn differences(&self, other: &WeightsProvenance) -> Vec<String> {
        let none = "(none)".to_string();
        let keys: std::collections::BTreeSet<&String> = self.0.keys().chain(other.0.keys()).collect();
        keys.into_iter()
            .filter_map(|k| {
                let (a, b) = (self.0.get(k).unwrap_or(&none), other.0.get(k).unwrap_or(&none));
                (a != b).then(|| format!("{k}: {a} ≠ {b}"))
            })
            .collect()
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

/// Neurons a controller samples for [`ControllerStatus::raster_spikes`] (at most this many: the bits of a u64).
pub const RASTER_NEURONS: usize = 64;

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
