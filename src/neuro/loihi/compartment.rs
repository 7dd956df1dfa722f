//! One integer LIF compartment: the core's update rule, shared by the executor and the golden-trace test.

use super::compartment_avx512::{self, Leading, Registers};
use super::fixed::{decay, decay_nonneg, wrap};
use super::kernels::{self, simd_dispatch};

/// Bits of the per-step synaptic input accumulator (plus sign).
pub const INPUT_BITS: u32 = 21;
/// Bits of the current `u` (plus sign).
pub const CURRENT_BITS: u32 = 23;
/// Largest voltage the core stores: `2^23 - 1`.
pub const VMAX: i32 = (1 << 23) - 1;
/// Longest refractory period a block stores, steps (its counters are bytes: a quarter of the memory traffic of
/// 32-bit ones, and the neuron update is bound by memory traffic at large n).
pub const REF_DELAY_MAX: i32 = u8::MAX as i32;

/// A bias as the core's register holds it: a 13-bit signed mantissa and a 3-bit exponent in 16 bits,
/// `mantissa << 3 | exponent`; the bias is `mantissa × 2^exponent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct PackedBias(pub i16);

impl PackedBias {
    /// Packs `mantissa × 2^exponent` (`|mantissa| <= 4095`, `exponent <= 7`).
    pub fn new(mantissa: i32, exponent: u32) -> Self {
        assert!(mantissa.abs() <= 4095 && exponent <= 7, "bias {mantissa} × 2^{exponent} does not fit the register");
        PackedBias(((mantissa << 3) | exponent as i32) as i16)
    }

    /// The bias, in voltage units per step.
    #[inline(always)]
    pub fn value(self) -> i32 {
        (self.0 as i32 >> 3) << (self.0 & 7)
    }
}

/// A block's biases as stored: packed registers (two bytes each, for ensembles whose state streams from memory
/// every step) or their values (four bytes each, no decoding: the AVX-512 loop adds them as they are, which
/// spares it a fifth of its operations).
pub trait BiasRegister: Copy {
    /// The bias, in voltage units per step.
    fn value(self) -> i32;
    /// A slice of these, as one of the two forms.
    fn form(biases: &[Self]) -> BiasForm<'_>;
}

/// A slice of biases in one of their stored forms (see [`BiasRegister`]).
#[derive(Debug, Clone, Copy)]
pub enum BiasForm<'a> {
    /// Values.
    Values(&'a [i32]),
    /// Packed registers.
    Packed(&'a [PackedBias]),
}

impl BiasForm<'_> {
    /// How many biases.
    pub fn len(&self) -> usize {
        match self {
            BiasForm::Values(b) => b.len(),
            BiasForm::Packed(b) => b.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl BiasRegister for i32 {
    #[inline(always)]
    fn value(self) -> i32 {
        self
    }
    fn form(biases: &[Self]) -> BiasForm<'_> {
        BiasForm::Values(biases)
    }
}

impl BiasRegister for PackedBias {
    #[inline(always)]
    fn value(self) -> i32 {
        PackedBias::value(self)
    }
    fn form(biases: &[Self]) -> BiasForm<'_> {
        BiasForm::Packed(biases)
    }
}

/// Integer parameters shared by a block of compartments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompartmentParams {
    /// Current keep factor `4096 - 1 - decay_u`.
    pub keep_u: i32,
    /// Voltage keep factor `4096 - decay_v`.
    pub keep_v: i32,
    /// Spike threshold (17-bit mantissa × 2^6).
    pub vth: i32,
    /// Voltage floor.
    pub vmin: i32,
    /// Voltage ceiling.
    pub vmax: i32,
    /// Refractory steps set on a spike, `round(tau_ref/dt) + 1`; the spike step itself counts as one. At most
    /// [`REF_DELAY_MAX`]: blocks store the counter in a byte.
    pub ref_delay: i32,
}

/// Per-compartment state registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompartmentRegisters {
    /// Current.
    pub u: i32,
    /// Voltage.
    pub v: i32,
    /// Remaining refractory steps.
    pub refractory: i32,
}

/// One step: `u = decay(u) + input`; `v = decay(v) + u + bias`, clipped, held at 0 while refractory;
/// a spike when `v > vth` resets `v` to 0 and starts the refractory count. Returns whether it spiked.
#[inline(always)]
pub fn step(r: &mut CompartmentRegisters, p: &CompartmentParams, input: i32, bias: i32) -> bool {
    step_impl::<false, false, U_ANY>(r, p, input, bias)
}

