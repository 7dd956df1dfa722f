//! Operational-space control (Khatib) of the end-effector position, with gravity compensation from the
//! payload-free model and null-space damping and rest posture — the feedback law of the adaptive controller
//! and of its PD/PID baselines (docs/ARCHITECTURE.md §3).
//!
//! ```text
//! u = −Jᵀ Mx kp (x − x* + i) − kv M q̇                      task term (what the adaptive term trains on)
//!   + (I − Jᵀ J̄ᵀ) (−kn M q̇ + M (kr (q_rest − q) − dr q̇))   null-space term, J̄ = M⁻¹ Jᵀ Mx
//!   + g(q)                                                   gravity compensation (holding torque)
//! ```
//! `i` is an extra task error the PID baseline adds (ki ∫e dt); plain OSC passes zero.

use nalgebra::{DMatrix, Matrix3, SymmetricEigen, Vector3};

use super::controller::{ControlError, ControlInput, Controller};
use super::linalg::{cholesky_in_place, cholesky_solve_in_place};
use crate::arm::model::ArmModel;

/// Gains and guards of the OSC. Defaults are the payload protocol's (docs/ARCHITECTURE.md §6).
#[derive(Debug, Clone, PartialEq)]
pub struct OscParams {
    /// Task-space stiffness kp, 1/s² (force per metre per unit of task inertia). Default 200.
    pub kp: f64,
    /// Joint-space damping kv on `M q̇`, 1/s. Default √(2·kp) = 20 (critical damping of the task).
    pub kv: f64,
    /// Limit on the task velocity the stiffness implies, `kp/kv·|e|`, m/s; `None` (default) for no limit.
    /// The reference shows a limit of 0.5 m/s makes the payload case much worse, hence off.
    pub vmax: Option<f64>,
    /// Largest condition number allowed for the task-space inertia Mx; the small eigenvalues of Mx⁻¹ are
    /// raised to `λmax / max_condition` before inverting, which bounds the task force near singularities
    /// instead of a bare pseudo-inverse that would explode or drop directions abruptly. Default 1000.
    pub max_condition: f64,
    /// Null-space joint damping kn on `M q̇`, 1/s. Default 10.
    pub null_damping: f64,
    /// Null-space rest-posture stiffness kr, 1/s². Default 50.
    pub rest_kp: f64,
    /// Null-space rest-posture damping dr, 1/s. Default √50.
    pub rest_kv: f64,
    /// Rest posture, rad (one per joint); `None` (default) latches the joint angles of the first tick,
    /// which in the payload protocol is the start pose q0.
    pub rest_posture: Option<Vec<f64>>,
    /// Add the model's gravity torque. Default true.
    pub gravity_compensation: bool,
}

impl Default for OscParams {
    fn default() -> Self {
        let kp = 200.0;
        Self {
            kp,
            kv: (2.0 * kp).sqrt(),
            vmax: None,
            max_condition: 1000.0,
            null_damping: 10.0,
            rest_kp: 50.0,
            rest_kv: 50f64.sqrt(),
            rest_posture: None,
            gravity_compensation: true,
        }
    }
}

impl OscParams {
    /// Checks that every gain is finite and non-negative, vmax positive and the condition bound ≥ 1.
    pub fn validate(&self, dof: usize) -> Result<(), ControlError> {
        let gains = [
            ("kp", self.kp),
            ("kv", self.kv),
            ("null_damping", self.null_damping),
            ("rest_kp", self.rest_kp),
            ("rest_kv", self.rest_kv),
        ];
        for (name, v) in gains {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ControlError::BadInput(format!("osc.{name} must be finite and >= 0, got {v}")));
            }
        }
        if let Some(v) = self.vmax
            && !(v.is_finite() && v > 0.0)
        {
            return Err(ControlError::BadInput(format!("osc.vmax must be finite and > 0 m/s, got {v}")));
        }
        if !(self.max_condition.is_finite() && self.max_condition >= 1.0) {
            return Err(ControlError::BadInput(format!(
                "osc.max_condition must be finite and >= 1, got {}",
                self.max_condition
            )));
        }
        if let Some(r) = &self.rest_posture
            && (r.len() != dof || r.iter().any(|x| !x.is_finite()))
        {
            return Err(ControlError::BadInput(format!("osc.rest_posture must have {dof} finite angles, got {r:?}")));
        }
        Ok(())
    }
}

