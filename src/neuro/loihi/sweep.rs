//! One step's pass over the ensemble, tile by tile.
//!
//! A step sums the input spikes' weight rows, updates the compartments, delivers the spikes to the readout and,
//! on epoch steps, updates the presynaptic traces and the learned weights. Done as separate sweeps over the whole
//! ensemble, each sweep streams every array it touches through the caches again; done per tile of [`TILE`]
//! neurons, a tile's state is loaded once and its scratch arrays stay in the L1 cache. The work per neuron is
//! the same, in the same order per neuron, and every random draw is the one the separate sweeps would make (see
//! [`LaneRng`]'s jumps), so the results are bit-identical.

use super::compartment::{self, CompartmentBlock};
use super::discretize::{DiscreteNetwork, InputRows};
use super::huge_pages::huge_vec;
use super::kernels::{self, RowMantissa};
use super::lane_rng::{LaneJump, LaneRng};
use super::learning::LearningState;

/// Neurons per tile: a multiple of 8 (the learning kernels draw random numbers per eight neurons), small enough
/// that a tile's scratch sums, flags and learning rows stay in a 48 KiB L1 cache.
pub const TILE: usize = 1024;

/// A tile's spikes are delivered one by one (per-spike row adds) when at most one in this many of its neurons
/// spiked, else as dense masked sums over the tile. The masked sum handles 16–32 neurons per vector operation,
/// a per-spike add one neuron per scalar add, so the break-even sits near one spike in 16–32 neurons; the
/// threshold is that estimate, not a measured optimum. Both give the same sums, bit for bit.
pub const SPARSE_DELIVERY_RATIO: usize = 32;

/// The learned readout as spikes see it: weights (dimension-major `k × n`) and each group's shift.
#[derive(Clone, Copy)]
struct Delivery<'a> {
    weights: &'a [i32],
    n: usize,
    k: usize,
    group_size: usize,
    group_shift: &'a [u32],
}

impl Delivery<'_> {
    /// Adds each spiking neuron's weights to its group's readout inputs: work follows the spikes. Wrapping sums
    /// do not depend on the order of their terms, so this equals [`dense`](Self::dense) bit for bit.
    fn sparse(&self, lo: usize, flags: &[u8], out_input: &mut [i32]) {
        let k = self.k;
        for (off, _) in flags.iter().enumerate().filter(|&(_, &f)| f != 0) {
            let i = lo + off;
            let g = i / self.group_size;
            let shift = self.group_shift[g];
            for kk in 0..k {
                let acc = &mut out_input[g * k + kk];
                *acc = acc.wrapping_add(self.weights[kk * self.n + i] << shift);
            }
        }
    }

    /// Masked sums of the tile's weights under its spike flags, per group part and dimension (vectorised).
    fn dense(&self, lo: usize, flags: &[u8], out_input: &mut [i32]) {
        let (n, k, hi) = (self.n, self.k, lo + flags.len());
        // A tile may straddle readout groups: each group's part goes to its own compartments.
        let mut a = lo;
        while a < hi {
            let g = a / self.group_size;
            let b = ((g + 1) * self.group_size).min(hi);
            let shift = self.group_shift[g];
            for kk in 0..k {
                let sum = kernels::masked_sum(&self.weights[kk * n + a..kk * n + b], &flags[a - lo..b - lo]);
                // Shifting the wrapped sum equals summing the shifted weights in wrapping 32-bit arithmetic.
                let acc = &mut out_input[g * k + kk];
                *acc = acc.wrapping_add(sum << shift);
            }
            a = b;
        }
    }
}

/// The ensemble's compartment registers and the scratch space of one tile.
#[derive(Debug, Clone)]
pub struct EnsembleState {
    /// Currents, per neuron.
    pub u: Vec<i32>,
    /// Voltages, per neuron.
    pub v: Vec<i32>,
    /// Remaining refractory steps, per neuron.
    pub refractory: Vec<u8>,
    /// A tile's input mantissa sums, 16-bit (when the step's spikes cannot overflow them) or 32-bit.
    sums16: Vec<i16>,
    sums32: Vec<i32>,
    /// A tile's spike flags (1: spiked this step).
    spiked: Vec<u8>,
    /// Random generators of this step's learning sweeps: the traces', then each updating dimension's weights'.
    streams: Vec<LaneRng>,
    /// How many draws one learning sweep over all neurons makes.
    sweep_jump: LaneJump,
}

/// What a step's sweep does besides the compartment update.
#[derive(Debug, Clone, Copy)]
pub struct SweepPlan<'a> {
    /// Input dimensions whose axons spiked, with how many fired: positive for on axons, negative for off.
    pub axon_spikes: &'a [(u32, i32)],
    /// A training epoch ends this step: update the traces.
    pub traces_due: bool,
    /// A learning epoch ends this step: update the weights of the dimensions with an
    /// [`epoch_factor`](LearningState::epoch_factor) (needs `traces_due`).
    pub weights_due: bool,
}

