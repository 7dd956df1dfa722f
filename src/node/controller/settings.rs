//! The controller node's settings: the one shape that `config/control.toml`, the environment
//! (`SPIKEARM_CONTROL__…`), `--set` and `launch --processes` fill. SI units; the defaults here are the
//! documented ones.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::arm::hold::HoldParams;
use crate::bus::ros2::Distro;
use crate::control::factory::ControllerParams;
use crate::control::safety::SafetyParams;
use crate::node::common::{
    BusSettings, DEFAULT_MAX_SAMPLES, FaultParams, ServiceSettings, TargetEvent, WaitMode, check_ros2_names,
};

/// Everything a controller node is told. Unknown keys are refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerSettings {
    /// Node name on the bus (liveliness token, status and parameter keys). Default `controller`.
    pub node: String,
    /// Arm name: the key prefix `spikearm/<arm>/`, recorded in checkpoints. Default `threelink`.
    pub arm: String,
    /// URDF file: the controller's own model of the arm (the same file as the sim's). Default
    /// `config/arms/threelink.urdf`.
    pub urdf: PathBuf,
    /// Which controller, with its main settings (`[controller]`).
    pub controller: ControllerParams,
    /// Target before any arrives, base frame, m. Absent (default): hold the end effector where the first
    /// state puts it.
    pub target: Option<[f64; 3]>,
    /// Scheduled target changes (`[[target_events]]`), applied at the first state at or after their time.
    pub target_events: Vec<TargetEvent>,
    /// Spans of sim time `[from_s, to_s]` whose mean tracking error the node accumulates at every tick
    /// (scenario windows).
    pub error_windows: Vec<(f64, f64)>,
    /// Gains of the hold law (`[hold]`): the command when the control law cannot produce one, the start of
    /// the blend after a pause, and the parting command that holds the arm where it is on shutdown.
    pub hold: HoldParams,
    /// Limits every command obeys whatever the control law computed (`[safety]`): effort saturation, torque
    /// rate, restoring torques near joint limits, the resume ramp.
    pub safety: SafetyParams,
    /// Declare holding (stop commanding and learning) after this long without joint states, s of wall time.
    /// Default 0.1.
    pub hold_after_s: f64,
    /// Status period, s of wall time. Default 0.1 (10 Hz).
    pub status_period_s: f64,
    /// Learned-weight checkpoint file (adaptive only): loaded on start, written atomically every
    /// `checkpoint_period_s` and on shutdown; a corrupt file is set aside, never deleted. Absent (default):
    /// none.
    pub checkpoint: Option<PathBuf>,
    /// Checkpoint period, s of wall time; 0 for shutdown only. Default 10.
    pub checkpoint_period_s: f64,
    /// While states flow: `spin` (default, one busy core, the lowest latency) or `sleep` (block in the OS).
    /// Waiting for a first state, or holding, always sleeps.
    pub wait: WaitMode,
    /// Keep every n-th tick in the report; 0 (default) keeps none.
    pub record_every: u32,
    /// Most ticks kept; past that the record is thinned to every other tick and the spacing doubled (a
    /// daemon's memory stays bounded). Default [`DEFAULT_MAX_SAMPLES`].
    pub max_samples: usize,
    /// Return at the first state stamped at or after this sim time, s, without answering it. With the sim's
    /// stop time (its `duration_s` less half a step) that is the sim's last state, which it waits on no one
    /// for: ticks and samples then do not depend on when the node is stopped. Absent (default): run until
    /// shutdown.
    pub stop_at_s: Option<f64>,
    /// Injected loss of incoming joint states (`[faults]`; tests and drills only). Default off.
    pub faults: FaultParams,
    /// Write the node's report (counters and recorded ticks, JSON) here on exit. Absent (default): none.
    pub report: Option<PathBuf>,
    /// Metrics endpoint and log filter when run as a service (`[service]`). Default: neither.
    pub service: ServiceSettings,
    /// How the node joins the bus (`[bus]`). Default: connect to tcp/127.0.0.1:7447.
    pub bus: BusSettings,
    /// The controller as a ROS 2 node over rmw_zenoh (`[ros2]`). Default off.
    pub ros2: ControllerRos2Settings,
}

