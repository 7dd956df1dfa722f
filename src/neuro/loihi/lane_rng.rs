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
}

#[inline(always)]
fn xorshift32(mut x: u32) -> u32 {
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
}
