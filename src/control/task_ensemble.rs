//! The task-space half of the inertia-learning adaptive term: an ensemble fed the OSC's commanded task
//! acceleration whose learned output is a task-space force, applied to the joints through Jᵀ.
//!
//! Why task space: a payload of mass m at the end effector needs `Jᵀ m (a − g)`, a task-space force that is
//! *affine* in the acceleration once Jᵀ is applied outside the ensemble: a constant (its weight) plus a linear
//! term (its inertia), the same at every posture. An ensemble reading the commanded acceleration
//! `a_cmd = −kp (x − x*) − kv J q̇` therefore only has to learn a near-affine map a ↦ f, which it does in tens of
//! seconds, and what it learns holds in postures it has never visited. The weight belongs here too: learned
//! by a joint-space ensemble it holds only near the postures it was learned in (new targets every lap then cost
//! two to three times the error).
//!
//! Training: the joint-space error `e = u_a − r` (adaptive torque minus the model residual) is projected into
//! task space with the dynamically consistent inverse, `J̄ᵀ e = Mx J M⁻¹ e`, the force that would have produced
//! the same end-effector acceleration as `e` ([`dynamic_task_force`]). [`TaskEnsemble::remove_task_part`] gives
//! the joint-space ensemble the rest.

use nalgebra::Vector3;

use super::controller::ControlError;
use super::input_scaling::InputScaling;
use super::learned_ensemble::{EnsembleRecipe, LearnedEnsemble};
use super::osc::Osc;
use crate::neuro::{Executor, LearnedWeights};

/// Tunables of the task-space ensemble (its neuron recipe is the adaptive term's, see
/// [`AdaptiveParams`](super::adaptive::AdaptiveParams)).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEnsembleParams {
    /// Task rows (0 = x, 1 = y, 2 = z, base frame) the ensemble reads and acts on; `None` (default) for
    /// [`TaskEnsembleParams::default_rows`]: all three on a spatial arm, x and z on a planar one.
    pub rows: Option<Vec<usize>>,
    /// Commanded acceleration that maps to the edge of the input range, m/s². Default 12: most of a reach's
    /// commanded acceleration lies below it (on the random-target protocol 12 m/s² beat 20, 30 and 40; the start
    /// of a long reach saturates the input, where the learned force then stays at its edge value).
    pub acceleration_scale: f64,
    /// Knee of the input's compression, m/s²: the ensemble reads `a / (1 + |a| / knee)`, scaled so that
    /// `acceleration_scale` still maps to the edge. Small accelerations, where the tracking error is made, then
    /// get `1 + acceleration_scale / knee` times the resolution of a linear map. Default 24 (1.5 × near zero);
    /// `f64::INFINITY` for a linear map.
    pub acceleration_knee: f64,
    /// Ensemble size. Default 1000.
    pub neurons: usize,
    /// PES learning rate kappa. Default 3e-4: faster than 2e-4 on every payload protocol and steady over 30 laps
    /// (UR5e 2 kg, circle: 0.011–0.012 normalised from lap 25 on); much lower rates leave several times the error.
    pub learning_rate: f64,
    /// Lowpass on the learned force, s. Default 0.01: the inertial force must follow the commanded
    /// acceleration within a few ms (5 ms and 50 ms both left twice the error of 10 ms).
    pub output_synapse: f64,
}

impl Default for TaskEnsembleParams {
    fn default() -> Self {
        Self {
            rows: None,
            acceleration_scale: 12.0,
            acceleration_knee: 24.0,
            neurons: 1000,
            learning_rate: 3e-4,
            output_synapse: 0.01,
        }
    }
}

impl TaskEnsembleParams {
    /// The task rows adapted by default on an arm with `dof` joints: x, y and z on a 6-DoF arm (a reach in the
    /// x–z plane still moves the payload sideways a little), x and z otherwise (a planar arm in x–z has no y).
    pub fn default_rows(dof: usize) -> Vec<usize> {
        if dof == 6 { vec![0, 1, 2] } else { vec![0, 2] }
    }