/// The controller's ROS 2 side (`[ros2]`): with `enabled`, its control path runs on ROS topics instead of
/// the native keys: it answers `sensor_msgs/msg/JointState` with `std_msgs/msg/Float64MultiArray` efforts
/// (a ros2_control arm's effort forward command controller), takes targets as `geometry_msgs/msg/
/// PointStamped` and the e-stop as `std_msgs/msg/Bool`, and publishes its status as `std_msgs/msg/String`
/// (the status JSON). Native targets, e-stops, status and parameters keep working beside them. Topic names
/// without a leading `/` resolve under `namespace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerRos2Settings {
    /// Run the control path on ROS topics. Default false.
    pub enabled: bool,
    /// `ROS_DOMAIN_ID`. Default 0.
    pub domain_id: u32,
    /// The ROS 2 distribution of the graph (`humble`, `jazzy`, `kilted`, `rolling`). Default `jazzy`.
    pub distro: Distro,
    /// Node namespace, `/` (default) for none.
    pub namespace: String,
    /// Node name in the ROS graph. Default `spikearm_controller`.
    pub node_name: String,
    /// `sensor_msgs/msg/JointState` in: the arm's joints are picked by name (any order, other joints
    /// ignored; unnamed states must list exactly the arm's joints in URDF order); position and velocity are
    /// required; each new header stamp (s) is one tick. Default `joint_states`.
    pub joint_states_topic: String,
    /// `std_msgs/msg/Float64MultiArray` efforts out, N·m, one per joint in URDF order (configure the
    /// effort controller's `joints` in that order). Default `effort_controller/commands`.
    pub effort_topic: String,
    /// `geometry_msgs/msg/PointStamped` targets in, m, taken in the arm's base frame (`header.frame_id` is
    /// not transformed). Default `target`.
    pub target_topic: String,
    /// `std_msgs/msg/Bool` e-stop in: `true` engages, `false` clears. Default `estop`.
    pub estop_topic: String,
    /// `std_msgs/msg/String` status out: the status JSON, every `status_period_s`. Default
    /// `spikearm_controller/status`.
    pub status_topic: String,
}

impl Default for ControllerRos2Settings {
    fn default() -> Self {
        Self {
            enabled: false,
            domain_id: 0,
            distro: Distro::Jazzy,
            namespace: "/".into(),
            node_name: "spikearm_controller".into(),
            joint_states_topic: "joint_states".into(),
            effort_topic: "effort_controller/commands".into(),
            target_topic: "target".into(),
            estop_topic: "estop".into(),
            status_topic: "spikearm_controller/status".into(),
        }
    }
}

impl ControllerRos2Settings {
    /// Checks the names.
    pub fn validate(&self) -> Result<(), String> {
        check_ros2_names(
            self.domain_id,
            &self.namespace,
            &self.node_name,
            &[
                ("joint_states_topic", &self.joint_states_topic),
                ("effort_topic", &self.effort_topic),
                ("target_topic", &self.target_topic),
                ("estop_topic", &self.estop_topic),
                ("status_topic", &self.status_topic),
            ],
        )
    }
}

impl Default for ControllerSettings {
    fn default() -> Self {
        Self {
            node: "controller".into(),
            arm: "threelink".into(),
            urdf: "config/arms/threelink.urdf".into(),
            controller: ControllerParams::default(),
            target: None,
            target_events: Vec::new(),
            error_windows: Vec::new(),
            hold: HoldParams::default(),
            safety: SafetyParams::default(),
            hold_after_s: 0.1,
            status_period_s: 0.1,
            checkpoint: None,
            checkpoint_period_s: 10.0,
            wait: WaitMode::Spin,
            record_every: 0,
            max_samples: DEFAULT_MAX_SAMPLES,
            stop_at_s: None,
            faults: FaultParams::default(),
            report: None,
            service: ServiceSettings::default(),
            bus: BusSettings::connecting("tcp/127.0.0.1:7447"),
            ros2: ControllerRos2Settings::default(),
        }
    }
}

impl ControllerSettings {
    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), String> {
        self.faults.validate()?;
        self.safety.validate()?;
        self.service.validate()?;
        self.ros2.validate()?;
        for (name, s) in [("hold_after_s", self.hold_after_s), ("status_period_s", self.status_period_s)] {
            if !(s.is_finite() && s > 0.0) {
                return Err(format!("{name} must be finite and > 0 s, got {s}"));
            }
        }
        if !(self.checkpoint_period_s.is_finite() && self.checkpoint_period_s >= 0.0) {
            return Err(format!("checkpoint_period_s must be finite and ≥ 0 s, got {}", self.checkpoint_period_s));
        }
        if let Some(t) = self.target
            && t.iter().any(|x| !x.is_finite())
        {
            return Err(format!("target must be finite, got {t:?}"));
        }
        Ok(())
    }
}
