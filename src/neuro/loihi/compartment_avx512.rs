//! The compartment update of the default Loihi 1 block written with AVX-512 instructions: hard reset, a current
//! that is not kept (`keep_u = 0`, no input synapse), 16-bit input sums, non-negative voltages.
//!
//! The portable loop ([`super::compartment::step_block`]) vectorises, but it is bound by the vector ports: the
//! voltage decay's two 32-bit multiplies are four micro-ops per 16 neurons, and the byte-wide refractory counters
//! are widened to 32-bit lanes and narrowed back. Here, per 16 neurons:
//! - the decay is one 16-bit multiply-add and one 16-bit high multiply (see [`step_chunks`]); with AVX-512 VNNI
//!   the multiply-add also does the add that follows it (`vpdpwssd`), as does a one-row input's product;
//! - the refractory counters stay bytes, masked by the spike mask, and the spikes are stored as that mask, two
//!   bytes (see [`SpikeMasks`](super::compartment::SpikeMasks));
//! - biases stored as values are added as they are (packed ones take four operations to decode);
//! - a one-dimensional readout's weights of the neurons that spike are summed in the same pass (one load and one
//!   masked add), so the spikes reach the readout without a pass of their own.
//!
//! Same integer arithmetic, same bits: unit tests step random blocks both ways.

use super::compartment::{BiasForm, CompartmentParams, VMAX};

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
        /// The largest |mantissa| in the row (at most 128): whether the products can wrap the input accumulator.
        peak: u8,
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

/// The registers of a block the AVX-512 loop steps.
pub struct Registers<'a> {
    /// Currents (only checked to hold the block: a current that is not kept is not stored).
    pub u: &'a mut [i32],
    /// Voltages.
    pub v: &'a mut [i32],
    /// Refractory counters.
    pub refractory: &'a mut [u8],
    /// Spike masks (see [`SpikeMasks`](super::compartment::SpikeMasks)).
    pub spiked: &'a mut [u16],
    /// The epoch's spike record, OR-ed with this step's spikes, when it is kept.
    pub epoch: Option<&'a mut [u8]>,
}

/// What [`step_leading`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Leading {
    /// Compartments stepped (a multiple of 16; 0 when the block is not of this kind or the CPU lacks AVX-512).
    pub done: usize,
    /// How many of them spiked (counted from the spike masks).
    pub spikes: usize,
    /// The wrapping sum of the weights given to deliver of the ones that spiked (0 when none were given).
    pub delivered: i32,
}

