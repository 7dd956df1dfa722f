//! Eight xorshift32 generators stepped together (random bits for stochastic rounding, eight lanes at a time),
//! and jumps ahead in their sequence.
//!
//! The learning epochs sweep the traces, then each output dimension's weights, drawing one 8-lane number per
//! eight neurons plus a closing one per sweep. The executor runs those sweeps tile by tile, interleaved; jumping
//! each sweep's generator to where the previous sweep would have left it keeps every neuron's random bits, and so
//! every result, exactly those of the sweeps run one after another.

/// Eight independent xorshift32 generators.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub fn next_bits(&mut self) -> [u32; 8] {
        for x in self.state.iter_mut() {
            *x = xorshift32(*x);
        }
        self.state
    }

    /// These generators as they will be after `jump.steps()` calls of [`next`](Self::next).
    pub fn jumped(&self, jump: &LaneJump) -> LaneRng {
        LaneRng { state: self.state.map(|x| jump.apply(x)) }
    }

    /// The next `count` numbers (at most [`SPLIT_DRAWS`]), in order, at the front of the array: the same as
    /// that many calls of [`next_bits`](Self::next_bits), drawn faster. The rest of the array holds the numbers
    /// that would follow; the generators are left after the `count`-th.
    ///
    /// One generator's step depends on the one before (six dependent shift-and-xor operations per number), so
    /// drawing numbers one after another is bound by that latency, not by the CPU's throughput. Here the block
    /// is cut into [`SPLIT_CHAINS`] segments whose starting states are jumped to (by byte-indexed tables of
    /// the jump maps, built at compile time), and the segments are drawn interleaved: independent chains that
    /// the CPU steps in parallel. A number is the generators' state after drawing it, so a short block ends at
    /// its last number's state.
    #[inline(always)]
    pub fn split_draws(&mut self, count: usize) -> [[u32; 8]; SPLIT_DRAWS] {
        let mut out = std::mem::MaybeUninit::uninit();
        *self.split_draws_into(count, &mut out)
    }

    /// [`split_draws`](Self::split_draws) into `out` (uninitialised space the caller keeps, so the 4 KiB of
    /// numbers are not copied out of a return value: that copy cost ~3 % of a step), returning it initialised.
    ///
    /// The chains are stepped two at a time as 16 lanes, which the AVX-512 entry points run as one vector: half
    /// the operations of one 8-lane vector per chain.
    #[inline(always)]
    pub fn split_draws_into<'a>(
        &mut self,
        count: usize,
        out: &'a mut std::mem::MaybeUninit<[[u32; 8]; SPLIT_DRAWS]>,
    ) -> &'a [[u32; 8]; SPLIT_DRAWS] {
        assert!(count <= SPLIT_DRAWS, "at most {SPLIT_DRAWS} numbers at once");
        let start = |c: usize, lane: usize| match c {
            0 => self.state[lane],
            _ => SPLIT_JUMPS[c - 1].apply(self.state[lane]),
        };
        let mut pairs = [[0u32; 16]; SPLIT_CHAINS / 2];
        for (p, pair) in pairs.iter_mut().enumerate() {
            for lane in 0..8 {
                pair[lane] = start(2 * p, lane);
                pair[8 + lane] = start(2 * p + 1, lane);
            }
        }
        let numbers = out.as_mut_ptr() as *mut [u32; 8];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512 F was detected just above; `numbers` points at SPLIT_DRAWS numbers.
            unsafe { step_pairs_avx512(&pairs, numbers) };
            // SAFETY: `step_pairs_avx512` wrote every element, as the loop below does.
            let out = unsafe { out.assume_init_ref() };
            if count > 0 {
                self.state = out[count - 1];
            }
            return out;
        }
        for i in 0..SPLIT_SEGMENT {
            for (p, pair) in pairs.iter_mut().enumerate() {
                for x in pair.iter_mut() {
                    *x = xorshift32(*x);
                }
                let (first, second) = pair.split_at(8);
                // SAFETY: `2p × SPLIT_SEGMENT + i` and `(2p + 1) × SPLIT_SEGMENT + i` are below SPLIT_DRAWS, the
                // array's length; `numbers` points at the array's first element.
                unsafe {
                    numbers.add(2 * p * SPLIT_SEGMENT + i).write(first.try_into().expect("8 lanes"));
                    numbers.add((2 * p + 1) * SPLIT_SEGMENT + i).write(second.try_into().expect("8 lanes"));
                }
            }
        }
        // SAFETY: the loops wrote every element (`c × SPLIT_SEGMENT + i` for every chain `c` and `i` covers
        // 0..SPLIT_DRAWS).
        let out = unsafe { out.assume_init_ref() };
        if count > 0 {
            self.state = out[count - 1];
        }
        out
    }
}