/// The OSC's torque split into the parts the adaptive term and reports need. Arrays: one entry per joint, N·m.
#[derive(Debug, Clone, PartialEq)]
pub struct OscTerms {
    /// Task term `−Jᵀ Mx kp (e + i) − kv M q̇`.
    pub task: Vec<f64>,
    /// Null-space term (damping and rest posture, projected).
    pub null: Vec<f64>,
    /// Gravity compensation g(q) (zeros when disabled).
    pub gravity: Vec<f64>,
    /// End-effector position from the model, m.
    pub ee: Vector3<f64>,
    /// Task error `x − x*`, m.
    pub error: Vector3<f64>,
}

impl OscTerms {
    fn zeros(n: usize) -> Self {
        Self {
            task: vec![0.0; n],
            null: vec![0.0; n],
            gravity: vec![0.0; n],
            ee: Vector3::zeros(),
            error: Vector3::zeros(),
        }
    }
}

/// An operational-space position controller. Buffers are sized at construction; `compute` and `tick`
/// allocate nothing.
pub struct Osc {
    params: OscParams,
    model: ArmModel,
    rest: Vec<f64>,
    rest_latched: bool,
    j: DMatrix<f64>,
    m: DMatrix<f64>,
    l: DMatrix<f64>,
    /// M⁻¹ Jᵀ, n×3.
    minv_jt: DMatrix<f64>,
    /// Task-space inertia Mx (clamped), 3×3, kg.
    mx: Matrix3<f64>,
    col: Vec<f64>,
    v: Vec<f64>,
    terms: OscTerms,
}

impl Osc {
    /// An OSC on `model` (the payload-free arm model).
    pub fn new(model: ArmModel, params: OscParams) -> Result<Self, ControlError> {
        let n = model.dof();
        params.validate(n)?;
        let rest = params.rest_posture.clone().unwrap_or_else(|| vec![0.0; n]);
        Ok(Self {
            rest_latched: params.rest_posture.is_some(),
            params,
            model,
            rest,
            j: DMatrix::zeros(3, n),
            m: DMatrix::zeros(n, n),
            l: DMatrix::zeros(n, n),
            minv_jt: DMatrix::zeros(n, 3),
            mx: Matrix3::zeros(),
            col: vec![0.0; n],
            v: vec![0.0; n],
            terms: OscTerms::zeros(n),
        })
    }

    /// The gains in use.
    pub fn params(&self) -> &OscParams {
        &self.params
    }

    /// The arm model.
    pub fn model(&self) -> &ArmModel {
        &self.model
    }

    /// The arm model (e.g. to give it a known payload for a "perfect model" baseline).
    pub fn model_mut(&mut self) -> &mut ArmModel {
        &mut self.model
    }

    /// The rest posture in use, rad (latched at the first tick unless configured).
    pub fn rest_posture(&self) -> &[f64] {
        &self.rest
    }

    /// Linear Jacobian J(q) of the last successful `compute`, 3×n, m/rad.
    pub fn jacobian(&self) -> &DMatrix<f64> {
        &self.j
    }

    /// M⁻¹ Jᵀ of the last successful `compute`, n×3.
    pub fn minv_jt(&self) -> &DMatrix<f64> {
        &self.minv_jt
    }

    /// Task-space inertia Mx = (J M⁻¹ Jᵀ)⁻¹ of the last successful `compute` (eigenvalues clamped as
    /// [`OscParams::max_condition`] says), kg.
    pub fn task_inertia(&self) -> &Matrix3<f64> {
        &self.mx
    }

    /// The terms of the last successful `compute`.
    pub fn terms(&self) -> &OscTerms {
        &self.terms
    }

