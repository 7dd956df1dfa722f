//! The compartment update of the default Loihi 1 block written with AVX-512 instructions: hard reset, a current
//! that is not kept (`keep_u = 0`, no input synapse), 16-bit input sums, non-negative voltages.
//!
//! The portable loop ([`super::compartment::step_block`]) vectorises, but it is bound by the vector ports: the
//! voltage decay's two 32-bit multiplies are four micro-ops per 16 neurons, and the byte-wide refractory counters
//! and spike flags are widened to 32-bit lanes and narrowed back. Here the decay is one 16-bit multiply-add and
//! one 16-bit high multiply (see [`step_chunks`]), and the counters and flags stay bytes, masked by the spike
//! mask. Same integer arithmetic, same bits: a unit test steps random blocks both ways.

use super::compartment::{CompartmentParams, PackedBias, VMAX};

/// A block's synaptic input for this step, as the AVX-512 loop reads it.
pub enum Input<'a> {
    /// 16-bit mantissa sums, one per compartment; cleared as they are read.
    Sums(&'a mut [i16]),
    /// One input row's 8-bit mantissas times `fired` events, `|fired| <= 255` (so each product fits the 16 bits
    /// a sum would hold): the step's only input, read straight from the row without a pass that sums it first.
    Row {
        /// The row's mantissas, one per compartment.
        mantissas: &'a [i8],
        /// Events on the axons that share the row.
        fired: i32,
    },
    /// Several 8-bit input rows, four to a 32-bit word as unsigned `m + 128` (see
    /// [`DiscreteEnsemble::input_quads`](super::discretize::DiscreteEnsemble::input_quads)), each quad with its
    /// four event counts as signed bytes: one `vpdpbusd` (AVX-512 VNNI) adds a quad's four products per neuron into
    /// 32-bit lanes, so the step's input needs no pass of its own. The sum must fit 16 bits (as `Sums` would hold
    /// it); the bias comes off as `taken`.
    Quads {
        /// Word `q × stride + i` holds quad `q` of the block's neuron `i`.
        words: &'a [u32],
        /// Words between one quad's row and the next (the ensemble's neuron count).
        stride: usize,
        /// Per quad, its four counts as signed bytes (little-endian, dimension `4q` lowest).
        fired: &'a [u32],
        /// `-128 ×` the sum of all counts: what the `+ 128` bias added.
        taken: i32,
    },
}

