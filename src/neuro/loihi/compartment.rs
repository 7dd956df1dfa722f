//! One integer LIF compartment: the core's update rule, shared by the executor and the golden-trace test.

use super::compartment_avx512;
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
    /// Set to 1 where a compartment spiked this step, else 0.
    pub spiked: &'a mut [u8],
    /// OR-ed with this step's spikes (the learning epoch's record).
    pub epoch_spiked: &'a mut [u8],
    /// Whether `epoch_spiked` must be kept. When the caller reads the epoch's spikes from the refractory counts
    /// instead (see [`EpochSpikes::Counts`](super::kernels::EpochSpikes)), the AVX-512 loop leaves it alone (a
    /// read and a write per neuron less); other loops write it anyway.
    pub record_epoch: bool,
}

/// Steps every compartment of a block once, with input `input << input_exp`, with the hard reset of Loihi 1
/// or, if `soft_reset`, the subtractive one (see [`step_soft`]). The loop is branch-free so it vectorises
/// (AVX-512 or AVX2 where the CPU has it). Returns how many compartments spiked. Panics if `p.ref_delay` exceeds
/// [`REF_DELAY_MAX`].
pub fn step_block<S: MantissaSum>(
    p: &CompartmentParams,
    bias: &[PackedBias],
    input_exp: u32,
    soft_reset: bool,
    block: CompartmentBlock<'_, S>,
) -> usize {
    assert!((0..=REF_DELAY_MAX).contains(&p.ref_delay), "refractory delay {} does not fit a byte", p.ref_delay);
    let CompartmentBlock { input, u, v, refractory, spiked, epoch_spiked, record_epoch } = block;
    // The default block's hand-vectorised loop takes what it can; the portable one steps the rest.
    let (done, spikes) = S::narrow(input).map_or((0, 0), |narrow| {
        let epoch = record_epoch.then_some(&mut *epoch_spiked);
        let sums = compartment_avx512::Input::Sums(narrow);
        compartment_avx512::step_leading(p, bias, sums, input_exp, soft_reset, u, v, refractory, spiked, epoch)
    });
    let (bias, input, u, v) = (&bias[done..], &mut input[done..], &mut u[done..], &mut v[done..]);
    let (refractory, spiked, epoch_spiked) = (&mut refractory[done..], &mut spiked[done..], &mut epoch_spiked[done..]);
    step_block_simd(p, bias, input, input_exp, soft_reset, u, v, refractory, &mut *spiked, epoch_spiked);
    spikes + kernels::count_flags(&spiked[..bias.len()])
}

/// [`step_block`] for a step whose only input is `fired` events on the axons that share one row of 8-bit
/// mantissas (one input dimension's), with `block.input` zeroed 16-bit sums for the compartments the AVX-512 loop
/// leaves: that loop reads the row itself, so the pass that would sum it first is skipped. `|fired| × 128` must
/// fit 16 bits. Returns how many compartments spiked.
pub fn step_block_row(
    p: &CompartmentParams,
    bias: &[PackedBias],
    input_exp: u32,
    soft_reset: bool,
    row: &[i8],
    fired: i16,
    block: CompartmentBlock<'_, i16>,
) -> usize {
    assert!((0..=REF_DELAY_MAX).contains(&p.ref_delay), "refractory delay {} does not fit a byte", p.ref_delay);
    assert!(fired.unsigned_abs() <= 255, "{fired} events of 8-bit mantissas may not fit 16 bits");
    let CompartmentBlock { input, u, v, refractory, spiked, epoch_spiked, record_epoch } = block;
    let epoch = record_epoch.then_some(&mut *epoch_spiked);
    let from_row = compartment_avx512::Input::Row { mantissas: row, fired: fired as i32 };
    let (done, spikes) =
        compartment_avx512::step_leading(p, bias, from_row, input_exp, soft_reset, u, v, refractory, spiked, epoch);
    let n = bias.len();
    kernels::accumulate(&mut input[done..n], &row[done..n], fired);
    let (bias, input, u, v) = (&bias[done..], &mut input[done..], &mut u[done..], &mut v[done..]);
    let (refractory, spiked, epoch_spiked) = (&mut refractory[done..], &mut spiked[done..], &mut epoch_spiked[done..]);
    step_block_simd(p, bias, input, input_exp, soft_reset, u, v, refractory, &mut *spiked, epoch_spiked);
    spikes + kernels::count_flags(&spiked[..bias.len()])
}