    /// Computes the OSC terms at joint state (`q` rad, `dq` rad/s) for `target` (m), with `extra_error` (m)
    /// added to the task error inside the stiffness term (the PID's `ki ∫e dt`; zero for plain OSC).
    pub fn compute(
        &mut self,
        q: &[f64],
        dq: &[f64],
        target: &Vector3<f64>,
        extra_error: &Vector3<f64>,
    ) -> Result<&OscTerms, ControlError> {
        let n = self.model.dof();
        check_state(q, dq, n)?;
        if !(target.iter().all(|x| x.is_finite()) && extra_error.iter().all(|x| x.is_finite())) {
            return Err(ControlError::BadInput(format!("target {target:?} / extra error {extra_error:?} not finite")));
        }
        if !self.rest_latched {
            self.rest.copy_from_slice(q);
            self.rest_latched = true;
        }
        let model_err = |e: crate::arm::model::ArmModelError| ControlError::Model(e.to_string());
        self.model.jacobian(q, &mut self.j).map_err(model_err)?;
        self.model.mass_matrix(q, &mut self.m).map_err(model_err)?;
        let ee = self.model.ee_position(q).map_err(model_err)?;
        if self.params.gravity_compensation {
            self.model.gravity_torque(q, &mut self.terms.gravity).map_err(model_err)?;
        } else {
            self.terms.gravity.fill(0.0);
        }

        // M⁻¹ Jᵀ column by column through one Cholesky factorisation of M.
        self.l.copy_from(&self.m);
        if !cholesky_in_place(&mut self.l, 1e-12) {
            return Err(ControlError::Model("mass matrix is not positive definite".into()));
        }
        for r in 0..3 {
            for i in 0..n {
                self.col[i] = self.j[(r, i)];
            }
            cholesky_solve_in_place(&self.l, &mut self.col);
            for i in 0..n {
                self.minv_jt[(i, r)] = self.col[i];
            }
        }
        // Mx⁻¹ = J M⁻¹ Jᵀ (3×3, symmetric); invert through its eigen-decomposition with clamped eigenvalues.
        let mut mx_inv = Matrix3::zeros();
        for r in 0..3 {
            for c in 0..3 {
                let mut s = 0.0;
                for i in 0..n {
                    s += self.j[(r, i)] * self.minv_jt[(i, c)];
                }
                mx_inv[(r, c)] = s;
            }
        }
        let mx_inv = 0.5 * (mx_inv + mx_inv.transpose());
        let eig = SymmetricEigen::new(mx_inv);
        let lmax = eig.eigenvalues.max();
        if !(lmax.is_finite() && lmax > 0.0) {
            return Err(ControlError::Model(format!("task-space inertia is degenerate (λmax {lmax})")));
        }
        let floor = lmax / self.params.max_condition;
        let inv_l = eig.eigenvalues.map(|l| 1.0 / l.max(floor));
        let mx = eig.eigenvectors * Matrix3::from_diagonal(&inv_l) * eig.eigenvectors.transpose();

        // Task force: stiffness on the (optionally velocity-limited) error.
        let error = ee - target;
        let mut f = self.params.kp * (error + extra_error);
        if let Some(vmax) = self.params.vmax {
            let implied = self.params.kp / self.params.kv.max(f64::EPSILON) * error.norm();
            if implied > vmax {
                f *= vmax / implied;
            }
        }
        let force = mx * f;
        // M q̇, reused by the task damping and the null-space terms.
        for i in 0..n {
            let mut s = 0.0;
            for k in 0..n {
                s += self.m[(i, k)] * dq[k];
            }
            self.col[i] = s;
        }
        for i in 0..n {
            let jt_f = self.j[(0, i)] * force[0] + self.j[(1, i)] * force[1] + self.j[(2, i)] * force[2];
            self.terms.task[i] = -jt_f - self.params.kv * self.col[i];
        }

        // Null space: v = −kn M q̇ + M (kr (q_rest − q) − dr q̇), projected by I − Jᵀ J̄ᵀ with J̄ᵀ = Mx Jᵀ⁺…
        // written as J̄ᵀ v = Mx (M⁻¹ Jᵀ)ᵀ v.
        for i in 0..n {
            let mut s = 0.0;
            for k in 0..n {
                let acc = self.params.rest_kp * wrap_angle(self.rest[k] - q[k]) - self.params.rest_kv * dq[k];
                s += self.m[(i, k)] * acc;
            }
            self.v[i] = s - self.params.null_damping * self.col[i];
        }
        let mut xv = Vector3::zeros();
        for r in 0..3 {
            for i in 0..n {
                xv[r] += self.minv_jt[(i, r)] * self.v[i];
            }
        }
        let jbar_t_v = mx * xv;
        for i in 0..n {
            let jt = self.j[(0, i)] * jbar_t_v[0] + self.j[(1, i)] * jbar_t_v[1] + self.j[(2, i)] * jbar_t_v[2];
            self.terms.null[i] = self.v[i] - jt;
        }
        self.mx = mx;
        self.terms.ee = ee;
        self.terms.error = error;
        Ok(&self.terms)
    }
}

