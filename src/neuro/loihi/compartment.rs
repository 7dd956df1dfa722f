//! One integer LIF compartment: the core's update rule, shared by the executor and the golden-trace test.

use super::fixed::{decay, wrap};

/// Bits of the per-step synaptic input accumulator (plus sign).
pub const INPUT_BITS: u32 = 21;
/// Bits of the current `u` (plus sign).
pub const CURRENT_BITS: u32 = 23;
/// Largest voltage the core stores: `2^23 - 1`.
pub const VMAX: i32 = (1 << 23) - 1;

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
    /// Refractory steps set on a spike, `round(tau_ref/dt) + 1`; the spike step itself counts as one.
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
    let u = wrap(decay(r.u, p.keep_u).wrapping_add(wrap(input, INPUT_BITS)), CURRENT_BITS);
    let refractory = (r.refractory - 1).max(0);
    let mut v = (decay(r.v, p.keep_v) + u + bias).clamp(p.vmin, p.vmax);
    if refractory > 0 {
        v = 0;
    }
    let spiked = v > p.vth;
    r.u = u;
    r.v = if spiked { 0 } else { v };
    r.refractory = if spiked { p.ref_delay } else { refractory };
    spiked
}