/// [`step`] with the subtractive reset of [`step_block`]'s `soft_reset` (a Loihi 2-style option).
#[inline(always)]
pub fn step_soft(r: &mut CompartmentRegisters, p: &CompartmentParams, input: i32, bias: i32) -> bool {
    step_impl::<false, true, U_ANY>(r, p, input, bias)
}

/// [`step`], told at compile time whether voltages are known non-negative (`vmin >= 0`, as in every block
/// we build), which lets the voltage decay skip its sign handling.
#[inline(always)]
///
/// With `SOFT` (subtractive reset) a spike subtracts the threshold instead of zeroing `v`, and the remainder (at
/// most one threshold) is held through the refractory period: the part of the step's drive past the crossing is
/// kept, so the mean interval is no longer rounded up to whole steps and rates follow the continuous LIF curve.
fn step_impl<const V_NONNEG: bool, const SOFT: bool, const U: u8>(
    r: &mut CompartmentRegisters,
    p: &CompartmentParams,
    input: i32,
    bias: i32,
) -> bool {
    // `decay(u, 0)` is 0 and `decay(u, 4096)` is `u` (|u| < 2^23), exactly; the block loop is told which holds.
    let decayed_u = match U {
        U_NONE => 0,
        U_HOLD => r.u,
        _ => decay(r.u, p.keep_u),
    };
    let u = wrap(decayed_u.wrapping_add(wrap(input, INPUT_BITS)), CURRENT_BITS);
    let refractory = (r.refractory - 1).max(0);
    let decayed_v = if V_NONNEG { decay_nonneg(r.v, p.keep_v) } else { decay(r.v, p.keep_v) };
    // max/min rather than clamp: clamp's min <= max assertion would keep the loop from vectorising.
    let v = (decayed_v + u + bias).max(p.vmin).min(p.vmax);
    let v = if refractory > 0 { if SOFT { r.v } else { 0 } } else { v };
    // (With the hard reset a refractory v is 0, so the refractory test only matters for the soft one.)
    let spiked = v > p.vth && (!SOFT || refractory == 0);
    r.u = u;
    r.v = if spiked { if SOFT { (v - p.vth).min(p.vth) } else { 0 } } else { v };
    r.refractory = if spiked { p.ref_delay } else { refractory };
    spiked
}

/// How a block's current decays, known at compile time: by `keep_u` (any), not at all kept (`keep_u = 0`: no
/// input synapse, the current is this step's input) or wholly kept (`keep_u = 4096`: send-on-change input).
const U_ANY: u8 = 0;
const U_NONE: u8 = 1;
const U_HOLD: u8 = 2;

/// A compartment's synaptic input for one step as the executor sums it: weight mantissa products in 16 or 32
/// bits (16 when the step's spikes cannot overflow them: twice the lanes), shifted by the shared weight
/// exponent when consumed.
pub trait MantissaSum: Copy + Default + Into<i32> {
    /// The sums as 16-bit ones, if they are.
    fn narrow(sums: &mut [Self]) -> Option<&mut [i16]>;
}
impl MantissaSum for i16 {
    fn narrow(sums: &mut [Self]) -> Option<&mut [i16]> {
        Some(sums)
    }
}
impl MantissaSum for i32 {
    fn narrow(_: &mut [Self]) -> Option<&mut [i16]> {
        None
    }
}

/// Per-compartment state arrays of a block that shares one [`CompartmentParams`].
pub struct CompartmentBlock<'a, S> {
    /// Synaptic input of this step as mantissa sums (see [`MantissaSum`]); cleared as it is consumed.
    pub input: &'a mut [S],
    /// Currents (not written where the current is not kept, `keep_u = 0`: it is then only the step's input).
    pub u: &'a mut [i32],
    /// Voltages.
    pub v: &'a mut [i32],
    /// Refractory counters (at most [`REF_DELAY_MAX`]).
    pub refractory: &'a mut [u8],
    /// This step's spikes as bit masks (see [`SpikeMasks`]), one word per 16 compartments.
    pub spiked: &'a mut [u16],
    /// OR-ed with this step's spikes (the learning epoch's record).
    pub epoch_spiked: &'a mut [u8],
    /// Whether `epoch_spiked` must be kept. When the caller reads the epoch's spikes from the refractory counts
    /// instead (see [`EpochSpikes::Counts`](super::kernels::EpochSpikes)), the AVX-512 loop leaves it alone (a
    /// read and a write per neuron less); other loops write it anyway.
    pub record_epoch: bool,
    /// A one-dimensional readout's weights of these compartments, for the AVX-512 loop to deliver the spikes
    /// as it steps them (see [`BlockStep::delivered`]), or `None`.
    pub deliver: Option<&'a [i32]>,
}