    /// The rows in use on an arm with `dof` joints.
    pub fn rows_for(&self, dof: usize) -> Vec<usize> {
        self.rows.clone().unwrap_or_else(|| Self::default_rows(dof))
    }
}

/// `a / (1 + |a| / knee)`, m/s² (`a` itself for an infinite knee).
fn compress(a: f64, knee: f64) -> f64 {
    a / (1.0 + a.abs() / knee)
}

/// `J̄ᵀ e = Mx (M⁻¹ Jᵀ)ᵀ e`, N: the task force that gives the end effector the acceleration the joint torques
/// `e` (N·m, one per joint) give it, on the OSC's last `compute`.
pub fn dynamic_task_force(osc: &Osc, e: &[f64]) -> Vector3<f64> {
    let minv_jt = osc.minv_jt();
    let mut x = Vector3::zeros();
    for c in 0..3 {
        for (i, ei) in e.iter().enumerate() {
            x[c] += minv_jt[(i, c)] * ei;
        }
    }
    osc.task_inertia() * x
}

/// The task-space ensemble with its buffers. `step` allocates nothing.
pub struct TaskEnsemble {
    ensemble: LearnedEnsemble,
    rows: Vec<usize>,
    a_cmd: Vec<f64>,
    /// `a_cmd` compressed by the knee, m/s².
    compressed: Vec<f64>,
    knee: f64,
    error: Vec<f64>,
    force: Vector3<f64>,
}

impl TaskEnsemble {
    /// Builds the ensemble for an arm with `dof` joints with `recipe` (neurons, rate and output synapse replaced
    /// by `params`).
    pub fn new(params: &TaskEnsembleParams, recipe: &EnsembleRecipe, dof: usize) -> Result<Self, ControlError> {
        let rows = params.rows_for(dof);
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if rows.is_empty() || rows.iter().any(|&r| r > 2) || sorted.len() != rows.len() {
            return Err(ControlError::BadInput(format!("task rows {rows:?} must be distinct values of 0, 1, 2")));
        }
        if !(params.acceleration_scale.is_finite() && params.acceleration_scale > 0.0) {
            return Err(ControlError::BadInput(format!(
                "task acceleration_scale must be finite and > 0 m/s², got {}",
                params.acceleration_scale
            )));
        }
        let d = rows.len();
        if params.acceleration_knee.is_nan() || params.acceleration_knee <= 0.0 {
            return Err(ControlError::BadInput(format!(
                "task acceleration_knee must be > 0 m/s² (infinite for a linear input), got {}",
                params.acceleration_knee
            )));
        }
        let knee = params.acceleration_knee;
        let edge = compress(params.acceleration_scale, knee);
        let scaling = InputScaling::new(vec![0.0; d], vec![edge; d], true)?.with_clip(true);
        let recipe = EnsembleRecipe {
            neurons: params.neurons,
            learning_rate: params.learning_rate,
            output_synapse: params.output_synapse,
            ..recipe.clone()
        };
        Ok(Self {
            ensemble: LearnedEnsemble::new(&recipe, scaling, d)?,
            a_cmd: vec![0.0; d],
            compressed: vec![0.0; d],
            knee,
            error: vec![0.0; d],
            force: Vector3::zeros(),
            rows,
        })
    }

