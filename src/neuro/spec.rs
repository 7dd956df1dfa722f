//! Inert network descriptions: what to build, never how. Nengo defaults for everything left out.

use serde::{Deserialize, Serialize};

use super::NeuroError;

/// A population of LIF neurons representing a vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSpec {
    /// Number of neurons.
    pub neurons: usize,
    /// Dimensions of the represented vector.
    pub dimensions: usize,
    /// Seed for every random choice in the build (encoders, rates, intercepts, initial voltages).
    #[serde(default)]
    pub seed: u64,
    /// Radius of the represented space (input units); inputs are divided by it.
    #[serde(default = "default_radius")]
    pub radius: f64,
    /// Peak firing rates at the radius, spikes/s.
    #[serde(default = "default_max_rates")]
    pub max_rates: RangeSpec,
    /// Where each neuron starts to fire, along its encoder, in units of the radius.
    #[serde(default)]
    pub intercepts: InterceptSpec,
    /// Membrane time constant, s.
    #[serde(default = "default_tau_rc")]
    pub tau_rc: f64,
    /// Absolute refractory period, s.
    #[serde(default = "default_tau_ref")]
    pub tau_ref: f64,
    /// Lowpass time constant on the input, s; `None` feeds the input straight in (Nengo's `synapse=None`).
    #[serde(default)]
    pub input_synapse: Option<f64>,
}

/// A uniform range `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RangeSpec(pub f64, pub f64);

/// How intercepts are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InterceptSpec {
    /// Uniform in `[low, high]` (Nengo's default is `[-1, 0.9]`).
    Uniform(RangeSpec),
    /// Sparse firing for adaptive control (DeWolf et al.): each neuron's probability of being active for a
    /// random point on the sphere is drawn from a triangular distribution `[low, mode, high]` and mapped to
    /// an intercept through the cosine-similarity distribution of `dimensions + 2`.
    SparseFiring {
        /// Triangular distribution of firing probability: low, mode, high (each in (0, 1)).
        sparse_firing: [f64; 3],
    },
}

impl Default for InterceptSpec {
    fn default() -> Self {
        InterceptSpec::Uniform(RangeSpec(-1.0, 0.9))
    }
}

/// A readout learned online with PES from zero (or from given decoders).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PesSpec {
    /// Output dimensions.
    pub dimensions: usize,
    /// PES learning rate kappa (Nengo's `learning_rate`), dimensionless; the update is `-kappa*dt/n * e * a`.
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// Lowpass on the presynaptic activities that PES multiplies with the error, s.
    #[serde(default = "default_synapse")]
    pub pre_synapse: f64,
    /// Lowpass on the decoded output, s.
    #[serde(default = "default_synapse")]
    pub synapse: f64,
}

/// One ensemble with one learned readout: the network every executor runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// The neurons.
    pub ensemble: EnsembleSpec,
    /// The learned output.
    pub readout: PesSpec,
    /// Simulation time step, s.
    #[serde(default = "default_dt")]
    pub dt: f64,
}

fn default_radius() -> f64 {
    1.0
}
fn default_max_rates() -> RangeSpec {
    RangeSpec(200.0, 400.0)
}
fn default_tau_rc() -> f64 {
    0.02
}
fn default_tau_ref() -> f64 {
    0.002
}
fn default_learning_rate() -> f64 {
    1e-4
}
fn default_synapse() -> f64 {
    0.005
}
fn default_dt() -> f64 {
    0.001
}

impl EnsembleSpec {
    /// An ensemble with Nengo's defaults for everything but size, dimensions and seed.
    pub fn new(neurons: usize, dimensions: usize, seed: u64) -> Self {
        EnsembleSpec {
            neurons,
            dimensions,
            seed,
            radius: default_radius(),
            max_rates: default_max_rates(),
            intercepts: InterceptSpec::default(),
            tau_rc: default_tau_rc(),
            tau_ref: default_tau_ref(),
            input_synapse: None,
        }
    }

    /// Checks every field; the error names the field and what it must be.
    pub fn validate(&self) -> Result<(), NeuroError> {
        let bad = |msg: String| Err(NeuroError::InvalidSpec(msg));
        if self.neurons == 0 {
            return bad("ensemble.neurons must be at least 1".into());
        }
        if self.dimensions == 0 {
            return bad("ensemble.dimensions must be at least 1".into());
        }
        finite_positive("ensemble.radius", self.radius)?;
        finite_positive("ensemble.tau_rc", self.tau_rc)?;
        if !(self.tau_ref.is_finite() && self.tau_ref >= 0.0) {
            return bad(format!("ensemble.tau_ref must be finite and >= 0 s, got {}", self.tau_ref));
        }
        let RangeSpec(lo, hi) = self.max_rates;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
            return bad(format!("ensemble.max_rates must be finite with 0 < low <= high, got [{lo}, {hi}]"));
        }
        if self.tau_ref > 0.0 && hi >= 1.0 / self.tau_ref {
            return bad(format!(
                "ensemble.max_rates high end {hi} spikes/s must be below 1/tau_ref = {} spikes/s",
                1.0 / self.tau_ref
            ));
        }
        match self.intercepts {
            InterceptSpec::Uniform(RangeSpec(lo, hi)) => {
                if !(lo.is_finite() && hi.is_finite() && lo >= -1.0 && hi < 1.0 && lo <= hi) {
                    return bad(format!("ensemble.intercepts must satisfy -1 <= low <= high < 1, got [{lo}, {hi}]"));
                }
            }
            InterceptSpec::SparseFiring { sparse_firing: [lo, mode, hi] } => {
                if !(lo > 0.0 && lo <= mode && mode <= hi && hi < 1.0 && lo < hi) {
                    return bad(format!(
                        "ensemble.intercepts.sparse_firing must satisfy 0 < low <= mode <= high < 1, \
                         got [{lo}, {mode}, {hi}]"
                    ));
                }
            }
        }
        if let Some(tau) = self.input_synapse
            && !(tau.is_finite() && tau >= 0.0)
        {
            return bad(format!("ensemble.input_synapse must be finite and >= 0 s, got {tau}"));
        }
        Ok(())
    }
}

