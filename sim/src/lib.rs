//! `spikearm-sim`: the rapier3d arm world. Knows nothing of the bus, files or async.
//!
//! An [`ArmWorld`] loads a URDF arm (text, read by the caller) into rapier3d 0.36 multibody joints
//! with the root welded to the world, applies commanded joint torques exactly, steps at a fixed
//! `dt` and reports joint state, the `ee` frame pose, energy and the payload.
//!
//! ```text
//!   URDF text ──► ArmWorld::from_urdf_str(urdf, SimParams) ──► set_state / set_torques / set_payload
//!                                                             ──► step() ──► state(), energy()
//! ```
//!
//! Units are SI throughout (m, kg, s, rad, N·m). Conventions (joint order, torque sign, the holding
//! torque) are on [`ArmWorld`]; tunables and their defaults on [`SimParams`].
//!
//! Why rapier needs help here (rapier3d 0.36 / rapier3d-urdf 0.36):
//! - joints have no torque mode, so τ is applied as equal and opposite body torques about the joint axis;
//! - multibody joints get a default damping of 0.1 per DoF, removed here (or set to the configured value);
//! - the URDF loader ignores effort and velocity limits and the rotation of `<inertial>` frames:
//!   both are read here from the URDF;
//! - `set_additional_mass_properties` replaces a body's mass, so a payload is summed with the link;
//! - rapier's multibody step is first order and loses energy, so the free motion is integrated here with
//!   RK4 on the joint coordinates, in f64, over the tree rapier built ([`Integrator`]); rapier places the
//!   links and handles joint stops and friction.
//!
//! Determinism: a world is single-threaded and its inputs fully define its output; the same inputs give
//! bit-identical trajectories run after run (on the same build and machine).

mod arm_world;
mod dynamics;
mod error;
mod params;
mod payload;
mod state;

pub use arm_world::ArmWorld;
pub use error::SimError;
pub use params::{Integrator, SimParams};
pub use payload::PayloadSpec;
pub use state::{ArmState, Energy, JointLimits};
