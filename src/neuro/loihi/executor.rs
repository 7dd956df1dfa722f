//! The fixed-point executor: the emulated neuromorphic core stepping integer compartments event by event.

use super::compartment::{CURRENT_BITS, INPUT_BITS, VMAX};
use super::discretize::{DiscreteNetwork, LoihiParams};
use super::fixed::{RoundingRng, decay, wrap};
use super::learning::{LearningState, exp2};
use super::sweep::{EnsembleState, SweepPlan};
use crate::neuro::build::{BuiltNetwork, STREAM_RUNTIME};
use crate::neuro::executor::{Executor, LearnedWeights, check_learning_rate, check_step, check_weights};
use crate::neuro::{Accounting, CoreMap, NeuroError};

/// Q16 "one" of the input spike generators' accumulators.
const GEN_ONE: i64 = 1 << 16;

/// Steps a [`DiscreteNetwork`]: inputs enter as on/off spikes, each input event adds its axon's weight row into
/// the compartments, every compartment steps (leak and bias act without input), the ensemble's spikes reach the
/// readout spike by spike or as a masked sum per tile (whichever was measured faster, see
/// [`delivery`](super::delivery)), and the readout is learned on-core.
#[derive(Debug, Clone)]
pub struct LoihiExecutor {
    net: DiscreteNetwork,
    n: usize,
    d: usize,
    k: usize,
    radius: f64,
    /// Spike generator accumulators, Q16, `2d` (on, off per dimension).
    generators: Vec<i64>,
    /// Send-on-change input: per dimension the lowpassed input (input units) and the level last sent.
    filtered: Vec<f64>,
    levels: Vec<i32>,
    /// Input dimensions whose axons spiked this step, with how many of the `input_pairs` on (positive) or off
    /// (negative) axons fired.
    axon_spikes: Vec<(u32, i32)>,
    /// The ensemble's compartments (and the scratch space of the step's sweep over them).
    ensemble: EnsembleState,
    /// Readout compartments per (group, dimension): input accumulator, current, on and off voltages.
    out_input: Vec<i32>,
    out_u: Vec<i32>,
    out_v_on: Vec<i32>,
    out_v_off: Vec<i32>,
    /// Output units per integer unit, per (group, dimension).
    out_scale: Vec<f64>,
    learning_state: LearningState,
    moved: Vec<i32>,
    rng: RoundingRng,
    learning: bool,
    time_step: u64,
    last_spikes: usize,
    accounting: Accounting,
}

impl LoihiExecutor {
    /// Discretizes a built network with the given core parameters.
    pub fn new(built: &BuiltNetwork, params: LoihiParams) -> Result<Self, NeuroError> {
        let net = DiscreteNetwork::new(built, params)?;
        let (n, d, k) = (built.neurons(), built.input_dims(), built.output_dims());
        let groups = net.cores.readout_groups();
        let mut exec = LoihiExecutor {
            n,
            d,
            k,
            radius: built.spec.ensemble.radius,
            generators: vec![0; 2 * d],
            filtered: vec![0.0; d],
            levels: vec![0; d],
            axon_spikes: Vec::with_capacity(2 * d),
            ensemble: EnsembleState::new(&net.ensemble.v0, k, net.params.threads, net.params.thread_min_neurons),
            out_input: vec![0; groups * k],
            out_u: vec![0; groups * k],
            out_v_on: vec![0; groups * k],
            out_v_off: vec![0; groups * k],
            out_scale: vec![0.0; groups * k],
            learning_state: LearningState::new(n, k, built.spec.ensemble.seed ^ STREAM_RUNTIME),
            moved: vec![0; k],
            rng: RoundingRng::new(built.spec.ensemble.seed ^ STREAM_RUNTIME.rotate_left(32)),
            learning: true,
            time_step: 0,
            last_spikes: 0,
            accounting: Accounting::default(),
            net,
        };
        exec.update_output_scales();
        Ok(exec)
    }

    /// The discretized network (integer parameters, core layout).
    pub fn network(&self) -> &DiscreteNetwork {
        &self.net
    }

    /// Where the network lives on cores.
    pub fn core_map(&self) -> &CoreMap {
        &self.net.cores
    }

    /// Threads that step the ensemble (see [`LoihiParams::threads`]).
    pub fn threads(&self) -> usize {
        self.ensemble.threads()
    }

    /// Current error exponents `F_k` and weight exponents `E_k` of the automatic scaling.
    pub fn exponents(&self) -> (&[i32], &[i32]) {
        (&self.learning_state.error_exp, &self.learning_state.weight_exp)
    }

