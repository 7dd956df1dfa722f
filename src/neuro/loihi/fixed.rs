//! Integer arithmetic of the core: decays, wrap-around, stochastic rounding.

/// Loihi's 12-bit decay: `sign(x) * ((|x| * (4096 - offset - d)) >> 12)`, exact in 32-bit lanes.
///
/// `|x| * m` can need 36 bits, so the product is split at bit 12: `(hi*4096 + lo)*m >> 12 = hi*m + (lo*m >> 12)`
/// exactly, and every partial product fits an `i32`, which lets the compiler vectorise the neuron loop.
#[inline(always)]
pub fn decay(x: i32, keep: i32) -> i32 {
    let a = x.unsigned_abs() as i32;
    let r = (a >> 12) * keep + (((a & 4095) * keep) >> 12);
    if x < 0 { -r } else { r }
}

/// [`decay`] for `x >= 0` (voltages above a non-negative floor): the same result without the sign handling.
#[inline(always)]
pub fn decay_nonneg(x: i32, keep: i32) -> i32 {
    (x >> 12) * keep + (((x & 4095) * keep) >> 12)
}

/// Keep factor for a stored decay `d` with the core's offset (1 for currents, 0 for voltages): `4096 - offset - d`.
#[inline]
pub fn keep(d: i32, offset: i32) -> i32 {
    4096 - offset - d
}

/// Two's-complement wrap to `bits` bits plus sign, as the core's fixed-width registers do.
#[inline(always)]
pub fn wrap(x: i32, bits: u32) -> i32 {
    let shift = 31 - bits;
    (x << shift) >> shift
}

/// Stored current decay for a synapse time constant: `round(4095*(1 - exp(-dt/tau)) - 1)`, with `tau <= 0`
/// meaning no filter (the current holds only this step's input).
pub fn decay_u(tau: f64, dt: f64) -> i32 {
    if tau <= 0.0 { 4095 } else { ((4095.0 * (1.0 - (-dt / tau).exp())).round() - 1.0).clamp(0.0, 4095.0) as i32 }
}

/// Stored voltage decay for a membrane time constant: `round(4095*(1 - exp(-dt/tau_rc)))`.
pub fn decay_v(tau_rc: f64, dt: f64) -> i32 {
    (4095.0 * (1.0 - (-dt / tau_rc).exp())).round() as i32
}

/// A fast seeded generator for stochastic rounding (xorshift64*): the core's pseudo-random source.
#[derive(Debug, Clone)]
pub struct RoundingRng {
    state: u64,
}

impl RoundingRng {
    /// Seeds the generator (a zero seed is remapped: xorshift must not start at zero).
    pub fn new(seed: u64) -> Self {
        RoundingRng { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1 }
    }

    /// 32 random bits.
    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    /// `x / 2^shift` rounded down or up with probability equal to the dropped fraction: unbiased.
    #[inline(always)]
    pub fn round_shift(&mut self, x: i64, shift: u32) -> i64 {
        if shift == 0 {
            return x;
        }
        let q = x >> shift;
        let rem = (x - (q << shift)) as u64;
        let threshold = if shift <= 32 { rem << (32 - shift) } else { rem >> (shift - 32) };
        q + ((self.next_u32() as u64) < threshold) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_matches_wide_reference() {
        for &x in &[0, 1, -1, 4095, 4096, -4097, 8_388_607, -8_388_607, 123_456, -7_654_321] {
            for d in [0, 200, 741, 4095] {
                let k = keep(d, 0);
                let want = (x as i64).signum() * (((x as i64).abs() * k as i64) >> 12);
                assert_eq!(decay(x, k) as i64, want, "x={x} d={d}");
                if x >= 0 {
                    assert_eq!(decay_nonneg(x, k), decay(x, k));
                }
            }
        }
    }

    #[test]
    fn decays_match_nengo_loihi_values() {
        assert_eq!(decay_v(0.02, 0.001), 200);
        assert_eq!(decay_u(0.005, 0.001), 741);
    }

    #[test]
    fn wrap_is_twos_complement() {
        assert_eq!(wrap((1 << 23) - 1, 23), (1 << 23) - 1);
        assert_eq!(wrap(1 << 23, 23), -(1 << 23));
        assert_eq!(wrap(-5, 23), -5);
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        let mut rng = RoundingRng::new(1);
        let n = 200_000;
        let sum: i64 = (0..n).map(|_| rng.round_shift(-5, 3)).sum();
        let mean = sum as f64 / n as f64;
        assert!((mean - (-5.0 / 8.0)).abs() < 0.005, "mean {mean}");
        let sum: i64 = (0..n).map(|_| rng.round_shift(3, 40)).sum();
        assert!(sum < 5, "tiny values round to 0 almost always: {sum}");
    }
}
