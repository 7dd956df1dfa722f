//! One step's pass over the ensemble, tile by tile, on one thread or split over several.
//!
//! A step sums the input spikes' weight rows, updates the compartments, delivers the spikes to the readout and,
//! on epoch steps, updates the presynaptic traces and the learned weights. Done as separate sweeps over the whole
//! ensemble, each sweep streams every array it touches through the caches again; done per tile of [`TILE`]
//! neurons, a tile's state is loaded once and its scratch arrays stay in the L1 cache.
//!
//! The sweep splits over threads by whole tiles: a tile touches only its own neurons' registers, weights and
//! learning generators (see [`TileRng`]), and the readout input each part delivers is a wrapping integer sum,
//! which does not depend on the order of its terms (the parts' sums are still added in part order). So the
//! results are bit-identical on any thread count.

use std::sync::Arc;

use super::compartment::{self, BiasRegister, BlockStep, ByteRow, CompartmentBlock, SpikeMasks};
use super::compartment_avx512;
use super::delivery::{AllRows, Delivery, DeliveryPath, PartRows, TileSpikes, WeightRows};
use super::discretize::{Biases, DiscreteNetwork, InputRows};
use super::huge_pages::huge_vec;
use super::kernels::{self, EpochSpikes, RowMantissa, TraceRule};
use super::learning::LearningState;
use super::spin_pool::SpinPool;
use super::tile_rng::TileRng;

/// Neurons per tile: a multiple of 64 (the learning kernels draw random numbers for 16 or 32 neurons at a time,
/// two draws per pass). Measured: 2048 steps 7 % faster than 1024 at 10^4 neurons (half the per-tile set-up of
/// the loops) and 2 % at 10^6; 4096 was no faster, and slower with 12 input dimensions.
pub const TILE: usize = 2048;

/// The scratch space of one thread's part of a sweep.
#[derive(Debug, Clone)]
struct Worker {
    /// A tile's input mantissa sums, 16-bit (when the step's spikes cannot overflow them) or 32-bit.
    sums16: Vec<i16>,
    sums32: Vec<i32>,
    /// A tile's spike masks (see [`SpikeMasks`]).
    spiked: Vec<u16>,
    /// How many of them are set.
    tile_spikes: usize,
    /// What the compartment update delivered itself (see [`BlockStep::delivered`]).
    tile_delivered: (usize, i32),
    /// Offsets within the tile of its spiking neurons, when it delivers spike by spike.
    spike_list: Vec<u16>,
    /// The readout input this part delivered (parts after the first; the first adds into the step's own).
    out_input: Vec<i32>,
    /// Per dimension, the largest |mantissa| this part's weight updates left.
    peak: Vec<i32>,
    /// This part's counts.
    counts: SweepCounts,
}

impl Worker {
    fn new(tile: usize, k: usize) -> Self {
        Worker {
            sums16: vec![0; tile],
            sums32: vec![0; tile],
            spiked: vec![0; SpikeMasks::words(tile)],
            tile_spikes: 0,
            tile_delivered: (0, 0),
            spike_list: Vec::with_capacity(tile),
            out_input: Vec::new(),
            peak: vec![0; k],
            counts: SweepCounts::default(),
        }
    }
}

/// The neurons `lo..lo + u.len()` (whole tiles) that one worker sweeps: their registers and learning rows.
struct Part<'a, W> {
    lo: usize,
    u: &'a mut [i32],
    v: &'a mut [i32],
    refractory: &'a mut [u8],
    epoch_spiked: &'a mut [u8],
    traces: &'a mut [i16],
    weights: W,
    /// The part's tiles' learning generators (see [`LearningState::tile_rngs`]).
    rngs: &'a mut [TileRng],
}

/// The learning arrays a sweep splits among its parts.
struct LearningRows<'a> {
    traces: &'a mut [i16],
    epoch_spiked: &'a mut [u8],
    weights: &'a mut [i32],
    rngs: &'a mut [TileRng],
}

