//! The torque the payload demands at each joint, published by the sim beside the joint states so that a
//! person (a plot, the live view) can set what the adaptive term learned against the truth.
//!
//! The plant carries the payload as a point mass on the end-effector frame. Over one step its demand is the
//! loaded model's inverse dynamics minus the payload-free model's, both at the step's start state and its mean
//! acceleration Δq̇ / dt: gravity, inertia and the velocity terms of the payload alone. It is exact for the arm
//! model the sim was built from; the physics engine follows that model to its integrator's accuracy, so the
//! figure is the payload's true demand to within that (on the 3-link arm it agrees with Jᵀ m (a − g) from the
//! published end-effector positions within 2 % of the largest torque: tests/bus_nodes.rs).

use crate::arm::Arm;
use crate::arm::model::{ArmModel, PayloadSpec};

/// The payload's joint torque over each step. Allocation-free once built.
pub struct PayloadTorque {
    bare: ArmModel,
    loaded: ArmModel,
    carrying: bool,
    q0: Vec<f64>,
    dq0: Vec<f64>,
    ddq: Vec<f64>,
    with: Vec<f64>,
    without: Vec<f64>,
}

impl PayloadTorque {
    /// Two models of `arm`: one bare, one that will carry the payload.
    pub fn new(arm: &Arm) -> Result<Self, String> {
        let bare = arm.model().map_err(|e| e.to_string())?;
        let loaded = arm.model().map_err(|e| e.to_string())?;
        let n = bare.dof();
        Ok(Self {
            bare,
            loaded,
            carrying: false,
            q0: vec![0.0; n],
            dq0: vec![0.0; n],
            ddq: vec![0.0; n],
            with: vec![0.0; n],
            without: vec![0.0; n],
        })
    }

    /// The payload the plant now carries (`None`: nothing, and the published torque is empty).
    pub fn set_payload(&mut self, payload: Option<PayloadSpec>) -> Result<(), String> {
        self.loaded.set_payload(payload).map_err(|e| e.to_string())?;
        self.carrying = payload.is_some_and(|p| p.mass_kg > 0.0);
        Ok(())
    }

    /// Remembers the state a step starts from.
    pub fn before_step(&mut self, q: &[f64], dq: &[f64]) {
        self.q0.copy_from_slice(q);
        self.dq0.copy_from_slice(dq);
    }

    /// Writes the payload's torque over the step that ended with velocities `dq`, `dt` s after
    /// [`before_step`](Self::before_step), into `out` (N·m, one per joint); `out` is left empty without a
    /// payload. `out` must have room for one entry per joint, so that this never allocates.
    pub fn after_step(&mut self, dq: &[f64], dt: f64, out: &mut Vec<f64>) {
        out.clear();
        if !self.carrying || dt <= 0.0 {
            return;
        }
        for ((a, v1), v0) in self.ddq.iter_mut().zip(dq).zip(&self.dq0) {
            *a = (v1 - v0) / dt;
        }
        let ok = self.loaded.inverse_dynamics(&self.q0, &self.dq0, &self.ddq, &mut self.with).is_ok()
            && self.bare.inverse_dynamics(&self.q0, &self.dq0, &self.ddq, &mut self.without).is_ok();
        if ok {
            out.extend(self.with.iter().zip(&self.without).map(|(w, b)| w - b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn threelink() -> Arc<Arm> {
        let path = format!("{}/config/arms/threelink.urdf", env!("CARGO_MANIFEST_DIR"));
        Arm::from_urdf_file(std::path::Path::new(&path)).unwrap()
    }

    /// Held still, the payload demands exactly its weight through the end effector's Jacobian: Jᵀ m g,
    /// computed here from the Jacobian, not from inverse dynamics.
    #[test]
    fn at_rest_it_is_the_weight_through_the_jacobian() {
        let arm = threelink();
        let mut pt = PayloadTorque::new(&arm).unwrap();
        let mut out = Vec::with_capacity(3);
        let q = [0.3, -0.6, 0.4];
        pt.before_step(&q, &[0.0; 3]);
        pt.after_step(&[0.0; 3], 1e-3, &mut out);
        assert!(out.is_empty(), "no payload, nothing published: {out:?}");

        let m = 1.5;
        pt.set_payload(Some(PayloadSpec::at_ee(m))).unwrap();
        pt.before_step(&q, &[0.0; 3]);
        pt.after_step(&[0.0; 3], 1e-3, &mut out);
        let mut model = arm.model().unwrap();
        let mut j = nalgebra::DMatrix::zeros(6, 3);
        model.jacobian(&q, &mut j).unwrap();
        let g = model.params().gravity;
        for i in 0..3 {
            // The joint torque that holds a force f at the ee is −Jᵀ f, with f = m g the weight.
            let expect: f64 = -(0..3).map(|r| j[(r, i)] * m * g[r]).sum::<f64>();
            assert!((out[i] - expect).abs() < 1e-9, "joint {i}: {} vs Jᵀ m g {expect}", out[i]);
        }
        assert!(out.iter().any(|t| t.abs() > 1.0), "1.5 kg at the tip costs over 1 N·m somewhere: {out:?}");
    }
}
