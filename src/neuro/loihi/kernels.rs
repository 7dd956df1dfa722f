//! The core's inner loops over compartments, written branch-free over plain slices so they vectorise, and
//! compiled again for AVX-512 and for AVX2, picked at run time. Results are bit-identical every way (integer and
//! IEEE f32 arithmetic only).

use super::compartment::SpikeMasks;
use super::tile_rng::{LANES, TileRng};
use super::{masked_sum_avx512, trace_avx512, weight_avx512};

/// Defines `fn $name(args)` (optionally generic over type parameters) whose code, given once, runs compiled
/// for AVX-512 (F, BW, VL) or AVX2 when the CPU has them, and as the portable build otherwise. The code is also
/// the `#[inline(always)]` function `$body(args)`, the portable build, which is compiled inside each entry point
/// (and which tests compare the entry points against). Slice arguments stay separate parameters, which keeps
/// the `noalias` facts the vectoriser needs.
macro_rules! simd_dispatch {
    (
        $(#[$meta:meta])* $vis:vis fn $name:ident $(<$($g:ident : $bound:path),+>)? ($($arg:ident : $ty:ty),* $(,)?)
        $(-> $ret:ty)?, portable $body:ident $code:block
    ) => {
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn $body $(<$($g: $bound),+>)? ($($arg: $ty),*) $(-> $ret)? $code

        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name $(<$($g: $bound),+>)? ($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512 $(<$($g: $bound),+>)? ($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2 $(<$($g: $bound),+>)? ($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx2")
                {
                    // SAFETY: AVX-512 F, BW, VL and AVX2 support was checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 support was checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// A stored input weight mantissa: 8 or 16 bits (see `InputRows`).
pub trait RowMantissa: Copy + Into<i16> + Into<i32> {
    /// A row of this type as 8-bit mantissas, if they are.
    fn as_bytes(row: &[Self]) -> Option<&[i8]>;
}
impl RowMantissa for i8 {
    fn as_bytes(row: &[Self]) -> Option<&[i8]> {
        Some(row)
    }
}
impl RowMantissa for i16 {
    fn as_bytes(_: &[Self]) -> Option<&[i8]> {
        None
    }
}

simd_dispatch! {
    /// Adds `fired × row` into a 16-bit accumulator per compartment: `fired` events on the axons that share
    /// `row`. The caller guarantees the sum fits 16 bits.
    pub fn accumulate<R: RowMantissa>(acc: &mut [i16], row: &[R], fired: i16), portable accumulate_body {
        for (a, &m) in acc.iter_mut().zip(row) {
            *a = a.wrapping_add(fired.wrapping_mul(m.into()));
        }
    }
}

simd_dispatch! {
    /// [`accumulate`] for four rows at once: the accumulator is loaded and stored once instead of four times
    /// (wrapping 16-bit sums do not depend on the order of their terms). Separate slice arguments keep the
    /// no-alias facts the vectoriser needs.
    pub fn accumulate4<R: RowMantissa>(acc: &mut [i16], r0: &[R], r1: &[R], r2: &[R], r3: &[R], fired: [i16; 4]),
    portable accumulate4_body {
        let n = acc.len().min(r0.len()).min(r1.len()).min(r2.len()).min(r3.len());
        let (acc, r0, r1, r2, r3) = (&mut acc[..n], &r0[..n], &r1[..n], &r2[..n], &r3[..n]);
        let [f0, f1, f2, f3] = fired;
        let term = |f: i16, m: R| f.wrapping_mul(m.into());
        for i in 0..n {
            let terms = term(f0, r0[i]).wrapping_add(term(f1, r1[i])).wrapping_add(term(f2, r2[i])).wrapping_add(term(f3, r3[i]));
            acc[i] = acc[i].wrapping_add(terms);
        }
    }
}

simd_dispatch! {
    /// Adds `fired × row` into a 32-bit accumulator, for sums that could overflow 16 bits. The shared weight
    /// exponent is applied where the sum is consumed: shifting the wrapped sum equals summing the shifted
    /// products in wrapping 32-bit arithmetic.
    pub fn accumulate_wide<R: RowMantissa>(acc: &mut [i32], row: &[R], fired: i32), portable accumulate_wide_body {
        for (a, &m) in acc.iter_mut().zip(row) {
            *a = a.wrapping_add(fired.wrapping_mul(m.into()));
        }
    }
}

/// Sum of the weights of the compartments `from..to` whose spike bit is set (see [`SpikeMasks`]; `weights` and
/// `masks` both indexed from the tile's first compartment), wrapping like the core's 32-bit accumulators: the
/// readout input a group of spikes delivers. Branch-free, so a spike costs nothing extra.
pub fn masked_sum(weights: &[i32], masks: &[u16], from: usize, to: usize) -> i32 {
    masked_sum_avx512::sum(weights, masks, from, to).unwrap_or_else(|| masked_sum_words(weights, masks, from, to))
}

simd_dispatch! {
    /// [`masked_sum`] without AVX-512.
    fn masked_sum_words(weights: &[i32], masks: &[u16], from: usize, to: usize) -> i32, portable masked_sum_body {
        let mut sum = 0i32;
        for word in from / 16..to.div_ceil(16) {
            let (mask, lo) = (masks[word] & SpikeMasks::clip(word, from, to), 16 * word);
            // Each bit as an all-ones or all-zeros mask: 16 lanes of one broadcast word.
            for (j, &w) in weights[lo..(lo + 16).min(weights.len())].iter().enumerate() {
                sum = sum.wrapping_add(w & -i32::from(mask >> j & 1));
            }
        }
        sum
    }
}

/// Which neurons spiked in a training epoch, as the trace update reads it.
#[derive(Debug)]
pub enum EpochSpikes<'a> {
    /// A flag per neuron (0 or 1), OR-ed over the epoch's steps; the update clears them.
    Flags(&'a mut [u8]),
    /// The refractory counts at the epoch's end: a neuron spiked in the epoch's last `E` steps exactly when its
    /// count is at least `ref_delay - E + 1`, if the refractory period spans the epoch (`ref_delay >= E`).
    /// A count is set to `ref_delay` on a spike and counts down by one per step, and a neuron cannot spike
    /// again before its count has run down, so the count tells how many steps ago the last spike was (up to
    /// `ref_delay - 1`). No record is kept, so none is written each step.
    Counts {
        /// Remaining refractory steps per neuron.
        refractory: &'a [u8],
        /// `ref_delay - E + 1` (at least 1).
        at_least: u8,
    },
}

/// The training epoch's trace rule: `t = sr(t × decay + increment × spiked)`, capped at `tmax`.
#[derive(Debug, Clone, Copy)]
pub struct TraceRule {
    /// The decay per epoch, Q16 (65 536 keeps the whole trace).
    pub decay_q16: i32,
    /// What a spike adds, trace units.
    pub increment: i32,
    /// The largest trace, trace units.
    pub tmax: i32,
}

simd_dispatch! {
    /// Training epoch for a tile's traces by `rule` (see [`TraceRule`]); clears a spike record of flags. Returns
    /// how many traces were non-zero or spiked (the updates a core does). Draws one number of `rng` per
    /// [`TRACES_PER_DRAW`] traces: trace `j` of a draw rounds with the draw's 16-bit half `j` (lane `j / 2`, low
    /// half first).
    pub fn update_traces(traces: &mut [i16], spikes: EpochSpikes<'_>, rule: TraceRule, rng: &mut TileRng) -> u32,
    portable update_traces_body {
        // Both records as bytes with a threshold: a flag is set when it is at least 1.
        let (record, at_least): (&[u8], u8) = match &spikes {
            EpochSpikes::Flags(flags) => (flags, 1),
            EpochSpikes::Counts { refractory, at_least } => (refractory, *at_least),
        };
        let n = traces.len().min(record.len());
        let updates = trace_lanes(&mut traces[..n], &record[..n], at_least, rule, rng);
        if let EpochSpikes::Flags(flags) = spikes {
            flags[..n].fill(0);
        }
        updates
    }
}

/// Traces one draw of a [`TileRng`] rounds: 16 numbers of 32 bits, 16 bits per trace.
pub const TRACES_PER_DRAW: usize = 2 * LANES;

/// [`update_traces`] with the spike record as bytes and a threshold: a neuron spiked when its byte is at least
/// `at_least`.
#[inline(always)]
fn trace_lanes(traces: &mut [i16], record: &[u8], at_least: u8, rule: TraceRule, rng: &mut TileRng) -> u32 {
    // The 16-bit AVX-512 loop takes what it can (whole pairs of draws); the portable one updates the rest.
    let (done, updates) = trace_avx512::update_leading(traces, record, at_least, rng, rule);
    updates + portable_traces(&mut traces[done..], &record[done..], at_least, rule, rng)
}

/// The portable loop of [`update_traces`], over traces whose first draw is `rng`'s next.
#[inline(always)]
fn portable_traces(traces: &mut [i16], record: &[u8], at_least: u8, rule: TraceRule, rng: &mut TileRng) -> u32 {
    let TraceRule { decay_q16, increment, tmax } = rule;
    let n = traces.len().min(record.len());
    let mut updates = 0;
    let mut draws = rng.sweep();
    for c in 0..n.div_ceil(TRACES_PER_DRAW) {
        let bits = draws.next();
        let lo = c * TRACES_PER_DRAW;
        let hi = (lo + TRACES_PER_DRAW).min(n);
        for (j, (t, &s)) in traces[lo..hi].iter_mut().zip(&record[lo..hi]).enumerate() {
            let s = (s >= at_least) as i32;
            let r = bits[j / 2] >> (16 * (j % 2)) & 0xffff;
            // `s` is 0 or 1: a mask, not a multiply.
            let x = *t as i32 * decay_q16 + ((increment << 16) & -s);
            updates += ((*t as i32 | s) != 0) as u32;
            // At most `tmax`, which fits 15 bits.
            *t = ((x >> 16) + (r < (x & 0xffff) as u32) as i32).min(tmax) as i16;
        }
    }
    updates
}

simd_dispatch! {
    /// Learning epoch for a tile's weights of one output dimension: `w += sr(trace × factor)`; returns the
    /// largest |w| after. The product is formed in f32 (one rounding to 24 significant bits) and rounded
    /// stochastically to an integer with a 32-bit random number (one draw of `rng` per [`LANES`] weights);
    /// steps are capped at ±2^24 so the mantissa register cannot wrap before the automatic scaling sees the
    /// peak.
    pub fn update_weights(weights: &mut [i32], traces: &[i16], factor: f32, rng: &mut TileRng) -> i32,
    portable update_weights_body {
        // A finite factor times a trace is never NaN: that loop skips the NaN test (two of its ~17 operations).
        if factor.is_finite() {
            weight_lanes::<false>(weights, traces, factor, rng)
        } else {
            weight_lanes::<true>(weights, traces, factor, rng)
        }
    }
}

/// [`update_weights`], told whether the products may be NaN (`MAYBE_NAN`: the factor is infinite or NaN).
#[inline(always)]
fn weight_lanes<const MAYBE_NAN: bool>(weights: &mut [i32], traces: &[i16], factor: f32, rng: &mut TileRng) -> i32 {
    // The AVX-512 loop takes what it can (whole pairs of draws); the portable one updates the rest.
    let (done, peak) = weight_avx512::update_leading(weights, traces, factor, rng);
    peak.max(portable_weights::<MAYBE_NAN>(&mut weights[done..], &traces[done..], factor, rng))
}

/// The portable loop of [`update_weights`], over weights whose first draw is `rng`'s next.
#[inline(always)]
fn portable_weights<const MAYBE_NAN: bool>(weights: &mut [i32], traces: &[i16], factor: f32, rng: &mut TileRng) -> i32 {
    let n = weights.len().min(traces.len());
    let mut peak = 0;
    let mut draws = rng.sweep();
    for c in 0..n.div_ceil(LANES) {
        let bits = draws.next();
        let lo = c * LANES;
        let hi = (lo + LANES).min(n);
        for ((w, &t), &r) in weights[lo..hi].iter_mut().zip(&traces[lo..hi]).zip(&bits) {
            peak = peak.max(weight_lane::<MAYBE_NAN>(w, t, r, factor));
        }
    }
    peak
}

simd_dispatch! {
    /// Divides a tile's weights of one dimension by `2^bits` (1 to 31), rounding stochastically (up with the
    /// probability of the dropped fraction, to 2^-32: unbiased), and clamps them to ±`wmax`: the weight
    /// exponent's move up. One draw of `rng` per [`LANES`] weights.
    pub fn shift_weights(weights: &mut [i32], bits: u32, wmax: i32, rng: &mut TileRng), portable shift_weights_body {
        // |w| < 2^31 never needs more than 31 bits to fit a mantissa of at least 1.
        let bits = bits.clamp(1, 31);
        let mask = (1u32 << bits) - 1;
        let mut draws = rng.sweep();
        for chunk in weights.chunks_mut(LANES) {
            let r = draws.next();
            for (w, &r) in chunk.iter_mut().zip(&r) {
                // The dropped bits, in two's complement the same for negative weights (`>>` rounds down).
                let dropped = *w as u32 & mask;
                *w = ((*w >> bits) + (r < dropped << (32 - bits)) as i32).clamp(-wmax, wmax);
            }
        }
    }
}

/// One weight's step of [`update_weights`] with random number `r`; returns its new |w|.
#[inline(always)]
fn weight_lane<const MAYBE_NAN: bool>(w: &mut i32, t: i16, r: u32, factor: f32) -> i32 {
    const CAP: f32 = (1 << 24) as f32;
    let x = (t as f32 * factor).clamp(-CAP, CAP);
    // NaN (an infinite factor times a zero trace) steps by 0, as `NaN as i32` and `r < NaN` would.
    let x = if MAYBE_NAN && x.is_nan() { 0.0 } else { x };
    let floor = x.floor();
    // SAFETY: `floor` is an integer within ±2^24 (clamped, NaN replaced), so it converts to i32 exactly.
    // The checked `as i32` gives the same value but is not vectorised (it costs ~40 % of this loop).
    let whole: i32 = unsafe { floor.to_int_unchecked() };
    // Up with probability `x - floor` (to 2^-32): `r < (x - floor) × 2^32`, compared as integers against the
    // product rounded up (exact: a power-of-two scaling; below 2^32 since the fraction is below 1).
    let bound = ((x - floor) * 4_294_967_296.0).ceil() as u32;
    *w += whole + (r < bound) as i32;
    w.abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_and_weight_rounding_are_unbiased() {
        let mut rng = TileRng::new(3, 0);
        let n = 4096;
        let mut w = vec![0i32; n];
        let t = vec![3i16; n];
        for _ in 0..50 {
            update_weights(&mut w, &t, 0.01, &mut rng);
        }
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        assert!((mean - 1.5).abs() < 0.05, "mean weight {mean}, want 3 × 0.01 × 50 = 1.5");
        let mut traces = vec![100i16; n];
        let mut spiked = vec![0u8; n];
        let rule = TraceRule { decay_q16: 32768, increment: 10, tmax: 127 };
        update_traces(&mut traces, EpochSpikes::Flags(&mut spiked), rule, &mut rng);
        let mean = traces.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        assert!((mean - 50.0).abs() < 0.1, "mean trace {mean}");
    }

    #[test]
    fn sixteen_bit_mantissa_sums_equal_shifted_wide_sums() {
        let rows: Vec<Vec<i16>> =
            (0..12).map(|j| (0..999).map(|i| ((i * 37 + j * 11) % 255) as i16 - 127).collect()).collect();
        let fired = [8i16, 3, 0, 7, 1, 8, 8, 2, 5, 6, 4, 8];
        let (mut direct, mut wide) = (vec![0i32; 999], vec![0i32; 999]);
        let mut sums = vec![0i16; 999];
        for (row, &f) in rows.iter().zip(&fired) {
            for (acc, &m) in direct.iter_mut().zip(row) {
                *acc = acc.wrapping_add((f as i32 * m as i32) << 9);
            }
            accumulate_wide(&mut wide, row, f as i32);
            accumulate(&mut sums, row, f);
        }
        let shifted = |v: Vec<i32>| v.into_iter().map(|x| x << 9).collect::<Vec<_>>();
        assert_eq!(direct, shifted(wide));
        assert_eq!(direct, shifted(sums.iter().map(|&s| s as i32).collect()));
    }

    #[test]
    fn masked_sum_adds_the_weights_under_the_spike_bits() {
        // Weights large enough to wrap; ranges that start and end inside mask words, at the slice's end, empty.
        let n = 1003;
        let w: Vec<i32> = (0..n).map(|i| (i as i32).wrapping_mul(0x2545_F491)).collect();
        let spiked = |i: usize| i.is_multiple_of(3) || i % 64 == 17;
        let mut masks = vec![0u16; SpikeMasks::words(n)];
        for i in (0..n).filter(|&i| spiked(i)) {
            masks[i / 16] |= 1 << (i % 16);
        }
        for (from, to) in [(0, n), (5, 17), (16, 32), (17, 1000), (990, n), (3, 3), (0, 1), (15, 16)] {
            let want = (from..to).filter(|&i| spiked(i)).fold(0i32, |s, i| s.wrapping_add(w[i]));
            assert_eq!(masked_sum(&w, &masks, from, to), want, "{from}..{to}");
            assert_eq!(masked_sum_body(&w, &masks, from, to), want, "{from}..{to}, portable");
        }
    }

    #[test]
    fn weight_steps_match_the_checked_conversion_even_for_nan() {
        // The reference lane, with the checked `as i32` the kernel replaces.
        let reference = |w: i32, t: i16, r: u32, factor: f32| {
            let cap = (1 << 24) as f32;
            let x = (t as f32 * factor).clamp(-cap, cap);
            let floor = x.floor();
            // In f64 the fraction times 2^32 is exact: up with probability `x - floor`.
            w + floor as i32 + ((r as f64) < (x - floor) as f64 * 4_294_967_296.0) as i32
        };
        // 203 weights: six whole pairs of draws (the AVX-512 loop's, where the CPU has it) and a remainder of
        // eleven; finite factors take the vector loop, infinite ones the portable loop throughout.
        let traces: Vec<i16> = (0..203).map(|i| (i * 13 % 128) as i16 * (i % 5 != 0) as i16).collect();
        for factor in [0.37f32, -1234.5, f32::INFINITY, f32::NEG_INFINITY, 3.0e30] {
            let mut w = vec![7i32; 203];
            let mut rng = TileRng::new(5, 1);
            let mut reference_rng = rng.clone();
            let peak = update_weights(&mut w, &traces, factor, &mut rng);
            let mut draws = reference_rng.sweep();
            for (c, chunk) in traces.chunks(LANES).enumerate() {
                let r = draws.next();
                for (j, &t) in chunk.iter().enumerate() {
                    let i = c * LANES + j;
                    assert_eq!(w[i], reference(7, t, r[j], factor), "factor {factor} weight {i} trace {t}");
                }
            }
            drop(draws);
            assert_eq!(peak, w.iter().map(|x| x.abs()).max().unwrap(), "factor {factor}");
            assert_eq!(rng, reference_rng, "generators left as the draws leave them");
        }
    }

    #[test]
    fn the_16_bit_trace_loop_equals_the_32_bit_one() {
        // Every trace value, spiked or not, against random bits, for decays and increments at their limits; the
        // reference is the per-trace formula in 32 bits.
        let n: usize = 2 * 32768 + 37;
        let traces: Vec<i16> = (0..n).map(|i| (i % 32768) as i16).collect();
        let spiked: Vec<u8> = (0..n).map(|i| (i / 32768 + i % 3 == 0) as u8).collect();
        for (decay, increment, tmax) in [(40_000, 9, 127), (65_535, 1, 32767), (0, 32767, 32767), (1, 100, 4095)] {
            let (mut t, mut s) = (traces.clone(), spiked.clone());
            let mut rng = TileRng::new(11, 0);
            let mut reference_rng = rng.clone();
            let rule = TraceRule { decay_q16: decay, increment, tmax };
            let updates = update_traces(&mut t, EpochSpikes::Flags(&mut s), rule, &mut rng);
            let mut want_updates = 0;
            let mut draws = reference_rng.sweep();
            for c in 0..n.div_ceil(TRACES_PER_DRAW) {
                let r = draws.next();
                for j in 0..TRACES_PER_DRAW.min(n - TRACES_PER_DRAW * c) {
                    let i = TRACES_PER_DRAW * c + j;
                    let (old, fired) = (traces[i] as i32, spiked[i] as i32);
                    let x = old * decay + ((fired * increment) << 16);
                    // Trace `j` of a draw takes the draw's 16-bit half `j`, low half first.
                    let bits = (r[j / 2] >> (16 * (j % 2))) & 0xffff;
                    let want = ((x >> 16) + (bits < (x & 0xffff) as u32) as i32).min(tmax);
                    assert_eq!(t[i] as i32, want, "decay {decay} inc {increment} trace {old} fired {fired}");
                    want_updates += (old | fired != 0) as u32;
                }
            }
            drop(draws);
            assert_eq!((updates, rng), (want_updates, reference_rng));
            assert!(s.iter().all(|&x| x == 0), "the spike record is cleared");
        }
    }

    #[test]
    fn shifted_weights_round_without_bias() {
        // -5 / 8 = -0.625 and 1000 / 2^7 = 7.8125, each rounded up with the probability of its fraction.
        let mut rng = TileRng::new(6, 0);
        for (w, bits, want) in [(-5, 3, -0.625f64), (1000, 7, 7.8125), (-(1 << 30), 31, -0.5)] {
            let mut sum = 0.0;
            for _ in 0..200 {
                let mut row = vec![w; 1000];
                shift_weights(&mut row, bits, 1 << 20, &mut rng);
                assert!(row.iter().all(|&x| x == want.floor() as i32 || x == want.floor() as i32 + 1));
                sum += row.iter().map(|&x| x as f64).sum::<f64>();
            }
            let mean = sum / 200_000.0;
            assert!((mean - want).abs() < 0.005, "{w} / 2^{bits}: mean {mean}, want {want}");
        }
        let mut row = vec![1 << 20; 40];
        shift_weights(&mut row, 2, 1000, &mut rng);
        assert!(row.iter().all(|&x| x == 1000), "clamped to ±wmax");
    }

    #[test]
    fn vector_and_portable_loops_agree() {
        // 1003 lanes: whole pairs of draws for the vector loops, then a remainder for the portable ones.
        let traces: Vec<i16> = (0..1003).map(|i| (i * 7 % 128) as i16).collect();
        let (mut a, mut b) = (vec![5i32; 1003], vec![5i32; 1003]);
        let (mut ra, mut rb) = (TileRng::new(9, 2), TileRng::new(9, 2));
        let pa = update_weights(&mut a, &traces, -0.37, &mut ra);
        let pb = portable_weights::<false>(&mut b, &traces, -0.37, &mut rb);
        assert_eq!((a, pa, &ra), (b, pb, &rb));
        let record: Vec<u8> = (0..1003).map(|i| (i % 7 == 0) as u8).collect();
        let rule = TraceRule { decay_q16: 40_000, increment: 9, tmax: 127 };
        let (mut ta, mut tb) = (traces.clone(), traces);
        let ca = update_traces(&mut ta, EpochSpikes::Counts { refractory: &record, at_least: 1 }, rule, &mut ra);
        let cb = portable_traces(&mut tb, &record, 1, rule, &mut rb);
        assert_eq!((ta, ca, ra), (tb, cb, rb));
    }

    #[test]
    fn refractory_counts_give_the_traces_their_flags_would() {
        // Counts 0..=5 with a threshold of 3 against the flags `count >= 3`; the counts are not written.
        let n = 1003;
        let refractory: Vec<u8> = (0..n).map(|i| (i * 7 % 6) as u8).collect();
        let mut flags: Vec<u8> = refractory.iter().map(|&c| (c >= 3) as u8).collect();
        let traces: Vec<i16> = (0..n).map(|i| (i * 13 % 128) as i16).collect();
        let (mut a, mut b) = (traces.clone(), traces);
        let (mut ra, mut rb) = (TileRng::new(4, 0), TileRng::new(4, 0));
        let counts = EpochSpikes::Counts { refractory: &refractory, at_least: 3 };
        let rule = TraceRule { decay_q16: 50_000, increment: 9, tmax: 127 };
        let ca = update_traces(&mut a, counts, rule, &mut ra);
        let cb = update_traces(&mut b, EpochSpikes::Flags(&mut flags), rule, &mut rb);
        assert_eq!((a, ca, ra), (b, cb, rb));
        assert!(flags.iter().all(|&f| f == 0), "flags are cleared");
    }
}
