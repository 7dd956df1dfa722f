//! Long-lived nodes on the bus, one folder each: the sim node ([`sim`], owns the physics) and the controller
//! node ([`controller`], owns a [`crate::control::controller::Controller`]), the Foxglove live view
//! ([`live_view`], a bus client), what they share ([`common`]), and the [`host`] that serves many nodes on a
//! fixed pool of threads. Each node is a struct built from its settings type (the one shape config files, the
//! environment, `--set` and `launch` fill), the shared `Arc<Arm>` and a bus; its `run` is a short loop of
//! named stages that tests call directly. Nodes talk only through [`crate::bus`].

pub mod common;
pub mod controller;
mod error;
pub mod host;
pub mod live_view;
pub mod sim;

pub use error::NodeError;

pub use common::{
    BusSettings, Clamp, EstopChange, EstopEvent, EstopLatch, EstopRecord, FaultInjector, FaultParams, LogLimiter,
    NodeProbe, Patience, PayloadEvent, Reason, Refusal, Rejections, SampleLog, Schedule, ServiceSettings, Shutdown,
    TargetEvent, TimingMode, Turn, WaitMode,
};
pub use controller::{
    Checkpoint, CheckpointError, ControllerNode, ControllerNodeReport, ControllerRos2Settings, ControllerSample,
    ControllerSettings, load_checkpoint, set_aside, write_checkpoint,
};
pub use live_view::{LiveView, LiveViewReport, LiveViewSettings};
pub use sim::{SimNode, SimNodeReport, SimRos2Settings, SimSample, SimSettings};

use std::sync::Arc;

use crate::arm::Arm;
use crate::bus::Bus;
use crate::control::controller::Controller;

/// Runs a sim node on `bus` until `shutdown` or its duration: [`SimNode::new`] then [`SimNode::run`].
pub fn run_sim_node(
    settings: &SimSettings,
    arm: Arc<Arm>,
    bus: &Bus,
    shutdown: &Shutdown,
) -> Result<SimNodeReport, NodeError> {
    SimNode::new(settings, arm, bus)?.run(shutdown)
}

/// Runs a controller node with `controller` on `bus` until `shutdown`: [`ControllerNode::new`] then
/// [`ControllerNode::run`].
pub fn run_controller_node(
    settings: &ControllerSettings,
    arm: Arc<Arm>,
    controller: &mut dyn Controller,
    bus: &Bus,
    shutdown: &Shutdown,
) -> Result<ControllerNodeReport, NodeError> {
    ControllerNode::new(settings, arm, controller, bus)?.run(shutdown)
}
