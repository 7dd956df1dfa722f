//! Arm model, controllers and the adaptive term (pure maths, no I/O).

pub mod arm_model;
pub mod body_inertia;
pub mod controller;
pub mod urdf_chain;
