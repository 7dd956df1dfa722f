//! Readout delivery: a tile's spikes add their learned weights into their readout group's compartments.
//!
//! Two ways give the same sums bit for bit (wrapping 32-bit sums do not depend on the order of their terms):
//! - per spike ([`Delivery::sparse`]): the tile's spiking neurons are listed from their flags, 64 flags at a time
//!   as a bit mask, and each adds its weight, one scalar add per spike and output dimension. The work follows the
//!   spikes that arrive.
//! - dense ([`Delivery::dense`]): a branch-free masked sum over all of the tile's weights, 16 neurons per vector
//!   operation, whatever the number of spikes.
//!
//! [`Delivery::deliver`] picks per tile from its spike count and the readout's dimensions (see
//! [`SPARSE_DELIVERY_RATIO`]). `cargo bench --bench neuro_throughput -- --delivery` times both ways across firing
//! rates, network sizes and readout dimensions; the rule follows its measured crossovers (BENCHMARKS.md).

use super::kernels;

/// A tile of `len` neurons with a `k`-dimensional readout delivers spike by spike when
/// `spikes × k × SPARSE_DELIVERY_RATIO <= len × (k - 1)`, else as a dense masked sum.
///
/// Listing a tile's spikes costs about as much as one dense masked sum over it, and each spike then costs a
/// scalar add per dimension, while the dense sum costs one vectorised pass per dimension. So with a 1-D readout
/// the dense sum won at every rate measured (0.5–20 % of the tile spiking), and with 12 dimensions per-spike
/// delivery won below 4–9 % (4 % at 10⁵ and 10⁶ neurons, whose weights live beyond the L2 cache; 9 % at 10⁴).
/// The rule puts the switch at `(k - 1) / (k × 24)`: never for k = 1, 2.1 % for k = 2, 3.8 % for k = 12.
pub const SPARSE_DELIVERY_RATIO: usize = 24;

/// The learned weights of a run of neurons, per output dimension.
pub trait WeightRows {
    /// Dimension `kk`'s weights of the neurons `a..b` (indices within the run).
    fn row(&self, kk: usize, a: usize, b: usize) -> &[i32];
    /// The same, to update.
    fn row_mut(&mut self, kk: usize, a: usize, b: usize) -> &mut [i32];
}

/// All the readout's weights, dimension-major `k × n` (the run is the whole ensemble).
pub struct AllRows<'a> {
    /// The weights, `k × n`.
    pub weights: &'a mut [i32],
    /// Neurons per dimension.
    pub n: usize,
}

impl WeightRows for AllRows<'_> {
    fn row(&self, kk: usize, a: usize, b: usize) -> &[i32] {
        &self.weights[kk * self.n + a..kk * self.n + b]
    }
    fn row_mut(&mut self, kk: usize, a: usize, b: usize) -> &mut [i32] {
        &mut self.weights[kk * self.n + a..kk * self.n + b]
    }
}

/// One sweep part's piece of each dimension's weight row.
pub struct PartRows<'a>(pub Vec<&'a mut [i32]>);

impl WeightRows for PartRows<'_> {
    fn row(&self, kk: usize, a: usize, b: usize) -> &[i32] {
        &self.0[kk][a..b]
    }
    fn row_mut(&mut self, kk: usize, a: usize, b: usize) -> &mut [i32] {
        &mut self.0[kk][a..b]
    }
}

/// How spikes reach the readout: output dimensions, group size and each group's shift.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// Output dimensions.
    pub k: usize,
    /// Neurons per readout group (one readout core's inputs).
    pub group_size: usize,
    /// Per group, the left shift of its weights into its compartments.
    pub group_shift: &'a [u32],
}

/// Which way [`Delivery::deliver`] sends a tile's spikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryPath {
    /// Per spike below the spike count of [`SPARSE_DELIVERY_RATIO`], dense above.
    Auto,
    /// Always per spike.
    Sparse,
    /// Always dense.
    Dense,
}

