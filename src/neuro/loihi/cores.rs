//! Per-core resource limits and how a network is laid out across cores.

use serde::Serialize;

use crate::neuro::NeuroError;

/// Resources of one neuromorphic core (Loihi: 1024 compartments, 4096 input and 4096 output axons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CoreLimits {
    /// Compartments per core.
    pub compartments: usize,
    /// Input axons per core.
    pub input_axons: usize,
    /// Output axons per core.
    pub output_axons: usize,
}

impl Default for CoreLimits {
    fn default() -> Self {
        CoreLimits { compartments: 1024, input_axons: 4096, output_axons: 4096 }
    }
}

/// What one core holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoreUsage {
    /// `"input"`, `"ensemble"` or `"readout"`.
    pub role: &'static str,
    /// Compartments used.
    pub compartments: usize,
    /// Input axons used.
    pub input_axons: usize,
    /// Output axons used.
    pub output_axons: usize,
}

/// The layout of a network on cores, with the limits it was checked against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreMap {
    /// Limits per core.
    pub limits: CoreLimits,
    /// Every core used.
    pub cores: Vec<CoreUsage>,
    /// Neurons per learned-readout group (each group's partial readout lives on its own core).
    pub readout_group_size: usize,
    /// Mean compartment utilisation over all cores, 0..1.
    pub compartment_utilisation: f64,
}

impl CoreMap {
    /// Lays out `n` neurons with `d` inputs and a `k`-dimensional learned readout.
    ///
    /// Input values come from `2d × pairs` on/off spike generators (one input core); the ensemble fills cores of at most
    /// `compartments` neurons, each neuron with one output axon to its readout core; the readout is split into
    /// groups of at most `input_axons - 2k` neurons (room for the error axons), each group on its own core with
    /// an on/off compartment pair per output dimension. Group outputs are summed where they are read.
    pub fn layout(n: usize, d: usize, pairs: usize, k: usize, limits: CoreLimits) -> Result<CoreMap, NeuroError> {
        let too_big = |what: String| Err(NeuroError::CoreLimit(what));
        let gens = 2 * d * pairs;
        if gens > limits.compartments || gens > limits.output_axons || gens > limits.input_axons {
            return too_big(format!(
                "{d} input dimensions × {pairs} on/off pairs need {gens} spike generators and input axons; a core has {} and {}",
                limits.compartments, limits.input_axons
            ));
        }
        if 2 * k > limits.compartments || 4 * k >= limits.input_axons {
            return too_big(format!("a {k}-dimensional readout does not fit one core"));
        }
        let mut cores = vec![CoreUsage { role: "input", compartments: gens, input_axons: 0, output_axons: gens }];
        let mut left = n;
        while left > 0 {
            let here = left.min(limits.compartments);
            cores.push(CoreUsage { role: "ensemble", compartments: here, input_axons: gens, output_axons: here });
            left -= here;
        }
        let max_group = limits.input_axons - 2 * k;
        let groups = n.div_ceil(max_group);
        let group_size = n.div_ceil(groups);
        let mut left = n;
        while left > 0 {
            let here = left.min(group_size);
            cores.push(CoreUsage { role: "readout", compartments: 2 * k, input_axons: here + 2 * k, output_axons: 0 });
            left -= here;
        }
        let used: usize = cores.iter().map(|c| c.compartments).sum();
        let compartment_utilisation = used as f64 / (cores.len() * limits.compartments) as f64;
        Ok(CoreMap { limits, cores, readout_group_size: group_size, compartment_utilisation })
    }

    /// Number of readout groups.
    pub fn readout_groups(&self) -> usize {
        self.cores.iter().filter(|c| c.role == "readout").count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_readouts_split_within_limits() {
        for n in [100, 4096, 10_000, 100_000] {
            let map = CoreMap::layout(n, 12, 4, 6, CoreLimits::default()).unwrap();
            for c in &map.cores {
                assert!(c.compartments <= 1024 && c.input_axons <= 4096 && c.output_axons <= 4096, "{c:?}");
            }
            let ens: usize = map.cores.iter().filter(|c| c.role == "ensemble").map(|c| c.compartments).sum();
            assert_eq!(ens, n);
            assert_eq!(map.readout_groups(), n.div_ceil(4096 - 12));
        }
    }

    #[test]
    fn refuses_what_cannot_fit() {
        assert!(matches!(CoreMap::layout(10, 3000, 1, 1, CoreLimits::default()), Err(NeuroError::CoreLimit(_))));
        assert!(matches!(CoreMap::layout(10, 1, 1, 1000, CoreLimits::default()), Err(NeuroError::CoreLimit(_))));
    }
}