/// Spike masks: bit `i % 16` of word `i / 16` is set where compartment `i` spiked this step. Sixteen to a word,
/// as one AVX-512 vector holds their voltages: the compartment loop stores a compare's mask as it is, and the
/// readout's delivery adds the weights under it, with no byte per compartment written and read back.
pub struct SpikeMasks;

impl SpikeMasks {
    /// Words that hold the spikes of `n` compartments.
    pub fn words(n: usize) -> usize {
        n.div_ceil(16)
    }

    /// Whether compartment `i` spiked.
    pub fn get(masks: &[u16], i: usize) -> bool {
        masks[i / 16] >> (i % 16) & 1 == 1
    }

    /// How many compartments spiked.
    pub fn count(masks: &[u16]) -> usize {
        masks.iter().map(|m| m.count_ones() as usize).sum()
    }

    /// The bits of word `word` that hold compartments `from..to` (`16 × word < to`).
    #[inline(always)]
    pub fn clip(word: usize, from: usize, to: usize) -> u16 {
        let lo = 16 * word;
        let (a, b) = (from.saturating_sub(lo).min(16), (to - lo).min(16));
        ((1u32 << b) - (1u32 << a)) as u16
    }
}

/// What stepping a block did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockStep {
    /// How many compartments spiked.
    pub spikes: usize,
    /// With [`CompartmentBlock::deliver`]: `(m, sum)`, the wrapping sum of the weights of the compartments among
    /// the block's first `m` that spiked (the AVX-512 loop sums them as it goes; the rest, if any, are the
    /// caller's to deliver). `(0, 0)` otherwise.
    pub delivered: (usize, i32),
}

/// Steps every compartment of a block once, with input `input << input_exp`, with the hard reset of Loihi 1
/// or, if `soft_reset`, the subtractive one (see [`step_soft`]). The loop is branch-free so it vectorises
/// (AVX-512 or AVX2 where the CPU has it). Panics if `p.ref_delay` exceeds [`REF_DELAY_MAX`].
pub fn step_block<S: MantissaSum, B: BiasRegister>(
    p: &CompartmentParams,
    bias: &[B],
    input_exp: u32,
    soft_reset: bool,
    mut block: CompartmentBlock<'_, S>,
) -> BlockStep {
    assert!((0..=REF_DELAY_MAX).contains(&p.ref_delay), "refractory delay {} does not fit a byte", p.ref_delay);
    // The default block's hand-vectorised loop takes what it can; the portable one steps the rest.
    let (input, regs, deliver) = block.split();
    let leading = match S::narrow(input) {
        Some(sums) => {
            let sums = compartment_avx512::Input::Sums(sums);
            compartment_avx512::step_leading(p, B::form(bias), sums, input_exp, soft_reset, regs, deliver)
        }
        None => Leading::default(),
    };
    step_rest(p, bias, input_exp, soft_reset, block, leading)
}

/// An input row of 8-bit mantissas, one per compartment, none larger in magnitude than `peak` (at most 128).
#[derive(Debug, Clone, Copy)]
pub struct ByteRow<'a> {
    /// The mantissas.
    pub mantissas: &'a [i8],
    /// The largest |mantissa| (a bound: the row is not checked against it).
    pub peak: u8,
}

