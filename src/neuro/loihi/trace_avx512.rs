//! The training epoch's trace update in 16-bit lanes with AVX-512 BW: 32 traces per vector instead of 16.
//!
//! The portable loop ([`super::kernels::update_traces`]) forms `t × decay + (increment << 16)` in 32 bits: two
//! 32-bit multiplies per 16 traces (each two micro-ops) and a narrowing store. With `0 <= t < 2^16` and a Q16
//! decay below `2^16` the same quantities come from 16-bit lanes: the high half of the product (`t × decay >> 16`)
//! is one unsigned high multiply, its low half (which the stochastic rounding compares against the random bits)
//! one low multiply, and the increment adds to the high half only. Same integer arithmetic, same bits: a unit
//! test compares both loops.

use super::kernels::TraceRule;

/// Updates the leading whole groups of 32 traces when the CPU has AVX-512 (F, BW, VL) and the parameters fit 16-bit
/// lanes; returns how many traces it updated (0 otherwise, leaving all to the portable loop) and how many of
/// them were non-zero or spiked. `bits` holds one random number per trace; a neuron spiked in the epoch when its
/// `record` byte is at least `at_least` (see [`EpochSpikes`](super::kernels::EpochSpikes)).
pub fn update_leading(traces: &mut [i16], record: &[u8], at_least: u8, bits: &[u32], rule: TraceRule) -> (usize, u32) {
    let TraceRule { decay_q16, increment, tmax } = rule;
    // The new trace `(t × decay >> 16) + increment + 1 <= tmax + increment + 1` must fit an unsigned 16-bit lane,
    // and traces (in 0..=tmax) must be non-negative 16-bit values.
    let fits = (0..1 << 16).contains(&decay_q16)
        && (0..1 << 15).contains(&increment)
        && (0..1 << 15).contains(&tmax)
        && tmax + increment < u16::MAX as i32;
    let n = traces.len().min(record.len()).min(bits.len());
    if !fits {
        return (0, 0);
    }
    #[cfg(target_arch = "x86_64")]
    if super::compartment_avx512::has_avx512_bw_vl_popcnt() {
        let chunks = n / 32;
        // SAFETY: AVX-512 F, BW, VL and POPCNT were detected just above; every slice holds at least `32 × chunks`
        // elements.
        let updates = unsafe { update_chunks(traces, record, at_least, bits, rule, chunks) };
        return (chunks * 32, updates);
    }
    (0, 0)
}

/// The first `chunks` groups of 32 traces. Per lane, as the portable loop:
/// `t' = min((t × decay >> 16) + increment × s + ((r & 0xffff) < (t × decay & 0xffff)), tmax)` with
/// `s = (record >= at_least)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt")]
unsafe fn update_chunks(
    traces: &mut [i16],
    record: &[u8],
    at_least: u8,
    bits: &[u32],
    rule: TraceRule,
    chunks: usize,
) -> u32 {
    use super::compartment_avx512::mulhi_epu16;
    use std::arch::x86_64::*;
    let TraceRule { decay_q16, increment, tmax } = rule;
    let decay = _mm512_set1_epi16(decay_q16 as u16 as i16);
    let at_least = _mm256_set1_epi8(at_least as i8);
    let (increment, tmax, one) =
        (_mm512_set1_epi16(increment as i16), _mm512_set1_epi16(tmax as i16), _mm512_set1_epi16(1));
    // The low 16 bits of 32 consecutive 32-bit numbers (two vectors): their even 16-bit lanes.
    let evens = _mm512_set_epi16(
        62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32, 30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8,
        6, 4, 2, 0,
    );
    let mut updates = 0;
    for c in 0..chunks {
        let i = c * 32;
        // SAFETY (all loads and stores): `i + 32 <= 32 × chunks`, within every slice (the caller checked).
        unsafe {
            let traces_at = traces.as_mut_ptr().add(i) as *mut __m512i;
            let t = _mm512_loadu_si512(traces_at as *const _);
            let s = _mm256_loadu_si256(record.as_ptr().add(i) as *const __m256i);
            let fired = _mm256_cmpge_epu8_mask(s, at_least);
            updates += (_mm512_test_epi16_mask(t, t) | fired).count_ones();

            let high = mulhi_epu16(t, decay);
            let low = _mm512_mullo_epi16(t, decay);
            let r0 = _mm512_loadu_si512(bits.as_ptr().add(i) as *const _);
            let r1 = _mm512_loadu_si512(bits.as_ptr().add(i + 16) as *const _);
            let random = _mm512_permutex2var_epi16(r0, evens, r1);
            let up = _mm512_cmplt_epu16_mask(random, low);
            let next = _mm512_mask_add_epi16(high, fired, high, increment);
            let next = _mm512_mask_add_epi16(next, up, next, one);
            _mm512_storeu_si512(traces_at as *mut _, _mm512_min_epu16(next, tmax));
        }
    }
    updates
}
