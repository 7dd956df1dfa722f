//! Controllers: operational-space control (OSC), the PID and joint-PD baselines, the spiking adaptive term
//! (its ensembles, residual estimate and task-space part), the factory that builds one from its settings, and
//! the guard every command passes (limits, rates, holds). Pure maths on the arm model: no I/O, no physics.

pub mod adaptive;
pub mod controller;
pub mod factory;
pub mod input_scaling;
pub mod joint_pd;
pub mod learned_ensemble;
mod linalg;
pub mod osc;
pub mod pid;
pub mod residual;
pub mod safety;
pub mod task_ensemble;
