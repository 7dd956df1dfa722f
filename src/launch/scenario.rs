//! The scenario file format.

use serde::{Deserialize, Serialize};

use super::metrics::WindowSpec;
use crate::node::{ControllerSection, TimingMode};

/// A scenario. Unknown keys are refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Short name for the report.
    pub name: String,
    /// Arm name (bus key prefix).
    pub arm: String,
    /// URDF file, relative to the working directory.
    pub urdf: String,
    /// Timing mode of the sim. Default lockstep.
    #[serde(default)]
    pub timing: TimingMode,
    /// Simulated duration, s.
    pub duration_s: f64,
    /// Start pose, rad.
    pub initial_q: Vec<f64>,
    /// Keep every n-th state/tick for metrics and plots. Default 10.
    #[serde(default = "default_record_every")]
    pub record_every: u32,
    /// Controllers run on the same events, one run each; the first is the main one. Default `["adaptive"]`.
    #[serde(default = "default_controllers")]
    pub controllers: Vec<String>,
    /// Settings shared by every controller (its `kind` is replaced by each entry of `controllers`).
    #[serde(default)]
    pub controller: ControllerSection,
    /// Targets on a circle around the start end-effector position (optional).
    #[serde(default)]
    pub circle: Option<CircleSpec>,
    /// Timed events.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Metric windows (named spans of sim time over which the mean error is reported).
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
}

fn default_record_every() -> u32 {
    10
}
fn default_controllers() -> Vec<String> {
    vec!["adaptive".into()]
}

/// Reaching targets on a circle in the world x–z plane around the start end-effector position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleSpec {
    /// First target at this time, s.
    pub start_s: f64,
    /// Time per target, s.
    pub reach_s: f64,
    /// Targets per lap.
    pub targets: usize,
    /// Radius, m.
    pub radius_m: f64,
}

/// One timed event: exactly one of `target`, `payload_kg`, `estop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// Sim time, s.
    pub t: f64,
    /// New end-effector target, m.
    #[serde(default)]
    pub target: Option<[f64; 3]>,
    /// Attach (kg > 0) or remove (0) the payload at the end effector.
    #[serde(default)]
    pub payload_kg: Option<f64>,
    /// Engage (true) or clear (false) the e-stop.
    #[serde(default)]
    pub estop: Option<bool>,
}

impl ScenarioSpec {
    /// Parses and checks a scenario.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let s: Self = toml::from_str(text)?;
        anyhow::ensure!(s.duration_s > 0.0 && s.duration_s.is_finite(), "duration_s must be > 0");
        anyhow::ensure!(!s.controllers.is_empty(), "controllers must name at least one controller");
        for e in &s.events {
            let n = usize::from(e.target.is_some()) + usize::from(e.payload_kg.is_some()) + usize::from(e.estop.is_some());
            anyhow::ensure!(n == 1, "event at t = {} must set exactly one of target, payload_kg, estop", e.t);
        }
        Ok(s)
    }

    /// Times of payload changes, s (for plot markers).
    pub fn payload_times(&self) -> Vec<(f64, f64)> {
        self.events.iter().filter_map(|e| e.payload_kg.map(|m| (e.t, m))).collect()
    }
}
