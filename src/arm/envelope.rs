//! The arm's envelope: what is needed to judge input from outside against the arm — its joint names, its
//! effort limits and the sphere it can reach.

use super::description::ArmSpec;

/// The arm's envelope: joint names, effort limits and the reach sphere, for checking what comes from outside.
///
/// Reach: the first joint's origin never moves, and every later joint origin and the end effector sit at
/// fixed offsets along the chain, so the end effector is never farther from that origin than the sum of
/// those offsets' lengths. Targets beyond that sphere are unreachable; the controller clamps them onto it
/// (policy: clamp, count as `clamped.target`, say so in `status.last_refusal`) rather than refuse them,
/// so a slightly-too-far goal still moves the arm as close as it can get. The sphere is an outer bound: a
/// target inside it may still be out of reach for a particular arm's joint limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmEnvelope {
    names: Vec<String>,
    effort: Vec<f64>,
    center: [f64; 3],
    reach_m: f64,
}

impl ArmEnvelope {
    /// The envelope of `spec`.
    pub fn from_spec(spec: &ArmSpec) -> Self {
        let first = spec.joints[0].origin.translation.vector;
        let links: f64 = spec.joints[1..].iter().map(|j| j.origin.translation.vector.norm()).sum();
        Self {
            names: spec.joints.iter().map(|j| j.name.clone()).collect(),
            effort: spec.joints.iter().map(|j| j.limits.effort).collect(),
            center: [first.x, first.y, first.z],
            reach_m: links + spec.ee_offset.translation.vector.norm(),
        }
    }

    /// Joints of the arm.
    pub fn dof(&self) -> usize {
        self.names.len()
    }

    /// Joint names, URDF order.
    pub fn joint_names(&self) -> &[String] {
        &self.names
    }

    /// Centre of the reach sphere (the first joint's origin) in the base frame, m.
    pub fn reach_center(&self) -> [f64; 3] {
        self.center
    }

    /// Radius of the reach sphere, m.
    pub fn reach_m(&self) -> f64 {
        self.reach_m
    }

    /// Effort limits, N·m, one per joint.
    pub fn effort_limits(&self) -> &[f64] {
        &self.effort
    }

    /// Moves `target` (base frame, m) onto the reach sphere if it lies outside; returns how far it was
    /// outside, m, when it was moved.
    pub fn clamp_target(&self, target: &mut [f64; 3]) -> Option<f64> {
        let d = [target[0] - self.center[0], target[1] - self.center[1], target[2] - self.center[2]];
        let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        if !(r > self.reach_m) {
            return None;
        }
        let s = self.reach_m / r;
        for i in 0..3 {
            target[i] = self.center[i] + d[i] * s;
        }
        Some(r - self.reach_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::model::{ArmModel, ArmModelParams};

    fn urdf(name: &str) -> String {
        std::fs::read_to_string(format!("{}/config/arms/{name}.urdf", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn the_reach_sphere_bounds_the_forward_kinematics_and_is_nearly_tight() {
        for arm in ["threelink", "ur5e"] {
            let spec = ArmSpec::from_urdf_str(&urdf(arm)).unwrap();
            let env = ArmEnvelope::from_spec(&spec);
            let mut model = ArmModel::new(&spec, ArmModelParams::default()).unwrap();
            let c = nalgebra::Vector3::from(env.reach_center());
            let mut x: u64 = 0x2545_F491_4F6C_DD1D;
            let mut farthest: f64 = 0.0;
            for _ in 0..5000 {
                let q: Vec<f64> = (0..env.dof())
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x as f64 / u64::MAX as f64 - 0.5) * 2.0 * std::f64::consts::PI
                    })
                    .collect();
                let d = (model.ee_position(&q).unwrap() - c).norm();
                assert!(d <= env.reach_m() + 1e-9, "{arm}: ee {d} m from the centre, reach {}", env.reach_m());
                farthest = farthest.max(d);
            }
            // Stretched out (all zero for the planar arm) the bound is met, or nearly for the offset UR5e.
            assert!(farthest > 0.8 * env.reach_m(), "{arm}: farthest {farthest}, reach {}", env.reach_m());
        }
    }

    #[test]
    fn far_targets_are_moved_onto_the_sphere_and_near_ones_kept() {
        let env = ArmEnvelope::from_spec(&ArmSpec::from_urdf_str(&urdf("threelink")).unwrap());
        let c = env.reach_center();
        let mut near = [c[0] + 0.1, c[1], c[2] + 0.2];
        assert_eq!(env.clamp_target(&mut near), None);
        assert_eq!(near, [c[0] + 0.1, c[1], c[2] + 0.2]);
        let mut far = [c[0] + 30.0, c[1] - 40.0, c[2]];
        let outside = env.clamp_target(&mut far).unwrap();
        assert!((outside - (50.0 - env.reach_m())).abs() < 1e-9);
        let r = ((far[0] - c[0]).powi(2) + (far[1] - c[1]).powi(2) + (far[2] - c[2]).powi(2)).sqrt();
        assert!((r - env.reach_m()).abs() < 1e-12, "on the sphere: {r}");
        assert!((far[0] - c[0]) / (far[1] - c[1]) + 0.75 < 1e-12, "same direction");
    }
}