    fn update_output_scales(&mut self) {
        let r = &self.net.readout;
        for (g, &shift) in r.group_shift.iter().enumerate() {
            for kk in 0..self.k {
                self.out_scale[g * self.k + kk] =
                    r.output_scale * exp2(self.learning_state.weight_exp[kk]) / exp2(shift as i32);
            }
        }
    }

    /// Keeps the readout compartments' value when a weight exponent moves by `bits` (positive: halve).
    fn rescale_outputs(&mut self) {
        for kk in 0..self.k {
            let bits = self.moved[kk];
            if bits == 0 {
                continue;
            }
            for g in 0..self.net.cores.readout_groups() {
                let j = g * self.k + kk;
                for reg in [&mut self.out_u[j], &mut self.out_v_on[j], &mut self.out_v_off[j]] {
                    *reg = if bits > 0 {
                        self.rng.round_shift(*reg as i64, bits as u32) as i32
                    } else {
                        (*reg << (-bits)).clamp(-VMAX, VMAX)
                    };
                }
            }
        }
        self.update_output_scales();
    }

    fn fire_generators(&mut self, input: &[f64]) {
        self.axon_spikes.clear();
        if self.net.params.delta_input {
            self.send_changes(input);
            return;
        }
        for (j, &x) in input.iter().enumerate() {
            let level = x / self.radius;
            if level.abs() > 1.0 {
                self.accounting.input_clips += 1;
            }
            // `pairs` generators per polarity with staggered phases fire between 0 and `pairs` spikes per step.
            let pairs = self.net.params.input_pairs as f64;
            let on = (level.clamp(0.0, 1.0) * pairs * GEN_ONE as f64).round() as i64;
            let off = ((-level).clamp(0.0, 1.0) * pairs * GEN_ONE as f64).round() as i64;
            for (axon, drive, sign) in [(2 * j, on, 1), (2 * j + 1, off, -1)] {
                let acc = &mut self.generators[axon];
                *acc += drive;
                let fired = *acc >> 16;
                if fired > 0 {
                    *acc -= fired << 16;
                    self.axon_spikes.push((j as u32, sign * fired as i32));
                }
            }
        }
    }

    /// Send-on-change graded input: each dimension whose quantized (lowpassed) level moved sends one event with the
    /// change, at most a full radius per step so the step's input fits the accumulator (a larger jump is sent
    /// over the next steps).
    fn send_changes(&mut self, input: &[f64]) {
        let levels = self.net.params.input_pairs as f64;
        let (a, s) = (self.net.ensemble.input_filter, self.net.params.input_pairs as i32);
        for (j, &x) in input.iter().enumerate() {
            if (x / self.radius).abs() > 1.0 {
                self.accounting.input_clips += 1;
            }
            let f = &mut self.filtered[j];
            *f = a * *f + (1.0 - a) * x;
            let level = ((*f / self.radius).clamp(-1.0, 1.0) * levels).round() as i32;
            let change = (level - self.levels[j]).clamp(-s, s);
            if change != 0 {
                self.levels[j] += change;
                self.axon_spikes.push((j as u32, change));
            }
        }
    }

    /// Advances the readout compartments with the input their spikes delivered.
    fn update_readout(&mut self) {
        let r = &self.net.readout;
        for j in 0..self.out_u.len() {
            let input = wrap(std::mem::take(&mut self.out_input[j]), INPUT_BITS);
            let u = wrap(decay(self.out_u[j], r.keep_u).wrapping_add(input), CURRENT_BITS);
            self.out_u[j] = u;
            // The on compartment receives +w and the off compartment -w; both clip at 0 like the core's voltages.
            self.out_v_on[j] = (decay(self.out_v_on[j], r.keep_v) + u).clamp(0, VMAX);
            self.out_v_off[j] = (decay(self.out_v_off[j], r.keep_v) - u).clamp(0, VMAX);
        }
    }

