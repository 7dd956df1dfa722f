//! What a controller node did: its report (counters, scored windows, recorded ticks), returned by the node
//! and written as JSON by the node command.

use std::collections::BTreeMap;

use super::error_windows::ErrorWindows;
use crate::node::common::EstopRecord;

/// One recorded tick.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ControllerSample {
    /// Sim time of the state answered, s.
    pub t: f64,
    /// Target, m.
    pub target: [f64; 3],
    /// End effector, m.
    pub ee: [f64; 3],
    /// |ee − target|, m.
    pub error_m: f64,
    /// Commanded torque, N·m.
    pub effort: Vec<f64>,
    /// Norm of the adaptive torque, N·m (0 when not adaptive).
    pub adaptive_norm: f64,
    /// The adaptive term's torque per joint, N·m (empty when not adaptive).
    #[serde(default)]
    pub adaptive: Vec<f64>,
    /// The torque the payload demanded per joint, as the answered state carried it, N·m (zeros when the state
    /// carried none: no payload, or a sim that does not say).
    #[serde(default)]
    pub payload_effort: Vec<f64>,
    /// Mean firing rate of the controller's ensemble over this tick, Hz (None without a spiking core).
    #[serde(default)]
    pub spike_rate_hz: Option<f64>,
    /// Which sampled neurons of the ensemble spiked at least once since the previous logged tick (this one
    /// included), one bit each (see `Controller::raster_spikes`); None without a spiking core.
    #[serde(default)]
    pub raster_spikes: Option<u64>,
}

/// What a controller node did.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ControllerNodeReport {
    /// Controller ticks (states answered).
    pub ticks: u64,
    /// Duplicate states answered again from the last command (no tick, no learning).
    pub resent: u64,
    /// Times the node went into holding because joint states stopped.
    pub holds: u64,
    /// Ticks whose controller returned an error (the safe torque it left was sent).
    pub control_errors: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Periodic checkpoint writes that failed (the previous file stays intact; control went on).
    pub checkpoint_errors: u64,
    /// Mean tracking error per span of `error_windows`, from every tick.
    pub error_windows: ErrorWindows,
    /// The last checkpoint write error, while writes keep failing (cleared by the next good write).
    pub checkpoint_error: Option<String>,
    /// Whether weights were restored from a checkpoint at start.
    pub restored: bool,
    /// Why the node started on fresh weights although a checkpoint file existed (it was corrupt and has
    /// been set aside under the name given here).
    pub fresh_start: Option<String>,
    /// Joint states discarded by fault injection ([`super::ControllerSettings::faults`]).
    pub injected_drops: u64,
    /// Refused bodies by reason (see [`crate::node::common::Reason`]).
    pub rejected: BTreeMap<String, u64>,
    /// Targets clamped onto the reach sphere, as `{"target": n}`.
    #[serde(default)]
    pub clamped: BTreeMap<String, u64>,
    /// E-stop transitions in the order applied.
    #[serde(default)]
    pub estop_log: Vec<EstopRecord>,
    /// Recorded ticks (every `sample_stride`-th, the first included).
    pub samples: Vec<ControllerSample>,
    /// Spacing of `samples` in ticks: `record_every`, doubled each time the record filled up.
    #[serde(default)]
    pub sample_stride: u64,
    /// Last sim time seen, s.
    pub sim_time: f64,
}
