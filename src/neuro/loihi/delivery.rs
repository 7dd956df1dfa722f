//! Readout delivery: a tile's spikes add their learned weights into their readout group's compartments.
//!
//! Two ways give the same sums bit for bit (wrapping 32-bit sums do not depend on the order of their terms):
//! - per spike ([`Delivery::sparse`]): the tile's spiking neurons are listed from their spike masks, and each
//!   adds its weight, one scalar add per spike and output dimension. The work follows the spikes that arrive.
//! - dense ([`Delivery::dense`]): a branch-free masked sum over all of the tile's weights, 16 neurons (one spike
//!   mask) per vector operation, whatever the number of spikes.
//!
//! [`Delivery::deliver`] picks per tile from its spike count and the readout's dimensions (see
//! [`SPARSE_DELIVERY_RATIO`]). `cargo bench --bench neuro_throughput -- --delivery` times both ways across firing
//! rates, network sizes and readout dimensions; the rule follows its measured crossovers (BENCHMARKS.md).

use super::compartment::SpikeMasks;
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

/// A tile's spikes as its compartment update left them.
#[derive(Debug, Clone, Copy)]
pub struct TileSpikes<'a> {
    /// The tile's spike masks (see [`SpikeMasks`]).
    pub masks: &'a [u16],
    /// Compartments in the tile.
    pub len: usize,
    /// How many of them spiked (the masks' set bits, which the compartment update counted).
    pub count: usize,
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
    /// Delivers the `spikes` of the tile of neurons `lo..lo + spikes.len` (`lo` global, `rows` indexed from
    /// `local`) into `out_input` (per group and dimension), the way `path` says; `spike_list` is scratch space of
    /// at least the tile's length.
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        &self,
        path: DeliveryPath,
        rows: &impl WeightRows,
        lo: usize,
        local: usize,
        spikes: TileSpikes<'_>,
        spike_list: &mut Vec<u16>,
        out_input: &mut [i32],
    ) {
        debug_assert_eq!(spikes.count, SpikeMasks::count(spikes.masks), "the spike count is the masks'");
        if spikes.count == 0 {
            return;
        }
        let sparse = match path {
            DeliveryPath::Auto => spikes.count * self.k * SPARSE_DELIVERY_RATIO <= spikes.len * (self.k - 1),
            DeliveryPath::Sparse => true,
            DeliveryPath::Dense => false,
        };
        if sparse {
            list_spikes(spikes.masks, spike_list);
            self.sparse(rows, lo, local, spike_list, out_input);
        } else {
            self.dense(rows, lo, local, spikes, out_input);
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

    /// [`deliver`](Self::deliver) for a one-dimensional readout whose compartment update already summed the
    /// weights of the spiking neurons among the tile's first `summed.0` (to `summed.1`, see
    /// [`BlockStep::delivered`](super::compartment::BlockStep::delivered)). That sum is split among the groups
    /// those neurons belong to: each group but the one that holds most of them sums its own part, and the rest is
    /// that one's. The tile's other neurons are delivered densely, as for one dimension `deliver` always does.
    pub fn deliver_summed(
        &self,
        rows: &impl WeightRows,
        (lo, local): (usize, usize),
        spikes: TileSpikes<'_>,
        summed: (usize, i32),
        out_input: &mut [i32],
    ) {
        assert_eq!(self.k, 1, "a summed delivery is one dimension's");
        let (done, mut main_sum) = summed;
        if spikes.count == 0 {
            return;
        }
        if done > 0 {
            let row = rows.row(0, local, local + spikes.len);
            let gs = self.group_size;
            let part = |g: usize| ((g * gs).max(lo) - lo, ((g + 1) * gs).min(lo + done) - lo);
            let groups = lo / gs..=(lo + done - 1) / gs;
            let main = groups.clone().max_by_key(|&g| part(g).1 - part(g).0).expect("a group");
            for g in groups.filter(|&g| g != main) {
                let (a, b) = part(g);
                let sum = kernels::masked_sum(row, spikes.masks, a, b);
                main_sum = main_sum.wrapping_sub(sum);
                out_input[g] = out_input[g].wrapping_add(sum << self.group_shift[g]);
            }
            out_input[main] = out_input[main].wrapping_add(main_sum << self.group_shift[main]);
        }
        self.dense_from(rows, lo, local, spikes, done, out_input);
    }

    /// Masked sums of the tile's weights under its spike masks, per group part and dimension (vectorised).
    pub fn dense(
        &self,
        rows: &impl WeightRows,
        lo: usize,
        local: usize,
        spikes: TileSpikes<'_>,
        out_input: &mut [i32],
    ) {
        self.dense_from(rows, lo, local, spikes, 0, out_input);
    }

    /// [`dense`](Self::dense) for the tile's neurons from `from` (tile-relative) on.
    fn dense_from(
        &self,
        rows: &impl WeightRows,
        lo: usize,
        local: usize,
        spikes: TileSpikes<'_>,
        from: usize,
        out_input: &mut [i32],
    ) {
        let (k, hi) = (self.k, lo + spikes.len);
        let mut a = lo + from;
        while a < hi {
            let g = a / self.group_size;
            let b = ((g + 1) * self.group_size).min(hi);
            let shift = self.group_shift[g];
            for kk in 0..k {
                let row = rows.row(kk, local, local + spikes.len);
                let sum = kernels::masked_sum(row, spikes.masks, a - lo, b - lo);
                let acc = &mut out_input[g * k + kk];
                *acc = acc.wrapping_add(sum << shift);
            }
            a = b;
        }
    }
}

/// Lists the offsets of the spiking compartments of a tile from its spike masks, ascending: one step per 16
/// neurons plus one per spike.
pub fn list_spikes(masks: &[u16], list: &mut Vec<u16>) {
    list.clear();
    for (word, &mask) in masks.iter().enumerate() {
        let mut bits = mask;
        while bits != 0 {
            list.push(16 * word as u16 + bits.trailing_zeros() as u16);
            bits &= bits - 1;
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
            let masks = masks_of(&flags);
            let count = flags.iter().filter(|&&f| f != 0).count();
            let spikes = TileSpikes { masks: &masks, len: flags.len(), count };
            let mut sums = Vec::new();
            for path in [DeliveryPath::Sparse, DeliveryPath::Dense, DeliveryPath::Auto] {
                let mut out = vec![5i32; 4 * k];
                d.deliver(path, &rows, lo, lo, spikes, &mut list, &mut out);
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
    fn a_summed_delivery_splits_its_sum_among_the_groups() {
        // One dimension, groups of 300 (tiles straddle two or three of them), the loop's sum covering part of the
        // tile: the same sums as a dense delivery.
        let n = 1000;
        let mut weights: Vec<i32> = (0..n).map(|i| (i as i32).wrapping_mul(0x2545_F491) >> 2).collect();
        let group_shift = [3u32, 0, 7, 1];
        let d = Delivery { k: 1, group_size: 300, group_shift: &group_shift };
        for (lo, len, every, done) in
            [(0usize, 640usize, 3usize, 640usize), (250, 700, 5, 688), (512, 488, 2, 480), (7, 90, 1, 0)]
        {
            let rows = AllRows { weights: &mut weights, n };
            let flags: Vec<u8> = (0..len).map(|i| (i % every == 0) as u8).collect();
            let masks = masks_of(&flags);
            let count = flags.iter().filter(|&&f| f != 0).count();
            let spikes = TileSpikes { masks: &masks, len, count };
            let sum =
                (0..done).filter(|&i| flags[i] != 0).fold(0i32, |s, i| s.wrapping_add(rows.row(0, lo, lo + len)[i]));
            let (mut summed, mut dense) = (vec![5i32; 4], vec![5i32; 4]);
            d.deliver_summed(&rows, (lo, lo), spikes, (done, sum), &mut summed);
            d.dense(&rows, lo, lo, spikes, &mut dense);
            assert_eq!(summed, dense, "tile at {lo}, {len} long, {done} summed");
        }
    }

    /// The spike masks of flags (0 or 1), built bit by bit.
    fn masks_of(flags: &[u8]) -> Vec<u16> {
        let mut masks = vec![0u16; SpikeMasks::words(flags.len())];
        for (i, &f) in flags.iter().enumerate() {
            masks[i / 16] |= u16::from(f) << (i % 16);
        }
        masks
    }

    #[test]
    fn spike_lists_follow_the_masks() {
        let flags: Vec<u8> = (0..1021).map(|i| (i % 7 == 0 || i % 64 == 63 || i > 1015) as u8).collect();
        let mut list = Vec::new();
        list_spikes(&masks_of(&flags), &mut list);
        let want: Vec<u16> = (0..1021).filter(|&i| flags[i] != 0).map(|i| i as u16).collect();
        assert_eq!(list, want);
    }
}