/// [`step_block`] for a step whose input is several 8-bit rows, given as their quads (see
/// [`compartment_avx512::Input::Quads`]), with `block.input` zeroed 16-bit sums: the AVX-512 loop reads the quads
/// itself where the CPU has VNNI, and `sum_rest(done, sums)` must add the input of the compartments from `done`
/// on into `sums` (all of them without VNNI). The input must fit 16 bits. Returns how many compartments spiked.
pub fn step_block_quads(
    p: &CompartmentParams,
    bias: &[PackedBias],
    input_exp: u32,
    soft_reset: bool,
    quads: compartment_avx512::Input<'_>,
    block: CompartmentBlock<'_, i16>,
    sum_rest: impl FnOnce(usize, &mut [i16]),
) -> usize {
    assert!((0..=REF_DELAY_MAX).contains(&p.ref_delay), "refractory delay {} does not fit a byte", p.ref_delay);
    let CompartmentBlock { input, u, v, refractory, spiked, epoch_spiked, record_epoch } = block;
    let epoch = record_epoch.then_some(&mut *epoch_spiked);
    let (done, spikes) =
        compartment_avx512::step_leading(p, bias, quads, input_exp, soft_reset, u, v, refractory, spiked, epoch);
    let n = bias.len();
    sum_rest(done, &mut input[done..n]);
    let (bias, input, u, v) = (&bias[done..], &mut input[done..], &mut u[done..], &mut v[done..]);
    let (refractory, spiked, epoch_spiked) = (&mut refractory[done..], &mut spiked[done..], &mut epoch_spiked[done..]);
    step_block_simd(p, bias, input, input_exp, soft_reset, u, v, refractory, &mut *spiked, epoch_spiked);
    spikes + kernels::count_flags(&spiked[..bias.len()])
}