/// [`step_block`] for a step whose only input is `fired` events on the axons that share one row of 8-bit
/// mantissas (one input dimension's), with `block.input` zeroed 16-bit sums for the compartments the AVX-512 loop
/// leaves: that loop reads the row itself, so the pass that would sum it first is skipped. `|fired| × 128` must
/// fit 16 bits.
pub fn step_block_row<B: BiasRegister>(
    p: &CompartmentParams,
    bias: &[B],
    input_exp: u32,
    soft_reset: bool,
    row: ByteRow<'_>,
    fired: i16,
    mut block: CompartmentBlock<'_, i16>,
) -> BlockStep {
    assert!((0..=REF_DELAY_MAX).contains(&p.ref_delay), "refractory delay {} does not fit a byte", p.ref_delay);
    assert!(fired.unsigned_abs() <= 255, "{fired} events of 8-bit mantissas may not fit 16 bits");
    assert!(row.peak <= 128, "an 8-bit mantissa is at most 128 in magnitude, not {}", row.peak);
    let (row, peak) = (row.mantissas, row.peak);
    let from_row = compartment_avx512::Input::Row { mantissas: row, fired: fired as i32, peak };
    let (_, regs, deliver) = block.split();
    let leading = compartment_avx512::step_leading(p, B::form(bias), from_row, input_exp, soft_reset, regs, deliver);
    let (done, n) = (leading.done, bias.len());
    kernels::accumulate(&mut block.input[done..n], &row[done..n], fired);
    step_rest(p, bias, input_exp, soft_reset, block, leading)
}

/// [`step_block`] for a step whose input is several 8-bit rows, given as their quads (see
/// [`compartment_avx512::Input::Quads`]), with `block.input` zeroed 16-bit sums: the AVX-512 loop reads the quads
/// itself where the CPU has VNNI, and `sum_rest(done, sums)` must add the input of the compartments from `done`
/// on into `sums` (all of them without VNNI). The input must fit 16 bits.
pub fn step_block_quads<B: BiasRegister>(
    p: &CompartmentParams,
    bias: &[B],
    input_exp: u32,
    soft_reset: bool,
    quads: compartment_avx512::Input<'_>,
    mut block: CompartmentBlock<'_, i16>,
    sum_rest: impl FnOnce(usize, &mut [i16]),
) -> BlockStep {
    assert!((0..=REF_DELAY_MAX).contains(&p.ref_delay), "refractory delay {} does not fit a byte", p.ref_delay);
    let (_, regs, deliver) = block.split();
    let leading = compartment_avx512::step_leading(p, B::form(bias), quads, input_exp, soft_reset, regs, deliver);
    let (done, n) = (leading.done, bias.len());
    sum_rest(done, &mut block.input[done..n]);
    step_rest(p, bias, input_exp, soft_reset, block, leading)
}

impl<S> CompartmentBlock<'_, S> {
    /// The input, the registers as the AVX-512 loop takes them, and the weights to deliver.
    fn split(&mut self) -> (&mut [S], Registers<'_>, Option<&[i32]>) {
        let epoch = self.record_epoch.then_some(&mut *self.epoch_spiked);
        let (u, v, refractory, spiked) = (&mut *self.u, &mut *self.v, &mut *self.refractory, &mut *self.spiked);
        (&mut *self.input, Registers { u, v, refractory, spiked, epoch }, self.deliver)
    }
}

/// Steps the compartments the AVX-512 loop left (`leading`: from `leading.done`, a multiple of 16) with the
/// portable loop, and adds up what both did.
fn step_rest<S: MantissaSum, B: BiasRegister>(
    p: &CompartmentParams,
    bias: &[B],
    input_exp: u32,
    soft_reset: bool,
    block: CompartmentBlock<'_, S>,
    leading: Leading,
) -> BlockStep {
    let done = leading.done;
    debug_assert!(done.is_multiple_of(16), "the AVX-512 loop steps whole words of spike masks");
    let CompartmentBlock { input, u, v, refractory, spiked, epoch_spiked, deliver, .. } = block;
    let (bias, input, u, v) = (&bias[done..], &mut input[done..], &mut u[done..], &mut v[done..]);
    let (refractory, spiked, epoch) = (&mut refractory[done..], &mut spiked[done / 16..], &mut epoch_spiked[done..]);
    let rest = step_block_simd(p, bias, input, input_exp, soft_reset, u, v, refractory, spiked, epoch);
    let delivered = if deliver.is_some() { (done, leading.delivered) } else { (0, 0) };
    BlockStep { spikes: leading.spikes + rest, delivered }
}

