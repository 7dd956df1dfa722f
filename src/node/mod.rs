//! Long-lived nodes on the bus: the sim node (owns the physics) and the controller node (owns a
//! [`crate::control::controller::Controller`]), their shutdown protocol, the sim's watchdog hold law and
//! the controller's checkpoints. Each node has one blocking `run` entry point that tests call directly;
//! nodes talk only through [`crate::bus`].

mod checkpoint;
mod checkpoint_writer;
mod controller_build;
mod controller_node;
mod error;
mod error_windows;
mod estop;
mod fault;
mod hold;
mod latency;
mod rate_limit;
mod rejections;
mod sample_log;
mod schedule;
mod shutdown;
mod sim_node;
mod timing;
mod validation;
mod wait;

pub use checkpoint::{Checkpoint, CheckpointError, load_checkpoint, set_aside, write_checkpoint};
pub use checkpoint_writer::CheckpointWriter;
pub use controller_build::{CONTROLLER_KINDS, ControllerSection, build as build_controller};
pub use controller_node::{ControllerNodeReport, ControllerNodeSpec, ControllerSample, run_controller_node};
pub use error::NodeError;
pub use error_windows::{ErrorWindow, ErrorWindows};
pub use estop::{EstopChange, EstopLatch, EstopRecord};
pub use fault::{FaultInjector, FaultParams};
pub use hold::{HoldLaw, HoldParams};
pub use latency::{LatencySummary, StateLatency};
pub use rate_limit::LogLimiter;
pub use rejections::{Clamp, Reason, Rejections};
pub use sample_log::{DEFAULT_MAX_SAMPLES, SampleLog};
pub use schedule::{EstopEvent, PayloadEvent, TargetEvent};
pub use shutdown::Shutdown;
pub use sim_node::{SimNodeReport, SimNodeSpec, SimSample, run_sim_node};
pub use timing::TimingMode;
pub use validation::{ArmEnvelope, Refusal};
pub use wait::WaitMode;
