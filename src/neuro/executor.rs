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
    /// Whether neuron `i` of the ensemble spiked in the last step (false for an index out of range). A
    /// read-only look at the state, for spike rasters; never allocates.
    fn spiked_last_step(&self, i: usize) -> bool;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::{BuiltNetwork, EnsembleSpec, FloatExecutor, LoihiExecutor, LoihiParams, NetworkSpec, PesSpec};

    /// The per-neuron look agrees with the step's spike count on both executors, across more than one tile
    /// of the fixed-point core.
    #[test]
    fn the_neurons_that_spiked_add_up_to_the_spike_count() {
        let spec = NetworkSpec::new(EnsembleSpec::new(1100, 2, 5), PesSpec::new(1, 1e-4));
        let built = BuiltNetwork::build(&spec).unwrap();
        let execs: [Box<dyn Executor>; 2] = [
            Box::new(FloatExecutor::new(&built)),
            Box::new(LoihiExecutor::new(&built, LoihiParams::default()).unwrap()),
        ];
        for mut exec in execs {
            assert!(!exec.spiked_last_step(0), "a spike before the first step");
            let (mut out, mut total) = ([0.0], 0);
            for t in 0..200 {
                let x = (t as f64 * 0.05).sin();
                exec.step(&[x, -x], Some(&[0.1]), &mut out).unwrap();
                let seen = (0..1100).filter(|&i| exec.spiked_last_step(i)).count();
                assert_eq!(seen, exec.last_spike_count(), "step {t}");
                total += seen;
                assert!(!exec.spiked_last_step(1100));
            }
            assert!(total > 1000, "{total} spikes");
        }
    }
}
