//! The sim node: the rapier arm on the bus.

mod latency;
mod node;
mod payload_torque;
mod report;
mod ros2;
mod settings;

pub use latency::{LatencySummary, StateLatency};
pub use node::SimNode;
pub use report::{MAX_TRIPS_KEPT, SimNodeReport, SimSample};
pub use settings::{DEFAULT_MAX_PAYLOAD_KG, SimRos2Settings, SimSettings};
