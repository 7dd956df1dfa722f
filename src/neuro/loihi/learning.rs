//! On-core PES: integer traces, error samples, epochs, stochastic rounding, and automatic scaling.
//!
//! Per output dimension `k` two exponents follow the signal, so outputs of any magnitude are learned with the
//! same relative precision and no hand-set error scale:
//! - the error exponent `F_k`: an error `e` enters as `round(e / (q_e 2^F_k))` clipped to the error range; an
//!   epoch whose samples clipped raises `F_k` by as many bits as the largest sample needed; a window whose
//!   samples all stayed under a quarter of the range lowers it by one.
//! - the weight exponent `E_k`: decoder = mantissa × `q_d 2^E_k`; when an update pushes a mantissa past its
//!   range all mantissas of `k` are halved (stochastically rounded) as often as needed and `E_k` rises; when
//!   all stayed under a quarter of the range for a window, they are doubled (exactly) and `E_k` falls.
//!
//! Learning then applies `ΔW = -sr(trace × Σ errors × L_k)` with `L_k = (kappa/kappa_ref) 2^(F_k - E_k)`,
//! which is Nengo's `-kappa dt/n e a` in these units. Exponent changes stand for what a Loihi management core
//! does between epochs; each is counted in `Accounting::rescales`.

use super::discretize::{DiscreteNetwork, LoihiParams};
use super::huge_pages::huge_vec;
use super::kernels;
use super::sweep::TILE;
use super::tile_rng::TileRng;
use crate::neuro::Accounting;

/// Lowest exponents (finest grids) the automatic scaling goes to.
const MIN_ERROR_EXP: i32 = -12;
const MIN_WEIGHT_EXP: i32 = -8;

/// Learning registers of the readout.
#[derive(Debug, Clone)]
pub struct LearningState {
    /// Presynaptic traces, one per neuron (at most 15 bits, see `LoihiParams::trace_bits`).
    pub traces: Vec<i16>,
    /// Whether each neuron spiked in the current training epoch.
    pub epoch_spiked: Vec<u8>,
    /// Learned weight mantissas, dimension-major `k × n` (learning sweeps one contiguous row per dimension).
    pub weights: Vec<i32>,
    /// Error exponent per output dimension.
    pub error_exp: Vec<i32>,
    /// Weight exponent per output dimension.
    pub weight_exp: Vec<i32>,
    /// Sum of this epoch's error samples per dimension.
    error_sum: Vec<i64>,
    /// Largest |error| / quantum this epoch, per dimension (to size an upward rescale).
    epoch_error_peak: Vec<f64>,
    /// Largest |error sample| since the last window check, per dimension.
    window_error_peak: Vec<i32>,
    /// Largest |mantissa| since the last window check, per dimension.
    window_weight_peak: Vec<i32>,
    /// `kappa / kappa_ref`.
    pub rate_ratio: f64,
    /// Per dimension, the factor of this learning epoch's weight updates (`ΔW = sr(trace × factor)`), or
    /// `None` where the epoch changes nothing. Set by [`begin_weight_epoch`](Self::begin_weight_epoch).
    pub epoch_factor: Vec<Option<f32>>,
    /// Per dimension, the largest |mantissa| after this epoch's updates (filled by the executor's sweep).
    pub epoch_peak: Vec<i32>,
    /// The learning sweeps' random generators, [`Self::sweeps_per_tile`] per tile of [`TILE`] neurons in tile
    /// order: the traces', then each output dimension's weights'.
    pub tile_rngs: Vec<TileRng>,
}

impl LearningState {
    /// Zero weights, zero traces, exponents at 0; the learning generators seeded from `seed`.
    pub fn new(n: usize, k: usize, seed: u64) -> Self {
        let sweeps = Self::sweeps_per_tile(k);
        LearningState {
            traces: huge_vec(n, |_| 0),
            epoch_spiked: huge_vec(n, |_| 0),
            weights: huge_vec(n * k, |_| 0),
            error_exp: vec![0; k],
            weight_exp: vec![0; k],
            error_sum: vec![0; k],
            epoch_error_peak: vec![0.0; k],
            window_error_peak: vec![0; k],
            window_weight_peak: vec![0; k],
            rate_ratio: 1.0,
            epoch_factor: vec![None; k],
            epoch_peak: vec![0; k],
            tile_rngs: (0..n.div_ceil(TILE) * sweeps).map(|i| TileRng::new(seed, i as u64)).collect(),
        }
    }

    /// Learning sweeps over each tile with a `k`-dimensional readout: the traces', then one per dimension.
    pub fn sweeps_per_tile(k: usize) -> usize {
        1 + k
    }

    /// One tile's generators (its [`sweeps_per_tile`](Self::sweeps_per_tile) entries of
    /// [`tile_rngs`](Self::tile_rngs)) as the traces' and the weights' per output dimension.
    pub fn tile_sweeps(rngs: &mut [TileRng]) -> (&mut TileRng, &mut [TileRng]) {
        rngs.split_first_mut().expect("a tile has the traces' generator")
    }

    /// Quantizes one step's error into the epoch sums.
    pub fn sample_error(&mut self, error: &[f64], p: &LoihiParams, acc: &mut Accounting) {
        let emax = p.error_max();
        for (kk, &e) in error.iter().enumerate() {
            let scaled = e / (p.error_quantum * exp2(self.error_exp[kk]));
            let mut sample = scaled.round();
            if sample.abs() > emax as f64 {
                acc.error_clips += 1;
                sample = sample.clamp(-emax as f64, emax as f64);
            }
            self.epoch_error_peak[kk] = self.epoch_error_peak[kk].max(scaled.abs());
            self.window_error_peak[kk] = self.window_error_peak[kk].max(sample.abs() as i32);
            self.error_sum[kk] += sample as i64;
        }
    }

