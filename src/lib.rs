//! # spikearm
//!
//! A real-time adaptive robot-arm controller: a spiking neural network learns, online with the PES rule,
//! the torques the arm model is missing (a payload picked up, a heavier tool) while it runs on an emulated
//! Loihi-style neuromorphic core.
//!
//! ## Layers
//!
//! ```text
//!   main.rs ── app ──────────────── process: CLI, config files, signals, exit codes
//!               │
//!        launch ┴ node ──────────── scenarios, reports; long-lived nodes (tokio lives here)
//!               │
//!              bus ──────────────── the only module that imports zenoh: keys, wire types
//!               │
//!   control ────┤ ───────────────── arm model, OSC and baselines, the adaptive term (pure maths)
//!     │         │
//!   neuro    spikearm-sim ───────── emulated neuromorphic core   |   rapier3d arm world
//! ```
//!
//! A lower layer never imports a higher one. `neuro` and `spikearm-sim` depend on nothing of ours.

pub mod app;
pub mod bus;
pub mod control;
pub mod launch;
pub mod neuro;
pub mod node;
