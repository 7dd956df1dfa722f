//! The readout's dense delivery sum with AVX-512 masks: the weights of the neurons whose spike flag is set.
//!
//! The portable loop ([`super::kernels::masked_sum`]) widens each flag to a 32-bit lane, negates it into a mask
//! and ands the weight with it: four vector operations per 16 neurons. Here one byte test turns 64 flags into a
//! 64-bit mask, and each group of 16 weights is added under its 16 bits: about two per 16 neurons. Wrapping
//! 32-bit sums do not depend on the order of their terms, so the sum is the same.

/// Sums the weights under the leading whole groups of 64 flags (0 or 1) when the CPU has AVX-512 (F, BW);
/// returns how many neurons it covered (0 otherwise) and their wrapping sum.
pub fn sum_leading(weights: &[i32], flags: &[u8]) -> (usize, i32) {
    let n = weights.len().min(flags.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") {
        let chunks = n / 64;
        // SAFETY: AVX-512 F and BW were detected just above; both slices hold at least `64 × chunks` elements.
        return (chunks * 64, unsafe { sum_chunks(weights, flags, chunks) });
    }
    let _ = n;
    (0, 0)
}

/// The wrapping sum of the weights whose flag is set, over the first `chunks` groups of 64 neurons.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn sum_chunks(weights: &[i32], flags: &[u8], chunks: usize) -> i32 {
    use std::arch::x86_64::*;
    // Two accumulators, so consecutive adds do not wait on each other.
    let (mut even, mut odd) = (_mm512_setzero_si512(), _mm512_setzero_si512());
    for c in 0..chunks {
        let i = c * 64;
        // SAFETY (all loads): `i + 64 <= 64 × chunks`, within both slices (the caller checked).
        unsafe {
            let f = _mm512_loadu_si512(flags.as_ptr().add(i) as *const _);
            let set = _mm512_test_epi8_mask(f, f);
            let w = |j: usize| _mm512_loadu_si512(weights.as_ptr().add(i + 16 * j) as *const _);
            even = _mm512_mask_add_epi32(even, set as u16, even, w(0));
            odd = _mm512_mask_add_epi32(odd, (set >> 16) as u16, odd, w(1));
            even = _mm512_mask_add_epi32(even, (set >> 32) as u16, even, w(2));
            odd = _mm512_mask_add_epi32(odd, (set >> 48) as u16, odd, w(3));
        }
    }
    _mm512_reduce_add_epi32(_mm512_add_epi32(even, odd))
}
