//! A fixed-capacity, decimating record of per-tick samples, so that a node running for weeks keeps a bounded
//! amount of history. Samples are offered every tick; one in `stride` is kept. When the log is full it keeps
//! every other sample and doubles the stride, so it always spans the whole run at uniform spacing (coarser
//! the longer the run).
//!
//! Slots are recycled: a sample is written into a slot by a fill closure (which should `clear` and
//! `extend_from_slice` its vectors), and decimation moves dropped samples behind the live ones instead of
//! freeing them. Once the log has been full once, recording never allocates.

/// Capacity used by the nodes unless their spec says otherwise: 65 s at 1 kHz with `record_every = 10` is
/// 6 500 samples, an hour at `record_every = 100` is 36 000; beyond that the log decimates.
pub const DEFAULT_MAX_SAMPLES: usize = 1 << 15;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct SampleLog<T> {
    /// `slots[..len]` are the kept samples in order; `slots[len..]` are spare slots kept for reuse.
    slots: Vec<T>,
    len: usize,
    capacity: usize,
    /// Keep one offered sample in `stride` (≥ 1 while recording).
    stride: u64,
    /// Samples offered so far.
    offered: u64,
}

impl<T: Default> SampleLog<T> {
    /// A log keeping every `every`-th offered sample (0: keep none) and at most `capacity` of them
    /// (rounded up to an even number ≥ 2, so that halving keeps whole pairs).
    pub fn new(every: u32, capacity: usize) -> Self {
        let capacity = if every == 0 { 0 } else { capacity.max(2).next_multiple_of(2) };
        Self { slots: Vec::new(), len: 0, capacity, stride: u64::from(every), offered: 0 }
    }

    /// Offers the next sample: if it is due, `fill` writes it into a slot (a recycled one once the log has
    /// filled). Returns whether it was kept.
    pub fn offer(&mut self, fill: impl FnOnce(&mut T)) -> bool {
        let k = self.offered;
        self.offered += 1;
        if self.stride == 0 || !k.is_multiple_of(self.stride) {
            return false;
        }
        if self.len == self.capacity {
            self.decimate();
            // The kept samples are the offers 0, s, 2s, … with the new stride s; this one is due only if it
            // falls on that grid too.
            if !k.is_multiple_of(self.stride) {
                return false;
            }
        }
        if self.len == self.slots.len() {
            if self.slots.capacity() == 0 {
                self.slots.reserve_exact(self.capacity);
            }
            self.slots.push(T::default());
        }
        fill(&mut self.slots[self.len]);
        self.len += 1;
        true
    }

    /// Keeps every other sample (the 1st, 3rd, …) and doubles the stride.
    fn decimate(&mut self) {
        for i in 1..self.len.div_ceil(2) {
            self.slots.swap(i, 2 * i);
        }
        self.len = self.len.div_ceil(2);
        self.stride *= 2;
    }
}

impl<T> SampleLog<T> {
    /// The kept samples, oldest first.
    pub fn samples(&self) -> &[T] {
        &self.slots[..self.len]
    }
    /// Number of kept samples.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Most samples ever kept at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Slots allocated (kept plus spare): never more than [`SampleLog::capacity`].
    pub fn allocated(&self) -> usize {
        self.slots.len()
    }
    /// Current spacing of kept samples, in offers (0 when not recording).
    pub fn stride(&self) -> u64 {
        self.stride
    }
    /// Samples offered so far.
    pub fn offered(&self) -> u64 {
        self.offered
    }
    /// The kept samples, oldest first (spare slots are dropped).
    pub fn into_vec(mut self) -> Vec<T> {
        self.slots.truncate(self.len);
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_uniform_grid_over_the_whole_run() {
        let mut log = SampleLog::<u64>::new(3, 8);
        for k in 0..1000u64 {
            log.offer(|s| *s = k);
        }
        let s = log.samples();
        assert!(s.len() <= 8 && s.len() >= 4, "{s:?}");
        assert_eq!(s[0], 0);
        let stride = log.stride();
        assert!(s.windows(2).all(|w| w[1] - w[0] == stride), "{s:?} stride {stride}");
        assert!(999 - s[s.len() - 1] < stride, "the last kept sample is within one stride of the end: {s:?}");
        assert_eq!(log.offered(), 1000);
        assert!(log.allocated() <= log.capacity());
    }

    #[test]
    fn nothing_is_kept_when_not_recording() {
        let mut log = SampleLog::<u64>::new(0, 8);
        assert!(!log.offer(|s| *s = 1));
        assert!(log.is_empty());
        assert_eq!(log.allocated(), 0);
    }

    #[test]
    fn until_full_every_nth_sample_is_kept_as_before() {
        let mut log = SampleLog::<u64>::new(10, 1000);
        for k in 0..5000u64 {
            log.offer(|s| *s = k);
        }
        assert_eq!(log.samples(), (0..500).map(|i| i * 10).collect::<Vec<_>>().as_slice());
        assert_eq!(log.into_vec().len(), 500);
    }
}
