//! The controller's own rigid-body model of a serial arm: forward kinematics, the end-effector Jacobian,
//! the joint-space mass matrix M(q) (composite rigid body algorithm), and gravity, Coriolis/centrifugal and
//! full inverse-dynamics torques (recursive Newton–Euler). Written on nalgebra from an [`ArmSpec`],
//! independently of the rapier sim, so that each validates the other.
//!
//! Frames and units: every output is in the **base frame** (the URDF root link's frame); positions in m,
//! angles in rad, joint velocities in rad/s, accelerations in rad/s², torques in N·m, masses in kg.
//! Jacobian rows are (vx, vy, vz, ωx, ωy, ωz) of the `ee` frame origin, in the base frame.
//!
//! Dynamics convention: `τ = M(q) q̈ + C(q, q̇) q̇ + g(q)`, where τ is the torque the joints apply. So
//! [`ArmModel::gravity_torque`] is the torque that *holds the arm still* against gravity, and
//! [`ArmModel::inverse_dynamics`] is the torque that produces the given motion.
//!
//! Storage: the per-joint constants and the per-call workspace are `Vec`s sized once in
//! [`ArmModel::new`] and never resized. This was chosen over fixed-size arrays with a `MAX_DOF` because it
//! costs nothing per call (no allocation, one indirection per array) and puts no cap on the chain length;
//! the arrays hold nalgebra fixed-size `Matrix3`/`Vector3`, so the inner loops are fully unrolled 3×3
//! arithmetic. Callers pass joint vectors as slices (`DVector::as_slice` works) and receive matrices in
//! caller-owned `DMatrix`es, checked for shape on every call and never reallocated.
//!
//! Kinematics (link poses, axes, COMs, world inertias) are cached keyed by the exact bits of `q`, so a tick
//! that asks for FK, J, M, g and C at the same `q` computes them once.

use nalgebra::{DMatrix, Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion, Vector3};

use super::body_inertia::BodyInertia;
use super::description::{ArmSpec, UrdfChainError};

/// Standard gravity, m/s².
pub const STANDARD_GRAVITY: f64 = 9.81;

/// Tunables of the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmModelParams {
    /// Gravitational acceleration in the base frame, m/s². Default (0, 0, −9.81): base z up.
    pub gravity: Vector3<f64>,
}

impl Default for ArmModelParams {
    fn default() -> Self {
        Self { gravity: Vector3::new(0.0, 0.0, -STANDARD_GRAVITY) }
    }
}

/// A point mass rigidly attached to the `ee` frame (a grasped object, a tool), for "perfect knowledge"
/// baselines and tests: the simulation's payload type, so the model and the physics carry the same one.
pub use spikearm_sim::PayloadSpec;

