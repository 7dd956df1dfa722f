//! Tunables of the simulated arm.

use crate::SimError;

/// Simulation parameters, every one with a unit. `Default` gives the configuration the
/// benchmarks and the acceptance bars were measured with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimParams {
    /// Step length, s. Default 0.001 (1 kHz, the controller's rate).
    pub dt: f64,
    /// Gravity in the world frame, m/s². Default (0, 0, −9.81): URDF worlds are z-up.
    pub gravity: [f64; 3],
    /// Viscous joint damping, N·m·s/rad, applied to every actuated joint. Default 0: rapier's own
    /// default of 0.1 per DoF is removed so that commanded torques act exactly.
    pub joint_damping: f64,
    /// Dry (Coulomb) joint friction, N·m, applied to every actuated joint. Default 0. Friction is a
    /// constraint that only rapier's solver handles: with friction > 0 every step is a rapier step
    /// (see [`Integrator`]).
    pub joint_friction: f64,
    /// How the free motion is integrated. [`Integrator::Rk4`] is the faithful plant: a 10 s free swing
    /// keeps its energy to well under 0.1 % of the peak kinetic energy on both arms and the joint angles
    /// stay within 1e-6 rad of an independent fine-step integration for 0.5 s (BENCHMARKS.md, "Plant
    /// fidelity"). Default [`Integrator::Rk4`]: a dissipative plant flatters every controller, and the
    /// adaptive controller's payload figures are measured on this one.
    pub integrator: Integrator,
    /// Internal substeps per step: the step is integrated `substeps` times with `dt / substeps`. With
    /// [`Integrator::Rk4`] these are RK4 steps (1 is already faithful at dt = 1 ms); with
    /// [`Integrator::Rapier`], and for steps that reach a joint stop, they are rapier's
    /// `num_solver_iterations`: rapier's semi-implicit Euler loses energy in proportion to its
    /// substep (the 3-link free swing drifts 18.7 % of its peak kinetic energy with 1 substep and
    /// 4.0 % with 8, at almost proportional cost). Default 1.
    pub substeps: usize,
    /// Constraint-solver iterations per substep (rapier's `num_internal_pgs_iterations`); only joint
    /// limits and friction use the constraint solver. Default 1.
    pub pgs_iterations: usize,
    /// Joint position limits from the URDF act as hard stops (inelastic, enforced by rapier's
    /// constraint solver with a small overshoot that is pushed back within a few steps).
    /// Set to `false` to let joints pass freely. Default true.
    pub enforce_position_limits: bool,
    /// Name of the URDF link whose frame is the end effector and carries payloads. Default `"ee"`.
    pub ee_link: String,
}

/// The integration scheme of the arm's free motion.
///
/// Whatever the scheme, a step that would carry a joint past an enforced position limit, and every step
/// with joint friction, is a rapier step: stops and dry friction are constraints of rapier's solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrator {
    /// Classical fourth-order Runge–Kutta on the joint coordinates, in f64, over the joint-space
    /// dynamics `M(q) q̈ = τ − b(q, q̇) − d·q̇` of the tree rapier built (same joint frames, same link
    /// masses and inertias, the payload included); the state is then written back into rapier, which
    /// places the links. Error O(dt⁴); energy is kept (no numerical damping). Viscous damping is
    /// explicit, stable while `dt · damping` is well below the smallest joint inertia (kg·m²). The default.
    #[default]
    Rk4,
    /// rapier's own multibody step (f32, semi-implicit Euler with a linearly implicit Coriolis term):
    /// first order, and it loses energy in proportion to the (sub)step. Kept as the anchor for
    /// comparisons.
    Rapier,
}

impl Default for SimParams {
    fn default() -> Self {
        Self {
            dt: 0.001,
            gravity: [0.0, 0.0, -9.81],
            joint_damping: 0.0,
            joint_friction: 0.0,
            integrator: Integrator::default(),
            substeps: 1,
            pgs_iterations: 1,
            enforce_position_limits: true,
            ee_link: "ee".to_string(),
        }
    }
}

impl SimParams {
    /// Checks ranges: dt finite and in (0, 1] s, gravity finite, damping and friction finite and ≥ 0,
    /// at least one substep and one solver iteration.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::InvalidParams(m));
        if !(self.dt.is_finite() && self.dt > 0.0 && self.dt <= 1.0) {
            return bad(format!("dt must be in (0, 1] s, got {}", self.dt));
        }
        if self.gravity.iter().any(|g| !g.is_finite()) {
            return bad(format!("gravity must be finite, got {:?}", self.gravity));
        }
        if !(self.joint_damping.is_finite() && self.joint_damping >= 0.0) {
            return bad(format!("joint_damping must be finite and >= 0, got {}", self.joint_damping));
        }
        if !(self.joint_friction.is_finite() && self.joint_friction >= 0.0) {
            return bad(format!("joint_friction must be finite and >= 0, got {}", self.joint_friction));
        }
        if self.substeps == 0 {
            return bad("substeps must be >= 1".to_string());
        }
        if self.pgs_iterations == 0 {
            return bad("pgs_iterations must be >= 1".to_string());
        }
        Ok(())
    }
}
