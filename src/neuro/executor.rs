//! The interface every executor offers: step flat state arrays in a fixed order.

use serde::{Deserialize, Serialize};

use super::{Accounting, NeuroError};

/// Which executor runs a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Nengo's float reference semantics (the oracle).
    Float,
    /// The Loihi-style fixed-point core (the default).
    #[default]
    Loihi,
}

/// Learned readout weights in executor-independent units: decoders, output units per (spike/s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedWeights {
    /// Number of presynaptic neurons.
    pub neurons: usize,
    /// Output dimensions.
    pub dimensions: usize,
    /// Row-major `dimensions × neurons`.
    pub decoders: Vec<f64>,
}

/// A built network being stepped. `step` is allocation-free.
pub trait Executor: Send {
    /// Advances one time step. `error` (output − target, output units) trains the readout when learning is
    /// on; it refers to the previous step's output and is applied before this step's neurons run.
    /// Writes the readout into `output`. Wrong lengths or non-finite values are refused without a state change.
    fn step(&mut self, input: &[f64], error: Option<&[f64]>, output: &mut [f64]) -> Result<(), NeuroError>;
    /// Turns learning on or off (weights are kept).
    fn set_learning(&mut self, enabled: bool);
    /// Whether learning is on.
    fn learning(&self) -> bool;
    /// Changes the PES learning rate kappa (dimensionless).
    fn set_learning_rate(&mut self, kappa: f64) -> Result<(), NeuroError>;
    /// Operation counts so far.
    fn accounting(&self) -> &Accounting;
    /// Spikes emitted by the ensemble in the last step.
    fn last_spike_count(&self) -> usize;
    /// The learned weights, as decoders.
    fn export_weights(&self) -> LearnedWeights;
    /// Replaces the learned weights.
    fn import_weights(&mut self, weights: &LearnedWeights) -> Result<(), NeuroError>;
}

/// Refuses a step whose vectors do not fit a network of `d` inputs and `k` outputs, or hold non-finite values.
pub(crate) fn check_step(
    input: &[f64],
    error: Option<&[f64]>,
    output: &[f64],
    d: usize,
    k: usize,
) -> Result<(), NeuroError> {
    check_vector("input", input, d)?;
    if let Some(e) = error {
        check_vector("error", e, k)?;
    }
    if output.len() != k {
        return Err(NeuroError::Dimension { what: "output", expected: k, got: output.len() });
    }
    Ok(())
}

/// Refuses a learning rate that is negative or not finite.
pub(crate) fn check_learning_rate(kappa: f64) -> Result<(), NeuroError> {
    if kappa.is_finite() && kappa >= 0.0 {
        Ok(())
    } else {
        Err(NeuroError::InvalidSpec(format!("learning rate must be finite and >= 0, got {kappa}")))
    }
}

/// Refuses vectors of the wrong length or with non-finite entries.
fn check_vector(what: &'static str, v: &[f64], expected: usize) -> Result<(), NeuroError> {
    if v.len() != expected {
        return Err(NeuroError::Dimension { what, expected, got: v.len() });
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(NeuroError::InvalidSpec(format!("{what}[{i}] is not finite ({})", v[i])));
    }
    Ok(())
}

/// Checks imported weights against the network shape.
pub(crate) fn check_weights(w: &LearnedWeights, neurons: usize, dimensions: usize) -> Result<(), NeuroError> {
    if w.neurons != neurons || w.dimensions != dimensions || w.decoders.len() != neurons * dimensions {
        return Err(NeuroError::Weights(format!(
            "expected {dimensions}×{neurons} decoders, got {}×{} with {} values",
            w.dimensions,
            w.neurons,
            w.decoders.len()
        )));
    }
    if w.decoders.iter().any(|x| !x.is_finite()) {
        return Err(NeuroError::Weights("decoders contain non-finite values".into()));
    }
    Ok(())
}