/// Bad input to the model. Never produced by valid calls; each names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ArmModelError {
    /// The spec fails validation.
    #[error("invalid arm spec: {0}")]
    Spec(#[from] UrdfChainError),
    /// A joint-space slice has the wrong length.
    #[error("{what} has length {got}, expected {expected} (the arm's number of joints)")]
    Length {
        /// Which argument.
        what: &'static str,
        /// The arm's DoF.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// An output matrix has the wrong shape.
    #[error("{what} is {rows}×{cols}, expected {expected}")]
    Shape {
        /// Which argument.
        what: &'static str,
        /// Rows passed.
        rows: usize,
        /// Columns passed.
        cols: usize,
        /// The accepted shape(s), in words.
        expected: &'static str,
    },
    /// An input contains NaN or ±∞.
    #[error("{0} contains NaN or infinity")]
    NonFinite(&'static str),
    /// A payload with negative or non-finite mass or a non-finite offset.
    #[error("invalid payload: mass {mass} kg, offset {offset:?} m (mass must be finite and ≥ 0, offset finite)")]
    Payload {
        /// Mass given, kg.
        mass: f64,
        /// Offset given, m.
        offset: [f64; 3],
    },
    /// Non-finite gravity vector.
    #[error("gravity {0:?} m/s² is not finite")]
    Gravity([f64; 3]),
}

/// Per-joint constants, derived from the spec (and the payload for the last joint).
#[derive(Debug, Clone)]
struct JointConst {
    origin_rot: Matrix3<f64>,
    origin_pos: Vector3<f64>,
    axis: Vector3<f64>,
    // Rodrigues terms: R(q) = I + sin q · K + (1 − cos q) · K².
    k: Matrix3<f64>,
    k2: Matrix3<f64>,
    mass: f64,
    com: Vector3<f64>,
    inertia: Matrix3<f64>,
}

/// Base-frame kinematics at one `q`, reused by every query at that `q`.
#[derive(Debug, Clone)]
struct KinematicsCache {
    valid: bool,
    q: Vec<f64>,
    rot: Vec<Matrix3<f64>>,
    /// Joint origins (points on the axes).
    pos: Vec<Vector3<f64>>,
    /// Unit joint axes.
    z: Vec<Vector3<f64>>,
    /// `pos × z`: the linear part of each joint's spatial axis about the base origin.
    pxz: Vec<Vector3<f64>>,
    com: Vec<Vector3<f64>>,
    inertia: Vec<Matrix3<f64>>,
    ee_rot: Matrix3<f64>,
    ee_pos: Vector3<f64>,
}

/// The arm model. Build once with [`ArmModel::new`]; every query after that is allocation-free.
///
/// Queries take `&mut self` because they write the preallocated workspace and the kinematics cache; give
/// each thread its own clone.
#[derive(Debug, Clone)]
pub struct ArmModel {
    spec: ArmSpec,
    params: ArmModelParams,
    payload: Option<PayloadSpec>,
    joints: Vec<JointConst>,
    ee_rot: Matrix3<f64>,
    ee_pos: Vector3<f64>,
    kin: KinematicsCache,
    /// RNEA scratch: per-body inertial force and moment about the COM.
    force: Vec<Vector3<f64>>,
    moment: Vec<Vector3<f64>>,
}

fn skew(v: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -v.z, v.y, v.z, 0.0, -v.x, -v.y, v.x, 0.0)
}

impl ArmModel {
    /// Builds the model and its workspace from a validated spec.
    pub fn new(spec: &ArmSpec, params: ArmModelParams) -> Result<Self, ArmModelError> {
        spec.validate()?;
        if !params.gravity.iter().all(|g| g.is_finite()) {
            return Err(ArmModelError::Gravity(params.gravity.into()));
        }
        let n = spec.dof();
        let joints = spec
            .joints
            .iter()
            .map(|j| {
                let axis = j.axis.into_inner();
                let k = skew(&axis);
                JointConst {
                    origin_rot: *j.origin.rotation.to_rotation_matrix().matrix(),
                    origin_pos: j.origin.translation.vector,
                    axis,
                    k,
                    k2: k * k,
                    mass: j.body.mass,
                    com: j.body.com,
                    inertia: j.body.inertia,
                }
            })
            .collect();
        let zero3 = Vector3::zeros();
        let mut model = Self {
            spec: spec.clone(),
            params,
            payload: None,
            joints,
            ee_rot: *spec.ee_offset.rotation.to_rotation_matrix().matrix(),
            ee_pos: spec.ee_offset.translation.vector,
            kin: KinematicsCache {
                valid: false,
                q: vec![0.0; n],
                rot: vec![Matrix3::identity(); n],
                pos: vec![zero3; n],
                z: vec![zero3; n],
                pxz: vec![zero3; n],
                com: vec![zero3; n],
                inertia: vec![Matrix3::zeros(); n],
                ee_rot: Matrix3::identity(),
                ee_pos: zero3,
            },
            force: vec![zero3; n],
            moment: vec![zero3; n],
        };
        model.set_payload(None)?;
        Ok(model)
    }

    /// Number of joints.
    pub fn dof(&self) -> usize {
        self.joints.len()
    }

    /// The spec the model was built from (joint names, limits, nominal inertias without payload).
    pub fn spec(&self) -> &ArmSpec {
        &self.spec
    }

    /// The model's tunables.
    pub fn params(&self) -> &ArmModelParams {
        &self.params
    }

    /// The payload currently modelled, if any.
    pub fn payload(&self) -> Option<PayloadSpec> {
        self.payload
    }

    /// Attaches (or with `None` removes) a point-mass payload on the `ee` frame. Replaces any earlier
    /// payload. Not a per-tick call: it recombines the last link's inertia.
    pub fn set_payload(&mut self, payload: Option<PayloadSpec>) -> Result<(), ArmModelError> {
        if let Some(p) = payload
            && !(p.mass_kg.is_finite() && p.mass_kg >= 0.0 && p.offset_m.iter().all(|v| v.is_finite()))
        {
            return Err(ArmModelError::Payload { mass: p.mass_kg, offset: p.offset_m });
        }
        let last = self.spec.joints.len() - 1;
        let mut body = self.spec.joints[last].body;
        if let Some(p) = payload {
            let at = self.spec.ee_offset.transform_point(&Vector3::from(p.offset_m).into()).coords;
            body = body.combined(&BodyInertia::point_mass(p.mass_kg, at));
        }
        let j = &mut self.joints[last];
        j.mass = body.mass;
        j.com = body.com;
        j.inertia = body.inertia;
        self.payload = payload;
        self.kin.valid = false;
        Ok(())
    }

    fn check_len(&self, what: &'static str, v: &[f64]) -> Result<(), ArmModelError> {
        if v.len() != self.dof() {
            return Err(ArmModelError::Length { what, expected: self.dof(), got: v.len() });
        }
        Ok(())
    }

    fn check_input(&self, what: &'static str, v: &[f64]) -> Result<(), ArmModelError> {
        self.check_len(what, v)?;
        if !v.iter().all(|x| x.is_finite()) {
            return Err(ArmModelError::NonFinite(what));
        }
        Ok(())
    }

    /// Recomputes base-frame link kinematics unless they are cached for exactly this `q`.
    fn update_kinematics(&mut self, q: &[f64]) -> Result<(), ArmModelError> {
        self.check_input("q", q)?;
        let kin = &mut self.kin;
        if kin.valid && kin.q.iter().zip(q).all(|(a, b)| a.to_bits() == b.to_bits()) {
            return Ok(());
        }
        let mut rot_prev = Matrix3::identity();
        let mut pos_prev = Vector3::zeros();
        for (i, (j, &qi)) in self.joints.iter().zip(q).enumerate() {
            let rot_joint = rot_prev * j.origin_rot;
            let pos = pos_prev + rot_prev * j.origin_pos;
            let z = rot_joint * j.axis;
            let (s, c) = qi.sin_cos();
            let rot = rot_joint * (Matrix3::identity() + j.k * s + j.k2 * (1.0 - c));
            kin.rot[i] = rot;
            kin.pos[i] = pos;
            kin.z[i] = z;
            kin.pxz[i] = pos.cross(&z);
            kin.com[i] = pos + rot * j.com;
            kin.inertia[i] = rot * j.inertia * rot.transpose();
            rot_prev = rot;
            pos_prev = pos;
        }
        kin.ee_rot = rot_prev * self.ee_rot;
        kin.ee_pos = pos_prev + rot_prev * self.ee_pos;
        kin.q.copy_from_slice(q);
        kin.valid = true;
        Ok(())
    }

    /// Pose of the `ee` frame in the base frame at joint angles `q` (rad). Translation in m.
    pub fn forward_kinematics(&mut self, q: &[f64]) -> Result<Isometry3<f64>, ArmModelError> {
        self.update_kinematics(q)?;
        let rot = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(self.kin.ee_rot));
        Ok(Isometry3::from_parts(Translation3::from(self.kin.ee_pos), rot))
    }

    /// Position of the `ee` frame origin in the base frame, m.
    pub fn ee_position(&mut self, q: &[f64]) -> Result<Vector3<f64>, ArmModelError> {
        self.update_kinematics(q)?;
        Ok(self.kin.ee_pos)
    }

    /// Geometric Jacobian of the `ee` frame origin in the base frame: `ẋ = J q̇`.
    ///
    /// `j` must be 6×n (rows vx, vy, vz [m/s per rad/s], ωx, ωy, ωz [rad/s per rad/s]) or 3×n (the
    /// linear rows only).
    pub fn jacobian(&mut self, q: &[f64], j: &mut DMatrix<f64>) -> Result<(), ArmModelError> {
        let n = self.dof();
        if !(j.ncols() == n && (j.nrows() == 3 || j.nrows() == 6)) {
            return Err(ArmModelError::Shape {
                what: "jacobian",
                rows: j.nrows(),
                cols: j.ncols(),
                expected: "3×n or 6×n",
            });
        }
        self.update_kinematics(q)?;
        let kin = &self.kin;
        let angular = j.nrows() == 6;
        for i in 0..n {
            let z = kin.z[i];
            let v = z.cross(&(kin.ee_pos - kin.pos[i]));
            for r in 0..3 {
                j[(r, i)] = v[r];
                if angular {
                    j[(r + 3, i)] = z[r];
                }
            }
        }
        Ok(())
    }

    /// Joint-space mass matrix M(q), kg·m², by the composite rigid body algorithm. `m` must be n×n.
    pub fn mass_matrix(&mut self, q: &[f64], m: &mut DMatrix<f64>) -> Result<(), ArmModelError> {
        let n = self.dof();
        if m.nrows() != n || m.ncols() != n {
            return Err(ArmModelError::Shape {
                what: "mass matrix",
                rows: m.nrows(),
                cols: m.ncols(),
                expected: "n×n",
            });
        }
        self.update_kinematics(q)?;
        let kin = &self.kin;
        // Composite body j..n-1, about the base origin: mass, first moment Σ m c, rotational inertia.
        let mut mass = 0.0;
        let mut h = Vector3::zeros();
        let mut inertia_o = Matrix3::zeros();
        for jj in (0..n).rev() {
            let mj = self.joints[jj].mass;
            let c = kin.com[jj];
            mass += mj;
            h += c * mj;
            inertia_o += kin.inertia[jj] + (Matrix3::identity() * c.dot(&c) - c * c.transpose()) * mj;
            // Spatial force (moment about the origin, force) the composite needs to move along axis jj.
            let (w, v) = (kin.z[jj], kin.pxz[jj]);
            let force = v * mass + w.cross(&h);
            let moment = inertia_o * w + h.cross(&v);
            for i in 0..=jj {
                let mij = kin.z[i].dot(&moment) + kin.pxz[i].dot(&force);
                m[(i, jj)] = mij;
                m[(jj, i)] = mij;
            }
        }
        Ok(())
    }

    /// Recursive Newton–Euler: τ for (q, q̇, q̈), with or without gravity. `None` means zeros.
    fn rnea(
        &mut self,
        q: &[f64],
        dq: Option<&[f64]>,
        ddq: Option<&[f64]>,
        with_gravity: bool,
        tau: &mut [f64],
    ) -> Result<(), ArmModelError> {
        if let Some(dq) = dq {
            self.check_input("dq", dq)?;
        }
        if let Some(ddq) = ddq {
            self.check_input("ddq", ddq)?;
        }
        self.check_len("tau", tau)?;
        self.update_kinematics(q)?;
        let kin = &self.kin;
        let n = self.joints.len();
        // Gravity enters as an upward acceleration of the base, so every body "accelerates" against it.
        let mut acc = if with_gravity { -self.params.gravity } else { Vector3::zeros() };
        let mut omega = Vector3::zeros();
        let mut alpha = Vector3::zeros();
        for i in 0..n {
            if i > 0 {
                // Joint origin i is a point of body i-1 (and, lying on the axis, of body i too).
                let d = kin.pos[i] - kin.pos[i - 1];
                acc += alpha.cross(&d) + omega.cross(&omega.cross(&d));
            }
            let z = kin.z[i];
            let w_rel = z * dq.map_or(0.0, |v| v[i]);
            alpha += z * ddq.map_or(0.0, |v| v[i]) + omega.cross(&w_rel);
            omega += w_rel;
            let r = kin.com[i] - kin.pos[i];
            let acc_com = acc + alpha.cross(&r) + omega.cross(&omega.cross(&r));
            let inertia = &kin.inertia[i];
            self.force[i] = acc_com * self.joints[i].mass;
            self.moment[i] = inertia * alpha + omega.cross(&(inertia * omega));
        }
        let mut f = Vector3::zeros();
        let mut nm = Vector3::zeros(); // moment about the current joint origin
        for i in (0..n).rev() {
            let r = kin.com[i] - kin.pos[i];
            if i + 1 < n {
                nm += (kin.pos[i + 1] - kin.pos[i]).cross(&f);
            }
            nm += self.moment[i] + r.cross(&self.force[i]);
            f += self.force[i];
            tau[i] = kin.z[i].dot(&nm);
        }
        Ok(())
    }

    /// Gravity torque g(q), N·m: the joint torques that hold the arm (and payload) still at `q`.
    pub fn gravity_torque(&mut self, q: &[f64], g: &mut [f64]) -> Result<(), ArmModelError> {
        self.rnea(q, None, None, true, g)
    }

    /// Coriolis and centrifugal torque C(q, q̇) q̇, N·m (no gravity).
    pub fn coriolis_torque(&mut self, q: &[f64], dq: &[f64], c: &mut [f64]) -> Result<(), ArmModelError> {
        self.rnea(q, Some(dq), None, false, c)
    }

    /// Inverse dynamics τ = M(q) q̈ + C(q, q̇) q̇ + g(q), N·m.
    pub fn inverse_dynamics(
        &mut self,
        q: &[f64],
        dq: &[f64],
        ddq: &[f64],
        tau: &mut [f64],
    ) -> Result<(), ArmModelError> {
        self.rnea(q, Some(dq), Some(ddq), true, tau)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DVector;

    fn model(file: &str) -> ArmModel {
        let path = format!("{}/config/arms/{file}", env!("CARGO_MANIFEST_DIR"));
        ArmModel::new(&ArmSpec::from_urdf_file(path).unwrap(), ArmModelParams::default()).unwrap()
    }

    /// Deterministic pseudo-random numbers in [-1, 1) without pulling a generator into unit tests.
    fn lcg(state: &mut u64) -> f64 {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    fn random_vec(n: usize, scale: f64, state: &mut u64) -> Vec<f64> {
        (0..n).map(|_| scale * lcg(state)).collect()
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn threelink_hand_checks() {
        let mut m = model("threelink.urdf");
        let q = [0.0; 3];
        let mut g = [0.0; 3];
        m.gravity_torque(&q, &mut g).unwrap();
        assert_close(&g, &[25.506, 8.3385, 1.4715], 1e-9);
        let mut mm = DMatrix::zeros(3, 3);
        m.mass_matrix(&q, &mut mm).unwrap();
        let want = [[2.031667, 0.815, 0.165], [0.815, 0.39, 0.09], [0.165, 0.09, 0.03]];
        for (r, row) in want.iter().enumerate() {
            assert_close(mm.row(r).transpose().as_slice(), row, 1e-6);
        }
        assert!((m.ee_position(&q).unwrap() - Vector3::new(1.2, 0.0, 0.0)).norm() < 1e-12);
        // q > 0 lifts the arm: all links straight up.
        let up = m.ee_position(&[std::f64::consts::FRAC_PI_2, 0.0, 0.0]).unwrap();
        assert!((up - Vector3::new(0.0, 0.0, 1.2)).norm() < 1e-12);
    }

    #[test]
    fn ur5e_hand_checks() {
        let mut m = model("ur5e.urdf");
        let q = [0.0; 6];
        let mut g = [0.0; 6];
        m.gravity_torque(&q, &mut g).unwrap();
        assert_close(&g, &[0.0, -59.756, -18.439, 0.0, 0.0, 0.0], 1e-3);
        let p = m.ee_position(&q).unwrap();
        assert!((p - Vector3::new(-0.8172, -0.2329, 0.0628)).norm() < 1e-9, "{p}");
    }

    /// UR's standard DH forward kinematics, written independently of the URDF.
    fn ur5e_dh(q: &[f64]) -> Isometry3<f64> {
        let d = [0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996];
        let a = [0.0, -0.425, -0.3922, 0.0, 0.0, 0.0];
        let alpha =
            [std::f64::consts::FRAC_PI_2, 0.0, 0.0, std::f64::consts::FRAC_PI_2, -std::f64::consts::FRAC_PI_2, 0.0];
        let mut t = Isometry3::identity();
        for i in 0..6 {
            t = t
                * Isometry3::rotation(Vector3::z() * q[i])
                * Isometry3::translation(a[i], 0.0, d[i])
                * Isometry3::rotation(Vector3::x() * alpha[i]);
        }
        t
    }

    #[test]
    fn ur5e_matches_dh_forward_kinematics() {
        let mut m = model("ur5e.urdf");
        let mut s = 7;
        for _ in 0..50 {
            let q = random_vec(6, std::f64::consts::PI, &mut s);
            let fk = m.forward_kinematics(&q).unwrap();
            let dh = ur5e_dh(&q);
            assert!((fk.translation.vector - dh.translation.vector).norm() < 1e-9);
            assert!(fk.rotation.angle_to(&dh.rotation) < 1e-9);
        }
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        for file in ["threelink.urdf", "ur5e.urdf"] {
            let mut m = model(file);
            let n = m.dof();
            let mut s = 11;
            let mut j = DMatrix::zeros(6, n);
            let mut j3 = DMatrix::zeros(3, n);
            for _ in 0..20 {
                let q = random_vec(n, 2.5, &mut s);
                m.jacobian(&q, &mut j).unwrap();
                m.jacobian(&q, &mut j3).unwrap();
                assert_eq!(j.rows(0, 3), j3);
                let h = 1e-6;
                for i in 0..n {
                    let (mut qp, mut qm) = (q.clone(), q.clone());
                    qp[i] += h;
                    qm[i] -= h;
                    let (tp, tm) = (m.forward_kinematics(&qp).unwrap(), m.forward_kinematics(&qm).unwrap());
                    let v = (tp.translation.vector - tm.translation.vector) / (2.0 * h);
                    // Angular velocity from the relative rotation, expressed in the base frame.
                    let w = (tp.rotation * tm.rotation.inverse()).scaled_axis() / (2.0 * h);
                    for r in 0..3 {
                        assert!((j[(r, i)] - v[r]).abs() < 1e-7, "{file} linear col {i}");
                        assert!((j[(r + 3, i)] - w[r]).abs() < 1e-7, "{file} angular col {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn rnea_agrees_with_crba_and_mass_matrix_is_spd() {
        for file in ["threelink.urdf", "ur5e.urdf"] {
            let mut m = model(file);
            let n = m.dof();
            let mut s = 3;
            let mut mm = DMatrix::zeros(n, n);
            let (mut g, mut c, mut tau, mut tau_m) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            for _ in 0..20 {
                let q = random_vec(n, 3.0, &mut s);
                let dq = random_vec(n, 2.0, &mut s);
                let ddq = random_vec(n, 5.0, &mut s);
                m.mass_matrix(&q, &mut mm).unwrap();
                m.gravity_torque(&q, &mut g).unwrap();
                m.coriolis_torque(&q, &dq, &mut c).unwrap();
                m.inverse_dynamics(&q, &dq, &ddq, &mut tau).unwrap();
                let pred = &mm * DVector::from_column_slice(&ddq);
                for i in 0..n {
                    tau_m[i] = pred[i] + c[i] + g[i];
                }
                assert_close(&tau, &tau_m, 1e-9 * (1.0 + tau.iter().fold(0.0f64, |a, b| a.max(b.abs()))));
                assert!((&mm - mm.transpose()).abs().max() < 1e-12);
                let eig = mm.clone().symmetric_eigenvalues();
                assert!(eig.min() > 0.0, "{file}: M not positive definite: {eig}");
            }
        }
    }

    #[test]
    fn coriolis_is_quadratic_in_velocity_and_does_no_work_against_mdot() {
        // C(q, k q̇) q̇ scales with k²; and q̇ᵀ(Ṁ − 2C)q̇ = 0, i.e. q̇ᵀ C q̇ = ½ q̇ᵀ Ṁ q̇.
        let mut m = model("ur5e.urdf");
        let mut s = 5;
        let (mut c1, mut c2) = (vec![0.0; 6], vec![0.0; 6]);
        let (mut mp, mut mn) = (DMatrix::zeros(6, 6), DMatrix::zeros(6, 6));
        for _ in 0..10 {
            let q = random_vec(6, 3.0, &mut s);
            let dq = random_vec(6, 2.0, &mut s);
            let dq2: Vec<f64> = dq.iter().map(|v| 2.0 * v).collect();
            m.coriolis_torque(&q, &dq, &mut c1).unwrap();
            m.coriolis_torque(&q, &dq2, &mut c2).unwrap();
            for i in 0..6 {
                assert!((c2[i] - 4.0 * c1[i]).abs() < 1e-9);
            }
            let h = 1e-6;
            let qp: Vec<f64> = q.iter().zip(&dq).map(|(a, b)| a + h * b).collect();
            let qm: Vec<f64> = q.iter().zip(&dq).map(|(a, b)| a - h * b).collect();
            m.mass_matrix(&qp, &mut mp).unwrap();
            m.mass_matrix(&qm, &mut mn).unwrap();
            let mdot = (&mp - &mn) / (2.0 * h);
            let dqv = DVector::from_column_slice(&dq);
            let lhs = dqv.dot(&DVector::from_column_slice(&c1));
            let rhs = 0.5 * dqv.dot(&(&mdot * &dqv));
            assert!((lhs - rhs).abs() < 1e-6 * (1.0 + rhs.abs()), "{lhs} vs {rhs}");
        }
    }

    #[test]
    fn payload_adds_its_own_gravity_torque() {
        let mut m = model("threelink.urdf");
        let (mut g0, mut g1) = ([0.0; 3], [0.0; 3]);
        m.gravity_torque(&[0.0; 3], &mut g0).unwrap();
        m.set_payload(Some(PayloadSpec::at_ee(2.0))).unwrap();
        m.gravity_torque(&[0.0; 3], &mut g1).unwrap();
        // 2 kg at the tip, x = 1.2, 0.7, 0.3 from joints 1, 2, 3.
        let want: Vec<f64> = [1.2, 0.7, 0.3].iter().map(|x| 2.0 * STANDARD_GRAVITY * x).collect();
        assert_close(&[g1[0] - g0[0], g1[1] - g0[1], g1[2] - g0[2]], &want, 1e-9);
        m.set_payload(None).unwrap();
        m.gravity_torque(&[0.0; 3], &mut g1).unwrap();
        assert_close(&g1, &g0, 0.0);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut m = model("threelink.urdf");
        let mut g = [0.0; 3];
        assert!(matches!(m.gravity_torque(&[0.0; 2], &mut g), Err(ArmModelError::Length { .. })));
        assert!(matches!(m.gravity_torque(&[0.0; 3], &mut [0.0; 4]), Err(ArmModelError::Length { .. })));
        assert!(matches!(m.gravity_torque(&[f64::NAN, 0.0, 0.0], &mut g), Err(ArmModelError::NonFinite("q"))));
        assert!(matches!(m.jacobian(&[0.0; 3], &mut DMatrix::zeros(4, 3)), Err(ArmModelError::Shape { .. })));
        assert!(matches!(m.mass_matrix(&[0.0; 3], &mut DMatrix::zeros(3, 2)), Err(ArmModelError::Shape { .. })));
        let bad = PayloadSpec::at_ee(-1.0);
        assert!(matches!(m.set_payload(Some(bad)), Err(ArmModelError::Payload { .. })));
        let spec = m.spec().clone();
        let params = ArmModelParams { gravity: Vector3::new(0.0, 0.0, f64::INFINITY) };
        assert!(matches!(ArmModel::new(&spec, params), Err(ArmModelError::Gravity(_))));
    }
}
