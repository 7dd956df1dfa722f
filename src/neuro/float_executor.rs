//! The float executor: Nengo's reference semantics, the oracle the fixed-point core is tested against.

use super::build::BuiltNetwork;
use super::executor::{Executor, LearnedWeights, check_learning_rate, check_step, check_weights};
use super::lif::{LifParams, LifState};
use super::{Accounting, NeuroError};

/// Nengo-exact stepping of one ensemble with a PES-learned readout.
#[derive(Debug, Clone)]
pub struct FloatExecutor {
    lif: LifParams,
    dt: f64,
    radius: f64,
    /// Per-neuron gain and bias.
    gain: Vec<f64>,
    bias: Vec<f64>,
    /// Unit encoders, `n × d` row-major.
    encoders: Vec<f64>,
    /// Decoders, `k × n` row-major, output units per spike/s.
    decoders: Vec<f64>,
    state: LifState,
    /// Input lowpass coefficient (`None`: unfiltered) and its state.
    input_filter: Option<f64>,
    filtered_input: Vec<f64>,
    /// PES presynaptic activity filter coefficient and state (spikes/s).
    pre_a: f64,
    pre_trace: Vec<f64>,
    /// Output filter coefficient and state.
    out_a: f64,
    output: Vec<f64>,
    current: Vec<f64>,
    spiked: Vec<u8>,
    kappa: f64,
    learning: bool,
    last_spikes: usize,
    accounting: Accounting,
}

fn lowpass_coefficient(tau: f64, dt: f64) -> f64 {
    (-dt / tau).exp()
}

impl FloatExecutor {
    /// Sets up state for a built network; the readout starts at zero.
    pub fn new(built: &BuiltNetwork) -> Self {
        let (n, d, k) = (built.neurons(), built.input_dims(), built.output_dims());
        let spec = &built.spec;
        FloatExecutor {
            lif: built.lif,
            dt: spec.dt,
            radius: spec.ensemble.radius,
            gain: built.gain.clone(),
            bias: built.bias.clone(),
            encoders: built.encoders.clone(),
            decoders: vec![0.0; k * n],
            state: LifState::new(built.initial_voltage.clone()),
            input_filter: spec.ensemble.input_synapse.filter(|&t| t > 0.0).map(|t| lowpass_coefficient(t, spec.dt)),
            filtered_input: vec![0.0; d],
            pre_a: lowpass_coefficient(spec.readout.pre_synapse, spec.dt),
            pre_trace: vec![0.0; n],
            out_a: lowpass_coefficient(spec.readout.synapse, spec.dt),
            output: vec![0.0; k],
            current: vec![0.0; n],
            spiked: vec![0; n],
            kappa: spec.readout.learning_rate,
            learning: true,
            last_spikes: 0,
            accounting: Accounting::default(),
        }
    }

    fn apply_pes(&mut self, error: &[f64]) {
        let n = self.pre_trace.len();
        let scale = -self.kappa * self.dt / n as f64;
        for (row, &e) in self.decoders.chunks_mut(n).zip(error) {
            let c = scale * e;
            for (w, &a) in row.iter_mut().zip(&self.pre_trace) {
                *w += c * a;
            }
        }
        self.accounting.weight_updates += (n * error.len()) as u64;
    }
}

impl Executor for FloatExecutor {
    fn step(&mut self, input: &[f64], error: Option<&[f64]>, output: &mut [f64]) -> Result<(), NeuroError> {
        let (n, d, k) = (self.gain.len(), self.filtered_input.len(), self.output.len());
        check_step(input, error, output, d, k)?;
        if let (true, Some(e)) = (self.learning && self.kappa > 0.0, error) {
            self.apply_pes(e);
            self.accounting.dense_macs += (n * k) as u64;
        }
        match self.input_filter {
            Some(a) => self.filtered_input.iter_mut().zip(input).for_each(|(y, &x)| *y = a * *y + (1.0 - a) * x),
            None => self.filtered_input.copy_from_slice(input),
        }
        let inv_r = 1.0 / self.radius;
        for (i, j) in self.current.iter_mut().enumerate() {
            let e = &self.encoders[i * d..(i + 1) * d];
            let dot: f64 = e.iter().zip(&self.filtered_input).map(|(e, x)| e * x).sum();
            *j = self.gain[i] * dot * inv_r + self.bias[i];
        }
        let spikes = self.state.step(&self.lif, self.dt, &self.current, &mut self.spiked);
        let height = 1.0 / self.dt;
        let (pa, oa) = (self.pre_a, self.out_a);
        for (t, &s) in self.pre_trace.iter_mut().zip(&self.spiked) {
            *t = pa * *t + (1.0 - pa) * s as f64 * height;
        }
        for (kk, y) in self.output.iter_mut().enumerate() {
            let row = &self.decoders[kk * n..(kk + 1) * n];
            let drive: f64 = row.iter().zip(&self.spiked).filter(|(_, s)| **s != 0).map(|(w, _)| w * height).sum();
            *y = oa * *y + (1.0 - oa) * drive;
        }
        output.copy_from_slice(&self.output);
        self.last_spikes = spikes;
        let a = &mut self.accounting;
        a.steps += 1;
        a.neuron_updates += n as u64;
        a.spikes += spikes as u64;
        a.dense_macs += (n * d + n * k + n) as u64;
        Ok(())
    }

    fn set_learning(&mut self, enabled: bool) {
        self.learning = enabled;
    }

    fn learning(&self) -> bool {
        self.learning
    }

    fn set_learning_rate(&mut self, kappa: f64) -> Result<(), NeuroError> {
        check_learning_rate(kappa)?;
        self.kappa = kappa;
        Ok(())
    }

    fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    fn last_spike_count(&self) -> usize {
        self.last_spikes
    }

    fn spiked_last_step(&self, i: usize) -> bool {
        self.spiked.get(i).is_some_and(|&s| s != 0)
    }

    fn export_weights(&self) -> LearnedWeights {
        LearnedWeights { neurons: self.gain.len(), dimensions: self.output.len(), decoders: self.decoders.clone() }
    }

    fn import_weights(&mut self, weights: &LearnedWeights) -> Result<(), NeuroError> {
        check_weights(weights, self.gain.len(), self.output.len())?;
        self.decoders.copy_from_slice(&weights.decoders);
        Ok(())
    }
}
