//! A per-reason log limiter: a hostile publisher can make a node refuse thousands of bodies a second, and a
//! log line for each would cost more than the refusals. Fixed size and allocation-free, so it may be consulted
//! on the control path.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// When this reason was last logged.
    last: Option<Instant>,
    /// Occurrences since then that were not logged.
    suppressed: u64,
}

/// Decides, per reason (a slot index `< N`), whether an occurrence is logged: the first one always, then at
/// most one per `period`; a logged occurrence carries how many were suppressed since the previous one.
#[derive(Debug, Clone)]
pub struct LogLimiter<const N: usize> {
    period: Duration,
    slots: [Slot; N],
}

impl<const N: usize> LogLimiter<N> {
    /// A limiter that logs each reason at most once per `period` (after its first occurrence).
    pub fn new(period: Duration) -> Self {
        Self { period, slots: [Slot::default(); N] }
    }

    /// Records one occurrence of `reason` at `now`. `Some(suppressed)` means "log it", with the number of
    /// occurrences of this reason dropped from the log since the last logged one; `None` means stay quiet.
    /// An out-of-range `reason` is logged every time (never silently lost).
    pub fn admit(&mut self, reason: usize, now: Instant) -> Option<u64> {
        let Some(slot) = self.slots.get_mut(reason) else {
            return Some(0);
        };
        match slot.last {
            Some(last) if now.saturating_duration_since(last) < self.period => {
                slot.suppressed += 1;
                None
            }
            _ => {
                slot.last = Some(now);
                Some(std::mem::take(&mut slot.suppressed))
            }
        }
    }

    /// Occurrences of `reason` not (yet) logged.
    pub fn pending(&self, reason: usize) -> u64 {
        self.slots.get(reason).map_or(0, |s| s.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_occurrence_then_once_per_period_with_the_suppressed_count() {
        let mut l = LogLimiter::<2>::new(Duration::from_secs(1));
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        assert_eq!(l.admit(0, ms(0)), Some(0), "first occurrence is logged");
        for m in 1..=999 {
            assert_eq!(l.admit(0, ms(m)), None, "within the period at {m} ms");
        }
        assert_eq!(l.pending(0), 999);
        // Reasons are independent.
        assert_eq!(l.admit(1, ms(500)), Some(0));
        assert_eq!(l.admit(0, ms(1000)), Some(999), "one line per period carrying the suppressed count");
        assert_eq!(l.pending(0), 0);
        assert_eq!(l.admit(0, ms(1500)), None);
        assert_eq!(l.admit(0, ms(2600)), Some(1));
        // A reason past the table is never silenced.
        assert_eq!(l.admit(7, ms(2600)), Some(0));
        assert_eq!(l.admit(7, ms(2601)), Some(0));
    }
}
