//! Read-outs of the simulated arm.

/// A snapshot of the arm after a step. Angles in rad, velocities in rad/s, torques in N·m, positions in m.
///
/// Vectors have one entry per actuated joint, in URDF order (see [`crate::ArmWorld::joint_names`]).
/// Reuse one value with [`crate::ArmWorld::read_state_into`] to avoid allocating on a control loop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmState {
    /// Simulated time, s (step count × dt).
    pub t: f64,
    /// Joint positions, rad. Not wrapped: a joint that turned twice reads ≈ 4π.
    pub q: Vec<f64>,
    /// Joint velocities, rad/s.
    pub dq: Vec<f64>,
    /// Torques applied during the last step (after clamping to the effort limits), N·m.
    pub tau: Vec<f64>,
    /// Position of the `ee` frame in the world, m.
    pub ee_position: [f64; 3],
    /// Orientation of the `ee` frame in the world as a unit quaternion `[x, y, z, w]` (ROS order).
    pub ee_orientation: [f64; 4],
}

/// Mechanical energy of the moving links and the payload, J.
///
/// Kinetic energy comes from each body's mass properties and velocity; potential energy is
/// `-m g·c` of each centre of mass, zero at the world origin. The fixed base is excluded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Energy {
    /// Kinetic energy, J.
    pub kinetic: f64,
    /// Gravitational potential energy, J.
    pub potential: f64,
}

impl Energy {
    /// Kinetic plus potential energy, J.
    pub fn total(&self) -> f64 {
        self.kinetic + self.potential
    }
}

/// Limits of one actuated joint, read from the URDF (the simulation and the controller's arm model share
/// this type).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JointLimits {
    /// Lower position limit, rad (−∞ for continuous joints).
    pub lower: f64,
    /// Upper position limit, rad (+∞ for continuous joints).
    pub upper: f64,
    /// Effort limit, N·m: commanded torques are clamped to ±effort.
    pub effort: f64,
    /// Velocity limit, rad/s. Reported for supervisors (watchdogs); the physics does not enforce it.
    pub velocity: f64,
}