/// What every part of a step's sweep reads.
#[derive(Clone, Copy)]
struct Shared<'a> {
    net: &'a DiscreteNetwork,
    plan: SweepPlan<'a>,
    /// This learning epoch's update factor per dimension (see [`LearningState::epoch_factor`]).
    factors: &'a [Option<f32>],
    /// Input sums fit 16 bits this step.
    narrow: bool,
    /// The training epoch's spikes are read from the refractory counts at its end, at least this count meaning a
    /// spike in the epoch (see [`EpochSpikes::Counts`]); `None`: they are recorded as flags step by step.
    spikes_from_counts: Option<u8>,
    /// Neurons in the ensemble.
    n: usize,
    /// This step's input as quads of 8-bit rows (see [`QuadCounts`]), when it takes that path.
    quads: Option<QuadCounts>,
}

/// Adds the input rows of a step's axon spikes (`row(dim)`, one mantissa per compartment) times their counts
/// into 16-bit `sums`, four rows per pass while there are four (12-D input: three passes instead of twelve).
fn sum_rows_narrow<'r, R: RowMantissa + 'r>(
    sums: &mut [i16],
    axon_spikes: &[(u32, i32)],
    row: impl Fn(u32) -> &'r [R],
) {
    let mut quads = axon_spikes.chunks_exact(4);
    for q in &mut quads {
        let fired = [q[0].1 as i16, q[1].1 as i16, q[2].1 as i16, q[3].1 as i16];
        kernels::accumulate4(sums, row(q[0].0), row(q[1].0), row(q[2].0), row(q[3].0), fired);
    }
    for &(dim, fired) in quads.remainder() {
        kernels::accumulate(sums, row(dim), fired as i16);
    }
}

/// Most quads of input rows (dimensions / 4) whose counts a step keeps on the stack; wider inputs sum their rows.
const MAX_QUADS: usize = 16;

/// A step's input events per quad of input dimensions, for the compartment loop that reads
/// [`DiscreteEnsemble::input_quads`](super::discretize::DiscreteEnsemble::input_quads).
#[derive(Clone, Copy)]
struct QuadCounts {
    /// Per quad, its four dimensions' counts as signed bytes (dimension `4q` in the lowest).
    fired: [u32; MAX_QUADS],
    /// Quads in the input.
    len: usize,
    /// `-128 ×` the sum of the counts (the rows' `+ 128` bias).
    taken: i32,
}

impl QuadCounts {
    /// The counts of a step with these axon spikes (each dimension at most once), when the input has 8-bit rows
    /// in quads, at most [`MAX_QUADS`] of them, more than one spike (one row has its own path), and every count
    /// fits a signed byte.
    fn new(quads: &[u32], n: usize, axon_spikes: &[(u32, i32)]) -> Option<Self> {
        let len = quads.len().checked_div(n).unwrap_or(0);
        let fits = axon_spikes.iter().all(|&(dim, f)| (dim as usize) < 4 * len && i8::try_from(f).is_ok());
        if len == 0 || len > MAX_QUADS || axon_spikes.len() < 2 || !fits {
            return None;
        }
        let mut counts = QuadCounts { fired: [0; MAX_QUADS], len, taken: 0 };
        for &(dim, f) in axon_spikes {
            counts.fired[dim as usize / 4] |= (f as i8 as u8 as u32) << (8 * (dim % 4));
            counts.taken -= 128 * f;
        }
        Some(counts)
    }
}

/// The ensemble's compartment registers, the scratch space of the sweep's workers, and the threads that run
/// the parts after the first.
#[derive(Debug, Clone)]
pub struct EnsembleState {
    /// Currents, per neuron. Left at 0 where the current is not kept (`keep_u = 0`, no input synapse): it is
    /// then only the step's input and no state, and storing it cost a tenth of a step's memory traffic.
    pub u: Vec<i32>,
    /// Voltages, per neuron.
    pub v: Vec<i32>,
    /// Remaining refractory steps, per neuron.
    pub refractory: Vec<u8>,
    /// One per part of the sweep.
    workers: Vec<Worker>,
    /// Where each part starts (neurons, multiples of [`TILE`]), then `n`.
    bounds: Vec<usize>,
    /// Threads for the parts after the first (none on one thread).
    pool: Option<Arc<SpinPool>>,
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

/// How many threads a sweep over `n` neurons uses when given `threads` (0: one per CPU of the machine) and at
/// least `min_part` neurons per thread (see [`LoihiParams::thread_min_neurons`](super::LoihiParams)): at most one
/// per `min_part` neurons (in whole tiles), at least one.
pub fn sweep_threads(n: usize, threads: usize, min_part: usize) -> usize {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |c| c.get()),
        t => t,
    };
    threads.min(n.div_ceil(TILE) / min_part.div_ceil(TILE).max(1)).max(1)
}