simd_dispatch! {
    fn step_block_simd<S: MantissaSum>(
        p: &CompartmentParams,
        bias: &[PackedBias],
        input: &mut [S],
        exp: u32,
        soft: bool,
        u: &mut [i32],
        v: &mut [i32],
        refractory: &mut [u8],
        spiked: &mut [u8],
        epoch: &mut [u8],
    ), portable step_block_portable {
        let p = *p;
        // One loop per case, each branch-free inside.
        // The two current decays every block we build has get loops without the decay's arithmetic.
        match (p.vmin >= 0, soft, p.keep_u) {
            (true, false, 0) => step_all::<S, true, false, U_NONE>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (true, true, 4096) => step_all::<S, true, true, U_HOLD>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (true, false, _) => step_all::<S, true, false, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (false, false, _) => step_all::<S, false, false, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (true, true, _) => step_all::<S, true, true, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
            (false, true, _) => step_all::<S, false, true, U_ANY>(&p, bias, input, exp, u, v, refractory, spiked, epoch),
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_all<S: MantissaSum, const V_NONNEG: bool, const SOFT: bool, const U: u8>(
    p: &CompartmentParams,
    bias: &[PackedBias],
    input: &mut [S],
    exp: u32,
    u: &mut [i32],
    v: &mut [i32],
    refractory: &mut [u8],
    spiked: &mut [u8],
    epoch: &mut [u8],
) {
    let n = bias.len();
    let (input, u, v, refractory) = (&mut input[..n], &mut u[..n], &mut v[..n], &mut refractory[..n]);
    let (spiked, epoch) = (&mut spiked[..n], &mut epoch[..n]);
    for i in 0..n {
        let mut regs = CompartmentRegisters { u: u[i], v: v[i], refractory: refractory[i] as i32 };
        let current = std::mem::take(&mut input[i]).into() << exp;
        let fired = step_impl::<V_NONNEG, SOFT, U>(&mut regs, p, current, bias[i].value()) as u8;
        // A current that is not kept is no state: only this step's input, which nothing reads again.
        if U != U_NONE && p.keep_u != 0 {
            u[i] = regs.u;
        }
        v[i] = regs.v;
        // At most `ref_delay`, which `step_block` checked fits.
        refractory[i] = regs.refractory as u8;
        spiked[i] = fired;
        epoch[i] |= fired;
    }
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
            let (mut spiked, mut epoch) = (vec![0u8; n], vec![0u8; n]);
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
                };
                let spikes = step_block(&p, &bias, 9, soft, block);
                assert_eq!(spikes, spiked.iter().filter(|&&f| f == 1).count(), "the count is the flags'");
                for i in 0..n {
                    let one = if soft { step_soft } else { step };
                    let fired = one(&mut regs[i], &p, inputs[i] << 9, bias[i].value());
                    // An unkept current is not stored (the single step's register holds the step's input).
                    let got_u = if keep_u == 0 { regs[i].u } else { u[i] };
                    assert!(keep_u != 0 || u[i] == 0, "an unkept current is not written");
                    let got = CompartmentRegisters { u: got_u, v: v[i], refractory: refr[i] as i32 };
                    assert_eq!((got, spiked[i] == 1), (regs[i], fired), "keep_u {keep_u} soft {soft} step {t} i {i}");
                }
            }
        }
    }

    #[test]
    fn the_avx512_block_equals_single_steps() {
        // The default block's kind (hard reset, keep_u = 0, 16-bit sums), with voltages near the ceiling,
        // refractory counts of every value, and inputs that wrap the 21-bit accumulator.
        let n = 16 * 40 + 9;
        let p = CompartmentParams { keep_u: 0, keep_v: 3896, vth: 1 << 22, vmin: 0, vmax: VMAX, ref_delay: 4 };
        let bias: Vec<PackedBias> =
            (0..n).map(|i| PackedBias::new((i as i32 * 97) % 8191 - 4095, i as u32 % 8)).collect();
        let mut regs: Vec<CompartmentRegisters> = (0..n)
            .map(|i| CompartmentRegisters { u: 0, v: (i as i32 * 104_729) % VMAX, refractory: i as i32 % 5 })
            .collect();
        let (mut u, mut v): (Vec<i32>, Vec<i32>) = (vec![0; n], regs.iter().map(|r| r.v).collect());
        let mut refr: Vec<u8> = regs.iter().map(|r| r.refractory as u8).collect();
        let (mut spiked, mut epoch) = (vec![0u8; n], vec![0u8; n]);
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
            };
            let spikes = step_block(&p, &bias, 6, false, block);
            assert_eq!(spikes, spiked.iter().filter(|&&f| f == 1).count(), "the count is the flags'");
            assert!(input.iter().all(|&x| x == 0), "the input is consumed");
            for i in 0..n {
                let fired = step(&mut regs[i], &p, (inputs[i] as i32) << 6, bias[i].value());
                assert_eq!(u[i], 0, "an unkept current is not written");
                let got = CompartmentRegisters { u: regs[i].u, v: v[i], refractory: refr[i] as i32 };
                assert_eq!((got, spiked[i] == 1), (regs[i], fired), "step {t} neuron {i}");
            }
        }
        assert!(epoch.contains(&1) && epoch.contains(&0), "some fired, some did not");
    }

    #[test]
    fn a_block_read_from_one_row_equals_one_summed_first() {
        // The default block's kind; one row of 8-bit mantissas times events of either sign, against the same
        // row summed into 16-bit sums first; a tail the AVX-512 loop leaves; epoch records kept or not.
        let n = 16 * 40 + 9;
        let p = CompartmentParams { keep_u: 0, keep_v: 3896, vth: 1 << 20, vmin: 0, vmax: VMAX, ref_delay: 3 };
        let bias: Vec<PackedBias> = (0..n).map(|i| PackedBias::new((i as i32 * 97) % 8191 - 4095, 5)).collect();
        let row: Vec<i8> = (0..n).map(|i| ((i * 7919) % 256) as u8 as i8).collect();
        for record_epoch in [true, false] {
            let (mut va, mut vb) = (vec![0i32; n], vec![0i32; n]);
            let (mut ra, mut rb) = (vec![0u8; n], vec![0u8; n]);
            let (mut ea, mut eb) = (vec![0u8; n], vec![0u8; n]);
            let (mut sa, mut sb) = (vec![0u8; n], vec![0u8; n]);
            let (mut ua, mut ub) = (vec![0i32; n], vec![0i32; n]);
            for t in 0..80 {
                let fired = [8i16, -8, 3, -1, 255, -255, 0][t % 7];
                let mut sums = vec![0i16; n];
                let (u, v, refractory, spiked, epoch_spiked) = (&mut ua, &mut va, &mut ra, &mut sa, &mut ea);
                let block = CompartmentBlock { input: &mut sums, u, v, refractory, spiked, epoch_spiked, record_epoch };
                let got = step_block_row(&p, &bias, 6, false, &row, fired, block);
                assert!(sums.iter().all(|&x| x == 0), "the tail's sums are consumed");
                let mut summed = vec![0i16; n];
                kernels::accumulate(&mut summed, &row, fired);
                let (u, v, refractory, spiked, epoch_spiked) = (&mut ub, &mut vb, &mut rb, &mut sb, &mut eb);
                let block =
                    CompartmentBlock { input: &mut summed, u, v, refractory, spiked, epoch_spiked, record_epoch };
                let want = step_block(&p, &bias, 6, false, block);
                assert_eq!((got, &va, &ra, &sa), (want, &vb, &rb, &sb), "step {t} fired {fired}");
                if record_epoch {
                    assert_eq!(ea, eb, "step {t}");
                }
            }
            assert!(sa.contains(&1), "some fired");
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
            let (mut va, mut vb) = (vec![0i32; len], vec![0i32; len]);
            let (mut ra, mut rb) = (vec![0u8; len], vec![0u8; len]);
            let (mut ea, mut eb) = (vec![0u8; len], vec![0u8; len]);
            let (mut sa, mut sb) = (vec![0u8; len], vec![0u8; len]);
            let (mut ua, mut ub) = (vec![0i32; len], vec![0i32; len]);
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
                let (u, v, refractory, spiked, epoch_spiked) = (&mut ua, &mut va, &mut ra, &mut sa, &mut ea);
                let block = CompartmentBlock { input: &mut sums, u, v, refractory, spiked, epoch_spiked, record_epoch };
                let input = compartment_avx512::Input::Quads { words: &quads[lo..], stride: n, fired: &fired, taken };
                let got = step_block_quads(&p, &bias, 6, false, input, block, |done, rest| {
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
                let (u, v, refractory, spiked, epoch_spiked) = (&mut ub, &mut vb, &mut rb, &mut sb, &mut eb);
                let block =
                    CompartmentBlock { input: &mut summed, u, v, refractory, spiked, epoch_spiked, record_epoch };
                let want = step_block(&p, &bias, 6, false, block);
                assert_eq!((got, &va, &ra, &sa), (want, &vb, &rb, &sb), "{d}-D step {t} spikes {spikes:?}");
                if record_epoch {
                    assert_eq!(ea, eb, "step {t}");
                }
            }
            assert!(sa.contains(&1), "some fired");
        }
    }

    #[test]
    fn below_threshold_neither_reset_fires() {
        assert_eq!(rate(0.9, true), 0.0);
        assert_eq!(rate(0.9, false), 0.0);
    }
}
