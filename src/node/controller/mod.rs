//! The controller node: a [`crate::control::controller::Controller`] on the bus, with its checkpoints.

mod checkpoint;
mod checkpoint_writer;
mod error_windows;
mod node;
pub mod param_bounds;
mod report;
mod ros2;
mod settings;

pub use checkpoint::{Checkpoint, CheckpointError, load_checkpoint, set_aside, write_checkpoint};
pub use checkpoint_writer::CheckpointWriter;
pub use error_windows::{ErrorWindow, ErrorWindows};
pub use node::ControllerNode;
pub use report::{ControllerNodeReport, ControllerSample};
pub use settings::{ControllerRos2Settings, ControllerSettings};