/// Steps the leading whole groups of 16 compartments when the CPU has AVX-512 (F, BW, VL) and the block is of
/// this kind, leaving the rest to the portable loop. With `deliver` (one weight per compartment: a
/// one-dimensional readout's) the loop also sums the weights of the compartments that spike, so the spikes need
/// no pass of their own to reach the readout.
pub fn step_leading(
    p: &CompartmentParams,
    bias: BiasForm<'_>,
    input: Input<'_>,
    exp: u32,
    soft: bool,
    regs: Registers<'_>,
    deliver: Option<&[i32]>,
) -> Leading {
    let Registers { u, v, refractory, spiked, epoch } = regs;
    // The decay below needs 0 <= v < 2^27 and a keep factor that fits a signed 16-bit lane.
    let fits = !soft && p.keep_u == 0 && p.vmin >= 0 && p.vmax <= VMAX && (0..=4096).contains(&p.keep_v) && exp < 32;
    let n = bias.len();
    let (input_len, row_fits) = match &input {
        Input::Sums(sums) => (sums.len(), true),
        Input::Row { mantissas, fired, .. } => (mantissas.len(), fired.unsigned_abs() <= 255),
        // Every quad's row holds the block (`words` ends at the last quad's), and the CPU has VNNI.
        Input::Quads { words, stride, fired, .. } => {
            let reach = fired.len().saturating_sub(1).saturating_mul(*stride).saturating_add(n);
            (if words.len() >= reach { n } else { 0 }, has_avx512_vnni())
        }
    };
    let masks = spiked.len().saturating_mul(16);
    let (epoch_len, deliver_len) = (epoch.as_ref().map_or(n, |e| e.len()), deliver.map_or(n, |w| w.len()));
    let lens = [input_len, u.len(), v.len(), refractory.len(), masks, epoch_len, deliver_len];
    if !fits || !row_fits || lens.iter().any(|&l| l < n) {
        return Leading::default();
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx512_bw_vl_popcnt() {
        let chunks = n / 16;
        let (with_epoch, epoch) = match epoch {
            Some(epoch) => (true, epoch),
            None => (false, &mut [][..]),
        };
        let state = State { v, refractory, spiked, epoch, deliver: deliver.unwrap_or(&[]) };
        let setup = Setup { p, bias, exp, chunks };
        let (form, from) = match input {
            Input::Sums(sums) => (SUMS, Source::sums(sums)),
            // A row whose products cannot wrap the 21-bit accumulator is scaled by one multiply-add.
            Input::Row { mantissas, fired, peak } if row_never_wraps(fired, exp, peak) => {
                (ROW_SCALED, Source::row(mantissas, fired << exp))
            }
            Input::Row { mantissas, fired, .. } => (ROW, Source::row(mantissas, fired)),
            Input::Quads { words, stride, fired, taken } => (QUADS, Source::quads(words, stride, fired, taken)),
        };
        let deliver = deliver.is_some();
        // SAFETY: AVX-512 F, BW, VL and POPCNT were detected just above; every slice holds at least `16 × chunks`
        // elements (`spiked` `chunks` words; checked above), which is all the loop reads and writes (`epoch` and
        // the input form it is not given only when passed).
        let (spikes, delivered) = unsafe {
            match (with_epoch, form) {
                (true, SUMS) => run::<true, SUMS>(deliver, setup, from, state),
                (false, SUMS) => run::<false, SUMS>(deliver, setup, from, state),
                (true, ROW) => run::<true, ROW>(deliver, setup, from, state),
                (false, ROW) => run::<false, ROW>(deliver, setup, from, state),
                (true, ROW_SCALED) => run::<true, ROW_SCALED>(deliver, setup, from, state),
                (false, ROW_SCALED) => run::<false, ROW_SCALED>(deliver, setup, from, state),
                (true, _) => run::<true, QUADS>(deliver, setup, from, state),
                (false, _) => run::<false, QUADS>(deliver, setup, from, state),
            }
        };
        return Leading { done: chunks * 16, spikes, delivered };
    }
    Leading::default()
}

/// [`step_chunks`], delivering or not, with VNNI where the CPU has it, for the bias form given.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt")]
unsafe fn run<const EPOCH: bool, const FROM: u8>(
    deliver: bool,
    setup: Setup<'_>,
    from: Source<'_>,
    state: State<'_>,
) -> (usize, i32) {
    macro_rules! with {
        ($deliver:literal, $vnni:literal, $values:literal) => {
            step_chunks::<EPOCH, FROM, $deliver, $vnni, $values>(setup, from, state)
        };
    }
    let values = matches!(setup.bias, BiasForm::Values(_));
    // SAFETY: as for `step_chunks` (the caller's), and VNNI is used only where the CPU has it.
    unsafe {
        match (deliver, has_avx512_vnni(), values) {
            (true, true, true) => with!(true, true, true),
            (true, true, false) => with!(true, true, false),
            (true, false, true) => with!(true, false, true),
            (true, false, false) => with!(true, false, false),
            (false, true, true) => with!(false, true, true),
            (false, true, false) => with!(false, true, false),
            (false, false, true) => with!(false, false, true),
            (false, false, false) => with!(false, false, false),
        }
    }
}

/// What [`step_chunks`] steps by: the block's parameters and biases, the input exponent, and how many groups of 16.
#[derive(Clone, Copy)]
struct Setup<'a> {
    p: &'a CompartmentParams,
    bias: BiasForm<'a>,
    exp: u32,
    chunks: usize,
}

/// [`step_chunks`]'s input forms (its `FROM`).
const SUMS: u8 = 0;
const ROW: u8 = 1;
const QUADS: u8 = 2;
/// A row whose `fired × 2^exp` is the multiplier (see [`row_never_wraps`]).
const ROW_SCALED: u8 = 3;

/// Whether `fired` events on an 8-bit row of mantissas up to `peak` in magnitude, shifted by `exp`, stay within
/// the 21-bit input accumulator (`peak × |fired| × 2^exp < 2^20`): the wrap is then the identity. And
/// `fired × 2^exp` must fit the 16-bit multiplier of a multiply-add.
fn row_never_wraps(fired: i32, exp: u32, peak: u8) -> bool {
    // (`exp` < 32: checked with the block's kind.)
    let scaled = u64::from(fired.unsigned_abs()) << exp;
    scaled < 1 << 15 && u64::from(peak) * scaled < 1 << 20
}

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

