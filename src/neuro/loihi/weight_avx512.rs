//! The learning epoch's weight update with AVX-512: 16 weights per vector, the random numbers stepped in
//! registers beside them.
//!
//! Written out because the compiler's version of the portable loop kept the generators, the random numbers and
//! the running peak in memory between draws (a quarter of a 1-D step, against a seventh here), and it rounds with
//! conversions that round down and up in one instruction each. Same arithmetic per lane, same bits: a unit test
//! compares both loops.

use super::tile_rng::{LANES, TileRng};

/// Updates the leading whole pairs of draws (32 weights) when the CPU has AVX-512 F and `factor` is finite
/// (an infinite one can give NaN products, which the portable loop handles), stepping `rng` as
/// [`TileRng::sweep`] would. Returns how many weights it updated (0 otherwise, leaving all to the portable
/// loop) and the largest |w| among them.
pub fn update_leading(weights: &mut [i32], traces: &[i16], factor: f32, rng: &mut TileRng) -> (usize, i32) {
    let n = weights.len().min(traces.len());
    if !factor.is_finite() {
        return (0, 0);
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        let pairs = n / PAIR;
        // A trace is at most 2^15 in magnitude, so below this factor the ±2^24 cap cannot bind.
        let clamp = factor.abs() > (1 << 9) as f32;
        // SAFETY: AVX-512 F was detected just above; both slices hold at least `PAIR × pairs` elements.
        let peak = unsafe {
            if clamp {
                update_pairs::<true>(weights, traces, factor, rng, pairs)
            } else {
                update_pairs::<false>(weights, traces, factor, rng, pairs)
            }
        };
        return (pairs * PAIR, peak);
    }
    (0, 0)
}

/// Weights of one pair of draws, one per vector of the generators.
const PAIR: usize = 2 * LANES;

/// The first `pairs` groups of [`PAIR`] weights. Per lane, as the portable loop: `x = clamp(t × factor, ±2^24)`,
/// `w += floor(x) + (r < (x - floor(x)) × 2^32)`; `CLAMP` false when the clamp cannot change `x`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn update_pairs<const CLAMP: bool>(
    weights: &mut [i32],
    traces: &[i16],
    factor: f32,
    rng: &mut TileRng,
    pairs: usize,
) -> i32 {
    use std::arch::x86_64::*;
    const CAP: f32 = (1 << 24) as f32;
    let (factor, cap, low_cap) = (_mm512_set1_ps(factor), _mm512_set1_ps(CAP), _mm512_set1_ps(-CAP));
    let two_32 = _mm512_set1_ps(4_294_967_296.0);
    let mut peak = _mm512_setzero_si512();
    // One draw's 16 weights at `i`, rounded with `random`.
    let mut chunk = |i: usize, random: __m512i| {
        // SAFETY (all loads and stores): `i + 16 <= PAIR × pairs`, within both slices (the caller checked).
        unsafe {
            let t = _mm512_cvtepi16_epi32(_mm256_loadu_si256(traces.as_ptr().add(i) as *const __m256i));
            let mut x = _mm512_mul_ps(_mm512_cvtepi32_ps(t), factor);
            if CLAMP {
                x = _mm512_min_ps(_mm512_max_ps(x, low_cap), cap);
            }
            // floor(x) as an integer in one conversion (rounding down), and back as the float it equals exactly.
            let whole = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(x);
            let fraction = _mm512_sub_ps(x, _mm512_cvtepi32_ps(whole));
            // r < f × 2^32 exactly when r < ceil(f × 2^32), which is below 2^32 for f < 1.
            let bound = _mm512_cvt_roundps_epu32::<{ _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
                fraction, two_32,
            ));
            let up = _mm512_cmplt_epu32_mask(random, bound);
            let at = weights.as_mut_ptr().add(i) as *mut __m512i;
            let w = _mm512_add_epi32(_mm512_loadu_si512(at as *const _), whole);
            let w = _mm512_mask_sub_epi32(w, up, w, _mm512_set1_epi32(-1));
            _mm512_storeu_si512(at as *mut _, w);
            peak = _mm512_max_epi32(peak, _mm512_abs_epi32(w));
        }
    };
    // SAFETY: this function's caller checked AVX-512 F.
    unsafe { rng.draw_pairs_avx512(pairs, |c, random| chunk(c * LANES, random)) };
    _mm512_reduce_max_epi32(peak)
}
