//! The sim node's settings: the one shape that `config/sim.toml`, the environment (`SPIKEARM_SIM__…`),
//! `--set` and `launch --processes` fill. SI units; the defaults here are the documented ones.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use spikearm_sim::SimParams;

use crate::arm::hold::HoldParams;
use crate::node::common::{
    BusSettings, DEFAULT_MAX_SAMPLES, EstopEvent, FaultParams, PayloadEvent, ServiceSettings, TimingMode, WaitMode,
};

/// Default [`SimSettings::max_payload_kg`], kg: above the UR5e's rated 5 kg with margin, far below what
/// would make the physics meaningless.
pub const DEFAULT_MAX_PAYLOAD_KG: f64 = 10.0;

/// Everything a sim node is told. Unknown keys are refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// Node name on the bus (liveliness token, status key). Default `sim`.
    pub node: String,
    /// Arm name: the key prefix `spikearm/<arm>/`. Default `threelink`.
    pub arm: String,
    /// URDF file of the arm (the controller must read the same). Default `config/arms/threelink.urdf`.
    pub urdf: PathBuf,
    /// `real_time` (default: one step per `dt` of wall time, zero-order hold, late steps counted) or
    /// `lockstep` (wait for the torque answering each state: deterministic, as fast as the machine allows).
    pub timing: TimingMode,
    /// `spin` (default: poll the bus and the clock, one busy core, the lowest latency) or `sleep` (block in
    /// the OS: idle CPU, but every wake-up adds latency).
    pub wait: WaitMode,
    /// Start pose, rad, one per joint. Absent (default): all zero.
    pub initial_q: Option<Vec<f64>>,
    /// Stop after this much simulated time, s. Absent (default): run until shutdown.
    pub duration_s: Option<f64>,
    /// Hold the arm when no torque command arrived for this long, s of wall time. Default 0.05.
    pub watchdog_s: f64,
    /// Lockstep: publish the waited-on state again after this long without its torque, s of wall time, in
    /// case the first went out before the controller subscribed or was dropped. Default 0.02.
    pub resend_s: f64,
    /// Status period, s of wall time. Default 0.1.
    pub status_period_s: f64,
    /// Heaviest payload accepted, kg; heavier ones from the bus are refused (`out_of_range`), scheduled
    /// ones are a settings error. Default [`DEFAULT_MAX_PAYLOAD_KG`].
    pub max_payload_kg: f64,
    /// Keep every n-th state in the report; 0 (default) keeps none.
    pub record_every: u32,
    /// Most states kept; past that the record is thinned to every other state and the spacing doubled (a
    /// daemon's memory stays bounded). Default [`DEFAULT_MAX_SAMPLES`].
    pub max_samples: usize,
    /// The physics (`[physics]`: dt, substeps, damping, …).
    pub physics: SimParams,
    /// Gains of the hold law the watchdog and the e-stop use (`[hold]`).
    pub hold: HoldParams,
    /// Injected loss of incoming torque commands (`[faults]`; tests and drills only). Default off.
    pub faults: FaultParams,
    /// Scheduled payload changes (`[[payload_events]]`), applied at the first step at or after their time.
    pub payload_events: Vec<PayloadEvent>,
    /// Scheduled e-stop engagements and clearances (`[[estop_events]]`).
    pub estop_events: Vec<EstopEvent>,
    /// Write the node's report (counters and recorded states, JSON) here on exit. Absent (default): none.
    pub report: Option<PathBuf>,
    /// Metrics endpoint and log filter when run as a service (`[service]`). Default: neither.
    pub service: ServiceSettings,
    /// How the node joins the bus (`[bus]`). Default: listen on tcp/127.0.0.1:7447.
    pub bus: BusSettings,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            node: "sim".into(),
            arm: "threelink".into(),
            urdf: "config/arms/threelink.urdf".into(),
            timing: TimingMode::RealTime,
            wait: WaitMode::Spin,
            initial_q: None,
            duration_s: None,
            watchdog_s: 0.05,
            resend_s: 0.02,
            status_period_s: 0.1,
            max_payload_kg: DEFAULT_MAX_PAYLOAD_KG,
            record_every: 0,
            max_samples: DEFAULT_MAX_SAMPLES,
            physics: SimParams::default(),
            hold: HoldParams::default(),
            faults: FaultParams::default(),
            payload_events: Vec::new(),
            estop_events: Vec::new(),
            report: None,
            service: ServiceSettings::default(),
            bus: BusSettings::default(),
        }
    }
}

impl SimSettings {
    /// Checks what the types cannot: ranges and scheduled payloads against the limit.
    pub fn validate(&self) -> Result<(), String> {
        self.physics.validate().map_err(|e| e.to_string())?;
        self.faults.validate()?;
        self.service.validate()?;
        for (name, s) in
            [("watchdog_s", self.watchdog_s), ("resend_s", self.resend_s), ("status_period_s", self.status_period_s)]
        {
            if !(s.is_finite() && s > 0.0) {
                return Err(format!("{name} must be finite and > 0 s, got {s}"));
            }
        }
        if let Some(d) = self.duration_s
            && !(d.is_finite() && d > 0.0)
        {
            return Err(format!("duration_s must be finite and > 0 s, got {d}"));
        }
        if let Some(ev) = self.payload_events.iter().find(|e| !(e.mass_kg <= self.max_payload_kg)) {
            return Err(format!(
                "payload event at {} s: {} kg exceeds max_payload_kg {}",
                ev.t, ev.mass_kg, self.max_payload_kg
            ));
        }
        Ok(())
    }
}