/// The registers [`step_chunks`] updates (and the epoch record, empty when not kept), and the weights it
/// delivers.
struct State<'a> {
    v: &'a mut [i32],
    refractory: &'a mut [u8],
    spiked: &'a mut [u16],
    epoch: &'a mut [u8],
    deliver: &'a [i32],
}

/// The first `setup.chunks` groups of 16 compartments. Per lane, as `step_impl` with a hard reset and
/// `keep_u = 0`: `u = wrap21(input << exp)` (not stored); `v = clip(decay(v) + u + bias)`, 0 while refractory; a
/// spike where `v > vth` zeroes `v` and sets the refractory count. Returns the number of spikes and, with
/// `DELIVER`, the wrapping sum of the `deliver` weights of the compartments that spiked (else 0). With `EPOCH` the
/// spikes are OR-ed into `epoch` (else it is not touched and may be empty). The input is the sums (cleared), or
/// with `ROW` `fired × row` (see [`Input::Row`]), with `ROW_SCALED` the row times `fired × 2^exp`, or with `QUADS`
/// the quads' sums (see [`Input::Quads`]; `fired` is then `taken`). `VALUES` names the bias form, and `VNNI` lets
/// the multiply-adds fuse their adds.
///
/// The decay `(v >> 12) × keep + ((v & 4095) × keep >> 12)` from the 16-bit halves of `v << 4`: the high half is
/// `v >> 12` (< 2^15), so a multiply-add against `(0, keep)` pairs gives `(v >> 12) × keep`; the low half is
/// `(v & 4095) << 4`, whose unsigned high product with `keep` is `(v & 4095) × keep >> 12`, and the high half's
/// high product with 0 is 0 (see [`mulhi_epu16`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,popcnt")]
unsafe fn step_chunks<const EPOCH: bool, const FROM: u8, const DELIVER: bool, const VNNI: bool, const VALUES: bool>(
    setup: Setup<'_>,
    from: Source<'_>,
    state: State<'_>,
) -> (usize, i32) {
    use std::arch::x86_64::*;
    let Setup { p, bias, exp, chunks } = setup;
    let State { v, refractory, spiked, epoch, deliver } = state;
    let (values, packed) = match bias {
        BiasForm::Values(values) => (values, &[][..]),
        BiasForm::Packed(packed) => (&[][..], packed),
    };
    let mut delivered = _mm512_setzero_si512();
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
    let (one8, delay8) = (_mm_set1_epi8(1), _mm_set1_epi8(p.ref_delay as u8 as i8));
    let mut spikes = 0;
    for c in 0..chunks {
        let i = c * 16;
        // SAFETY (all loads and stores): `i + 16 <= 16 × chunks`, within every slice (the caller checked).
        unsafe {
            // The step's input current, except for `ROW_SCALED`, whose products go into the sum below.
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
            } else if FROM == ROW_SCALED {
                _mm512_setzero_si512()
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
            let bias = if VALUES {
                _mm512_loadu_si512(values.as_ptr().add(i) as *const _)
            } else {
                let packed = _mm512_cvtepi16_epi32(_mm256_loadu_si256(packed.as_ptr().add(i) as *const __m256i));
                _mm512_sllv_epi32(_mm512_srai_epi32::<3>(packed), _mm512_and_si512(packed, seven))
            };
            // `decay(v) + u + bias`, with the decay's high part and a scaled row's products each one fused
            // multiply-add where the CPU has VNNI.
            let sum = _mm512_add_epi32(mulhi_epu16(shifted, keep_low), bias);
            let sum = if FROM == ROW_SCALED {
                // `fired` is `fired × 2^exp` here: the products are the shifted input, and never wrap.
                let mantissas = _mm512_cvtepi8_epi32(_mm_loadu_si128(row.as_ptr().add(i) as *const __m128i));
                madd_add::<VNNI>(sum, mantissas, fired)
            } else {
                _mm512_add_epi32(sum, current)
            };
            let next = _mm512_max_epi32(madd_add::<VNNI>(sum, shifted, keep_high), vmin);

            let counts = _mm_loadu_si128(refractory.as_ptr().add(i) as *const __m128i);
            // Not refractory after this step's count-down: the count was 0 or 1.
            let ready = _mm_cmple_epu8_mask(counts, one8);
            let next = _mm512_maskz_min_epi32(ready, next, vmax);
            // Every use below reads the spike mask itself: a second, inverted mask would cost an operation.
            let spike = _mm512_cmpgt_epi32_mask(next, vth);
            _mm512_storeu_si512(v.as_mut_ptr().add(i) as *mut _, zero_lanes(next, spike));
            spikes += spike.count_ones() as usize;

            let counts = _mm_mask_mov_epi8(_mm_subs_epu8(counts, one8), spike, delay8);
            _mm_storeu_si128(refractory.as_mut_ptr().add(i) as *mut __m128i, counts);
            *spiked.get_unchecked_mut(c) = spike;
            if DELIVER {
                let weights = _mm512_loadu_si512(deliver.as_ptr().add(i) as *const _);
                delivered = _mm512_mask_add_epi32(delivered, spike, delivered, weights);
            }
            if EPOCH {
                let epoch_at = epoch.as_mut_ptr().add(i) as *mut __m128i;
                let flags = _mm_maskz_mov_epi8(spike, one8);
                _mm_storeu_si128(epoch_at, _mm_or_si128(_mm_loadu_si128(epoch_at), flags));
            }
        }
    }
    (spikes, if DELIVER { _mm512_reduce_add_epi32(delivered) } else { 0 })
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

/// Defines `fn $name(acc, a, b)`: `acc` plus the products of `a`'s and `b`'s lanes that the AVX-512 VNNI
/// instruction `$insn` adds into each 32-bit lane (no saturation). Written as assembly so the compartment loop needs
/// no VNNI target feature of its own (it also runs without VNNI); callers check the CPU has it
/// ([`has_avx512_vnni`]).
macro_rules! vnni_accumulate {
    ($(#[$meta:meta])* $name:ident, $insn:literal) => {
        $(#[$meta])*
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        #[inline]
        fn $name(
            acc: std::arch::x86_64::__m512i,
            a: std::arch::x86_64::__m512i,
            b: std::arch::x86_64::__m512i,
        ) -> std::arch::x86_64::__m512i {
            let mut acc = acc;
            // SAFETY: a register-only AVX-512 VNNI instruction; callers checked the CPU has it.
            unsafe {
                std::arch::asm!(
                    concat!($insn, " {acc}, {a}, {b}"),
                    acc = inout(zmm_reg) acc,
                    a = in(zmm_reg) a,
                    b = in(zmm_reg) b,
                    options(pure, nomem, nostack, preserves_flags),
                );
            }
            acc
        }
    };
}

vnni_accumulate!(
    /// The four products of `a`'s unsigned bytes and `b`'s signed ones, per 32-bit lane (`vpdpbusd`).
    dpbusd,
    "vpdpbusd"
);
vnni_accumulate!(
    /// The two products of `a`'s and `b`'s signed 16-bit lanes, per 32-bit lane (`vpdpwssd`).
    dpwssd,
    "vpdpwssd"
);

/// `acc + madd(a, b)` (pairs of signed 16-bit products added into 32-bit lanes): with `VNNI` one `vpdpwssd`, else a
/// multiply-add and an add.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn madd_add<const VNNI: bool>(
    acc: std::arch::x86_64::__m512i,
    a: std::arch::x86_64::__m512i,
    b: std::arch::x86_64::__m512i,
) -> std::arch::x86_64::__m512i {
    if VNNI {
        dpwssd(acc, a, b)
    } else {
        std::arch::x86_64::_mm512_add_epi32(acc, std::arch::x86_64::_mm512_madd_epi16(a, b))
    }
}

/// `x` with the lanes set in `mask` zeroed (`vpxord` of `x` with itself under the mask), opaque to the compiler:
/// written with intrinsics it became a zeroing move under the inverted mask, one more operation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn zero_lanes(x: std::arch::x86_64::__m512i, mask: u16) -> std::arch::x86_64::__m512i {
    let mut x = x;
    // SAFETY: a register-only AVX-512 F instruction, which this function's target features enable.
    unsafe {
        std::arch::asm!(
            "vpxord {x} {{{k}}}, {x}, {x}",
            x = inout(zmm_reg) x,
            k = in(kreg) mask,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    x
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