/// Independent chains [`LaneRng::split_draws`] draws at once: enough to cover the step's latency (six
/// operations) with the two or three vector units a core has. Even: they are stepped in pairs.
pub const SPLIT_CHAINS: usize = 4;
/// Numbers each chain of [`LaneRng::split_draws`] draws.
pub const SPLIT_SEGMENT: usize = 32;
/// Numbers [`LaneRng::split_draws`] draws: one per eight neurons of a 1024-neuron tile.
pub const SPLIT_DRAWS: usize = SPLIT_CHAINS * SPLIT_SEGMENT;

/// The jumps by 1, 2 and 3 segments, as tables.
static SPLIT_JUMPS: [ByteJump; SPLIT_CHAINS - 1] = {
    let mut jumps = [ByteJump { tables: [[0; 256]; 4] }; SPLIT_CHAINS - 1];
    let mut c = 0;
    while c < SPLIT_CHAINS - 1 {
        jumps[c] = ByteJump::new(((c + 1) * SPLIT_SEGMENT) as u32);
        c += 1;
    }
    jumps
};

/// A jump of a fixed number of xorshift32 steps as four byte-indexed tables: the jump is linear over GF(2), so
/// the image of a state is the xor of its four bytes' images (four loads instead of 32 masked xors).
#[derive(Clone, Copy)]
struct ByteJump {
    tables: [[u32; 256]; 4],
}

impl ByteJump {
    /// The tables of `steps` steps (at compile time: a few thousand steps of the generator).
    const fn new(steps: u32) -> Self {
        let mut columns = [0u32; 32];
        let mut j = 0;
        while j < 32 {
            let mut x = 1u32 << j;
            let mut s = 0;
            while s < steps {
                x = xorshift32(x);
                s += 1;
            }
            columns[j] = x;
            j += 1;
        }
        let mut tables = [[0u32; 256]; 4];
        let mut b = 0;
        while b < 4 {
            let mut byte = 0;
            while byte < 256 {
                let mut image = 0;
                let mut bit = 0;
                while bit < 8 {
                    if byte >> bit & 1 == 1 {
                        image ^= columns[8 * b + bit];
                    }
                    bit += 1;
                }
                tables[b][byte] = image;
                byte += 1;
            }
            b += 1;
        }
        ByteJump { tables }
    }

    #[inline(always)]
    fn apply(&self, x: u32) -> u32 {
        let t = &self.tables;
        t[0][(x & 0xff) as usize]
            ^ t[1][(x >> 8 & 0xff) as usize]
            ^ t[2][(x >> 16 & 0xff) as usize]
            ^ t[3][(x >> 24) as usize]
    }
}

