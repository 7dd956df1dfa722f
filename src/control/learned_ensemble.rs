//! One spiking ensemble with a PES-learned readout, as the adaptive terms use it: scaled inputs in, a
//! learned output out, on the executor chosen (the fixed-point core or the float reference).

use super::controller::ControlError;
use super::input_scaling::InputScaling;
use crate::neuro::{
    BuiltNetwork, EnsembleSpec, Executor, ExecutorKind, FloatExecutor, InterceptSpec, LearnedWeights, LoihiExecutor,
    LoihiParams, NetworkSpec, PesSpec, RangeSpec,
};

/// The neuron recipe and synapses of one learned ensemble. Defaults: the adaptive term's joint-space ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleRecipe {
    /// Ensemble size. Default 1000.
    pub neurons: usize,
    /// Seed of the build (encoders, rates, intercepts). Default 0.
    pub seed: u64,
    /// Triangular distribution of each neuron's firing probability (low, mode, high), mapped to intercepts.
    /// Default (0.35, 0.45, 0.55) (DeWolf et al.).
    pub sparse_firing: [f64; 3],
    /// Peak firing rates, spikes/s. Default U(200, 400) (Nengo).
    pub max_rates: (f64, f64),
    /// PES learning rate kappa, dimensionless. Default 2e-4: on the payload protocol the fixed-point core
    /// with 1e-4 compensated less (3-link last lap 0.29 vs 0.16–0.17 normalised, first-generation design), 1e-3
    /// goes unstable.
    pub learning_rate: f64,
    /// Lowpass on the input current, s. Default 0.012.
    pub input_synapse: f64,
    /// Lowpass on the presynaptic activities PES uses (the training synapse), s. Default 0.012.
    pub training_synapse: f64,
    /// Lowpass on the learned output, s. Default 0.2: slow enough that spike noise does not reach the motors,
    /// fast enough to follow a payload picked up.
    pub output_synapse: f64,
    /// Executor. Default the fixed-point core.
    pub executor: ExecutorKind,
    /// Fixed-point core parameters (used when `executor` is `Loihi`).
    pub loihi: LoihiParams,
}

impl Default for EnsembleRecipe {
    fn default() -> Self {
        Self {
            neurons: 1000,
            seed: 0,
            sparse_firing: [0.35, 0.45, 0.55],
            max_rates: (200.0, 400.0),
            learning_rate: 2e-4,
            input_synapse: 0.012,
            training_synapse: 0.012,
            output_synapse: 0.2,
            executor: ExecutorKind::Loihi,
            loihi: LoihiParams::default(),
        }
    }
}

/// A built ensemble with its input scaling and step buffers. `step` allocates nothing.
pub struct LearnedEnsemble {
    core: Box<dyn Executor>,
    scaling: InputScaling,
    scaled: Vec<f64>,
    out: Vec<f64>,
    neurons: usize,
}

impl LearnedEnsemble {
    /// Builds an ensemble reading `scaling.inputs()` raw inputs and learning `outputs` dimensions.
    pub fn new(recipe: &EnsembleRecipe, scaling: InputScaling, outputs: usize) -> Result<Self, ControlError> {
        let ensemble = EnsembleSpec {
            neurons: recipe.neurons,
            dimensions: scaling.outputs(),
            seed: recipe.seed,
            radius: 1.0,
            max_rates: RangeSpec(recipe.max_rates.0, recipe.max_rates.1),
            intercepts: InterceptSpec::SparseFiring { sparse_firing: recipe.sparse_firing },
            tau_rc: 0.02,
            tau_ref: 0.002,
            input_synapse: Some(recipe.input_synapse),
        };
        let readout = PesSpec {
            dimensions: outputs,
            learning_rate: recipe.learning_rate,
            pre_synapse: recipe.training_synapse,
            synapse: recipe.output_synapse,
        };
        let spec = NetworkSpec::new(ensemble, readout);
        spec.validate()?;
        let built = BuiltNetwork::build(&spec)?;
        let core: Box<dyn Executor> = match recipe.executor {
            ExecutorKind::Float => Box::new(FloatExecutor::new(&built)),
            ExecutorKind::Loihi => Box::new(LoihiExecutor::new(&built, recipe.loihi)?),
        };
        Ok(Self {
            core,
            scaled: vec![0.0; scaling.outputs()],
            scaling,
            out: vec![0.0; outputs],
            neurons: recipe.neurons,
        })
    }

    /// Scales `raw`, steps the core with the PES `error` (output − target for the previous step's output;
    /// `None` learns nothing this step) and returns the learned output.
    pub fn step(&mut self, raw: &[f64], error: Option<&[f64]>) -> Result<&[f64], ControlError> {
        self.scaling.apply(raw, &mut self.scaled);
        self.core.step(&self.scaled, error, &mut self.out)?;
        Ok(&self.out)
    }

    /// The output of the last step.
    pub fn output(&self) -> &[f64] {
        &self.out
    }

    /// Zeroes the output buffer (after a failed step, so nothing stale is applied).
    pub fn clear_output(&mut self) {
        self.out.fill(0.0);
    }

    /// The input scaling in use.
    pub fn scaling(&self) -> &InputScaling {
        &self.scaling
    }

    /// The core (accounting, spike counts, learning switches).
    pub fn core(&self) -> &dyn Executor {
        self.core.as_ref()
    }

    /// The core, mutably.
    pub fn core_mut(&mut self) -> &mut dyn Executor {
        self.core.as_mut()
    }

    /// Ensemble size.
    pub fn neurons(&self) -> usize {
        self.neurons
    }

    /// The learned readout.
    pub fn export_weights(&self) -> LearnedWeights {
        self.core.export_weights()
    }

    /// Replaces the learned readout (shape checked).
    pub fn import_weights(&mut self, weights: &LearnedWeights) -> Result<(), ControlError> {
        self.core.import_weights(weights)?;
        Ok(())
    }
}
