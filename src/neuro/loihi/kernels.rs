//! The core's inner loops over compartments, written branch-free over plain slices so they vectorise, and
//! compiled a second time for AVX2, picked at run time. Results are bit-identical either way (integer and
//! IEEE f32 arithmetic only).

/// Defines `fn $name(args)` that runs `$body(args)` compiled for AVX2 when the CPU has it, and the portable
/// build otherwise. `$body` must be `#[inline(always)]` so that it is compiled inside each entry point; its slice
/// arguments stay separate parameters, which keeps the `noalias` facts the vectoriser needs.
macro_rules! avx2_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 support was checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use avx2_dispatch;

/// Eight independent xorshift32 generators stepped together: random bits for stochastic rounding, eight
/// lanes at a time.
#[derive(Debug, Clone)]
pub struct LaneRng {
    state: [u32; 8],
}

impl LaneRng {
    /// Lanes seeded from `seed` (never zero: xorshift must not start there).
    pub fn new(seed: u64) -> Self {
        let mut s = seed ^ 0xD1B5_4A32_D192_ED03;
        let mut state = [0u32; 8];
        for lane in state.iter_mut() {
            // splitmix64 spreads one seed over the lanes.
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *lane = ((z ^ (z >> 31)) as u32) | 1;
        }
        LaneRng { state }
    }

    /// 32 random bits per lane.
    #[inline(always)]
    pub fn next(&mut self) -> [u32; 8] {
        for x in self.state.iter_mut() {
            *x ^= *x << 13;
            *x ^= *x >> 17;
            *x ^= *x << 5;
        }
        self.state
    }
}

avx2_dispatch! {
    /// Adds `fired × row` (weight mantissas) into a 16-bit accumulator per compartment: `fired` events on the
    /// axons of a group that share `row`. The caller guarantees the sum fits 16 bits.
    pub fn accumulate_mantissas(acc: &mut [i16], row: &[i16], fired: i16) => accumulate_mantissas_body
}

#[inline(always)]
fn accumulate_mantissas_body(acc: &mut [i16], row: &[i16], fired: i16) {
    for (a, &m) in acc.iter_mut().zip(row) {
        *a = a.wrapping_add(fired.wrapping_mul(m));
    }
}

avx2_dispatch! {
    /// Moves the 16-bit mantissa sums into the compartments' synaptic input, scaled by the shared weight
    /// exponent, and clears them: `input += acc << exp`.
    pub fn flush_mantissas(input: &mut [i32], acc: &mut [i16], exp: u32) => flush_mantissas_body
}

#[inline(always)]
fn flush_mantissas_body(input: &mut [i32], acc: &mut [i16], exp: u32) {
    for (i, a) in input.iter_mut().zip(acc.iter_mut()) {
        *i = i.wrapping_add((*a as i32) << exp);
        *a = 0;
    }
}

avx2_dispatch! {
    /// Adds `fired × row << exp` into the synaptic input directly (for sums that could overflow 16 bits).
    pub fn accumulate_row(input: &mut [i32], row: &[i16], fired: i32, exp: u32) => accumulate_row_body
}

#[inline(always)]
fn accumulate_row_body(input: &mut [i32], row: &[i16], fired: i32, exp: u32) {
    for (acc, &m) in input.iter_mut().zip(row) {
        *acc = acc.wrapping_add(fired.wrapping_mul(m as i32) << exp);
    }
}

avx2_dispatch! {
    /// Training epoch for all traces: `t = sr(t × decay + increment × spiked)` (Q16 decay), capped at `tmax`;
    /// clears the spike record. Returns how many traces were non-zero or spiked (the updates a core does).
    pub fn update_traces(
        traces: &mut [i32],
        spiked: &mut [u8],
        decay_q16: i32,
        increment: i32,
        tmax: i32,
        rng: &mut LaneRng,
    ) -> u32 => update_traces_body
}

#[inline(always)]
fn update_traces_body(traces: &mut [i32], spiked: &mut [u8], decay_q16: i32, increment: i32, tmax: i32, rng: &mut LaneRng) -> u32 {
    let n = traces.len().min(spiked.len());
    let (traces, spiked) = (&mut traces[..n], &mut spiked[..n]);
    let mut updates = 0u32;
    let mut lane = |t: &mut i32, s: &mut u8, r: u32| {
        let x = *t * decay_q16 + ((*s as i32 * increment) << 16);
        updates += ((*t | *s as i32) != 0) as u32;
        *t = ((x >> 16) + ((r & 0xffff) < (x & 0xffff) as u32) as i32).min(tmax);
        *s = 0;
    };
    let mut tc = traces.chunks_exact_mut(8);
    let mut sc = spiked.chunks_exact_mut(8);
    for (t8, s8) in (&mut tc).zip(&mut sc) {
        let r = rng.next();
        for j in 0..8 {
            lane(&mut t8[j], &mut s8[j], r[j]);
        }
    }
    let r = rng.next();
    for (j, (t, s)) in tc.into_remainder().iter_mut().zip(sc.into_remainder()).enumerate() {
        lane(t, s, r[j]);
    }
    updates
}