impl EnsembleState {
    /// Registers at rest (voltages `v0`) for `n` neurons with a `k`-dimensional readout, swept by up to
    /// `threads` threads (0: one per CPU) of at least `min_part` neurons each (see [`sweep_threads`]).
    pub fn new(v0: &[i32], k: usize, threads: usize, min_part: usize) -> Self {
        let n = v0.len();
        let tile = TILE.min(n);
        let tiles = n.div_ceil(TILE);
        let mut parts = sweep_threads(n, threads, min_part);
        // A pool that cannot start (no threads left to the process) leaves the sweep on one thread.
        let pool = (parts > 1)
            .then(|| {
                SpinPool::new(parts - 1)
                    .map_err(|e| tracing::warn!("the core runs on one thread: its threads did not start: {e}"))
                    .ok()
            })
            .flatten()
            .map(Arc::new);
        if pool.is_none() {
            parts = 1;
        }
        let bounds: Vec<usize> = (0..=parts).map(|p| (p * tiles / parts * TILE).min(n)).collect();
        EnsembleState {
            u: huge_vec(n, |_| 0),
            v: huge_vec(n, |i| v0[i]),
            refractory: huge_vec(n, |_| 0),
            workers: (0..parts).map(|_| Worker::new(tile, k)).collect(),
            bounds,
            pool,
        }
    }

    /// How many threads the sweep runs on.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Runs one step over all tiles: input, compartments, readout delivery into `out_input` (per group and
    /// dimension, as the readout compartments' input), then the due learning epochs. On one thread this allocates
    /// nothing.
    pub fn sweep(
        &mut self,
        net: &DiscreteNetwork,
        plan: SweepPlan<'_>,
        learning: &mut LearningState,
        out_input: &mut [i32],
    ) -> SweepCounts {
        debug_assert!(plan.traces_due || !plan.weights_due, "learning epochs end on training epochs");
        let n = self.u.len();
        let fired_total: i32 = plan.axon_spikes.iter().map(|&(_, f)| f.abs()).sum();
        // 16-bit sums (twice the lanes) whenever this step's spikes cannot overflow them.
        let narrow = fired_total.saturating_mul(net.params.weight_max()) <= i16::MAX as i32;
        let LearningState { traces, epoch_spiked, weights, epoch_factor, epoch_peak, tile_rngs, .. } = learning;
        // A refractory period that spans the training epoch tells which neurons spiked in it (a threshold below 0
        // would let a refractory compartment, held at 0, spike).
        let (comp, epoch) = (&net.ensemble.comp, net.params.train_epoch as i32);
        let spikes_from_counts = (comp.ref_delay >= epoch && comp.vth >= 0).then(|| (comp.ref_delay - epoch + 1) as u8);
        let quads = narrow.then(|| QuadCounts::new(&net.ensemble.input_quads, n, plan.axon_spikes)).flatten();
        let shared = Shared { net, plan, factors: epoch_factor, narrow, n, spikes_from_counts, quads };
        if self.pool.is_none() {
            let part = Part {
                lo: 0,
                u: &mut self.u,
                v: &mut self.v,
                refractory: &mut self.refractory,
                epoch_spiked,
                traces,
                weights: AllRows { weights, n },
                rngs: tile_rngs,
            };
            self.workers[0].run(shared, part, out_input);
        } else {
            let learning = LearningRows { traces, epoch_spiked, weights, rngs: tile_rngs };
            self.sweep_parallel(shared, learning, out_input);
        }
        let mut counts = SweepCounts::default();
        for w in &self.workers {
            counts.spikes += w.counts.spikes;
            counts.trace_updates += w.counts.trace_updates;
            if plan.weights_due {
                for (peak, &p) in epoch_peak.iter_mut().zip(&w.peak) {
                    *peak = (*peak).max(p);
                }
            }
        }
        counts
    }