/// Steps the leading whole groups of 16 compartments when the CPU has AVX-512 (F, BW, VL) and the block is of
/// this kind; returns how many it stepped (0 otherwise), leaving the rest to the portable loop, and how many of
/// them spiked (counted from the spike masks: no second pass over the flags).
#[allow(clippy::too_many_arguments)]
pub fn step_leading(
    p: &CompartmentParams,
    bias: &[PackedBias],
    input: Input<'_>,
    exp: u32,
    soft: bool,
    u: &mut [i32],
    v: &mut [i32],
    refractory: &mut [u8],
    spiked: &mut [u8],
    epoch: Option<&mut [u8]>,
) -> (usize, usize) {
    // The decay below needs 0 <= v < 2^27 and a keep factor that fits a signed 16-bit lane.
    let fits = !soft && p.keep_u == 0 && p.vmin >= 0 && p.vmax <= VMAX && (0..=4096).contains(&p.keep_v) && exp < 32;
    let n = bias.len();
    let (input_len, row_fits) = match &input {
        Input::Sums(sums) => (sums.len(), true),
        Input::Row { mantissas, fired } => (mantissas.len(), fired.unsigned_abs() <= 255),
        // Every quad's row holds the block (`words` ends at the last quad's), and the CPU has VNNI.
        Input::Quads { words, stride, fired, .. } => {
            let reach = fired.len().saturating_sub(1).saturating_mul(*stride).saturating_add(n);
            (if words.len() >= reach { n } else { 0 }, has_avx512_vnni())
        }
    };
    let lens = [input_len, u.len(), v.len(), refractory.len(), spiked.len(), epoch.as_ref().map_or(n, |e| e.len())];
    if !fits || !row_fits || lens.iter().any(|&l| l < n) {
        return (0, 0);
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx512_bw_vl_popcnt() {
        let chunks = n / 16;
        let state = State { v, refractory, spiked };
        // SAFETY: AVX-512 F, BW, VL and POPCNT were detected just above; every slice holds at least `16 × chunks`
        // elements (checked above), which is all the loop reads and writes (`epoch` and the input form it is not
        // given only when passed).
        let spikes = unsafe {
            match (input, epoch) {
                (Input::Sums(sums), Some(epoch)) => {
                    step_chunks::<true, SUMS>(p, bias, Source::sums(sums), exp, state, epoch, chunks)
                }
                (Input::Sums(sums), None) => {
                    step_chunks::<false, SUMS>(p, bias, Source::sums(sums), exp, state, &mut [], chunks)
                }
                (Input::Row { mantissas, fired }, Some(epoch)) => {
                    step_chunks::<true, ROW>(p, bias, Source::row(mantissas, fired), exp, state, epoch, chunks)
                }
                (Input::Row { mantissas, fired }, None) => {
                    step_chunks::<false, ROW>(p, bias, Source::row(mantissas, fired), exp, state, &mut [], chunks)
                }
                (Input::Quads { words, stride, fired, taken }, Some(epoch)) => {
                    let from = Source::quads(words, stride, fired, taken);
                    step_chunks::<true, QUADS>(p, bias, from, exp, state, epoch, chunks)
                }
                (Input::Quads { words, stride, fired, taken }, None) => {
                    let from = Source::quads(words, stride, fired, taken);
                    step_chunks::<false, QUADS>(p, bias, from, exp, state, &mut [], chunks)
                }
            }
        };
        return (chunks * 16, spikes);
    }
    (0, 0)
}

/// [`step_chunks`]'s input forms (its `FROM`).
const SUMS: u8 = 0;
const ROW: u8 = 1;
const QUADS: u8 = 2;

/// Where [`step_chunks`] reads its input: the fields of its `FROM` form (the others empty).
struct Source<'a> {
    sums: &'a mut [i16],
    row: &'a [i8],
    fired: i32,
    words: &'a [u32],
    stride: usize,
    quad_fired: &'a [u32],
}

impl<'a> Source<'a> {
    fn sums(sums: &'a mut [i16]) -> Self {
        Source { sums, row: &[], fired: 0, words: &[], stride: 0, quad_fired: &[] }
    }
    fn row(row: &'a [i8], fired: i32) -> Self {
        Source { sums: &mut [], row, fired, words: &[], stride: 0, quad_fired: &[] }
    }
    fn quads(words: &'a [u32], stride: usize, quad_fired: &'a [u32], taken: i32) -> Self {
        Source { sums: &mut [], row: &[], fired: taken, words, stride, quad_fired }
    }
}

/// The registers [`step_chunks`] updates.
struct State<'a> {
    v: &'a mut [i32],
    refractory: &'a mut [u8],
    spiked: &'a mut [u8],
}

