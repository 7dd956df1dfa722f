//! Operation counts per run and the energy estimate derived from them.

use serde::Serialize;

/// Counts of the work an executor did. All counts are totals since build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Accounting {
    /// Time steps run.
    pub steps: u64,
    /// Compartment (neuron) state updates, including input generators and readout compartments.
    pub neuron_updates: u64,
    /// Spikes emitted by the ensemble.
    pub spikes: u64,
    /// Spikes emitted by the input spike generators.
    pub input_spikes: u64,
    /// Synaptic events: spikes times fan-out (each an accumulate on the core).
    pub synaptic_events: u64,
    /// Presynaptic trace updates (on-core learning).
    pub trace_updates: u64,
    /// Learned-weight updates.
    pub weight_updates: u64,
    /// Multiply-accumulates a dense float implementation needs for the same steps (encode, decode, PES).
    pub dense_macs: u64,
    /// Error samples that exceeded the error range (clipped before the automatic scale caught up).
    pub error_clips: u64,
    /// Input samples beyond the radius (spike generators saturate at one spike per step).
    pub input_clips: u64,
    /// Learned weights that hit the mantissa limit before the automatic scale caught up.
    pub weight_saturations: u64,
    /// Changes of an error or weight exponent by the automatic scaling.
    pub rescales: u64,
}

/// Energy per operation, pJ. Published figures; the estimate is only as good as they are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnergyTable {
    /// Loihi, per synaptic event (Davies et al., IEEE Micro 2018), pJ.
    pub loihi_synaptic_event_pj: f64,
    /// Loihi, per synaptic weight update (Davies et al., IEEE Micro 2018), pJ.
    pub loihi_weight_update_pj: f64,
    /// 45 nm CPU datapath, per 32-bit float multiply-accumulate (Horowitz, ISSCC 2014), pJ.
    pub cpu_float_mac_pj: f64,
    /// 45 nm CPU datapath, per 32-bit integer add (Horowitz, ISSCC 2014), pJ.
    pub cpu_add_pj: f64,
}

impl Default for EnergyTable {
    fn default() -> Self {
        EnergyTable {
            loihi_synaptic_event_pj: 23.6,
            loihi_weight_update_pj: 120.0,
            cpu_float_mac_pj: 4.6,
            cpu_add_pj: 0.9,
        }
    }
}

/// An energy estimate (never a measurement), J.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnergyEstimate {
    /// The run's synaptic events and weight updates on a Loihi-class core, J.
    pub neuromorphic_j: f64,
    /// The same computation as dense float MACs on a CPU datapath, J.
    pub dense_cpu_j: f64,
}

impl Accounting {
    /// The counts of two networks stepped side by side (e.g. two ensembles of one controller): every count
    /// summed, `steps` the larger of the two (they step together).
    pub fn merged(&self, other: &Accounting) -> Accounting {
        Accounting {
            steps: self.steps.max(other.steps),
            neuron_updates: self.neuron_updates + other.neuron_updates,
            spikes: self.spikes + other.spikes,
            input_spikes: self.input_spikes + other.input_spikes,
            synaptic_events: self.synaptic_events + other.synaptic_events,
            trace_updates: self.trace_updates + other.trace_updates,
            weight_updates: self.weight_updates + other.weight_updates,
            dense_macs: self.dense_macs + other.dense_macs,
            error_clips: self.error_clips + other.error_clips,
            input_clips: self.input_clips + other.input_clips,
            weight_saturations: self.weight_saturations + other.weight_saturations,
            rescales: self.rescales + other.rescales,
        }
    }

    /// Energy estimate of these counts with the given table.
    pub fn energy(&self, table: &EnergyTable) -> EnergyEstimate {
        let pj = 1e-12;
        EnergyEstimate {
            neuromorphic_j: (self.synaptic_events as f64 * table.loihi_synaptic_event_pj
                + self.weight_updates as f64 * table.loihi_weight_update_pj)
                * pj,
            dense_cpu_j: self.dense_macs as f64 * table.cpu_float_mac_pj * pj,
        }
    }
}
