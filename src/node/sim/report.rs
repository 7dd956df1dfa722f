//! What a sim node did: its report (counters, recorded states, latency), returned by the node and written
//! as JSON by the node command.

use std::collections::BTreeMap;

use super::latency::LatencySummary;
use crate::node::common::EstopRecord;

/// One recorded state.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimSample {
    /// Sim time, s.
    pub t: f64,
    /// Joint angles, rad.
    pub q: Vec<f64>,
    /// Joint velocities, rad/s.
    pub dq: Vec<f64>,
    /// Torques applied in the step that led here, N·m.
    pub tau: Vec<f64>,
    /// End-effector position, m.
    pub ee: [f64; 3],
    /// Payload mass, kg.
    pub payload_kg: f64,
    /// Whether the watchdog or e-stop was holding the arm.
    pub held: bool,
}

/// What a sim node did.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SimNodeReport {
    /// Physics steps taken.
    pub steps: u64,
    /// Final sim time, s.
    pub sim_time: f64,
    /// Times the watchdog engaged.
    pub watchdog_trips: u64,
    /// For each trip, wall time from the last torque command to the engagement, s (at most
    /// [`MAX_TRIPS_KEPT`], thinned evenly past that).
    pub watchdog_latency_s: Vec<f64>,
    /// Real-time steps that started late (a full period or more).
    pub deadline_misses: u64,
    /// Torque commands answering an older state (ignored in lockstep, applied in real time).
    pub stale_torques: u64,
    /// Torque commands discarded by fault injection ([`super::SimSettings::faults`]).
    pub injected_drops: u64,
    /// Lockstep states re-published because their torque did not come in time.
    pub resends: u64,
    /// Joint states published on the ROS 2 topic (`[ros2]`).
    #[serde(default)]
    pub ros2_states: u64,
    /// ROS 2 effort commands applied (`[ros2]`).
    #[serde(default)]
    pub ros2_commands: u64,
    /// Refused bodies by reason (see [`Reason`]).
    pub rejected: BTreeMap<String, u64>,
    /// Torque commands whose entries the physics clamped to the effort limits when applied, as
    /// `{"torque": n}`.
    #[serde(default)]
    pub clamped: BTreeMap<String, u64>,
    /// E-stop transitions in the order applied.
    #[serde(default)]
    pub estop_log: Vec<EstopRecord>,
    /// Recorded states (every `sample_stride`-th).
    pub samples: Vec<SimSample>,
    /// Spacing of `samples` in steps: `record_every`, doubled each time the record filled up.
    #[serde(default)]
    pub sample_stride: u64,
    /// Wall time from publishing each state to receiving the torque command answering it.
    #[serde(default)]
    pub latency: LatencySummary,
    /// Wall time of the run, s.
    pub wall_s: f64,
}

/// Watchdog trip latencies kept in the report.
pub const MAX_TRIPS_KEPT: usize = 1024;