avx2_dispatch! {
    /// Learning epoch for one output dimension: `w += sr(trace × factor)`; returns the largest |w| after.
    /// The product is formed in f32 (exact for the 7-bit traces times a 24-bit factor) and rounded
    /// stochastically with 24 random bits; steps are capped at ±2^24 so the mantissa register cannot wrap
    /// before the automatic scaling sees the peak.
    pub fn update_weights(weights: &mut [i32], traces: &[i32], factor: f32, rng: &mut LaneRng) -> i32 => update_weights_body
}

#[inline(always)]
fn update_weights_body(weights: &mut [i32], traces: &[i32], factor: f32, rng: &mut LaneRng) -> i32 {
    let n = weights.len().min(traces.len());
    let (weights, traces) = (&mut weights[..n], &traces[..n]);
    const CAP: f32 = (1 << 24) as f32;
    let mut peak = 0i32;
    let mut lane = |w: &mut i32, t: i32, r: u32| {
        let x = (t as f32 * factor).clamp(-CAP, CAP);
        let floor = x.floor();
        let u = (r >> 8) as f32 * (1.0 / CAP);
        *w += floor as i32 + (u < x - floor) as i32;
        peak = peak.max(w.abs());
    };
    let mut wc = weights.chunks_exact_mut(8);
    let mut tc = traces.chunks_exact(8);
    for (w8, t8) in (&mut wc).zip(&mut tc) {
        let r = rng.next();
        for j in 0..8 {
            lane(&mut w8[j], t8[j], r[j]);
        }
    }
    let r = rng.next();
    for (j, (w, &t)) in wc.into_remainder().iter_mut().zip(tc.remainder()).enumerate() {
        lane(w, t, r[j]);
    }
    peak
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_and_weight_rounding_are_unbiased() {
        let mut rng = LaneRng::new(3);
        let n = 4096;
        let mut w = vec![0i32; n];
        let t = vec![3i32; n];
        for _ in 0..50 {
            update_weights(&mut w, &t, 0.01, &mut rng);
        }
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        assert!((mean - 1.5).abs() < 0.05, "mean weight {mean}, want 3 × 0.01 × 50 = 1.5");
        let mut traces = vec![100i32; n];
        let mut spiked = vec![0u8; n];
        update_traces(&mut traces, &mut spiked, 32768, 10, 127, &mut rng);
        let mean = traces.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        assert!((mean - 50.0).abs() < 0.1, "mean trace {mean}");
    }

    #[test]
    fn sixteen_bit_mantissa_sums_equal_direct_accumulation() {
        let rows: Vec<Vec<i16>> = (0..12).map(|j| (0..999).map(|i| ((i * 37 + j * 11) % 255) as i16 - 127).collect()).collect();
        let fired = [8i16, 3, 0, 7, 1, 8, 8, 2, 5, 6, 4, 8];
        let (mut direct, mut via16) = (vec![17i32; 999], vec![17i32; 999]);
        let mut sums = vec![0i16; 999];
        for (row, &f) in rows.iter().zip(&fired) {
            accumulate_row(&mut direct, row, f as i32, 9);
            accumulate_mantissas(&mut sums, row, f);
        }
        flush_mantissas(&mut via16, &mut sums, 9);
        assert_eq!(direct, via16);
        assert!(sums.iter().all(|&s| s == 0));
    }

    #[test]
    fn simd_and_portable_paths_agree() {
        let traces: Vec<i32> = (0..1003).map(|i| (i * 7 % 128) as i32).collect();
        let mut a = vec![5i32; 1003];
        let mut b = a.clone();
        let (mut ra, mut rb) = (LaneRng::new(9), LaneRng::new(9));
        let pa = update_weights(&mut a, &traces, -0.37, &mut ra);
        let pb = update_weights_body(&mut b, &traces, -0.37, &mut rb);
        assert_eq!((a, pa), (b, pb));
    }
}
