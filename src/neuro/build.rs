//! Build: turn a [`NetworkSpec`] into concrete neuron parameters, deterministically from its seed.

use super::NeuroError;
use super::dists::{self, seeded};
use super::lif::LifParams;
use super::spec::{InterceptSpec, NetworkSpec, RangeSpec};

/// Stream tags: each kind of draw has its own generator so the draws never shift each other.
const STREAM_RATES: u64 = 1;
const STREAM_INTERCEPTS: u64 = 2;
const STREAM_ENCODERS: u64 = 3;
const STREAM_VOLTAGE: u64 = 4;
/// Stream tag for executors' run-time randomness (stochastic rounding).
pub const STREAM_RUNTIME: u64 = 5;
/// Stream tag for decoder evaluation points.
pub const STREAM_EVAL_POINTS: u64 = 6;

/// A network with every neuron parameter drawn: the common input to all executors.
#[derive(Debug, Clone)]
pub struct BuiltNetwork {
    /// The description it was built from.
    pub spec: NetworkSpec,
    /// LIF constants.
    pub lif: LifParams,
    /// Per-neuron gain (current per unit of `e·x/radius`).
    pub gain: Vec<f64>,
    /// Per-neuron bias current (threshold units).
    pub bias: Vec<f64>,
    /// Unit encoders, row-major `neurons × dimensions`.
    pub encoders: Vec<f64>,
    /// Initial membrane voltages, threshold units.
    pub initial_voltage: Vec<f64>,
}

impl BuiltNetwork {
    /// Validates the spec and draws every parameter.
    pub fn build(spec: &NetworkSpec) -> Result<Self, NeuroError> {
        spec.validate()?;
        let ens = &spec.ensemble;
        let (n, d, seed) = (ens.neurons, ens.dimensions, ens.seed);
        let lif = LifParams { tau_rc: ens.tau_rc, tau_ref: ens.tau_ref };
        let RangeSpec(rlo, rhi) = ens.max_rates;
        let max_rates = dists::uniform(&mut seeded(seed, STREAM_RATES), n, rlo, rhi);
        let intercepts = match ens.intercepts {
            InterceptSpec::Uniform(RangeSpec(lo, hi)) => {
                dists::uniform(&mut seeded(seed, STREAM_INTERCEPTS), n, lo, hi)
            }
            InterceptSpec::SparseFiring { sparse_firing } => {
                dists::sparse_intercepts(&mut seeded(seed, STREAM_INTERCEPTS), n, sparse_firing, d + 2)
                    .into_iter()
                    // An intercept of exactly ±1 gives an infinite gain or a neuron that never fires.
                    .map(|c| c.clamp(-0.999, 0.999))
                    .collect()
            }
        };
        let (gain, bias): (Vec<f64>, Vec<f64>) =
            max_rates.iter().zip(&intercepts).map(|(&r, &c)| lif.gain_bias(r, c)).unzip();
        if let Some(i) = gain.iter().chain(&bias).position(|x| !x.is_finite()) {
            return Err(NeuroError::InvalidSpec(format!("neuron {} has a non-finite gain or bias", i % n)));
        }
        let encoders = dists::unit_sphere_surface(&mut seeded(seed, STREAM_ENCODERS), n, d);
        let initial_voltage = dists::uniform(&mut seeded(seed, STREAM_VOLTAGE), n, 0.0, 1.0);
        Ok(BuiltNetwork { spec: spec.clone(), lif, gain, bias, encoders, initial_voltage })
    }

    /// Number of neurons.
    pub fn neurons(&self) -> usize {
        self.gain.len()
    }

    /// Input dimensions.
    pub fn input_dims(&self) -> usize {
        self.spec.ensemble.dimensions
    }

    /// Output dimensions of the learned readout.
    pub fn output_dims(&self) -> usize {
        self.spec.readout.dimensions
    }

    /// Input current of neuron `i` for input `x` (input units).
    pub fn current(&self, i: usize, x: &[f64]) -> f64 {
        let d = self.input_dims();
        let e = &self.encoders[i * d..(i + 1) * d];
        let dot: f64 = e.iter().zip(x).map(|(e, x)| e * x).sum();
        self.gain[i] * dot / self.spec.ensemble.radius + self.bias[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::spec::{EnsembleSpec, PesSpec};

    #[test]
    fn same_seed_same_network_other_seed_other_network() {
        let spec = |seed| NetworkSpec::new(EnsembleSpec::new(50, 2, seed), PesSpec::new(1, 1e-4));
        let a = BuiltNetwork::build(&spec(3)).unwrap();
        let b = BuiltNetwork::build(&spec(3)).unwrap();
        let c = BuiltNetwork::build(&spec(4)).unwrap();
        assert_eq!(a.gain, b.gain);
        assert_eq!(a.encoders, b.encoders);
        assert_ne!(a.gain, c.gain);
    }

    #[test]
    fn neurons_fire_at_max_rate_on_their_encoder_and_start_at_intercept() {
        let built = BuiltNetwork::build(&NetworkSpec::new(EnsembleSpec::new(20, 3, 7), PesSpec::new(1, 1e-4))).unwrap();
        for i in 0..20 {
            let e = &built.encoders[i * 3..i * 3 + 3];
            let rate = built.lif.rate(built.current(i, e));
            assert!((200.0..=400.0).contains(&rate), "rate {rate}");
        }
    }
}