/// The first `chunks` groups of 16 compartments. Per lane, as `step_impl` with a hard reset and `keep_u = 0`:
/// `u = wrap21(input << exp)` (not stored); `v = clip(decay(v) + u + bias)`, 0 while refractory; a spike where `v > vth`
/// zeroes `v` and sets the refractory count. Returns the number of spikes. With `EPOCH` the spikes are OR-ed into
/// `epoch` (else it is not touched and may be empty). The input is `input` (cleared), or with `ROW` `fired × row`
/// (then `input` may be empty; see [`Input::Row`]), or with `QUADS` the quads' sums (see [`Input::Quads`]; `fired`
/// is then `taken`).
///
/// The decay `(v >> 12) × keep + ((v & 4095) × keep >> 12)` from the 16-bit halves of `v << 4`: the high half is
/// `v >> 12` (< 2^15), so a multiply-add against `(0, keep)` pairs gives `(v >> 12) × keep`; the low half is
/// `(v & 4095) << 4`, whose unsigned high product with `keep` is `(v & 4095) × keep >> 12`, and the high half's
/// high product with 0 is 0 (see [`mulhi_epu16`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt")]
#[allow(clippy::too_many_arguments)]
unsafe fn step_chunks<const EPOCH: bool, const FROM: u8>(
    p: &CompartmentParams,
    bias: &[PackedBias],
    from: Source<'_>,
    exp: u32,
    state: State<'_>,
    epoch: &mut [u8],
    chunks: usize,
) -> usize {
    use std::arch::x86_64::*;
    let State { v, refractory, spiked } = state;
    let Source { sums: input, row, fired, words, stride, quad_fired } = from;
    let taken = _mm512_set1_epi32(fired);
    // The first four quads' counts, broadcast (0 past the last).
    let quad_counts: [__m512i; 4] =
        std::array::from_fn(|q| _mm512_set1_epi32(quad_fired.get(q).map_or(0, |&c| c as i32)));
    // `fired` in the low 16-bit lane of each 32-bit lane: a multiply-add against a sign-extended mantissa is
    // the product (the high lane's sign bits meet 0).
    let fired = _mm512_set1_epi32(fired as u16 as i32);
    // The input is shifted by `exp`, then wrapped to 21 bits by a shift up and back by 10: one shift by
    // `exp + 10` does both first shifts (a total of 32 or more leaves 0 either way).
    let up = _mm_cvtsi32_si128(exp as i32 + 10);
    let keep_high = _mm512_set1_epi32(p.keep_v << 16);
    // `keep` in the low 16-bit lane of each 32-bit lane, 0 in the high one.
    let keep_low = _mm512_set1_epi32(p.keep_v);
    let (vmin, vmax, vth) = (_mm512_set1_epi32(p.vmin), _mm512_set1_epi32(p.vmax), _mm512_set1_epi32(p.vth));
    let seven = _mm512_set1_epi32(7);
    let (zero8, one8, delay8) = (_mm_setzero_si128(), _mm_set1_epi8(1), _mm_set1_epi8(p.ref_delay as u8 as i8));
    let mut quiet_lanes = 0;
    for c in 0..chunks {
        let i = c * 16;
        // SAFETY (all loads and stores): `i + 16 <= 16 × chunks`, within every slice (the caller checked).
        unsafe {
            let current = if FROM == QUADS {
                let quad = |q: usize| _mm512_loadu_si512(words.as_ptr().add(q * stride + i) as *const _);
                // Up to four quads (16-D input) in two chains of multiply-adds with their counts in registers, so
                // consecutive ones do not wait on each other; more in a loop.
                let [c0, c1, c2, c3] = quad_counts;
                let sum = match quad_fired.len() {
                    1 => dpbusd(taken, quad(0), c0),
                    2 => _mm512_add_epi32(dpbusd(taken, quad(0), c0), dpbusd(_mm512_setzero_si512(), quad(1), c1)),
                    3 => _mm512_add_epi32(
                        dpbusd(dpbusd(taken, quad(0), c0), quad(2), c2),
                        dpbusd(_mm512_setzero_si512(), quad(1), c1),
                    ),
                    4 => _mm512_add_epi32(
                        dpbusd(dpbusd(taken, quad(0), c0), quad(2), c2),
                        dpbusd(dpbusd(_mm512_setzero_si512(), quad(1), c1), quad(3), c3),
                    ),
                    _ => quad_fired
                        .iter()
                        .enumerate()
                        .fold(taken, |sum, (q, &counts)| dpbusd(sum, quad(q), _mm512_set1_epi32(counts as i32))),
                };
                _mm512_sll_epi32(sum, up)
            } else if FROM == ROW {
                let mantissas = _mm512_cvtepi8_epi32(_mm_loadu_si128(row.as_ptr().add(i) as *const __m128i));
                _mm512_sll_epi32(_mm512_madd_epi16(mantissas, fired), up)
            } else {
                let input_at = input.as_mut_ptr().add(i) as *mut __m256i;
                let sums = _mm512_cvtepi16_epi32(_mm256_loadu_si256(input_at));
                _mm256_storeu_si256(input_at, _mm256_setzero_si256());
                _mm512_sll_epi32(sums, up)
            };
            // Wrapped to the 21-bit input accumulator (then already within the 23-bit current). Not stored: a
            // current that is not kept is no state (see `EnsembleState::u`).
            let current = _mm512_srai_epi32::<10>(current);

            let old = _mm512_loadu_si512(v.as_ptr().add(i) as *const _);
            let shifted = _mm512_slli_epi32::<4>(old);
            let decayed = _mm512_add_epi32(_mm512_madd_epi16(shifted, keep_high), mulhi_epu16(shifted, keep_low));
            let packed = _mm512_cvtepi16_epi32(_mm256_loadu_si256(bias.as_ptr().add(i) as *const __m256i));
            let bias = _mm512_sllv_epi32(_mm512_srai_epi32::<3>(packed), _mm512_and_si512(packed, seven));
            let next = _mm512_max_epi32(_mm512_add_epi32(_mm512_add_epi32(decayed, current), bias), vmin);

            let counts = _mm_loadu_si128(refractory.as_ptr().add(i) as *const __m128i);
            // Not refractory after this step's count-down: the count was 0 or 1.
            let ready = _mm_cmple_epu8_mask(counts, one8);
            let next = _mm512_maskz_min_epi32(ready, next, vmax);
            // The lanes that did not fire (the complement of the spike mask, so no mask inversion is needed).
            let quiet = _mm512_cmple_epi32_mask(next, vth);
            _mm512_storeu_si512(v.as_mut_ptr().add(i) as *mut _, _mm512_maskz_mov_epi32(quiet, next));
            quiet_lanes += quiet.count_ones() as usize;

            let counts = _mm_mask_mov_epi8(delay8, quiet, _mm_subs_epu8(counts, one8));
            _mm_storeu_si128(refractory.as_mut_ptr().add(i) as *mut __m128i, counts);
            let flags = _mm_mask_mov_epi8(one8, quiet, zero8);
            _mm_storeu_si128(spiked.as_mut_ptr().add(i) as *mut __m128i, flags);
            if EPOCH {
                let epoch_at = epoch.as_mut_ptr().add(i) as *mut __m128i;
                _mm_storeu_si128(epoch_at, _mm_or_si128(_mm_loadu_si128(epoch_at), flags));
            }
        }
    }
    16 * chunks - quiet_lanes
}

