//! The Loihi-style fixed-point core: integer compartments, event-driven spikes, on-core PES.

pub mod compartment;
mod compartment_avx512;
pub mod cores;
pub mod delivery;
pub mod discretize;
pub mod executor;
pub mod fixed;
mod huge_pages;
pub mod kernels;
pub mod learning;
mod masked_sum_avx512;
mod spin_pool;
pub mod sweep;
pub mod tile_rng;
mod trace_avx512;
mod weight_avx512;

pub use cores::{CoreLimits, CoreMap, CoreUsage};
pub use discretize::{CoreProfile, DiscreteNetwork, LoihiParams};
pub use executor::LoihiExecutor;
