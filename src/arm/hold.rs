//! The safe torque: gravity compensation plus a stiff-but-damped pull towards where the arm was when holding
//! began, both scaled by the model's mass matrix so the same gains suit a 3-link arm and a UR5e wrist.
//! Used by the sim's watchdog and e-stop, and by the controller as its parting command.

use nalgebra::{DMatrix, DVector};

use super::Arm;
use super::model::ArmModel;

/// Gains of the hold law (per unit of joint-space inertia, so they are natural frequencies squared and
/// twice the damping ratio times the natural frequency).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoldParams {
    /// Stiffness, 1/s² (100 → 10 rad/s natural frequency).
    pub kp: f64,
    /// Damping, 1/s (20 with kp 100 → critically damped).
    pub kd: f64,
}

impl Default for HoldParams {
    fn default() -> Self {
        Self { kp: 100.0, kd: 20.0 }
    }
}

/// `τ = g(q) + M(q)·(kp·(q_hold − q) − kd·dq)`. Allocation-free after construction.
pub struct HoldLaw {
    model: ArmModel,
    params: HoldParams,
    m: DMatrix<f64>,
    acc: DVector<f64>,
    g: Vec<f64>,
}

impl HoldLaw {
    /// The law for `arm`.
    pub fn new(arm: &Arm, params: HoldParams) -> Result<Self, String> {
        let model = arm.model().map_err(|e| e.to_string())?;
        let n = model.dof();
        Ok(Self { model, params, m: DMatrix::zeros(n, n), acc: DVector::zeros(n), g: vec![0.0; n] })
    }

    /// Joints of the model.
    pub fn dof(&self) -> usize {
        self.g.len()
    }

    /// Writes the hold torque into `tau`. Non-finite inputs give pure gravity compensation at `q_hold`.
    pub fn torque(&mut self, q_hold: &[f64], q: &[f64], dq: &[f64], tau: &mut [f64]) -> Result<(), String> {
        let n = self.dof();
        if q_hold.len() != n || q.len() != n || dq.len() != n || tau.len() != n {
            return Err(format!("hold law expects {n} joints"));
        }
        let finite = q.iter().chain(dq).all(|x| x.is_finite());
        let q_eval = if finite { q } else { q_hold };
        self.model.gravity_torque(q_eval, &mut self.g).map_err(|e| e.to_string())?;
        self.model.mass_matrix(q_eval, &mut self.m).map_err(|e| e.to_string())?;
        for i in 0..n {
            self.acc[i] = if finite { self.params.kp * (q_hold[i] - q[i]) - self.params.kd * dq[i] } else { 0.0 };
        }
        for i in 0..n {
            let mut s = self.g[i];
            for j in 0..n {
                s += self.m[(i, j)] * self.acc[j];
            }
            tau[i] = s;
        }
        Ok(())
    }
}