/// Wraps an angle difference to (−π, π] so the rest posture pulls the short way round.
pub(crate) fn wrap_angle(a: f64) -> f64 {
    let w = (a + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI) - std::f64::consts::PI;
    if w == -std::f64::consts::PI { std::f64::consts::PI } else { w }
}

/// Refuses joint vectors of the wrong length or with non-finite entries.
pub(crate) fn check_state(q: &[f64], dq: &[f64], n: usize) -> Result<(), ControlError> {
    if q.len() != n || dq.len() != n {
        return Err(ControlError::BadInput(format!(
            "expected {n} joint angles and velocities, got {} and {}",
            q.len(),
            dq.len()
        )));
    }
    if q.iter().chain(dq).any(|x| !x.is_finite()) {
        return Err(ControlError::BadInput("joint state is not finite".into()));
    }
    Ok(())
}

/// Checks the torque output length.
pub(crate) fn check_torque(torque: &[f64], n: usize) -> Result<(), ControlError> {
    if torque.len() != n {
        return Err(ControlError::BadInput(format!("expected {n} torque outputs, got {}", torque.len())));
    }
    Ok(())
}

impl Controller for Osc {
    /// `u = task + null + gravity`. On error the torque is zeroed.
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        let n = self.model.dof();
        check_torque(torque, n)?;
        match self.compute(input.q, input.dq, &input.target, &Vector3::zeros()) {
            Ok(t) => {
                for i in 0..n {
                    torque[i] = t.task[i] + t.null[i] + t.gravity[i];
                }
                Ok(())
            }
            Err(e) => {
                torque.fill(0.0);
                Err(e)
            }
        }
    }

    fn dof(&self) -> usize {
        self.model.dof()
    }

    fn name(&self) -> &str {
        "osc"
    }

    fn param_names(&self) -> &'static [&'static str] {
        OSC_PARAMS
    }

    fn param(&self, name: &str) -> Option<f64> {
        self.gain(name)
    }

    fn set_param(&mut self, name: &str, value: f64) -> Result<(), ControlError> {
        self.set_gain(name, value)
    }
}

/// Run-time tunable OSC gains (see [`OscParams`]).
pub(crate) const OSC_PARAMS: &[&str] = &["kp", "kv", "null_damping", "rest_kp", "rest_kv"];

impl Osc {
    /// Value of a tunable gain by name (`kp`, `kv`, `null_damping`, `rest_kp`, `rest_kv`).
    pub fn gain(&self, name: &str) -> Option<f64> {
        let p = &self.params;
        Some(match name {
            "kp" => p.kp,
            "kv" => p.kv,
            "null_damping" => p.null_damping,
            "rest_kp" => p.rest_kp,
            "rest_kv" => p.rest_kv,
            _ => return None,
        })
    }