/// The loop of [`LaneRng::split_draws_into`] with each pair of chains in one 16-lane vector (the compiler
/// stepped the pairs as two 8-lane vectors, twice the operations): the same xorshift steps, the same numbers.
///
/// # Safety
/// The CPU has AVX-512 F; `numbers` points at [`SPLIT_DRAWS`] writable numbers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn step_pairs_avx512(pairs: &[[u32; 16]; SPLIT_CHAINS / 2], numbers: *mut [u32; 8]) {
    use std::arch::x86_64::*;
    #[inline(always)]
    fn step(x: __m512i) -> __m512i {
        // SAFETY (register-only AVX-512 F operations): the enclosing function enables AVX-512 F.
        unsafe {
            let x = _mm512_xor_si512(x, _mm512_slli_epi32::<13>(x));
            let x = _mm512_xor_si512(x, _mm512_srli_epi32::<17>(x));
            _mm512_xor_si512(x, _mm512_slli_epi32::<5>(x))
        }
    }
    // SAFETY: `pairs` holds 16 lanes per pair; the stores write numbers `c × SPLIT_SEGMENT + i` of chains
    // `c = 2p, 2p + 1`, all below SPLIT_DRAWS (the caller's guarantee covers them).
    unsafe {
        let mut regs = [_mm512_setzero_si512(); SPLIT_CHAINS / 2];
        for (reg, pair) in regs.iter_mut().zip(pairs) {
            *reg = _mm512_loadu_si512(pair.as_ptr() as *const _);
        }
        for i in 0..SPLIT_SEGMENT {
            for (p, reg) in regs.iter_mut().enumerate() {
                *reg = step(*reg);
                _mm256_storeu_si256(
                    numbers.add(2 * p * SPLIT_SEGMENT + i) as *mut __m256i,
                    _mm512_castsi512_si256(*reg),
                );
                let second = numbers.add((2 * p + 1) * SPLIT_SEGMENT + i) as *mut __m256i;
                _mm256_storeu_si256(second, _mm512_extracti64x4_epi64::<1>(*reg));
            }
        }
    }
}

#[inline(always)]
const fn xorshift32(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// A fixed number of xorshift32 steps as one map. Xorshift is linear over GF(2), so any number of steps is a
/// 32×32 bit matrix: column `j` is where the state with only bit `j` set ends up.
#[derive(Debug, Clone)]
pub struct LaneJump {
    columns: [u32; 32],
    steps: u64,
}

impl LaneJump {
    /// The map of `steps` steps (built by squaring: O(log steps) matrix products).
    pub fn new(steps: u64) -> Self {
        let one = LaneJump { columns: std::array::from_fn(|j| xorshift32(1 << j)), steps: 1 };
        let mut result = LaneJump { columns: std::array::from_fn(|j| 1 << j), steps: 0 };
        let mut power = one;
        let mut left = steps;
        while left > 0 {
            if left & 1 == 1 {
                result = result.then(&power);
            }
            power = power.then(&power);
            left >>= 1;
        }
        result
    }

    /// How many steps this map jumps.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// `self` followed by `other`.
    fn then(&self, other: &LaneJump) -> LaneJump {
        LaneJump { columns: self.columns.map(|c| other.apply(c)), steps: self.steps + other.steps }
    }

    /// The state `x` jumped ahead.
    fn apply(&self, x: u32) -> u32 {
        let mut r = 0;
        for (j, &c) in self.columns.iter().enumerate() {
            r ^= c & 0u32.wrapping_sub((x >> j) & 1);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_equals_stepping() {
        for steps in [0u64, 1, 2, 7, 126, 1251, 125_001] {
            let mut stepped = LaneRng::new(42);
            for _ in 0..steps {
                stepped.next_bits();
            }
            let jump = LaneJump::new(steps);
            assert_eq!(jump.steps(), steps);
            assert_eq!(LaneRng::new(42).jumped(&jump), stepped, "{steps} steps");
        }
    }

    #[test]
    fn split_draws_equal_drawing_in_turn() {
        let (mut split, mut plain) = (LaneRng::new(7), LaneRng::new(7));
        for _ in 0..3 {
            let out = split.split_draws(SPLIT_DRAWS);
            for (i, draw) in out.iter().enumerate() {
                assert_eq!(*draw, plain.next_bits(), "draw {i}");
            }
            assert_eq!(split, plain);
        }
        for count in [0, 1, 97, SPLIT_DRAWS - 1] {
            let out = split.split_draws(count);
            for (i, draw) in out[..count].iter().enumerate() {
                assert_eq!(*draw, plain.next_bits(), "draw {i} of {count}");
            }
            assert_eq!(split, plain, "left after {count} numbers");
        }
    }
}
