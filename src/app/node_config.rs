//! The TOML configurations of the two node commands, with their documented defaults (also shipped as
//! `config/sim.toml` and `config/control.toml`). Loaded through [`super::layered_config`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::node::{ControllerSection, TimingMode, WaitMode};

/// `[bus]`: how the node joins zenoh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSection {
    /// zenoh JSON5 config file. Default `config/zenoh/peer.json5` (loopback peer, no scouting). An empty
    /// path selects the built-in loopback peer without scouting (needs no file; the launcher uses it).
    pub zenoh_config: Option<PathBuf>,
    /// Endpoints to listen on (replace the file's when not empty).
    pub listen: Vec<String>,
    /// Endpoints to connect to (replace the file's when not empty).
    pub connect: Vec<String>,
}

impl Default for BusSection {
    fn default() -> Self {
        Self::listening()
    }
}

impl BusSection {
    fn listening() -> Self {
        Self {
            zenoh_config: Some("config/zenoh/peer.json5".into()),
            listen: vec!["tcp/127.0.0.1:7447".into()],
            connect: vec![],
        }
    }
    fn connecting() -> Self {
        Self {
            zenoh_config: Some("config/zenoh/peer.json5".into()),
            // A peer that only connects must not also try to listen on the sim's port.
            listen: vec!["tcp/127.0.0.1:0".into()],
            connect: vec!["tcp/127.0.0.1:7447".into()],
        }
    }
}

/// `spikearm sim node`'s configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimNodeConfig {
    /// Arm name: the key prefix `spikearm/<arm>/`. Default `threelink`.
    pub arm: String,
    /// URDF file. Default `config/arms/threelink.urdf`.
    pub urdf: PathBuf,
    /// `real_time` (default: 1 step per `dt` of wall time) or `lockstep` (wait for each torque).
    pub timing: TimingMode,
    /// `spin` (default: poll the bus and the clock, one busy core, lowest latency) or `sleep` (block in
    /// the OS: idle CPU, but wake-ups add latency and deadline misses).
    pub wait: WaitMode,
    /// Stop after this much simulated time, s; 0 (default) runs until SIGINT/SIGTERM.
    pub duration_s: f64,
    /// Watchdog: hold the arm when no torque arrived for this long, ms. Default 50.
    pub watchdog_ms: f64,
    /// Initial joint angles, rad; empty (default) for all zero.
    pub initial_q: Vec<f64>,
    /// Physics step, s. Default 0.001.
    pub dt: f64,
    /// Physics substeps per step. Default 1.
    pub substeps: usize,
    /// Viscous joint damping, N·m·s/rad. Default 0.
    pub joint_damping: f64,
    /// Hold-law stiffness, 1/s². Default 100.
    pub hold_kp: f64,
    /// Hold-law damping, 1/s. Default 20.
    pub hold_kd: f64,
    /// Keep every n-th state in the report; 0 (default) keeps none.
    pub record_every: u32,
    /// Run plan (JSON, [`crate::launch::RunPlan`]): scheduled payload and e-stop events. Absent (default): none.
    pub plan: Option<PathBuf>,
    /// Write the node's report (counters and recorded states, JSON) here on exit. Absent (default): none.
    pub report: Option<PathBuf>,
    /// Bus settings. Default: listen on tcp/127.0.0.1:7447.
    pub bus: BusSection,
}

impl Default for SimNodeConfig {
    fn default() -> Self {
        Self {
            arm: "threelink".into(),
            urdf: "config/arms/threelink.urdf".into(),
            timing: TimingMode::RealTime,
            wait: WaitMode::Spin,
            duration_s: 0.0,
            watchdog_ms: 50.0,
            initial_q: vec![],
            dt: 0.001,
            substeps: 1,
            joint_damping: 0.0,
            hold_kp: 100.0,
            hold_kd: 20.0,
            record_every: 0,
            plan: None,
            report: None,
            bus: BusSection::listening(),
        }
    }
}

/// `spikearm control`'s configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlNodeConfig {
    /// Arm name: the key prefix `spikearm/<arm>/`. Default `threelink`.
    pub arm: String,
    /// URDF file (the controller's own model). Default `config/arms/threelink.urdf`.
    pub urdf: PathBuf,
    /// Controller settings.
    pub controller: ControllerSection,
    /// Initial end-effector target, m; empty (default) holds where the first state puts the end effector.
    pub target: Vec<f64>,
    /// Learned-weight checkpoint file; absent (default) for none.
    pub checkpoint: Option<PathBuf>,
    /// Checkpoint period, s; 0 for shutdown only. Default 10.
    pub checkpoint_period_s: f64,
    /// Declare holding after this long without joint states, ms. Default 100.
    pub hold_after_ms: f64,
    /// How to wait for the next state while states flow: `spin` (default, one busy core, lowest latency)
    /// or `sleep` (block in the OS). Waiting for a first state, or holding, always sleeps.
    pub wait: WaitMode,
    /// Status rate, Hz. Default 10.
    pub status_hz: f64,
    /// Keep every n-th tick in the report; 0 (default) keeps none.
    pub record_every: u32,
    /// Run plan (JSON, [`crate::launch::RunPlan`]): scheduled target changes. Absent (default): none.
    pub plan: Option<PathBuf>,
    /// Stop at the first joint state stamped at or after this sim time, s, without answering it (the sim's
    /// `duration_s` less half a step is its last state); 0 (default) runs until SIGINT/SIGTERM.
    pub stop_at_s: f64,
    /// Write the node's report (counters and recorded ticks, JSON) here on exit. Absent (default): none.
    pub report: Option<PathBuf>,
    /// Bus settings. Default: connect to tcp/127.0.0.1:7447.
    pub bus: BusSection,
}

impl Default for ControlNodeConfig {
    fn default() -> Self {
        Self {
            arm: "threelink".into(),
            urdf: "config/arms/threelink.urdf".into(),
            controller: ControllerSection::default(),
            target: vec![],
            checkpoint: None,
            checkpoint_period_s: 10.0,
            hold_after_ms: 100.0,
            wait: WaitMode::Spin,
            status_hz: 10.0,
            record_every: 0,
            plan: None,
            stop_at_s: 0.0,
            report: None,
            bus: BusSection::connecting(),
        }
    }
}