    /// [`sweep`](Self::sweep) with one part per thread: the first on this thread, the others on the pool's.
    fn sweep_parallel(&mut self, shared: Shared<'_>, learning: LearningRows<'_>, out_input: &mut [i32]) {
        let n = shared.n;
        let LearningRows { mut traces, mut epoch_spiked, weights, mut rngs } = learning;
        let sweeps = LearningState::sweeps_per_tile(shared.factors.len());
        let mut rest_rows: Vec<&mut [i32]> = weights.chunks_mut(n).collect();
        let (mut u, mut v, mut refractory) = (&mut self.u[..], &mut self.v[..], &mut self.refractory[..]);
        let mut parts = Vec::with_capacity(self.workers.len());
        for p in 0..self.workers.len() {
            let (lo, len) = (self.bounds[p], self.bounds[p + 1] - self.bounds[p]);
            let rows = rest_rows
                .iter_mut()
                .map(|r| {
                    let (mine, rest) = std::mem::take(r).split_at_mut(len);
                    *r = rest;
                    mine
                })
                .collect();
            let (u_p, u_rest) = u.split_at_mut(len);
            let (v_p, v_rest) = v.split_at_mut(len);
            let (r_p, r_rest) = refractory.split_at_mut(len);
            let (s_p, s_rest) = epoch_spiked.split_at_mut(len);
            let (t_p, t_rest) = traces.split_at_mut(len);
            let (g_p, g_rest) = std::mem::take(&mut rngs).split_at_mut(len.div_ceil(TILE) * sweeps);
            (u, v, refractory, epoch_spiked, traces, rngs) = (u_rest, v_rest, r_rest, s_rest, t_rest, g_rest);
            parts.push(Part {
                lo,
                u: u_p,
                v: v_p,
                refractory: r_p,
                epoch_spiked: s_p,
                traces: t_p,
                weights: PartRows(rows),
                rngs: g_p,
            });
        }
        let pool = self.pool.as_ref().expect("a pool for several parts");
        let (first, others) = self.workers.split_first_mut().expect("at least one part");
        let mut parts = parts.into_iter();
        let first_part = parts.next().expect("one part per worker");
        let mut jobs: Vec<_> = others
            .iter_mut()
            .zip(parts)
            .map(|(worker, part)| {
                worker.out_input.clear();
                worker.out_input.resize(out_input.len(), 0);
                let mut part = Some(part);
                move || {
                    if let Some(part) = part.take() {
                        let mut out = std::mem::take(&mut worker.out_input);
                        worker.run(shared, part, &mut out);
                        worker.out_input = out;
                    }
                }
            })
            .collect();
        let mut jobs: Vec<&mut (dyn FnMut() + Send)> =
            jobs.iter_mut().map(|j| j as &mut (dyn FnMut() + Send)).collect();
        pool.run(&mut jobs, || first.run(shared, first_part, out_input));
        // Wrapping sums: any order gives the same bits; part order all the same.
        for w in others.iter() {
            for (acc, &x) in out_input.iter_mut().zip(&w.out_input) {
                *acc = acc.wrapping_add(x);
            }
        }
    }
}

impl Worker {
    /// Sweeps the part's tiles: compartments, delivery into `out_input`, learning. Leaves the counts and weight
    /// peaks in `self`.
    fn run<W: WeightRows>(&mut self, shared: Shared<'_>, mut part: Part<'_, W>, out_input: &mut [i32]) {
        self.counts = SweepCounts::default();
        self.peak.fill(0);
        let len = part.u.len();
        for a in (0..len).step_by(TILE) {
            let b = (a + TILE).min(len);
            self.tile_compartments(shared, &mut part, a, b);
            self.tile_delivery(shared, &part, a, b, out_input);
            self.counts.spikes += self.tile_spikes;
            self.counts.trace_updates += self.tile_learning(shared, &mut part, a, b);
        }
    }

