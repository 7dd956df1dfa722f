//! Arm model, controllers and the adaptive term (pure maths, no I/O).

pub mod adaptive;
pub mod arm_model;
pub mod body_inertia;
pub mod closed_loop;
pub mod controller;
pub mod input_scaling;
pub mod joint_pd;
mod linalg;
pub mod osc;
pub mod payload_eval;
pub mod payload_protocol;
pub mod pid;
pub mod urdf_chain;