    /// One step of the ensemble and the readout: the sweep over the neurons (input, compartments, delivery, and
    /// the learning epochs due at step `t`), then the readout compartments and the exponent upkeep. Returns the
    /// ensemble's spike count.
    fn run_step(&mut self, t: u64) -> usize {
        let p = self.net.params;
        let traces_due = t.is_multiple_of(p.train_epoch as u64);
        let weights_due = self.learning && t.is_multiple_of(p.learn_epoch as u64);
        if weights_due {
            self.learning_state.begin_weight_epoch(&self.net.params, &mut self.accounting);
        }
        let plan = SweepPlan { axon_spikes: &self.axon_spikes, traces_due, weights_due };
        let counts = self.ensemble.sweep(&self.net, plan, &mut self.learning_state, &mut self.out_input);
        self.accounting.trace_updates += counts.trace_updates;
        self.update_readout();
        if weights_due {
            self.learning_state.finish_weight_epoch(&self.net, &mut self.accounting, &mut self.moved);
            self.rescale_outputs();
        }
        if self.learning && t.is_multiple_of(p.rescale_window as u64) {
            self.learning_state.window_check(&p, &mut self.accounting, &mut self.moved);
            self.rescale_outputs();
        }
        counts.spikes
    }
}

impl Executor for LoihiExecutor {
    fn step(&mut self, input: &[f64], error: Option<&[f64]>, output: &mut [f64]) -> Result<(), NeuroError> {
        check_step(input, error, output, self.d, self.k)?;
        if let (true, Some(e)) = (self.learning, error) {
            self.learning_state.sample_error(e, &self.net.params, &mut self.accounting);
        }
        self.fire_generators(input);
        self.time_step += 1;
        let spikes = self.run_step(self.time_step);

        output.fill(0.0);
        for (j, scale) in self.out_scale.iter().enumerate() {
            output[j % self.k] += (self.out_v_on[j] - self.out_v_off[j]) as f64 * scale;
        }
        let (n, d, k) = (self.n as u64, self.d as u64, self.k as u64);
        let groups = self.net.cores.readout_groups() as u64;
        let a = &mut self.accounting;
        a.steps += 1;
        a.neuron_updates += n + 2 * d * self.net.params.generators_per_polarity() as u64 + 2 * k * groups;
        a.spikes += spikes as u64;
        // A graded spike is one event whatever its payload; binary generators send one event per spike.
        let input_spikes: u64 = if self.net.params.graded_input {
            self.axon_spikes.len() as u64
        } else {
            self.axon_spikes.iter().map(|&(_, m)| m.unsigned_abs() as u64).sum()
        };
        a.input_spikes += input_spikes;
        a.synaptic_events += input_spikes * n + spikes as u64 * 2 * k;
        a.dense_macs += n * d + n * k + n + if self.learning { n * k } else { 0 };
        self.last_spikes = spikes;
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
        self.learning_state.rate_ratio = kappa / self.net.readout.reference_rate;
        Ok(())
    }

    fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    fn last_spike_count(&self) -> usize {
        self.last_spikes
    }

    /// A compartment that spiked has its refractory count set to the full delay, while every other one's
    /// count is below it (counted down from at most the delay), so the count tells the last step's spikes.
    fn spiked_last_step(&self, i: usize) -> bool {
        let full = self.net.ensemble.comp.ref_delay;
        full > 0 && self.time_step > 0 && self.ensemble.refractory.get(i).is_some_and(|&r| i32::from(r) == full)
    }

    fn export_weights(&self) -> LearnedWeights {
        let (n, k) = (self.n, self.k);
        let q = self.net.readout.decoder_quantum;
        let mut decoders = vec![0.0; n * k];
        for kk in 0..k {
            let scale = q * exp2(self.learning_state.weight_exp[kk]);
            for i in 0..n {
                decoders[kk * n + i] = self.learning_state.weights[kk * n + i] as f64 * scale;
            }
        }
        LearnedWeights { neurons: n, dimensions: k, decoders }
    }

    fn import_weights(&mut self, weights: &LearnedWeights) -> Result<(), NeuroError> {
        check_weights(weights, self.n, self.k)?;
        let (n, k) = (self.n, self.k);
        let q = self.net.readout.decoder_quantum;
        let wmax = self.net.params.weight_max() as f64;
        for kk in 0..k {
            let row = &weights.decoders[kk * n..(kk + 1) * n];
            let peak = row.iter().fold(0.0f64, |m, x| m.max(x.abs())) / q;
            let mut exp = -8;
            while peak / exp2(exp) > wmax && exp < 60 {
                exp += 1;
            }
            let scale = q * exp2(exp);
            for (i, &dec) in row.iter().enumerate() {
                self.learning_state.weights[kk * n + i] = (dec / scale).round().clamp(-wmax, wmax) as i32;
            }
            self.learning_state.weight_exp[kk] = exp;
        }
        // The readout compartments restart from rest under the new weights.
        for reg in [&mut self.out_u, &mut self.out_v_on, &mut self.out_v_off] {
            reg.fill(0);
        }
        self.update_output_scales();
        Ok(())
    }
}
