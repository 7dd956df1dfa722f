//! Random bits for the learning epochs' stochastic rounding: every tile of the ensemble has generators of its
//! own for each learning sweep (the traces', each output dimension's weights').
//!
//! A tile's sweep draws only from state the tile owns, so tiles can run in any order and on any thread with
//! the same bits, and the kernels step the generators in registers as they go: no block of numbers is drawn
//! ahead into memory and read back, and no generator is jumped to where a tile starts.

/// Generators one vector steps at once: 16 xorshift32 lanes, one 512-bit register.
pub const LANES: usize = 16;

/// 32 xorshift32 generators for one learning sweep over one tile, as two vectors of [`LANES`].
///
/// A sweep's draws alternate between the two vectors, starting with the first: draw `c` steps vector `c mod 2`
/// and hands over its 16 new states. Two vectors, because one generator's step is six dependent operations:
/// stepping one vector per draw would leave the kernels waiting on that chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct TileRng {
    vectors: [[u32; LANES]; 2],
}

impl TileRng {
    /// Generators for stream `stream` of seed `seed` (never zero: xorshift must not start there). Distinct
    /// streams of one seed start from unrelated states.
    pub fn new(seed: u64, stream: u64) -> Self {
        // splitmix64 spreads the seed and the stream over the lanes.
        let mut s = seed ^ 0xD1B5_4A32_D192_ED03 ^ stream.wrapping_mul(0xA24B_AED4_963E_E407);
        let mut next = || {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) as u32) | 1
        };
        TileRng { vectors: std::array::from_fn(|_| std::array::from_fn(|_| next())) }
    }

    /// The draws of one sweep, from the first.
    #[inline(always)]
    pub fn sweep(&mut self) -> Draws<'_> {
        let [turn, other] = self.vectors;
        Draws { turn, other, swapped: false, rng: self }
    }

    /// Calls `f(c, bits)` for the sweep's draws `c = 0..2 × pairs`, each draw's 16 numbers as a 512-bit vector,
    /// the generators kept in registers: the AVX-512 kernels' [`sweep`](Self::sweep), inlined into them.
    ///
    /// # Safety
    /// The CPU has AVX-512 F.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) unsafe fn draw_pairs_avx512(
        &mut self,
        pairs: usize,
        mut f: impl FnMut(usize, std::arch::x86_64::__m512i),
    ) {
        use std::arch::x86_64::*;
        let [even_at, odd_at] = &mut self.vectors;
        // SAFETY: each vector is 16 u32, one unaligned 512-bit load and, below, store; the CPU has AVX-512 F (the
        // caller's guarantee), which the steps need too.
        let (mut even, mut odd) = unsafe {
            (_mm512_loadu_si512(even_at.as_ptr() as *const _), _mm512_loadu_si512(odd_at.as_ptr() as *const _))
        };
        for p in 0..pairs {
            even = unsafe { step_vector(even) };
            f(2 * p, even);
            odd = unsafe { step_vector(odd) };
            f(2 * p + 1, odd);
        }
        // SAFETY: as the loads.
        unsafe {
            _mm512_storeu_si512(even_at.as_mut_ptr() as *mut _, even);
            _mm512_storeu_si512(odd_at.as_mut_ptr() as *mut _, odd);
        }
    }
}

/// One sweep's draws from a [`TileRng`], in order. Holds the generators as locals, so a kernel's loop keeps
/// them in registers (a callback per draw was not inlined into the kernels' vector code); they are written back
/// when the sweep is dropped.
pub struct Draws<'a> {
    /// The vector the next draw steps, and the other.
    turn: [u32; LANES],
    other: [u32; LANES],
    /// After an odd number of draws `turn` is the [`TileRng`]'s second vector.
    swapped: bool,
    rng: &'a mut TileRng,
}

impl Draws<'_> {
    /// The next draw's 16 numbers.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)] // endless: an iterator's `Option` would only add a branch
    pub fn next(&mut self) -> [u32; LANES] {
        // Step `turn`, then swap: branch-free, and the swap costs nothing in registers (choosing which vector to
        // step by a branch made the compiler step the lanes one by one).
        step(&mut self.turn);
        let bits = self.turn;
        std::mem::swap(&mut self.turn, &mut self.other);
        self.swapped = !self.swapped;
        bits
    }
}

impl Drop for Draws<'_> {
    fn drop(&mut self) {
        self.rng.vectors = if self.swapped { [self.other, self.turn] } else { [self.turn, self.other] };
    }
}

/// One xorshift32 step of every lane.
#[inline(always)]
fn step(lanes: &mut [u32; LANES]) {
    for x in lanes.iter_mut() {
        *x = xorshift32(*x);
    }
}

/// One xorshift32 step of 16 lanes in a 512-bit vector (inlined into the AVX-512 kernels).
///
/// # Safety
/// The CPU has AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn step_vector(x: std::arch::x86_64::__m512i) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    // SAFETY: register-only AVX-512 F operations; the caller guarantees the CPU has it.
    unsafe {
        let x = _mm512_xor_si512(x, _mm512_slli_epi32::<13>(x));
        let x = _mm512_xor_si512(x, _mm512_srli_epi32::<17>(x));
        _mm512_xor_si512(x, _mm512_slli_epi32::<5>(x))
    }
}

/// Marsaglia's xorshift32 (shifts 13, 17, 5): period 2^32 - 1 from any non-zero state.
#[inline(always)]
const fn xorshift32(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_alternate_between_the_two_vectors() {
        let start = TileRng::new(42, 3);
        let mut rng = start.clone();
        let mut sweep = rng.sweep();
        let seen: Vec<_> = (0..5).map(|c| (c, sweep.next())).collect();
        drop(sweep);
        // The reference steps each lane on its own.
        let mut lanes = start.vectors;
        for (i, (c, bits)) in seen.iter().enumerate() {
            assert_eq!(*c, i);
            let v = &mut lanes[i % 2];
            v.iter_mut().for_each(|x| *x = xorshift32(*x));
            assert_eq!(bits, v, "draw {i}");
        }
        assert_eq!(rng.vectors, lanes, "left after the last draw");
    }

    #[test]
    fn streams_and_seeds_start_apart() {
        let a = TileRng::new(7, 0);
        assert_ne!(a, TileRng::new(7, 1));
        assert_ne!(a, TileRng::new(8, 0));
        assert_eq!(a, TileRng::new(7, 0));
        assert!(a.vectors.as_flattened().iter().all(|&x| x != 0));
    }
}
