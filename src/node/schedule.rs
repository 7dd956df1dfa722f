//! Timed events given to nodes up front. Scenario events are applied by the node that owns them at the first
//! step whose sim time reaches the event time, so a lockstep run is deterministic: a bus message published
//! "at" a sim time would land at a step that depends on thread scheduling. Events from the bus (other tools)
//! are applied on arrival.

use serde::{Deserialize, Serialize};

/// Attach (mass > 0) or remove (mass 0) a payload at sim time `t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
pub struct TargetEvent {
    /// Sim time, s.
    pub t: f64,
    /// Target in the base frame, m.
    pub position: [f64; 3],
}

/// Engage (`true`) or clear (`false`) the e-stop at sim time `t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EstopEvent {
    /// Sim time, s.
    pub t: f64,
    /// Engage or clear.
    pub engaged: bool,
}