impl Delivery<'_> {
    /// Delivers the `spikes` spikes (the number of set flags, which the compartment update counted) of the tile of
    /// neurons `lo..lo + flags.len()` (`lo` global, `rows` indexed from `local`) into `out_input` (per group and
    /// dimension), the way `path` says; `spike_list` is scratch space of at least the tile's length.
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        &self,
        path: DeliveryPath,
        rows: &impl WeightRows,
        lo: usize,
        local: usize,
        flags: &[u8],
        spikes: usize,
        spike_list: &mut Vec<u16>,
        out_input: &mut [i32],
    ) {
        debug_assert_eq!(spikes, kernels::count_flags(flags), "the spike count is the flags'");
        if spikes == 0 {
            return;
        }
        let sparse = match path {
            DeliveryPath::Auto => spikes * self.k * SPARSE_DELIVERY_RATIO <= flags.len() * (self.k - 1),
            DeliveryPath::Sparse => true,
            DeliveryPath::Dense => false,
        };
        if sparse {
            list_spikes(flags, spike_list);
            self.sparse(rows, lo, local, spike_list, out_input);
        } else {
            self.dense(rows, lo, local, flags, out_input);
        }
    }

    /// Adds each listed spiking neuron's weights to its group's readout inputs: work follows the spikes. The
    /// neurons are `lo + offset` (ascending offsets; `lo` global, `rows` indexed from `local`).
    pub fn sparse(&self, rows: &impl WeightRows, lo: usize, local: usize, offsets: &[u16], out_input: &mut [i32]) {
        let len = offsets.last().map_or(0, |&o| o as usize + 1);
        let mut start = 0;
        // A tile may straddle readout groups: each group's spikes are summed, then shifted once.
        while start < offsets.len() {
            let g = (lo + offsets[start] as usize) / self.group_size;
            let group_end = (g + 1) * self.group_size - lo;
            let end = start + offsets[start..].partition_point(|&o| (o as usize) < group_end);
            let group = &offsets[start..end];
            for kk in 0..self.k {
                let row = rows.row(kk, local, local + len);
                let sum = group.iter().fold(0i32, |s, &o| s.wrapping_add(row[o as usize]));
                // Shifting the wrapped sum equals summing the shifted weights in wrapping 32-bit arithmetic.
                let acc = &mut out_input[g * self.k + kk];
                *acc = acc.wrapping_add(sum << self.group_shift[g]);
            }
            start = end;
        }
    }

    /// Masked sums of the tile's weights under its spike flags, per group part and dimension (vectorised).
    pub fn dense(&self, rows: &impl WeightRows, lo: usize, local: usize, flags: &[u8], out_input: &mut [i32]) {
        let (k, hi) = (self.k, lo + flags.len());
        let mut a = lo;
        while a < hi {
            let g = a / self.group_size;
            let b = ((g + 1) * self.group_size).min(hi);
            let shift = self.group_shift[g];
            let (la, lb) = (local + a - lo, local + b - lo);
            for kk in 0..k {
                let sum = kernels::masked_sum(rows.row(kk, la, lb), &flags[a - lo..b - lo]);
                let acc = &mut out_input[g * k + kk];
                *acc = acc.wrapping_add(sum << shift);
            }
            a = b;
        }
    }
}

/// Lists the offsets of the set flags (0 or 1), ascending: eight flags at a time become eight bits of a mask
/// (one multiply gathers each byte's low bit), and the mask's set bits are walked, so the cost is one step per
/// eight neurons plus one per spike.
pub fn list_spikes(flags: &[u8], list: &mut Vec<u16>) {
    list.clear();
    let mut words = flags.chunks_exact(8);
    let mut base = 0u16;
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight flags"));
        // Byte i's low bit lands on bit 56 + i; flags are 0 or 1, so no carries cross bytes.
        let mut bits = w.wrapping_mul(0x0102_0408_1020_4080) >> 56;
        while bits != 0 {
            list.push(base + bits.trailing_zeros() as u16);
            bits &= bits - 1;
        }
        base += 8;
    }
    for (i, &f) in words.remainder().iter().enumerate() {
        if f != 0 {
            list.push(base + i as u16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_dense_delivery_agree_bit_for_bit() {
        // Two dimensions, groups of 300 (tiles straddle them), weights large enough to wrap, shifts per group.
        let (n, k) = (1000, 2);
        let mut weights: Vec<i32> = (0..n * k).map(|i| (i as i32).wrapping_mul(0x2545_F491) >> 3).collect();
        let want_weights = weights.clone();
        let group_shift = [3u32, 0, 7, 1];
        let d = Delivery { k, group_size: 300, group_shift: &group_shift };
        let mut list = Vec::new();
        for (lo, every) in [(0usize, 1usize), (100, 3), (250, 17), (512, 97), (7, 1000)] {
            let rows = AllRows { weights: &mut weights, n };
            let flags: Vec<u8> = (0..(n - lo).min(600)).map(|i| (i % every == 0) as u8).collect();
            let mut sums = Vec::new();
            for path in [DeliveryPath::Sparse, DeliveryPath::Dense, DeliveryPath::Auto] {
                let mut out = vec![5i32; 4 * k];
                let spikes = flags.iter().filter(|&&f| f != 0).count();
                d.deliver(path, &rows, lo, lo, &flags, spikes, &mut list, &mut out);
                sums.push(out);
            }
            assert!(sums.iter().all(|s| *s == sums[0]), "tile at {lo}, one spike in {every}: {sums:?}");
            // And all equal the plain definition.
            let mut want = vec![5i32; 4 * k];
            for (off, _) in flags.iter().enumerate().filter(|(_, f)| **f != 0) {
                let i = lo + off;
                for kk in 0..k {
                    let j = (i / 300) * k + kk;
                    want[j] = want[j].wrapping_add(want_weights[kk * n + i].wrapping_shl(group_shift[i / 300]));
                }
            }
            assert_eq!(sums[0], want);
        }
    }

    #[test]
    fn spike_lists_follow_the_flags() {
        let flags: Vec<u8> = (0..1021).map(|i| (i % 7 == 0 || i % 64 == 63 || i > 1015) as u8).collect();
        let mut list = Vec::new();
        list_spikes(&flags, &mut list);
        let want: Vec<u16> = (0..1021).filter(|&i| flags[i] != 0).map(|i| i as u16).collect();
        assert_eq!(list, want);
    }
}