    /// Sets a tunable gain between ticks; unknown names and negative or non-finite values change nothing.
    pub fn set_gain(&mut self, name: &str, value: f64) -> Result<(), ControlError> {
        if !(value.is_finite() && value >= 0.0) {
            return Err(ControlError::BadInput(format!("{name} must be finite and >= 0, got {value}")));
        }
        let p = &mut self.params;
        let slot = match name {
            "kp" => &mut p.kp,
            "kv" => &mut p.kv,
            "null_damping" => &mut p.null_damping,
            "rest_kp" => &mut p.rest_kp,
            "rest_kv" => &mut p.rest_kv,
            _ => return Err(ControlError::BadInput(format!("unknown parameter `{name}`"))),
        };
        *slot = value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::description::ArmSpec;
    use crate::arm::model::ArmModelParams;

    fn osc(file: &str) -> Osc {
        let path = format!("{}/config/arms/{file}", env!("CARGO_MANIFEST_DIR"));
        let spec = ArmSpec::from_urdf_file(path).unwrap();
        Osc::new(ArmModel::new(&spec, ArmModelParams::default()).unwrap(), OscParams::default()).unwrap()
    }

    #[test]
    fn at_rest_on_target_it_only_holds_gravity() {
        let mut c = osc("threelink.urdf");
        let q = [1.0, -1.4, -0.6];
        let x = c.model_mut().ee_position(&q).unwrap();
        let t = c.compute(&q, &[0.0; 3], &x, &Vector3::zeros()).unwrap().clone();
        for i in 0..3 {
            assert!(t.task[i].abs() < 1e-9 && t.null[i].abs() < 1e-9, "{t:?}");
        }
        assert!(t.gravity.iter().any(|g| g.abs() > 1.0));
    }

    #[test]
    fn task_force_pushes_toward_the_target_and_null_space_leaves_the_task_alone() {
        let mut c = osc("ur5e.urdf");
        let q = [0.0, -1.2, 1.6, -1.97, -1.57, 0.0];
        let _ = c.compute(&q, &[0.0; 6], &Vector3::zeros(), &Vector3::zeros()).unwrap();
        // Move the rest posture away so the null term is non-zero, then check J M⁻¹ u_null = 0.
        let q2 = [0.1, -1.1, 1.5, -1.9, -1.5, 0.2];
        let x = c.model_mut().ee_position(&q2).unwrap();
        let target = x + Vector3::new(0.05, 0.0, 0.0);
        let t = c.compute(&q2, &[0.0; 6], &target, &Vector3::zeros()).unwrap().clone();
        assert!(t.null.iter().any(|u| u.abs() > 0.1));
        let mut l = c.m.clone();
        assert!(cholesky_in_place(&mut l, 0.0));
        let mut a = t.null.clone();
        cholesky_solve_in_place(&l, &mut a);
        let mut task_acc = t.task.clone();
        cholesky_solve_in_place(&l, &mut task_acc);
        let acc = &c.j * nalgebra::DVector::from_vec(a);
        assert!(acc.norm() < 1e-9, "null-space torque accelerates the ee: {acc}");
        // The task torque accelerates the ee toward the target (+x), at kp·e.
        let acc = &c.j * nalgebra::DVector::from_vec(task_acc);
        assert!((acc[0] - 200.0 * 0.05).abs() < 1e-6 && acc[1].abs() < 1e-6, "{acc}");
    }

    #[test]
    fn bad_input_is_refused_and_torque_zeroed() {
        let mut c = osc("threelink.urdf");
        let mut tau = [1.0; 3];
        let input = ControlInput { t: 0.0, q: &[f64::NAN, 0.0, 0.0], dq: &[0.0; 3], target: Vector3::zeros() };
        assert!(c.tick(&input, &mut tau).is_err());
        assert_eq!(tau, [0.0; 3]);
        let input = ControlInput { t: 0.0, q: &[0.0; 2], dq: &[0.0; 3], target: Vector3::zeros() };
        assert!(c.tick(&input, &mut tau).is_err());
    }

    #[test]
    fn wrap_angle_takes_the_short_way() {
        assert!((wrap_angle(2.0 * std::f64::consts::PI - 0.1) + 0.1).abs() < 1e-12);
        assert!((wrap_angle(0.3) - 0.3).abs() < 1e-12);
    }
}