/// Whether the CPU has what this file's and the trace update's AVX-512 loops use: AVX-512 F, BW and VL, and
/// POPCNT.
#[cfg(target_arch = "x86_64")]
pub(super) fn has_avx512_bw_vl_popcnt() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("popcnt")
}

/// Whether the CPU has AVX-512 VNNI (for [`Input::Quads`]).
#[cfg(target_arch = "x86_64")]
fn has_avx512_vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512vnni")
}
#[cfg(not(target_arch = "x86_64"))]
fn has_avx512_vnni() -> bool {
    false
}

/// `acc` plus, per 32-bit lane, the four products of `a`'s unsigned bytes and `b`'s signed ones (`vpdpbusd`, no
/// saturation). Written as assembly so the compartment loop needs no VNNI target feature of its own (it also runs
/// without VNNI, for the other input forms); callers check the CPU has it ([`has_avx512_vnni`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn dpbusd(
    acc: std::arch::x86_64::__m512i,
    a: std::arch::x86_64::__m512i,
    b: std::arch::x86_64::__m512i,
) -> std::arch::x86_64::__m512i {
    let mut acc = acc;
    // SAFETY: a register-only AVX-512 VNNI instruction; callers checked the CPU has it.
    unsafe {
        std::arch::asm!(
            "vpdpbusd {acc}, {a}, {b}",
            acc = inout(zmm_reg) acc,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// The unsigned high products of 16-bit lanes (`vpmulhuw`), opaque to the compiler: given a factor with zero
/// high lanes (`keep_low` here) or one it knew fits 16 bits (the traces' decay), it replaced the one multiply by
/// 32-bit multiplies on widened halves and shuffles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(super) fn mulhi_epu16(a: std::arch::x86_64::__m512i, b: std::arch::x86_64::__m512i) -> std::arch::x86_64::__m512i {
    let out;
    // SAFETY: a register-only AVX-512 BW instruction, which this function's target features enable.
    unsafe {
        std::arch::asm!(
            "vpmulhuw {out}, {a}, {b}",
            out = lateout(zmm_reg) out,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}
