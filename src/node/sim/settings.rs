//! The sim node's settings: the one shape that `config/sim.toml`, the environment (`SPIKEARM_SIM__…`),
//! `--set` and `launch --processes` fill. SI units; the defaults here are the documented ones.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use spikearm_sim::SimParams;

use crate::arm::hold::HoldParams;
use crate::bus::ros2::Distro;
use crate::node::common::{
    BusSettings, DEFAULT_MAX_SAMPLES, EstopEvent, FaultParams, PayloadEvent, ServiceSettings, TimingMode, WaitMode,
    check_ros2_names,
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
    /// The sim as a ROS 2 arm over rmw_zenoh (`[ros2]`). Default off.
    pub ros2: SimRos2Settings,
}

/// The sim's ROS 2 side (`[ros2]`): with `enabled`, the sim is also a ROS 2 node (on the same zenoh
/// session as its native keys) that publishes `sensor_msgs/msg/JointState` and takes effort commands, the
/// payload and the e-stop from ROS topics, like a ros2_control arm with an effort forward command
/// controller. Topic names without a leading `/` resolve under `namespace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimRos2Settings {
    /// Be a ROS 2 node. Default false.
    pub enabled: bool,
    /// `ROS_DOMAIN_ID`. Default 0.
    pub domain_id: u32,
    /// The ROS 2 distribution of the graph (`humble`, `jazzy`, `kilted`, `rolling`): Humble's keys carry no
    /// type hashes. Default `jazzy`.
    pub distro: Distro,
    /// Node namespace, `/` (default) for none.
    pub namespace: String,
    /// Node name in the ROS graph. Default `spikearm_sim`.
    pub node_name: String,
    /// `sensor_msgs/msg/JointState` out (name, position rad, velocity rad/s, effort N·m as applied; header
    /// stamp = sim time). Default `joint_states`.
    pub joint_states_topic: String,
    /// Real time: joint states per second of sim time, Hz, decimated from the physics rate (every
    /// `round(1 / (dt · rate))`-th step, at least every step). Lockstep publishes every step (a lockstep
    /// controller answers each state). Default 100.
    pub joint_states_hz: f64,
    /// `std_msgs/msg/Float64MultiArray` effort commands in, one per joint in URDF order, N·m: the topic of
    /// ros2_controllers' `effort_controllers/JointGroupEffortController` named `effort_controller`. Lockstep
    /// takes the first command after each published state as its answer. Default
    /// `effort_controller/commands`.
    pub effort_topic: String,
    /// `geometry_msgs/msg/Inertia` payload in: `m` (kg, 0 removes it) at `com` (m, end-effector frame); the
    /// inertia tensor is ignored (a point mass). Default `payload`.
    pub payload_topic: String,
    /// `std_msgs/msg/Bool` e-stop in: `true` engages, `false` clears. Default `estop`.
    pub estop_topic: String,
}

impl Default for SimRos2Settings {
    fn default() -> Self {
        Self {
            enabled: false,
            domain_id: 0,
            distro: Distro::Jazzy,
            namespace: "/".into(),
            node_name: "spikearm_sim".into(),
            joint_states_topic: "joint_states".into(),
            joint_states_hz: 100.0,
            effort_topic: "effort_controller/commands".into(),
            payload_topic: "payload".into(),
            estop_topic: "estop".into(),
        }
    }
}

impl SimRos2Settings {
    /// Checks names and the rate.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.joint_states_hz.is_finite() && self.joint_states_hz > 0.0) {
            return Err(format!("ros2.joint_states_hz must be finite and > 0 Hz, got {}", self.joint_states_hz));
        }
        check_ros2_names(
            self.domain_id,
            &self.namespace,
            &self.node_name,
            &[
                ("joint_states_topic", &self.joint_states_topic),
                ("effort_topic", &self.effort_topic),
                ("payload_topic", &self.payload_topic),
                ("estop_topic", &self.estop_topic),
            ],
        )
    }

    /// Real time: publish every this many physics steps of `dt` s (at least 1).
    pub fn joint_states_every(&self, dt: f64) -> u64 {
        let every = (1.0 / (dt * self.joint_states_hz)).round();
        if every.is_finite() && every >= 1.0 { every as u64 } else { 1 }
    }
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
            ros2: SimRos2Settings::default(),
        }
    }
}

impl SimSettings {
    /// Checks what the types cannot: ranges and scheduled payloads against the limit.
    pub fn validate(&self) -> Result<(), String> {
        self.physics.validate().map_err(|e| e.to_string())?;
        self.faults.validate()?;
        self.service.validate()?;
        self.ros2.validate()?;
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
