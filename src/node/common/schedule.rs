//! Timed events given to nodes up front, and the one cursor that applies them. A scheduled event is applied
//! by the node that owns it at the first step whose sim time reaches the event time, so a lockstep run is
//! deterministic: a bus message published "at" a sim time would land at a step that depends on thread
//! scheduling. Events from the bus (other tools) are applied on arrival.

use serde::{Deserialize, Serialize};

/// Sim times are `steps × dt`, exact to far below a nanosecond over any run; an event is due once the sim
/// time is within this of it, so an event on a step boundary fires at that step and not one later.
pub const EVENT_TOLERANCE_S: f64 = 1e-9;

/// Something that happens at a sim time.
pub trait Timed {
    /// Sim time, s.
    fn t(&self) -> f64;
}

/// Attach (mass > 0) or remove (mass 0) a payload at sim time `t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadEvent {
    /// Sim time, s.
    pub t: f64,
    /// Mass, kg (0 removes).
    pub mass_kg: f64,
    /// Offset in the end-effector frame, m.
    #[serde(default)]
    pub offset_m: [f64; 3],
}

/// Move the end-effector target at sim time `t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetEvent {
    /// Sim time, s.
    pub t: f64,
    /// Target in the base frame, m.
    pub position: [f64; 3],
}

/// Engage (`true`) or clear (`false`) the e-stop at sim time `t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstopEvent {
    /// Sim time, s.
    pub t: f64,
    /// Engage or clear.
    pub engaged: bool,
}

impl Timed for PayloadEvent {
    fn t(&self) -> f64 {
        self.t
    }
}
impl Timed for TargetEvent {
    fn t(&self) -> f64 {
        self.t
    }
}
impl Timed for EstopEvent {
    fn t(&self) -> f64 {
        self.t
    }
}

/// Events in time order (equal times keep the order given) and how far they have been applied.
#[derive(Debug, Clone)]
pub struct Schedule<E> {
    events: Vec<E>,
    next: usize,
}

impl<E: Timed + Copy> Schedule<E> {
    /// The events, sorted by time.
    pub fn new(events: &[E]) -> Self {
        let mut events = events.to_vec();
        events.sort_by(|a, b| a.t().total_cmp(&b.t()));
        Self { events, next: 0 }
    }

    /// The next event due at sim time `now` (s), if any; call until `None` to apply all that are due.
    pub fn due(&mut self, now: f64) -> Option<E> {
        let e = *self.events.get(self.next)?;
        (now >= e.t() - EVENT_TOLERANCE_S).then(|| {
            self.next += 1;
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fire_in_time_order_at_the_first_step_that_reaches_them() {
        let at = |t: f64| EstopEvent { t, engaged: t > 1.0 };
        let mut s = Schedule::new(&[at(2.0), at(0.5), at(0.5000000001)]);
        assert_eq!(s.due(0.499), None);
        // 0.5 and the event a tenth of a nanosecond later are both due at the step at 0.5 s.
        assert_eq!(s.due(0.5).map(|e| e.t), Some(0.5));
        assert_eq!(s.due(0.5).map(|e| e.t), Some(0.5000000001));
        assert_eq!(s.due(0.5), None);
        // A sim time that is a rounding error short of 2 s still counts as 2 s.
        assert_eq!(s.due(1.9999999999999996).map(|e| e.t), Some(2.0));
        assert_eq!(s.due(1e9), None);
    }
}