    /// Start of a learning epoch: turns the epoch's error sums into per-dimension update factors
    /// ([`epoch_factor`](Self::epoch_factor)). The executor's sweep then applies `ΔW = sr(trace × factor)` tile
    /// by tile and records the peaks; [`finish_weight_epoch`](Self::finish_weight_epoch) does the exponent upkeep.
    pub fn begin_weight_epoch(&mut self, p: &LoihiParams, acc: &mut Accounting) {
        let n = self.traces.len();
        for kk in 0..self.error_exp.len() {
            let esum = std::mem::take(&mut self.error_sum[kk]);
            self.epoch_peak[kk] = 0;
            self.epoch_factor[kk] = if esum != 0 && self.rate_ratio > 0.0 {
                // (With `count_active_updates` the updates are counted after the sweep, from the traces.)
                if !p.count_active_updates {
                    acc.weight_updates += n as u64;
                }
                // ΔW = -trace × Σe × L with L = (kappa/kappa_ref) 2^(F - E): Nengo's -kappa dt/n e a in these units.
                Some((-(esum as f64) * self.rate_ratio * exp2(self.error_exp[kk] - self.weight_exp[kk])) as f32)
            } else {
                None
            };
        }
    }

    /// End of a learning epoch, after the weight updates: exponent upkeep. Writes, per dimension, by how many
    /// bits the weight exponent moved (positive: coarser) into `moved`.
    pub fn finish_weight_epoch(&mut self, net: &DiscreteNetwork, acc: &mut Accounting, moved: &mut [i32]) {
        let k = self.error_exp.len();
        let n = self.traces.len();
        let p = &net.params;
        let wmax = p.weight_max();
        if p.count_active_updates {
            let updating = self.epoch_factor.iter().flatten().count() as u64;
            if updating > 0 {
                acc.weight_updates += updating * self.traces.iter().filter(|&&t| t != 0).count() as u64;
            }
        }
        for kk in 0..k {
            moved[kk] = 0;
            let row = &mut self.weights[kk * n..(kk + 1) * n];
            let mut peak = match self.epoch_factor[kk] {
                Some(_) => self.epoch_peak[kk],
                None => row.iter().fold(0, |m, w| m.max(w.abs())),
            };
            if peak > wmax {
                if p.auto_scale {
                    let bits = ceil_log2_ratio(peak as f64, wmax as f64);
                    // Each tile's weights round with the tile's generator of this dimension (after the traces').
                    let tiles = self.tile_rngs.chunks_mut(Self::sweeps_per_tile(k));
                    for (weights, rngs) in row.chunks_mut(TILE).zip(tiles) {
                        kernels::shift_weights(weights, bits, wmax, &mut Self::tile_sweeps(rngs).1[kk]);
                    }
                    self.weight_exp[kk] += bits as i32;
                    moved[kk] = bits as i32;
                    acc.rescales += 1;
                    peak = (peak >> bits).min(wmax);
                } else {
                    for w in row.iter_mut().filter(|w| w.abs() > wmax) {
                        acc.weight_saturations += 1;
                        *w = (*w).clamp(-wmax, wmax);
                    }
                    peak = wmax;
                }
            }
            self.window_weight_peak[kk] = self.window_weight_peak[kk].max(peak);
            let epeak = std::mem::take(&mut self.epoch_error_peak[kk]);
            if p.auto_scale && epeak > p.error_max() as f64 {
                self.error_exp[kk] += ceil_log2_ratio(epeak, p.error_max() as f64) as i32;
                acc.rescales += 1;
            }
        }
    }

    /// End of a rescale window: lower the exponents of signals that used under a quarter of their range.
    pub fn window_check(&mut self, p: &LoihiParams, acc: &mut Accounting, moved: &mut [i32]) {
        let k = self.error_exp.len();
        for kk in 0..k {
            moved[kk] = 0;
            let quarter_w = (p.weight_max() + 1) / 4;
            if p.auto_scale
                && self.window_weight_peak[kk] < quarter_w
                && self.weight_exp[kk] > MIN_WEIGHT_EXP
                && self.window_weight_peak[kk] > 0
            {
                let n = self.traces.len();
                self.weights[kk * n..(kk + 1) * n].iter_mut().for_each(|w| *w *= 2);
                self.weight_exp[kk] -= 1;
                moved[kk] = -1;
                acc.rescales += 1;
            }
            let quarter_e = (p.error_max() + 1) / 4;
            if p.auto_scale
                && self.window_error_peak[kk] < quarter_e
                && self.error_exp[kk] > MIN_ERROR_EXP
                && self.window_error_peak[kk] > 0
            {
                self.error_exp[kk] -= 1;
                acc.rescales += 1;
            }
            self.window_weight_peak[kk] = 0;
            self.window_error_peak[kk] = 0;
        }
    }
}

/// `2^e` as a float.
#[inline]
pub fn exp2(e: i32) -> f64 {
    (e as f64).exp2()
}

/// Smallest `b` with `x / 2^b <= limit`.
fn ceil_log2_ratio(x: f64, limit: f64) -> u32 {
    let mut b = 0;
    while x / exp2(b as i32) > limit && b < 40 {
        b += 1;
    }
    b
}
