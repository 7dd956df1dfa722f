//! Joint-space dynamics of the loaded multibody in f64, and the RK4 step built on it.
//!
//! rapier's own multibody step (semi-implicit Euler, Coriolis term linearly implicit, f32) loses energy in
//! proportion to its step and drifts from the exact trajectory by O(dt). This module integrates the same
//! tree — the joint frames rapier built from the URDF and the link mass properties (with the payload) —
//! with the classical fourth-order Runge–Kutta scheme on the generalized coordinates, in f64:
//!
//! ```text
//!   q̈ = M(q)⁻¹ (τ − b(q, q̇) − d·q̇)      b = Coriolis + centrifugal + gravity torques
//! ```
//!
//! `M` is summed from the link Jacobians (Σ mᵢ Jᵥᵢᵀ Jᵥᵢ + J_ωᵢᵀ Iᵢ J_ωᵢ), `b` is one recursive
//! Newton–Euler pass with q̈ = 0 and gravity as an upward acceleration of the base. Every vector is in
//! world axes; linear accelerations are those of each link's centre of mass.
//!
//! Everything is preallocated: an evaluation or a step does not allocate.

use nalgebra::{Isometry3, Matrix3, UnitQuaternion, Vector3};

use crate::arm_world::MassProps;

/// One link of the tree, in multibody order (a parent comes before its children).
#[derive(Debug, Clone)]
pub(crate) struct DynLink {
    /// Index of the parent link; `None` for the fixed root.
    pub parent: Option<usize>,
    /// Joint frame in the parent's body frame (rapier's `local_frame1`). The joint turns about its x axis.
    pub frame1: Isometry3<f64>,
    /// Inverse of the joint frame in this link's body frame (`local_frame2⁻¹`).
    pub frame2_inv: Isometry3<f64>,
    /// Index of the joint's coordinate in `q`; `None` for a rigid (fixed) joint or the root.
    pub dof: Option<usize>,
}

/// Per-link quantities of one evaluation, world axes.
#[derive(Debug, Clone, Copy)]
struct LinkState {
    /// Body pose (frame of the URDF link).
    pose: Isometry3<f64>,
    /// Joint axis (unit).
    axis: Vector3<f64>,
    /// A point on the joint axis (the joint frame origin), m.
    anchor: Vector3<f64>,
    /// Centre of mass, m.
    com: Vector3<f64>,
    /// Inertia about the centre of mass, kg·m².
    inertia: Matrix3<f64>,
    /// Angular velocity, rad/s.
    w: Vector3<f64>,
    /// Angular acceleration, rad/s².
    alpha: Vector3<f64>,
    /// Acceleration of the centre of mass (with gravity as a base acceleration), m/s².
    acc: Vector3<f64>,
    /// Force transmitted through the joint into this link's subtree, N.
    force: Vector3<f64>,
    /// Moment transmitted through the joint, about `anchor`, N·m.
    moment: Vector3<f64>,
}

impl Default for LinkState {
    fn default() -> Self {
        let z = Vector3::zeros();
        Self {
            pose: Isometry3::identity(),
            axis: z,
            anchor: z,
            com: z,
            inertia: Matrix3::zeros(),
            w: z,
            alpha: z,
            acc: z,
            force: z,
            moment: z,
        }
    }
}

/// The arm's rigid-body dynamics and an RK4 integrator over it.
#[derive(Debug, Clone)]
pub(crate) struct Dynamics {
    links: Vec<DynLink>,
    /// Mass properties per link (body frame), payload included.
    props: Vec<MassProps>,
    root_pose: Isometry3<f64>,
    /// Gravity, m/s², world frame.
    gravity: Vector3<f64>,
    /// Viscous joint damping, N·m·s/rad.
    damping: f64,
    /// For each link, the dofs on its path from the root (their links' ids), ordered root first.
    ancestors: Vec<Vec<(usize, usize)>>,
    n: usize,
    // Workspace.
    st: Vec<LinkState>,
    m: Vec<f64>,
    rhs: Vec<f64>,
    k: [Vec<f64>; 8],
    q_tmp: Vec<f64>,
    dq_tmp: Vec<f64>,
}