    /// Steps the ensemble on the OSC's last `compute` (its task error, J, M⁻¹Jᵀ, Mx and gains) at joint
    /// velocities `dq`, trained with `error_force`, the joint-space error `u_a − r` as a task force
    /// ([`dynamic_task_force`], N; `None` learns nothing this step). Adds `Jᵀ f` (N·m) into `torque` (one per
    /// joint).
    pub fn step(
        &mut self,
        osc: &Osc,
        dq: &[f64],
        error_force: Option<&Vector3<f64>>,
        torque: &mut [f64],
    ) -> Result<(), ControlError> {
        let j = osc.jacobian();
        let (kp, kv) = (osc.params().kp, osc.params().kv);
        let err = osc.terms().error;
        let n = dq.len();
        for (k, &r) in self.rows.iter().enumerate() {
            let mut jdq = 0.0;
            for i in 0..n {
                jdq += j[(r, i)] * dq[i];
            }
            self.a_cmd[k] = -kp * err[r] - kv * jdq;
            self.compressed[k] = compress(self.a_cmd[k], self.knee);
        }
        let error = match error_force {
            Some(f) => {
                for (k, &r) in self.rows.iter().enumerate() {
                    self.error[k] = f[r];
                }
                Some(&self.error[..])
            }
            None => None,
        };
        let out = match self.ensemble.step(&self.compressed, error) {
            Ok(out) => out,
            Err(e) => {
                self.ensemble.clear_output();
                self.force = Vector3::zeros();
                return Err(e);
            }
        };
        self.force = Vector3::zeros();
        for (k, &r) in self.rows.iter().enumerate() {
            self.force[r] = out[k];
        }
        for (i, t) in torque.iter_mut().enumerate().take(n) {
            *t += j[(0, i)] * self.force[0] + j[(1, i)] * self.force[1] + j[(2, i)] * self.force[2];
        }
        Ok(())
    }

    /// Takes out of the joint torques `e` (N·m, one per joint) the part this ensemble's force can supply,
    /// `e − Jᵣᵀ fᵣ` with `f = J̄ᵀ e` their [`dynamic_task_force`] on the OSC's last `compute`, leaving what only a
    /// joint-space term can learn.
    pub fn remove_task_part(&self, osc: &Osc, f: &Vector3<f64>, e: &mut [f64]) {
        let j = osc.jacobian();
        for (i, x) in e.iter_mut().enumerate() {
            for &r in &self.rows {
                *x -= j[(r, i)] * f[r];
            }
        }
    }

    /// The task rows in use.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// The learned task force of the last step, N (base frame; zero on rows not adapted).
    pub fn force(&self) -> &Vector3<f64> {
        &self.force
    }

    /// The commanded task acceleration of the last step, m/s², one per row.
    pub fn commanded_acceleration(&self) -> &[f64] {
        &self.a_cmd
    }

    /// The ensemble (scaling, size).
    pub fn ensemble(&self) -> &LearnedEnsemble {
        &self.ensemble
    }

    /// The core.
    pub fn core(&self) -> &dyn Executor {
        self.ensemble.core()
    }

    /// The core, mutably (learning switches).
    pub fn core_mut(&mut self) -> &mut dyn Executor {
        self.ensemble.core_mut()
    }

    /// The learned readout (N per spike/s).
    pub fn export_weights(&self) -> LearnedWeights {
        self.ensemble.export_weights()
    }

    /// Replaces the learned readout.
    pub fn import_weights(&mut self, weights: &LearnedWeights) -> Result<(), ControlError> {
        self.ensemble.import_weights(weights)
    }
}

#[cfg(test)]
mod tests {
    use super::compress;

    #[test]
    fn the_knee_compresses_large_accelerations_and_keeps_sign_and_order() {
        // The defaults: 12 m/s² (the edge) reads as 8, so 8 m/s² of input span covers it.
        assert!((compress(12.0, 24.0) - 8.0).abs() < 1e-12);
        assert!((compress(-12.0, 24.0) + 8.0).abs() < 1e-12);
        assert_eq!(compress(7.5, f64::INFINITY), 7.5, "an infinite knee is the linear map");
        let a: Vec<f64> = (-40..=40).map(|k| k as f64 * 0.5).collect();
        assert!(a.windows(2).all(|w| compress(w[0], 24.0) < compress(w[1], 24.0)), "monotone");
        assert!(compress(1e9, 24.0) < 24.0, "bounded by the knee");
    }
}
