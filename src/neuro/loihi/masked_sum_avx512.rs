//! The readout's dense delivery sum with AVX-512 masks: the weights of the compartments whose spike bit is set.
//!
//! The compartment loop leaves a 16-bit spike mask per 16 compartments (see [`SpikeMasks`]); here each mask
//! loads its 16 weights with the unset lanes zeroed and adds them: one load and one add per 16 compartments,
//! whatever the number of spikes. Wrapping 32-bit sums do not depend on the order of their terms, so the sum is
//! the portable loop's.

use super::compartment::SpikeMasks;

/// The wrapping sum of the weights of the compartments `from..to` whose spike bit is set, when the CPU has
/// AVX-512 F (`None` otherwise). `weights` and `masks` are both indexed from the tile's first compartment.
pub fn sum(weights: &[i32], masks: &[u16], from: usize, to: usize) -> Option<i32> {
    assert!(to <= weights.len() && SpikeMasks::words(to) <= masks.len(), "{from}..{to} is outside the tile");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512 F was detected just above; both slices reach `to` (asserted above).
        return Some(unsafe { sum_words(weights, masks, from, to) });
    }
    None
}

/// [`sum`] on a CPU with AVX-512 F; `weights` holds at least `to` weights and `masks` their words.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_words(weights: &[i32], masks: &[u16], from: usize, to: usize) -> i32 {
    use std::arch::x86_64::*;
    if from >= to {
        return 0;
    }
    let (first, last) = (from / 16, (to - 1) / 16);
    // The first and last words may hold compartments outside the range, and the last may reach past the slice:
    // their loads are masked (masked-off lanes touch no memory).
    let edge = |word: usize| {
        let mask = masks[word] & SpikeMasks::clip(word, from, to);
        // SAFETY: `16 × word < to <= weights.len()`, and the lanes at `to` and past it are masked off.
        unsafe { _mm512_maskz_loadu_epi32(mask, weights.as_ptr().add(16 * word) as *const _) }
    };
    let mut sum = edge(first);
    if last > first {
        sum = _mm512_add_epi32(sum, edge(last));
    }
    // The words between: whole loads, added under their masks, so no load waits for its mask.
    // (An index loop: iterator adapters are not inlined into a function with its own target features.)
    for word in first + 1..last {
        // SAFETY: `16 × word + 16 <= 16 × last < to <= weights.len()`.
        let w = unsafe { _mm512_loadu_si512(weights.as_ptr().add(16 * word) as *const _) };
        sum = _mm512_mask_add_epi32(sum, masks[word], sum, w);
    }
    _mm512_reduce_add_epi32(sum)
}
