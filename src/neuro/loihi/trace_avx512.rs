//! The training epoch's trace update in 16-bit lanes with AVX-512 BW: 32 traces per vector instead of 16.
//!
//! The portable loop ([`super::kernels::update_traces`]) forms `t × decay + (increment << 16)` in 32 bits: two
//! 32-bit multiplies per 16 traces (each two micro-ops) and a narrowing store. With `0 <= t < 2^16` and a Q16
//! decay below `2^16` the same quantities come from 16-bit lanes: the high half of the product (`t × decay >> 16`)
//! is one unsigned high multiply, its low half (which the stochastic rounding compares against the random bits)
//! one low multiply, and the increment adds to the high half only. Same integer arithmetic, same bits: a unit
//! test compares both loops.

use super::kernels::{TRACES_PER_DRAW, TraceRule};
use super::tile_rng::TileRng;

/// Updates the leading whole pairs of draws (64 traces) when the CPU has AVX-512 (F, BW, VL) and the parameters
/// fit 16-bit lanes, stepping `rng` in registers as [`TileRng::sweep`] would; returns how many traces it updated
/// (0 otherwise, leaving all to the portable loop) and how many of them were non-zero or spiked. A neuron spiked
/// in the epoch when its `record` byte is at least `at_least` (see [`EpochSpikes`](super::kernels::EpochSpikes)).
pub fn update_leading(
    traces: &mut [i16],
    record: &[u8],
    at_least: u8,
    rng: &mut TileRng,
    rule: TraceRule,
) -> (usize, u32) {
    let TraceRule { decay_q16, increment, tmax } = rule;
    // The new trace `(t × decay >> 16) + increment + 1 <= tmax + increment + 1` must fit an unsigned 16-bit lane,
    // and traces (in 0..=tmax) must be non-negative 16-bit values.
    let fits = (0..1 << 16).contains(&decay_q16)
        && (0..1 << 15).contains(&increment)
        && (0..1 << 15).contains(&tmax)
        && tmax + increment < u16::MAX as i32;
    let n = traces.len().min(record.len());
    if !fits {
        return (0, 0);
    }
    #[cfg(target_arch = "x86_64")]
    if super::compartment_avx512::has_avx512_bw_vl_popcnt() {
        let pairs = n / PAIR;
        // SAFETY: AVX-512 F, BW, VL and POPCNT were detected just above; both slices hold at least
        // `PAIR × pairs` elements.
        let updates = unsafe { update_pairs(traces, record, at_least, rng, rule, pairs) };
        return (pairs * PAIR, updates);
    }
    (0, 0)
}

/// Traces of one pair of draws, one per vector of the generators.
const PAIR: usize = 2 * TRACES_PER_DRAW;

/// The first `pairs` groups of [`PAIR`] traces. Per lane, as the portable loop:
/// `t' = min((t × decay >> 16) + increment × s + (r < (t × decay & 0xffff)), tmax)` with `s = (record >= at_least)`
/// and `r` the lane's 16 random bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt")]
unsafe fn update_pairs(
    traces: &mut [i16],
    record: &[u8],
    at_least: u8,
    rng: &mut TileRng,
    rule: TraceRule,
    pairs: usize,
) -> u32 {
    use super::compartment_avx512::mulhi_epu16;
    use std::arch::x86_64::*;
    let TraceRule { decay_q16, increment, tmax } = rule;
    let decay = _mm512_set1_epi16(decay_q16 as u16 as i16);
    let at_least = _mm256_set1_epi8(at_least as i8);
    let (increment, tmax, one) =
        (_mm512_set1_epi16(increment as i16), _mm512_set1_epi16(tmax as i16), _mm512_set1_epi16(1));
    let mut updates = 0;
    // One draw's 32 traces at `i`, rounded with `random` (its 16 numbers as 32 halves, low half first).
    let mut chunk = |i: usize, random: __m512i| {
        // SAFETY (all loads and stores): `i + 32 <= PAIR × pairs`, within both slices (the caller checked).
        unsafe {
            let traces_at = traces.as_mut_ptr().add(i) as *mut __m512i;
            let t = _mm512_loadu_si512(traces_at as *const _);
            let s = _mm256_loadu_si256(record.as_ptr().add(i) as *const __m256i);
            let fired = _mm256_cmpge_epu8_mask(s, at_least);
            updates += (_mm512_test_epi16_mask(t, t) | fired).count_ones();

            let high = mulhi_epu16(t, decay);
            let low = _mm512_mullo_epi16(t, decay);
            let up = _mm512_cmplt_epu16_mask(random, low);
            let next = _mm512_mask_add_epi16(high, fired, high, increment);
            let next = _mm512_mask_add_epi16(next, up, next, one);
            _mm512_storeu_si512(traces_at as *mut _, _mm512_min_epu16(next, tmax));
        }
    };
    // SAFETY: this function's caller checked AVX-512 F.
    unsafe { rng.draw_pairs_avx512(pairs, |c, random| chunk(c * TRACES_PER_DRAW, random)) };
    updates
}
