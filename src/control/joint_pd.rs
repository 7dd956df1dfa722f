//! Joint-space PD with gravity compensation: `u = Kp (q* − q) − Kd q̇ + g(q)`. A posture holder and a
//! baseline that needs no Jacobian; it ignores the Cartesian target of [`ControlInput`].

use super::controller::{ControlError, ControlInput, Controller};
use super::osc::{check_state, check_torque, wrap_angle};
use crate::arm::model::ArmModel;

/// Gains of the joint PD.
#[derive(Debug, Clone, PartialEq)]
pub struct JointPdParams {
    /// Stiffness, N·m/rad, applied to every joint. Default 100.
    pub kp: f64,
    /// Damping, N·m·s/rad. Default 20.
    pub kd: f64,
    /// Add the model's gravity torque. Default true.
    pub gravity_compensation: bool,
}

impl Default for JointPdParams {
    fn default() -> Self {
        Self { kp: 100.0, kd: 20.0, gravity_compensation: true }
    }
}

/// Holds the arm at a joint target (rad); latched from the first tick until [`JointPd::set_joint_target`].
pub struct JointPd {
    model: ArmModel,
    params: JointPdParams,
    target: Vec<f64>,
    latched: bool,
    gravity: Vec<f64>,
}

impl JointPd {
    /// A joint PD on `model`.
    pub fn new(model: ArmModel, params: JointPdParams) -> Result<Self, ControlError> {
        if ![params.kp, params.kd].iter().all(|g| g.is_finite() && *g >= 0.0) {
            return Err(ControlError::BadInput(format!("joint_pd gains must be finite and >= 0: {params:?}")));
        }
        let n = model.dof();
        Ok(Self { model, params, target: vec![0.0; n], latched: false, gravity: vec![0.0; n] })
    }

    /// Sets the joint target, rad.
    pub fn set_joint_target(&mut self, q: &[f64]) -> Result<(), ControlError> {
        if q.len() != self.target.len() || q.iter().any(|x| !x.is_finite()) {
            return Err(ControlError::BadInput(format!("joint target must have {} finite angles", self.target.len())));
        }
        self.target.copy_from_slice(q);
        self.latched = true;
        Ok(())
    }
}

impl Controller for JointPd {
    /// On error the torque is zeroed.
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        let n = self.model.dof();
        check_torque(torque, n)?;
        if let Err(e) = check_state(input.q, input.dq, n) {
            torque.fill(0.0);
            return Err(e);
        }
        if !self.latched {
            self.target.copy_from_slice(input.q);
            self.latched = true;
        }
        if self.params.gravity_compensation
            && let Err(e) = self.model.gravity_torque(input.q, &mut self.gravity)
        {
            torque.fill(0.0);
            return Err(ControlError::Model(e.to_string()));
        }
        for i in 0..n {
            torque[i] = self.params.kp * wrap_angle(self.target[i] - input.q[i]) - self.params.kd * input.dq[i]
                + self.gravity[i];
        }
        Ok(())
    }

    fn dof(&self) -> usize {
        self.model.dof()
    }

    fn name(&self) -> &str {
        "joint-pd"
    }
}