simd_dispatch! {
    fn step_block_simd<S: MantissaSum, B: BiasRegister>(
        p: &CompartmentParams,
        bias: &[B],
        input: &mut [S],
        exp: u32,
        soft: bool,
        u: &mut [i32],
        v: &mut [i32],
        refractory: &mut [u8],
        spiked: &mut [u16],
        epoch: &mut [u8],
    ) -> usize, portable step_block_portable {
        let p = *p;
        // One loop per case, each branch-free inside.
        // The two current decays every block we build has get loops without the decay's arithmetic.
        match (p.vmin >= 0, soft, p.keep_u) {
            (true, false, 0) => step_all::<S, B, true, false, U_NONE>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (true, true, 4096) => step_all::<S, B, true, true, U_HOLD>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (true, false, _) => step_all::<S, B, true, false, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (false, false, _) => step_all::<S, B, false, false, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (true, true, _) => step_all::<S, B, true, true, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (false, true, _) => step_all::<S, B, false, true, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_all<S: MantissaSum, B: BiasRegister, const V_NONNEG: bool, const SOFT: bool, const U: u8>(
    p: &CompartmentParams,
    bias: &[B],
    input: &mut [S],
    exp: u32,
    u: &mut [i32],
    v: &mut [i32],
    refractory: &mut [u8],
    spiked: &mut [u16],
    epoch: &mut [u8],
) -> usize {
    let n = bias.len();
    let (input, u, v, refractory) = (&mut input[..n], &mut u[..n], &mut v[..n], &mut refractory[..n]);
    let (spiked, epoch) = (&mut spiked[..SpikeMasks::words(n)], &mut epoch[..n]);
    let mut spikes = 0;
    for (word, mask) in spiked.iter_mut().enumerate() {
        let lo = 16 * word;
        let mut bits = 0u16;
        for i in lo..(lo + 16).min(n) {
            let mut regs = CompartmentRegisters { u: u[i], v: v[i], refractory: refractory[i] as i32 };
            let current = std::mem::take(&mut input[i]).into() << exp;
            let fired = step_impl::<V_NONNEG, SOFT, U>(&mut regs, p, current, bias[i].value());
            // A current that is not kept is no state: only this step's input, which nothing reads again.
            if U != U_NONE && p.keep_u != 0 {
                u[i] = regs.u;
            }
            v[i] = regs.v;
            // At most `ref_delay`, which `step_block` checked fits.
            refractory[i] = regs.refractory as u8;
            bits |= (fired as u16) << (i - lo);
            epoch[i] |= fired as u8;
        }
        *mask = bits;
        spikes += bits.count_ones() as usize;
    }
    spikes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::lif::LifParams;
    use crate::neuro::loihi::discretize::InputRows;
    use crate::neuro::loihi::fixed::{decay_u, decay_v, keep};

    /// Spikes in one second of a compartment driven by a constant J (threshold units), hard or soft reset.
    fn rate(j: f64, soft: bool) -> f64 {
        let dt = 0.001;
        let vth = 1 << 20;
        let p = CompartmentParams {
            keep_u: keep(decay_u(0.0, dt), 1),
            keep_v: keep(decay_v(0.02, dt), 0),
            vth,
            vmin: 0,
            vmax: VMAX,
            ref_delay: 3,
        };
        let bias = (j * decay_v(0.02, dt) as f64 / 4096.0 * vth as f64).round() as i32;
        let mut r = CompartmentRegisters::default();
        let step = if soft { step_soft } else { step };
        (0..1000).filter(|_| step(&mut r, &p, 0, bias)).count() as f64
    }

    #[test]
    fn the_soft_reset_follows_the_continuous_lif_rate_curve() {
        let lif = LifParams::default();
        let (mut soft_err, mut hard_err) = (0.0f64, 0.0f64);
        for j in [1.2, 1.5, 2.0, 3.0, 5.0, 8.0] {
            let want = lif.rate(j);
            let (soft, hard) = (rate(j, true), rate(j, false));
            // Within 4 % (the decay's 12-bit grid and the held remainder's leak), where whole-step intervals
            // are off by up to a fifth.
            assert!((soft - want).abs() <= 0.04 * want + 1.0, "J={j}: soft {soft} vs LIF {want:.1} (hard {hard})");
            soft_err = soft_err.max((soft - want).abs() / want);
            hard_err = hard_err.max((hard - want).abs() / want);
        }
        assert!(soft_err < hard_err / 2.0, "soft {soft_err:.3} vs hard {hard_err:.3}");
    }

    #[test]
    fn blocks_with_unkept_or_held_currents_equal_single_steps() {
        let n = 77;
        for (keep_u, soft) in [(0, false), (4096, true), (0, true), (4096, false), (4000, false)] {
            let p = CompartmentParams { keep_u, keep_v: 3900, vth: 1 << 20, vmin: 0, vmax: VMAX, ref_delay: 3 };
            let bias: Vec<PackedBias> = (0..n).map(|i| PackedBias::new(i as i32 * 53 - 1500, 7)).collect();
            let mut regs = vec![CompartmentRegisters::default(); n];
            let (mut u, mut v, mut refr) = (vec![0i32; n], vec![0i32; n], vec![0u8; n]);
            let (mut spiked, mut epoch) = (vec![0u16; SpikeMasks::words(n)], vec![0u8; n]);
            for t in 0..200 {
                let inputs: Vec<i32> = (0..n).map(|i| ((i * 31 + t * 17) % 201) as i32 - 100).collect();
                let mut input = inputs.clone();
                let block = CompartmentBlock {
                    input: &mut input,
                    u: &mut u,
                    v: &mut v,
                    refractory: &mut refr,
                    spiked: &mut spiked,
                    epoch_spiked: &mut epoch,
                    record_epoch: true,
                    deliver: None,
                };
                let spikes = step_block(&p, &bias, 9, soft, block).spikes;
                assert_eq!(spikes, SpikeMasks::count(&spiked), "the count is the masks'");
                for i in 0..n {
                    let one = if soft { step_soft } else { step };
                    let fired = one(&mut regs[i], &p, inputs[i] << 9, bias[i].value());
                    // An unkept current is not stored (the single step's register holds the step's input).
                    let got_u = if keep_u == 0 { regs[i].u } else { u[i] };
                    assert!(keep_u != 0 || u[i] == 0, "an unkept current is not written");
                    let got = CompartmentRegisters { u: got_u, v: v[i], refractory: refr[i] as i32 };
                    assert_eq!(
                        (got, SpikeMasks::get(&spiked, i)),
                        (regs[i], fired),
                        "keep_u {keep_u} soft {soft} step {t} i {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_avx512_block_equals_single_steps() {
        // The default block's kind (hard reset, keep_u = 0, 16-bit sums), with voltages near the ceiling,
        // refractory counts of every value, and inputs that wrap the 21-bit accumulator; biases packed and as
        // values, and the spikes delivered to a one-dimensional readout by the loop itself or not.
        let n: usize = 16 * 40 + 9;
        let p = CompartmentParams { keep_u: 0, keep_v: 3896, vth: 1 << 22, vmin: 0, vmax: VMAX, ref_delay: 4 };
        let packed: Vec<PackedBias> =
            (0..n).map(|i| PackedBias::new((i as i32 * 97) % 8191 - 4095, i as u32 % 8)).collect();
        let values: Vec<i32> = packed.iter().map(|b| b.value()).collect();
        let weights: Vec<i32> = (0..n).map(|i| (i as i32).wrapping_mul(0x2545_F491)).collect();
        for deliver in [None, Some(&weights[..])] {
            avx512_block_equals_single_steps(&packed, &p, deliver);
            avx512_block_equals_single_steps(&values, &p, deliver);
        }
    }

    fn avx512_block_equals_single_steps<B: BiasRegister>(bias: &[B], p: &CompartmentParams, deliver: Option<&[i32]>) {
        let n = bias.len();
        let mut regs: Vec<CompartmentRegisters> = (0..n)
            .map(|i| CompartmentRegisters { u: 0, v: (i as i32 * 104_729) % VMAX, refractory: i as i32 % 5 })
            .collect();
        let (mut u, mut v): (Vec<i32>, Vec<i32>) = (vec![0; n], regs.iter().map(|r| r.v).collect());
        let mut refr: Vec<u8> = regs.iter().map(|r| r.refractory as u8).collect();
        let (mut spiked, mut epoch) = (vec![0u16; SpikeMasks::words(n)], vec![0u8; n]);
        for t in 0..60 {
            let inputs: Vec<i16> = (0..n).map(|i| ((i * 7919 + t * 104_723) % 65_536) as u16 as i16).collect();
            let mut input = inputs.clone();
            let block = CompartmentBlock {
                input: &mut input,
                u: &mut u,
                v: &mut v,
                refractory: &mut refr,
                spiked: &mut spiked,
                epoch_spiked: &mut epoch,
                record_epoch: true,
                deliver,
            };
            let stepped = step_block(p, bias, 6, false, block);
            assert_eq!(stepped.spikes, SpikeMasks::count(&spiked), "the count is the masks'");
            assert!(input.iter().all(|&x| x == 0), "the input is consumed");
            let (m, sum) = stepped.delivered;
            if let Some(w) = deliver {
                let want = (0..m).filter(|&i| SpikeMasks::get(&spiked, i)).fold(0i32, |s, i| s.wrapping_add(w[i]));
                assert_eq!(sum, want, "step {t}: the delivered sum of the first {m}");
            } else {
                assert_eq!((m, sum), (0, 0));
            }
            for i in 0..n {
                let fired = step(&mut regs[i], p, (inputs[i] as i32) << 6, bias[i].value());
                assert_eq!(u[i], 0, "an unkept current is not written");
                let got = CompartmentRegisters { u: regs[i].u, v: v[i], refractory: refr[i] as i32 };
                assert_eq!((got, SpikeMasks::get(&spiked, i)), (regs[i], fired), "step {t} neuron {i}");
            }
        }
        assert!(epoch.contains(&1) && epoch.contains(&0), "some fired, some did not");
    }

    #[test]
    fn a_block_read_from_one_row_equals_one_summed_first() {
        // The default block's kind; one row of 8-bit mantissas times events of either sign, against the same
        // row summed into 16-bit sums first; a tail the AVX-512 loop leaves; epoch records kept or not. Rows with
        // -128 and with mantissas up to 127 at the exponent where 8 events of 127 just stay clear of the wrap and
        // 8 of 128 would not.
        let full: Vec<i8> = (0..16 * 40 + 9).map(|i| ((i * 7919) % 256) as u8 as i8).collect();
        let within: Vec<i8> = full.iter().map(|&m| m.max(-127)).collect();
        for (row, peak, exp) in [(&full, 128, 6), (&within, 127, 10), (&full, 128, 10)] {
            a_row_equals_its_sums(row, peak, exp);
        }
    }

    /// The registers of a block of `n` compartments at rest, for tests that step two blocks side by side.
    struct BlockRegisters {
        u: Vec<i32>,
        v: Vec<i32>,
        refractory: Vec<u8>,
        spiked: Vec<u16>,
        epoch: Vec<u8>,
        record_epoch: bool,
    }

    impl BlockRegisters {
        fn new(n: usize, record_epoch: bool) -> Self {
            let (u, v, refractory) = (vec![0; n], vec![0; n], vec![0; n]);
            BlockRegisters { u, v, refractory, spiked: vec![0; SpikeMasks::words(n)], epoch: vec![0; n], record_epoch }
        }

        /// These registers with `input`, delivering nothing.
        fn block<'a, S>(&'a mut self, input: &'a mut [S]) -> CompartmentBlock<'a, S> {
            let BlockRegisters { u, v, refractory, spiked, epoch, record_epoch } = self;
            CompartmentBlock {
                input,
                u,
                v,
                refractory,
                spiked,
                epoch_spiked: epoch,
                record_epoch: *record_epoch,
                deliver: None,
            }
        }

        /// Asserts that the two blocks' voltages, refractory counts and spikes (and epoch records, when kept) agree.
        fn assert_same(&self, other: &BlockRegisters, what: &str) {
            assert_eq!(
                (&self.v, &self.refractory, &self.spiked),
                (&other.v, &other.refractory, &other.spiked),
                "{what}"
            );
            if self.record_epoch {
                assert_eq!(self.epoch, other.epoch, "{what}");
            }
        }
    }

    fn a_row_equals_its_sums(row: &[i8], peak: u8, exp: u32) {
        let n = row.len();
        let p = CompartmentParams { keep_u: 0, keep_v: 3896, vth: 1 << 20, vmin: 0, vmax: VMAX, ref_delay: 3 };
        let bias: Vec<PackedBias> = (0..n).map(|i| PackedBias::new((i as i32 * 97) % 8191 - 4095, 5)).collect();
        for record_epoch in [true, false] {
            let (mut a, mut b) = (BlockRegisters::new(n, record_epoch), BlockRegisters::new(n, record_epoch));
            let mut spikes = 0;
            for t in 0..80 {
                let fired = [8i16, -8, 3, -1, 255, -255, 0][t % 7];
                let mut sums = vec![0i16; n];
                let row_input = ByteRow { mantissas: row, peak };
                let got = step_block_row(&p, &bias, exp, false, row_input, fired, a.block(&mut sums));
                assert!(sums.iter().all(|&x| x == 0), "the tail's sums are consumed");
                let mut summed = vec![0i16; n];
                kernels::accumulate(&mut summed, row, fired);
                let want = step_block(&p, &bias, exp, false, b.block(&mut summed));
                assert_eq!(got, want, "step {t} fired {fired} exp {exp}");
                a.assert_same(&b, &format!("step {t} fired {fired} exp {exp}"));
                spikes += got.spikes;
            }
            assert!(spikes > 0, "some fired (exp {exp}, peak {peak})");
        }
    }

    #[test]
    fn a_block_read_from_quads_of_rows_equals_one_summed_first() {
        // 3 to 21 8-bit rows (1 to 6 quads, some with missing dimensions), a block that starts inside the rows,
        // counts of either sign up to a byte's, against the same rows summed into 16-bit sums first; a tail the
        // AVX-512 loop leaves; epoch records kept or not.
        for d in [3, 7, 12, 16, 21] {
            quads_equal_summed_rows(d);
        }
    }

    fn quads_equal_summed_rows(d: usize) {
        let (n, lo) = (16 * 40 + 9, 48);
        let p = CompartmentParams { keep_u: 0, keep_v: 3896, vth: 1 << 16, vmin: 0, vmax: VMAX, ref_delay: 3 };
        let bias: Vec<PackedBias> = (lo..n).map(|i| PackedBias::new((i as i32 * 97) % 8191 - 4095, 5)).collect();
        let mantissas: Vec<i16> = (0..d * n).map(|i| ((i * 7919) % 256) as i16 - 128).collect();
        let rows = InputRows::new(mantissas.clone());
        let quads = rows.quads(n);
        assert_eq!(quads.len(), d.div_ceil(4) * n);
        let len = n - lo;
        for record_epoch in [true, false] {
            let (mut a, mut b) = (BlockRegisters::new(len, record_epoch), BlockRegisters::new(len, record_epoch));
            for t in 0..80 {
                // (dimension, count): the sum of |count| × 128 fits 16 bits.
                let spikes: Vec<(usize, i16)> = match t % 4 {
                    0 => (0..d).map(|j| (j, [8, -8, 3, -1, 5, -7, 2][j % 7])).collect(),
                    1 => vec![(0, 127), (d - 1, -127)],
                    2 => vec![(d - 1, -128), (d / 2, 127)],
                    _ => vec![(t % d, (t % 17) as i16 - 8), ((t + 1) % d, 1)],
                };
                let mut fired = vec![0u32; d.div_ceil(4)];
                let mut taken = 0;
                for &(dim, f) in &spikes {
                    fired[dim / 4] |= (f as i8 as u8 as u32) << (8 * (dim % 4));
                    taken -= 128 * f as i32;
                }
                let row = |dim: usize| &mantissas[dim * n + lo..dim * n + n];
                let mut sums = vec![0i16; len];
                let input = compartment_avx512::Input::Quads { words: &quads[lo..], stride: n, fired: &fired, taken };
                let got = step_block_quads(&p, &bias, 6, false, input, a.block(&mut sums), |done, rest| {
                    for &(dim, f) in &spikes {
                        kernels::accumulate(rest, &row(dim)[done..], f);
                    }
                });
                assert!(sums.iter().all(|&x| x == 0), "the tail's sums are consumed");
                let mut summed = vec![0i16; len];
                for &(dim, f) in &spikes {
                    for (s, &m) in summed.iter_mut().zip(row(dim)) {
                        *s = s.wrapping_add(f.wrapping_mul(m));
                    }
                }
                let want = step_block(&p, &bias, 6, false, b.block(&mut summed));
                assert_eq!(got, want, "{d}-D step {t} spikes {spikes:?}");
                a.assert_same(&b, &format!("{d}-D step {t} spikes {spikes:?}"));
            }
            assert!(a.spiked.iter().any(|&m| m != 0), "some fired");
        }
    }

    #[test]
    fn below_threshold_neither_reset_fires() {
        assert_eq!(rate(0.9, true), 0.0);
        assert_eq!(rate(0.9, false), 0.0);
    }
}