    /// Sums the tile's synaptic input (in 16 bits if narrow, else 32) and steps its compartments, leaving the
    /// spike masks in `self.spiked` (and their count in `self.tile_spikes`) and OR-ing them into the epoch record.
    /// `a..b` are indices within the part.
    fn tile_compartments<W: WeightRows>(&mut self, shared: Shared<'_>, part: &mut Part<'_, W>, a: usize, b: usize) {
        let ens = &shared.net.ensemble;
        match (&ens.input_mantissas, &ens.bias) {
            (InputRows::Bytes(rows), Biases::Values(bias)) => {
                self.tile_compartments_with(shared, rows, bias, part, a, b)
            }
            (InputRows::Bytes(rows), Biases::Packed(bias)) => {
                self.tile_compartments_with(shared, rows, bias, part, a, b)
            }
            (InputRows::Words(rows), Biases::Values(bias)) => {
                self.tile_compartments_with(shared, rows, bias, part, a, b)
            }
            (InputRows::Words(rows), Biases::Packed(bias)) => {
                self.tile_compartments_with(shared, rows, bias, part, a, b)
            }
        }
    }

    /// [`tile_compartments`](Self::tile_compartments) for input rows stored as `R` and biases as `B`.
    fn tile_compartments_with<R: RowMantissa, B: BiasRegister, W: WeightRows>(
        &mut self,
        shared: Shared<'_>,
        rows: &[R],
        bias: &[B],
        part: &mut Part<'_, W>,
        a: usize,
        b: usize,
    ) {
        let Worker { sums16, sums32, spiked, .. } = self;
        let (net, n, len) = (shared.net, shared.n, b - a);
        let ens = &net.ensemble;
        let (lo, hi) = (part.lo + a, part.lo + b);
        let row = |dim: u32| &rows[dim as usize * n + lo..dim as usize * n + hi];
        let (comp, bias, exp, soft) = (&ens.comp, &bias[lo..hi], ens.input_weight_exp, net.params.soft_reset);
        let (u, v, refractory) = (&mut part.u[a..b], &mut part.v[a..b], &mut part.refractory[a..b]);
        let (spiked, epoch_spiked) = (&mut spiked[..SpikeMasks::words(len)], &mut part.epoch_spiked[a..b]);
        let axon_spikes = shared.plan.axon_spikes;
        let record_epoch = shared.spikes_from_counts.is_none();
        // A one-dimensional readout takes its spikes from the compartment loop, which sums their weights itself.
        let deliver = (shared.factors.len() == 1).then(|| part.weights.row(0, a, b));
        // One 8-bit row as the step's only input: the compartment loop reads it itself (no summing pass).
        let one_row = match axon_spikes {
            [(dim, fired)] if shared.narrow => R::as_bytes(row(*dim)).map(|bytes| (bytes, *fired as i16)),
            _ => None,
        };
        let stepped: BlockStep = if shared.narrow {
            let block = CompartmentBlock {
                input: &mut sums16[..len],
                u,
                v,
                refractory,
                spiked,
                epoch_spiked,
                record_epoch,
                deliver,
            };
            if let Some(quads) = &shared.quads {
                // Several 8-bit rows: the compartment loop sums them itself, a quad of rows per multiply-add.
                let words = &ens.input_quads[lo..];
                let fired = &quads.fired[..quads.len];
                let input = compartment_avx512::Input::Quads { words, stride: n, fired, taken: quads.taken };
                compartment::step_block_quads(comp, bias, exp, soft, input, block, |done, sums| {
                    sum_rows_narrow(sums, axon_spikes, |dim| &row(dim)[done..])
                })
            } else if let Some((row, fired)) = one_row {
                // Quantized mantissas are within the weight range.
                let peak = net.params.weight_max().min(128) as u8;
                compartment::step_block_row(comp, bias, exp, soft, ByteRow { mantissas: row, peak }, fired, block)
            } else {
                sum_rows_narrow(block.input, axon_spikes, row);
                compartment::step_block(comp, bias, exp, soft, block)
            }
        } else {
            let sums = &mut sums32[..len];
            for &(dim, fired) in axon_spikes {
                kernels::accumulate_wide(sums, row(dim), fired);
            }
            let block = CompartmentBlock { input: sums, u, v, refractory, spiked, epoch_spiked, record_epoch, deliver };
            compartment::step_block(comp, bias, exp, soft, block)
        };
        (self.tile_spikes, self.tile_delivered) = (stepped.spikes, stepped.delivered);
    }