/// Counts of a step's sweep.
#[derive(Debug, Clone, Copy, Default)]
pub struct SweepCounts {
    /// Spikes emitted by the ensemble.
    pub spikes: usize,
    /// Traces that were non-zero or spiked when updated.
    pub trace_updates: u64,
}

impl EnsembleState {
    /// Registers at rest (voltages `v0`) for `n` neurons with a `k`-dimensional readout.
    pub fn new(v0: &[i32], k: usize) -> Self {
        let n = v0.len();
        let tile = TILE.min(n);
        EnsembleState {
            u: huge_vec(n, |_| 0),
            v: huge_vec(n, |i| v0[i]),
            refractory: huge_vec(n, |_| 0),
            sums16: vec![0; tile],
            sums32: vec![0; tile],
            spiked: vec![0; tile],
            streams: Vec::with_capacity(k + 1),
            // A sweep draws once per eight neurons and once more to close.
            sweep_jump: LaneJump::new(n as u64 / 8 + 1),
        }
    }

    /// Runs one step over all tiles: input, compartments, readout delivery into `out_input` (per group and
    /// dimension, as the readout compartments' input), then the due learning epochs. `lanes` is the learning
    /// generator; it ends where the separate sweeps would have left it.
    pub fn sweep(
        &mut self,
        net: &DiscreteNetwork,
        plan: SweepPlan<'_>,
        learning: &mut LearningState,
        lanes: &mut LaneRng,
        out_input: &mut [i32],
    ) -> SweepCounts {
        debug_assert!(plan.traces_due || !plan.weights_due, "learning epochs end on training epochs");
        let n = self.u.len();
        let fired_total: i32 = plan.axon_spikes.iter().map(|&(_, f)| f.abs()).sum();
        // 16-bit sums (twice the lanes) whenever this step's spikes cannot overflow them.
        let narrow = fired_total.saturating_mul(net.params.weight_max()) <= i16::MAX as i32;
        self.start_streams(plan, learning, lanes);
        let mut counts = SweepCounts::default();
        for lo in (0..n).step_by(TILE) {
            let hi = (lo + TILE).min(n);
            self.tile_compartments(net, plan.axon_spikes, narrow, &mut learning.epoch_spiked[lo..hi], lo, hi);
            counts.spikes += self.tile_delivery(net, learning, lo, hi, out_input);
            counts.trace_updates += self.tile_learning(net, plan, learning, lo, hi);
        }
        if let Some(last) = self.streams.last() {
            *lanes = last.clone();
        }
        counts
    }

    /// Positions one generator per learning sweep due this step where that sweep would start if the sweeps ran
    /// one after another: the traces' at `lanes`, each updating dimension's one full sweep further.
    fn start_streams(&mut self, plan: SweepPlan<'_>, learning: &LearningState, lanes: &LaneRng) {
        self.streams.clear();
        if !plan.traces_due {
            return;
        }
        self.streams.push(lanes.clone());
        if plan.weights_due {
            for _ in learning.epoch_factor.iter().flatten() {
                let next = self.streams.last().expect("the traces' stream").jumped(&self.sweep_jump);
                self.streams.push(next);
            }
        }
    }

    /// Sums the tile's synaptic input (in 16 bits if `narrow`, else 32) and steps its compartments, leaving the
    /// spike flags in `self.spiked` and OR-ing them into the epoch record `epoch_spiked`.
    fn tile_compartments(
        &mut self,
        net: &DiscreteNetwork,
        axon_spikes: &[(u32, i32)],
        narrow: bool,
        epoch_spiked: &mut [u8],
        lo: usize,
        hi: usize,
    ) {
        match &net.ensemble.input_mantissas {
            InputRows::Bytes(rows) => self.tile_compartments_with(net, rows, axon_spikes, narrow, epoch_spiked, lo, hi),
            InputRows::Words(rows) => self.tile_compartments_with(net, rows, axon_spikes, narrow, epoch_spiked, lo, hi),
        }
    }

