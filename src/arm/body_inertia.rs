//! Rigid-body inertial parameters of one link: mass, centre of mass, rotational inertia.
//!
//! Used by the URDF reader to fold fixed-joint children into their moving parent, and by the arm model to
//! fold a point-mass payload into the last link. Both are build-time operations, so these helpers may be
//! ordinary value-returning functions.

use nalgebra::{Isometry3, Matrix3, Point3, Vector3};

/// Inertial parameters of a rigid body, all expressed in one reference frame (the owning link's frame).
///
/// Units: mass in kg, `com` in m, `inertia` in kg·m². `inertia` is taken **about the centre of mass**, with
/// axes parallel to the reference frame (URDF `<inertial>` tensors are rotated into this frame when read).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyInertia {
    /// Mass, kg.
    pub mass: f64,
    /// Centre of mass in the reference frame, m.
    pub com: Vector3<f64>,
    /// Rotational inertia about the centre of mass, axes of the reference frame, kg·m². Symmetric.
    pub inertia: Matrix3<f64>,
}

impl BodyInertia {
    /// A massless body (the neutral element of [`BodyInertia::combined`]).
    pub fn zero() -> Self {
        Self { mass: 0.0, com: Vector3::zeros(), inertia: Matrix3::zeros() }
    }

    /// A point mass of `mass` kg at `position` (m) in the reference frame.
    pub fn point_mass(mass: f64, position: Vector3<f64>) -> Self {
        Self { mass, com: position, inertia: Matrix3::zeros() }
    }

    /// The same body described in a parent frame, given `pose` = the pose of this body's frame in the parent.
    pub fn transformed(&self, pose: &Isometry3<f64>) -> Self {
        let r = pose.rotation.to_rotation_matrix();
        let r = r.matrix();
        Self {
            mass: self.mass,
            com: pose.transform_point(&Point3::from(self.com)).coords,
            inertia: r * self.inertia * r.transpose(),
        }
    }

    /// Two bodies in the same frame welded together (parallel-axis theorem about the joint COM).
    pub fn combined(&self, other: &Self) -> Self {
        let mass = self.mass + other.mass;
        if mass <= 0.0 {
            // Both massless: keep the inertias (possibly non-zero nominal values) and an arbitrary COM.
            return Self { mass: 0.0, com: self.com, inertia: self.inertia + other.inertia };
        }
        let com = (self.com * self.mass + other.com * other.mass) / mass;
        let inertia = self.inertia_about(&com) + other.inertia_about(&com);
        Self { mass, com, inertia }
    }

    /// Rotational inertia about the point `p` (same frame), kg·m².
    pub fn inertia_about(&self, p: &Vector3<f64>) -> Matrix3<f64> {
        let d = self.com - p;
        self.inertia + self.mass * (Matrix3::identity() * d.dot(&d) - d * d.transpose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Translation3, UnitQuaternion};

    #[test]
    fn two_point_masses_make_a_dumbbell() {
        let a = BodyInertia::point_mass(1.0, Vector3::new(-1.0, 0.0, 0.0));
        let b = BodyInertia::point_mass(1.0, Vector3::new(1.0, 0.0, 0.0));
        let c = a.combined(&b);
        assert_eq!(c.mass, 2.0);
        assert!(c.com.norm() < 1e-15);
        let expected = Matrix3::from_diagonal(&Vector3::new(0.0, 2.0, 2.0));
        assert!((c.inertia - expected).norm() < 1e-12);
    }

    #[test]
    fn transform_moves_com_as_a_point_and_rotates_the_tensor() {
        let body = BodyInertia {
            mass: 2.0,
            com: Vector3::new(1.0, 0.0, 0.0),
            inertia: Matrix3::from_diagonal(&Vector3::new(1.0, 2.0, 3.0)),
        };
        let pose = Isometry3::from_parts(
            Translation3::new(0.0, 0.0, 5.0),
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), std::f64::consts::FRAC_PI_2),
        );
        let t = body.transformed(&pose);
        assert!((t.com - Vector3::new(0.0, 1.0, 5.0)).norm() < 1e-12);
        let expected = Matrix3::from_diagonal(&Vector3::new(2.0, 1.0, 3.0));
        assert!((t.inertia - expected).norm() < 1e-12);
    }
}