    /// Sends the tile's spikes to their readout cores: each adds its learned weights (shifted by its group's
    /// shift) into the group's compartments.
    fn tile_delivery<W: WeightRows>(
        &mut self,
        shared: Shared<'_>,
        part: &Part<'_, W>,
        a: usize,
        b: usize,
        out_input: &mut [i32],
    ) {
        let r = &shared.net.readout;
        let readout = Delivery { k: shared.factors.len(), group_size: r.group_size, group_shift: &r.group_shift };
        let spikes =
            TileSpikes { masks: &self.spiked[..SpikeMasks::words(b - a)], len: b - a, count: self.tile_spikes };
        let (lo, rows) = (part.lo + a, &part.weights);
        if readout.k == 1 {
            readout.deliver_summed(rows, (lo, a), spikes, self.tile_delivered, out_input);
        } else {
            readout.deliver(DeliveryPath::Auto, rows, lo, a, spikes, &mut self.spike_list, out_input);
        }
    }

    /// The tile's part of the due learning sweeps: traces, then each updating dimension's weights (which use the
    /// traces just updated). Returns the trace updates counted.
    fn tile_learning<W: WeightRows>(&mut self, shared: Shared<'_>, part: &mut Part<'_, W>, a: usize, b: usize) -> u64 {
        let plan = shared.plan;
        if !plan.traces_due {
            return 0;
        }
        let sweeps = LearningState::sweeps_per_tile(shared.factors.len());
        let rngs = &mut part.rngs[a / TILE * sweeps..][..sweeps];
        let (r, p) = (&shared.net.readout, &shared.net.params);
        let rule =
            TraceRule { decay_q16: r.trace_decay_q16 as i32, increment: r.trace_increment as i32, tmax: p.trace_max() };
        let traces = &mut part.traces[a..b];
        let spikes = match shared.spikes_from_counts {
            Some(at_least) => EpochSpikes::Counts { refractory: &part.refractory[a..b], at_least },
            None => EpochSpikes::Flags(&mut part.epoch_spiked[a..b]),
        };
        let (trace_rng, weight_rngs) = LearningState::tile_sweeps(rngs);
        let updates = kernels::update_traces(traces, spikes, rule, trace_rng);
        if plan.weights_due {
            for ((kk, factor), rng) in shared.factors.iter().enumerate().zip(weight_rngs) {
                let Some(factor) = *factor else { continue };
                let row = part.weights.row_mut(kk, a, b);
                let peak = kernels::update_weights(row, &part.traces[a..b], factor, rng);
                self.peak[kk] = self.peak[kk].max(peak);
            }
        }
        updates as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_follow_the_size() {
        let min = 16 * TILE;
        assert_eq!(sweep_threads(10_000, 2, min), 1, "ten tiles stay on one thread");
        assert_eq!(sweep_threads(min * 2, 2, min), 2);
        assert_eq!(sweep_threads(min * 2, 3, min), 2, "at least the minimum per thread");
        assert_eq!(sweep_threads(min * 2, 3, min - 100), 2, "the minimum counts whole tiles");
        assert_eq!(sweep_threads(1_000_000, 1, min), 1);
        assert!(sweep_threads(1_000_000, 0, min) >= 1);
        assert_eq!(sweep_threads(100_000, 2, 0), 2, "no minimum: one tile per thread at least");
    }
}