    /// [`tile_compartments`](Self::tile_compartments) for input rows stored as `R`.
    #[allow(clippy::too_many_arguments)]
    fn tile_compartments_with<R: RowMantissa>(
        &mut self,
        net: &DiscreteNetwork,
        rows: &[R],
        axon_spikes: &[(u32, i32)],
        narrow: bool,
        epoch_spiked: &mut [u8],
        lo: usize,
        hi: usize,
    ) {
        let EnsembleState { u, v, refractory, sums16, sums32, spiked, .. } = self;
        let ens = &net.ensemble;
        let (n, len) = (u.len(), hi - lo);
        let row = |dim: u32| &rows[dim as usize * n + lo..dim as usize * n + hi];
        let (u, v, refractory, spiked) = (&mut u[lo..hi], &mut v[lo..hi], &mut refractory[lo..hi], &mut spiked[..len]);
        let (comp, bias, exp) = (&ens.comp, &ens.bias[lo..hi], ens.input_weight_exp);
        if narrow {
            let sums = &mut sums16[..len];
            // Four rows per pass while there are four (12-D input: three passes instead of twelve).
            let mut quads = axon_spikes.chunks_exact(4);
            for q in &mut quads {
                let fired = [q[0].1 as i16, q[1].1 as i16, q[2].1 as i16, q[3].1 as i16];
                kernels::accumulate4(sums, row(q[0].0), row(q[1].0), row(q[2].0), row(q[3].0), fired);
            }
            for &(dim, fired) in quads.remainder() {
                kernels::accumulate(sums, row(dim), fired as i16);
            }
            compartment::step_block(
                comp,
                bias,
                exp,
                net.params.soft_reset,
                CompartmentBlock { input: sums, u, v, refractory, spiked, epoch_spiked },
            );
        } else {
            let sums = &mut sums32[..len];
            for &(dim, fired) in axon_spikes {
                kernels::accumulate_wide(sums, row(dim), fired);
            }
            compartment::step_block(
                comp,
                bias,
                exp,
                net.params.soft_reset,
                CompartmentBlock { input: sums, u, v, refractory, spiked, epoch_spiked },
            );
        }
    }

    /// Sends the tile's spikes to their readout cores: each adds its learned weights (shifted by its group's
    /// shift) into the group's compartments. Returns the tile's spike count.
    fn tile_delivery(
        &self,
        net: &DiscreteNetwork,
        learning: &LearningState,
        lo: usize,
        hi: usize,
        out_input: &mut [i32],
    ) -> usize {
        let flags = &self.spiked[..hi - lo];
        let spikes = kernels::count_flags(flags);
        if spikes == 0 {
            return 0;
        }
        let readout = Delivery {
            weights: &learning.weights,
            n: self.u.len(),
            k: learning.epoch_factor.len(),
            group_size: net.readout.group_size,
            group_shift: &net.readout.group_shift,
        };
        if spikes * SPARSE_DELIVERY_RATIO <= flags.len() {
            readout.sparse(lo, flags, out_input);
        } else {
            readout.dense(lo, flags, out_input);
        }
        spikes
    }

    /// The tile's part of the due learning sweeps: traces, then each updating dimension's weights (which use the
    /// traces just updated). Returns the trace updates counted.
    fn tile_learning(
        &mut self,
        net: &DiscreteNetwork,
        plan: SweepPlan<'_>,
        learning: &mut LearningState,
        lo: usize,
        hi: usize,
    ) -> u64 {
        if !plan.traces_due {
            return 0;
        }
        let n = self.u.len();
        let closing = hi == n;
        let r = &net.readout;
        let (decay, inc, tmax) = (r.trace_decay_q16 as i32, r.trace_increment as i32, net.params.trace_max());
        let traces = &mut learning.traces[lo..hi];
        let spiked = &mut learning.epoch_spiked[lo..hi];
        let updates = kernels::update_traces(traces, spiked, decay, inc, tmax, &mut self.streams[0], closing);
        if plan.weights_due {
            let mut stream = 1;
            for (kk, factor) in learning.epoch_factor.iter().enumerate() {
                let Some(factor) = *factor else { continue };
                let row = &mut learning.weights[kk * n + lo..kk * n + hi];
                let peak =
                    kernels::update_weights(row, &learning.traces[lo..hi], factor, &mut self.streams[stream], closing);
                learning.epoch_peak[kk] = learning.epoch_peak[kk].max(peak);
                stream += 1;
            }
        }
        updates as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_dense_delivery_agree_bit_for_bit() {
        // Two dimensions, groups of 300 (tiles straddle them), weights large enough to wrap, shifts per group.
        let (n, k) = (1000, 2);
        let weights: Vec<i32> = (0..n * k).map(|i| (i as i32).wrapping_mul(0x2545_F491) >> 3).collect();
        let group_shift = [3u32, 0, 7, 1];
        let d = Delivery { weights: &weights, n, k, group_size: 300, group_shift: &group_shift };
        for (lo, every) in [(0usize, 1usize), (100, 3), (250, 17), (512, 97)] {
            let flags: Vec<u8> = (0..(n - lo).min(600)).map(|i| (i % every == 0) as u8).collect();
            let (mut sparse, mut dense) = (vec![5i32; 4 * k], vec![5i32; 4 * k]);
            d.sparse(lo, &flags, &mut sparse);
            d.dense(lo, &flags, &mut dense);
            assert_eq!(sparse, dense, "tile at {lo}, one spike in {every}");
            // And both equal the plain definition.
            let mut want = vec![5i32; 4 * k];
            for (off, _) in flags.iter().enumerate().filter(|(_, f)| **f != 0) {
                let i = lo + off;
                for kk in 0..k {
                    let j = (i / 300) * k + kk;
                    want[j] = want[j].wrapping_add(weights[kk * n + i].wrapping_shl(group_shift[i / 300]));
                }
            }
            assert_eq!(sparse, want);
        }
    }
}