impl Dynamics {
    /// `links` in multibody order (parents first), `props` per link, `n` coordinates.
    pub fn new(
        links: Vec<DynLink>,
        props: Vec<MassProps>,
        root_pose: Isometry3<f64>,
        n: usize,
        gravity: Vector3<f64>,
        damping: f64,
    ) -> Self {
        let mut ancestors: Vec<Vec<(usize, usize)>> = Vec::with_capacity(links.len());
        for (i, l) in links.iter().enumerate() {
            let mut a = l.parent.map(|p| ancestors[p].clone()).unwrap_or_default();
            if let Some(d) = l.dof {
                a.push((i, d));
            }
            ancestors.push(a);
        }
        let nl = links.len();
        Self {
            links,
            props,
            root_pose,
            gravity,
            damping,
            ancestors,
            n,
            st: vec![LinkState::default(); nl],
            m: vec![0.0; n * n],
            rhs: vec![0.0; n],
            k: std::array::from_fn(|_| vec![0.0; n]),
            q_tmp: vec![0.0; n],
            dq_tmp: vec![0.0; n],
        }
    }

    /// Replaces the mass properties of link `i` (payload changes).
    pub fn set_props(&mut self, i: usize, p: MassProps) {
        self.props[i] = p;
    }

    /// Joint accelerations q̈, rad/s², at (q, q̇) under joint torques τ, written to `out`. Returns false
    /// if M(q) is not positive definite (then `out` is unspecified).
    pub fn accelerations(&mut self, q: &[f64], dq: &[f64], tau: &[f64], out: &mut [f64]) -> bool {
        let n = self.n;
        // Kinematics and velocities, root to leaves.
        for i in 0..self.links.len() {
            let l = &self.links[i];
            let p = &self.props[i];
            let mut s = LinkState::default();
            match l.parent {
                None => {
                    s.pose = self.root_pose;
                    s.anchor = s.pose.translation.vector;
                    // Gravity acts on every link as if the base accelerated upwards.
                    s.acc = -self.gravity;
                }
                Some(pi) => {
                    let ps = self.st[pi];
                    let angle = l.dof.map_or(0.0, |d| q[d]);
                    let joint = ps.pose * l.frame1 * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), angle);
                    s.pose = joint * l.frame2_inv;
                    s.axis = joint.rotation * Vector3::x();
                    s.anchor = joint.translation.vector;
                    let rate = l.dof.map_or(0.0, |d| dq[d]);
                    let wj = s.axis * rate;
                    s.w = ps.w + wj;
                    // q̈ = 0 here: the acceleration terms that q̈ adds are the columns of M.
                    s.alpha = ps.alpha + ps.w.cross(&wj);
                    let r = s.anchor - ps.com;
                    let acc_anchor = ps.acc + ps.alpha.cross(&r) + ps.w.cross(&ps.w.cross(&r));
                    s.com = (s.pose * nalgebra::Point3::from(p.com)).coords;
                    let rc = s.com - s.anchor;
                    s.acc = acc_anchor + s.alpha.cross(&rc) + s.w.cross(&s.w.cross(&rc));
                }
            }
            if l.parent.is_none() {
                s.com = (s.pose * nalgebra::Point3::from(p.com)).coords;
            }
            let rot = s.pose.rotation.to_rotation_matrix();
            s.inertia = rot.matrix() * p.inertia * rot.matrix().transpose();
            self.st[i] = s;
        }
        // Newton–Euler, leaves to root: the bias torques b(q, q̇) land in `rhs` with a minus sign.
        for s in &mut self.st {
            s.force = Vector3::zeros();
            s.moment = Vector3::zeros();
        }
        self.rhs.copy_from_slice(tau);
        for i in (1..self.links.len()).rev() {
            let p = &self.props[i];
            let s = &mut self.st[i];
            let f = s.acc * p.mass;
            let iw = s.inertia * s.w;
            let nc = s.inertia * s.alpha + s.w.cross(&iw);
            s.force += f;
            s.moment += nc + (s.com - s.anchor).cross(&f);
            let (force, moment, anchor, axis) = (s.force, s.moment, s.anchor, s.axis);
            if let Some(d) = self.links[i].dof {
                self.rhs[d] -= axis.dot(&moment) + self.damping * dq[d];
            }
            if let Some(pi) = self.links[i].parent {
                let ps = &mut self.st[pi];
                ps.force += force;
                ps.moment += moment + (anchor - ps.anchor).cross(&force);
            }
        }
        // M(q) from the link Jacobians; only links below a joint move with it.
        self.m.fill(0.0);
        for i in 1..self.links.len() {
            let p = &self.props[i];
            if p.mass <= 0.0 {
                continue;
            }
            let s = &self.st[i];
            let anc = &self.ancestors[i];
            for (a, &(la, da)) in anc.iter().enumerate() {
                let (sa, oa) = (self.st[la].axis, self.st[la].anchor);
                let va = sa.cross(&(s.com - oa));
                let ia = s.inertia * sa;
                for &(lb, db) in &anc[..=a] {
                    let (sb, ob) = (self.st[lb].axis, self.st[lb].anchor);
                    let vb = sb.cross(&(s.com - ob));
                    let v = p.mass * va.dot(&vb) + sb.dot(&ia);
                    self.m[da * n + db] += v;
                    if da != db {
                        self.m[db * n + da] += v;
                    }
                }
            }
        }
        out.copy_from_slice(&self.rhs);
        cholesky_solve(&mut self.m, n, out)
    }

    /// First stage of an RK4 step: q̈ at (q, q̇) under τ, kept for [`Self::rk4_finish`] and returned
    /// (so the caller can foresee the step). `None` if M(q) is not positive definite.
    pub fn rk4_start(&mut self, q: &[f64], dq: &[f64], tau: &[f64]) -> Option<&[f64]> {
        let mut k0 = std::mem::take(&mut self.k[0]);
        let ok = self.accelerations(q, dq, tau, &mut k0);
        self.k[0] = k0;
        ok.then_some(&self.k[0][..])
    }

    /// Completes the RK4 step begun by [`Self::rk4_start`] at the same (q, q̇, τ): advances (q, q̇) by
    /// `dt` seconds under constant torques. Returns false (state unspecified) if an evaluation failed.
    pub fn rk4_finish(&mut self, q: &mut [f64], dq: &mut [f64], tau: &[f64], dt: f64) -> bool {
        let n = self.n;
        // k[0..4]: accelerations of the four stages; k[4..8]: their velocities.
        let mut ks = std::mem::take(&mut self.k);
        let (mut qt, mut dqt) = (std::mem::take(&mut self.q_tmp), std::mem::take(&mut self.dq_tmp));
        let mut ok = true;
        let c = [0.0, 0.5 * dt, 0.5 * dt, dt];
        ks[4].copy_from_slice(dq);
        for stage in 1..4 {
            for j in 0..n {
                qt[j] = q[j] + c[stage] * ks[4 + stage - 1][j];
                dqt[j] = dq[j] + c[stage] * ks[stage - 1][j];
            }
            let (acc, vel) = ks.split_at_mut(4);
            vel[stage].copy_from_slice(&dqt);
            ok &= self.accelerations(&qt, &dqt, tau, &mut acc[stage]);
        }
        for j in 0..n {
            q[j] += dt / 6.0 * (ks[4][j] + 2.0 * ks[5][j] + 2.0 * ks[6][j] + ks[7][j]);
            dq[j] += dt / 6.0 * (ks[0][j] + 2.0 * ks[1][j] + 2.0 * ks[2][j] + ks[3][j]);
        }
        self.k = ks;
        self.q_tmp = qt;
        self.dq_tmp = dqt;
        ok && q.iter().chain(dq.iter()).all(|v| v.is_finite())
    }
}

/// Solves `A x = b` in place (`b` becomes x) for symmetric positive definite `A` (row-major n×n,
/// overwritten by its Cholesky factor). Returns false if `A` is not positive definite.
fn cholesky_solve(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    // L y = b, then Lᵀ x = y.
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2], [2, 3]], x = [1, -2] → b = [0, -4].
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let mut b = vec![0.0, -4.0];
        assert!(cholesky_solve(&mut a, 2, &mut b));
        assert!((b[0] - 1.0).abs() < 1e-12 && (b[1] + 2.0).abs() < 1e-12, "{b:?}");
        let mut not_pd = vec![1.0, 2.0, 2.0, 1.0];
        assert!(!cholesky_solve(&mut not_pd, 2, &mut [1.0, 1.0]));
    }
}
