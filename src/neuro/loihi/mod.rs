//! The Loihi-style fixed-point core: integer compartments, event-driven spikes, on-core PES.

pub mod compartment;
pub mod cores;
pub mod discretize;
pub mod executor;
pub mod fixed;
pub mod kernels;
pub mod learning;

pub use cores::{CoreLimits, CoreMap, CoreUsage};
pub use discretize::{DiscreteNetwork, LoihiParams};
pub use executor::LoihiExecutor;
