//! # spikearm
//!
//! A real-time adaptive robot-arm controller: a spiking neural network learns, online with the PES rule,
//! the torques the arm model is missing (a payload picked up, a heavier tool) while it runs on an emulated
//! Loihi-style neuromorphic core.
//!
//! ## Layers
//!
//! ```text
//!   main.rs ── app ─────────────── process: CLI, config files, signals, exit codes
//!               │
//!             launch ───────────── scenarios → one deployment description → in one process / as processes
//!               │
//!              node ────────────── long-lived nodes: sim/, controller/, common/ (tokio and zenoh via bus)
//!               │
//!              bus ─────────────── the only module that imports zenoh: keys, wire types, recordings
//!               │
//!              eval ────────────── closed loop without the bus, the payload protocol, its metrics
//!               │
//!            control ───────────── OSC and baselines, the adaptive term, the controller factory (pure maths)
//!             │   │
//!         neuro   arm ──────────── emulated neuromorphic core | arm description, model, envelope, hold law
//!                  │
//!            spikearm-sim ──────── rapier3d arm world (eval and the sim node step it)
//! ```
//!
//! A lower layer never imports a higher one. `neuro` and `spikearm-sim` depend on nothing of ours; `arm`
//! shares the simulation's plain payload and joint-limit types so that one of each exists. See
//! `docs/ARCHITECTURE.md` for the path of one tick and where each concept lives.

pub mod app;
pub mod arm;
pub mod bus;
pub mod control;
pub mod eval;
pub mod launch;
pub mod neuro;
pub mod node;