impl PesSpec {
    /// A readout of `dimensions` outputs with Nengo's PES defaults.
    pub fn new(dimensions: usize, learning_rate: f64) -> Self {
        PesSpec { dimensions, learning_rate, pre_synapse: default_synapse(), synapse: default_synapse() }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), NeuroError> {
        if self.dimensions == 0 {
            return Err(NeuroError::InvalidSpec("readout.dimensions must be at least 1".into()));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return Err(NeuroError::InvalidSpec(format!(
                "readout.learning_rate must be finite and >= 0, got {}",
                self.learning_rate
            )));
        }
        finite_positive("readout.pre_synapse", self.pre_synapse)?;
        finite_positive("readout.synapse", self.synapse)
    }
}

impl NetworkSpec {
    /// A network with the default time step (1 ms).
    pub fn new(ensemble: EnsembleSpec, readout: PesSpec) -> Self {
        NetworkSpec { ensemble, readout, dt: default_dt() }
    }

    /// Checks the whole description.
    pub fn validate(&self) -> Result<(), NeuroError> {
        self.ensemble.validate()?;
        self.readout.validate()?;
        finite_positive("dt", self.dt)
    }
}

fn finite_positive(name: &str, x: f64) -> Result<(), NeuroError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(NeuroError::InvalidSpec(format!("{name} must be finite and > 0, got {x}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> NetworkSpec {
        NetworkSpec::new(EnsembleSpec::new(100, 1, 0), PesSpec::new(1, 1e-4))
    }

    #[test]
    fn defaults_validate() {
        net().validate().unwrap();
    }

    #[test]
    fn rejects_bad_fields_with_their_names() {
        type Case = (Box<dyn Fn(&mut NetworkSpec)>, &'static str);
        let cases: Vec<Case> = vec![
            (Box::new(|n| n.ensemble.neurons = 0), "ensemble.neurons"),
            (Box::new(|n| n.ensemble.max_rates = RangeSpec(200.0, 500.0)), "1/tau_ref"),
            (Box::new(|n| n.ensemble.intercepts = InterceptSpec::Uniform(RangeSpec(-1.0, 1.0))), "intercepts"),
            (Box::new(|n| n.ensemble.intercepts = InterceptSpec::Uniform(RangeSpec(-1.5, 0.5))), "intercepts"),
            (Box::new(|n| n.ensemble.radius = f64::NAN), "ensemble.radius"),
            (Box::new(|n| n.readout.learning_rate = f64::INFINITY), "learning_rate"),
            (Box::new(|n| n.readout.dimensions = 0), "readout.dimensions"),
            (Box::new(|n| n.dt = 0.0), "dt"),
        ];
        for (mutate, field) in cases {
            let mut n = net();
            mutate(&mut n);
            let err = n.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn toml_rejects_unknown_fields() {
        let text = "[ensemble]\nneurons = 10\ndimensions = 1\nneurons_typo = 3\n[readout]\ndimensions = 1\n";
        let err = toml::from_str::<NetworkSpec>(text).unwrap_err().to_string();
        assert!(err.contains("neurons_typo"), "{err}");
    }

    #[test]
    fn toml_accepts_both_intercept_forms() {
        let text = "[ensemble]\nneurons = 10\ndimensions = 3\nintercepts = { sparse_firing = [0.35, 0.45, 0.55] }\n\
                    [readout]\ndimensions = 1\n";
        let spec: NetworkSpec = toml::from_str(text).unwrap();
        assert_eq!(spec.ensemble.intercepts, InterceptSpec::SparseFiring { sparse_firing: [0.35, 0.45, 0.55] });
        let text = "[ensemble]\nneurons = 10\ndimensions = 3\nintercepts = [-0.5, 0.5]\n[readout]\ndimensions = 1\n";
        let spec: NetworkSpec = toml::from_str(text).unwrap();
        assert_eq!(spec.ensemble.intercepts, InterceptSpec::Uniform(RangeSpec(-0.5, 0.5)));
    }
}
