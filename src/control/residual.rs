//! The model residual: the joint torque the payload-free arm model cannot explain, estimated from what the
//! controller measures and what it commanded.
//!
//! ```text
//! q̈ₖ₋₁ ≈ (q̇ₖ − q̇ₖ₋₁) / (tₖ − tₖ₋₁)
//! rₖ₋₁ = τₖ₋₁ − [M(qₖ₋₁) q̈ₖ₋₁ + c(qₖ₋₁, q̇ₖ₋₁) + g(qₖ₋₁)]      (one RNEA pass on the payload-free model)
//! ```
//! τ is the whole torque the controller commanded, clamped to the arm's effort limits as the plant clamps it.
//! With a payload at the end effector the residual is the payload's demand `Jᵀ m (a − g)` plus model error;
//! with no payload it is (nearly) zero, so a term trained on it does nothing where nothing is missing.
//!
//! Robustness: the finite difference turns velocity noise σ into acceleration noise σ/dt; the residual is
//! therefore lowpassed (a first-order filter, [`ResidualParams::lowpass_s`]). The consumers lowpass what they
//! compare it with by the same filter ([`ResidualEstimator::filter_like`]), so the comparison stays in step.
//! A plant that applies each command one control period late (real time, zero-order hold) is matched with
//! [`ResidualParams::torque_delay_steps`].

use super::controller::ControlError;
use crate::arm::model::ArmModel;
use crate::neuro::lmu::{FixedLmu, LmuSpec, derivative_readout};

/// Tunables of the residual estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualParams {
    /// First-order lowpass on the residual, s; 0 for none. Default 0.004: the velocity noise of the
    /// finite difference averages over a few steps while the payload's torque (which changes over tens of
    /// ms) passes.
    pub lowpass_s: f64,
    /// Control periods between a command and the plant applying it: 0 in lockstep (default), 1 when the plant
    /// holds the previous command while the controller computes the next (real time).
    pub torque_delay_steps: usize,
    /// Largest gap between two ticks used for a finite difference, s; a longer gap (a pause, dropped states)
    /// gives no estimate for that tick. Default 0.02.
    pub max_gap_s: f64,
    /// How q̈ is estimated from the measured velocities. Default: the finite difference.
    pub acceleration: AccelerationEstimate,
}

/// How the residual estimates the joint accelerations from measured velocities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AccelerationEstimate {
    /// `(q̇ₖ − q̇ₖ₋₁) / (tₖ − tₖ₋₁)`: no lag, but velocity noise σ becomes σ/dt (then the residual's lowpass).
    FiniteDifference,
    /// The slope over the last step of a Legendre Memory Unit's window of each joint's velocity
    /// ([`crate::neuro::lmu`], fixed point): a polynomial fit over `window_s`, which averages the noise over
    /// the window without a lowpass's lag. Assumes ticks `dt_s` apart.
    Lmu {
        /// Legendre order (state variables per joint), e.g. 3.
        order: usize,
        /// The window, s, e.g. 0.03.
        window_s: f64,
        /// The control period, s.
        dt_s: f64,
    },
}

impl Default for ResidualParams {
    fn default() -> Self {
        Self {
            lowpass_s: 0.004,
            torque_delay_steps: 0,
            max_gap_s: 0.02,
            acceleration: AccelerationEstimate::FiniteDifference,
        }
    }
}

impl ResidualParams {
    /// Checks the values are finite and in range.
    pub fn validate(&self) -> Result<(), ControlError> {
        let lmu_ok = match self.acceleration {
            AccelerationEstimate::FiniteDifference => true,
            AccelerationEstimate::Lmu { order, window_s, dt_s } => {
                (1..=8).contains(&order) && dt_s > 0.0 && window_s.is_finite() && window_s >= 2.0 * dt_s
            }
        };
        let ok = lmu_ok
            && self.lowpass_s.is_finite()
            && self.lowpass_s >= 0.0
            && self.max_gap_s.is_finite()
            && self.max_gap_s > 0.0
            && self.torque_delay_steps <= MAX_DELAY;
        if ok {
            Ok(())
        } else {
            Err(ControlError::BadInput(format!(
                "residual: lowpass_s ≥ 0, max_gap_s > 0, torque_delay_steps ≤ {MAX_DELAY} and an LMU of order 1–8 \
                 over ≥ 2 ticks required, got {self:?}"
            )))
        }
    }
}

/// Largest supported command delay, control periods.
const MAX_DELAY: usize = 2;

/// The per-joint LMU memories of [`AccelerationEstimate::Lmu`] and their readout.
struct LmuAcceleration {
    joints: Vec<FixedLmu>,
    /// The slope at the middle of the last step, where the finite difference puts it.
    slope: Vec<f64>,
    /// The memories have seen the velocities up to the previous tick without a gap.
    primed: bool,
}

impl LmuAcceleration {
    fn new(n: usize, order: usize, window_s: f64, dt_s: f64) -> Result<Self, ControlError> {
        let spec = LmuSpec { order, theta_s: window_s, dt_s };
        let lmu = FixedLmu::new(&spec).map_err(|e| ControlError::BadInput(format!("residual: {e}")))?;
        Ok(Self {
            joints: vec![lmu; n],
            slope: derivative_readout(order, window_s, 0.5 * dt_s / window_s),
            primed: false,
        })
    }

    /// Takes this tick's velocities; after a gap the memories restart as if held at them.
    fn take(&mut self, dq: &[f64], gap: bool) {
        for (m, &v) in self.joints.iter_mut().zip(dq) {
            if gap || !self.primed {
                m.fill(v);
            } else {
                m.step(v);
            }
        }
        self.primed = !gap;
    }
}

/// Per-tick residual estimate on the payload-free model. Buffers are sized at construction; `update` and
/// `record` allocate nothing.
pub struct ResidualEstimator {
    params: ResidualParams,
    model: ArmModel,
    effort: Vec<f64>,
    /// State and time of the previous tick.
    q_prev: Vec<f64>,
    dq_prev: Vec<f64>,
    t_prev: f64,
    have_prev: bool,
    /// Commands of the last `MAX_DELAY + 1` ticks, newest at index `newest`.
    tau: Vec<Vec<f64>>,
    newest: usize,
    recorded: usize,
    ddq: Vec<f64>,
    model_tau: Vec<f64>,
    /// Filtered residual, N·m.
    residual: Vec<f64>,
    filtered_once: bool,
    /// Filter coefficient of the last update (exp(−dt/τ)).
    alpha: f64,
    lmu: Option<LmuAcceleration>,
}

impl ResidualEstimator {
    /// An estimator on `model` (the payload-free arm model; the estimator keeps its own copy).
    pub fn new(model: ArmModel, params: ResidualParams) -> Result<Self, ControlError> {
        params.validate()?;
        let n = model.dof();
        let effort = model.spec().joints.iter().map(|j| j.limits.effort).collect();
        let lmu = match params.acceleration {
            AccelerationEstimate::FiniteDifference => None,
            AccelerationEstimate::Lmu { order, window_s, dt_s } => {
                Some(LmuAcceleration::new(n, order, window_s, dt_s)?)
            }
        };
        Ok(Self {
            params,
            model,
            effort,
            q_prev: vec![0.0; n],
            dq_prev: vec![0.0; n],
            t_prev: 0.0,
            have_prev: false,
            tau: vec![vec![0.0; n]; MAX_DELAY + 1],
            newest: 0,
            recorded: 0,
            ddq: vec![0.0; n],
            model_tau: vec![0.0; n],
            residual: vec![0.0; n],
            filtered_once: false,
            alpha: 0.0,
            lmu,
        })
    }

    /// The settings in use.
    pub fn params(&self) -> &ResidualParams {
        &self.params
    }

    /// Estimates the residual of the previous tick from the velocities measured now (`t` s, `dq` rad/s).
    /// Returns `None` when there is no previous tick, the gap is out of range, or the model fails; the
    /// previous estimate is then kept unchanged. Call [`record`](Self::record) after the tick's command is known.
    pub fn update(&mut self, t: f64, dq: &[f64]) -> Option<&[f64]> {
        let dt = t - self.t_prev;
        let delay = self.params.torque_delay_steps;
        let gap = !self.have_prev || !(dt > 0.0 && dt <= self.params.max_gap_s);
        if let Some(l) = &mut self.lmu {
            l.take(dq, gap);
        }
        if gap || self.recorded <= delay {
            return None;
        }
        match &self.lmu {
            None => {
                for i in 0..self.ddq.len() {
                    self.ddq[i] = (dq[i] - self.dq_prev[i]) / dt;
                }
            }
            Some(l) => {
                for (a, m) in self.ddq.iter_mut().zip(&l.joints) {
                    *a = m.read(&l.slope);
                }
            }
        }
        self.model.inverse_dynamics(&self.q_prev, &self.dq_prev, &self.ddq, &mut self.model_tau).ok()?;
        let slot = (self.newest + MAX_DELAY + 1 - delay) % (MAX_DELAY + 1);
        let tau = &self.tau[slot];
        self.alpha = if self.params.lowpass_s > 0.0 { (-dt / self.params.lowpass_s).exp() } else { 0.0 };
        let a = if self.filtered_once { self.alpha } else { 0.0 };
        for i in 0..self.residual.len() {
            let lim = self.effort[i];
            let applied = if lim.is_finite() && lim > 0.0 { tau[i].clamp(-lim, lim) } else { tau[i] };
            let r = applied - self.model_tau[i];
            self.residual[i] = a * self.residual[i] + (1.0 - a) * r;
        }
        self.filtered_once = true;
        Some(&self.residual)
    }

    /// Lowpasses `signal` (kept by the caller in `state`) by the same filter the last [`update`](Self::update)
    /// applied to the residual, so that `filter_like(u) − residual` compares like with like. `state` and
    /// `signal` have one entry per joint.
    pub fn filter_like(&self, state: &mut [f64], signal: &[f64]) {
        for (s, x) in state.iter_mut().zip(signal) {
            *s = self.alpha * *s + (1.0 - self.alpha) * x;
        }
    }

    /// Remembers this tick's state and the command sent for it (N·m, before the plant's clamp).
    pub fn record(&mut self, t: f64, q: &[f64], dq: &[f64], tau: &[f64]) {
        self.q_prev.copy_from_slice(q);
        self.dq_prev.copy_from_slice(dq);
        self.t_prev = t;
        self.have_prev = true;
        self.newest = (self.newest + 1) % (MAX_DELAY + 1);
        self.tau[self.newest].copy_from_slice(tau);
        self.recorded += 1;
    }

    /// Replaces the command recorded by the last [`record`](Self::record) with what was actually sent (N·m):
    /// a safety layer between controller and plant may have limited it, and the residual must explain the
    /// torque the plant received, not the one computed.
    pub fn amend_torque(&mut self, tau: &[f64]) {
        if self.recorded > 0 && tau.len() == self.tau[self.newest].len() {
            self.tau[self.newest].copy_from_slice(tau);
        }
    }

    /// Forgets the previous tick (after a pause or an error), so the next tick gives no estimate.
    pub fn reset(&mut self) {
        self.have_prev = false;
        self.recorded = 0;
    }

    /// The last residual estimate, N·m, one per joint.
    pub fn residual(&self) -> &[f64] {
        &self.residual
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::description::ArmSpec;
    use crate::arm::model::{ArmModelParams, PayloadSpec};

    fn model() -> ArmModel {
        let path = format!("{}/config/arms/threelink.urdf", env!("CARGO_MANIFEST_DIR"));
        ArmModel::new(&ArmSpec::from_urdf_file(path).unwrap(), ArmModelParams::default()).unwrap()
    }

    /// One explicit-Euler step of the arm with a payload (on the loaded model: an independent path from the
    /// estimator's finite difference) under a torque that is not the model's: the residual must be exactly
    /// what the loaded model says the payload costs at that (q, q̇, q̈), and zero without a payload.
    #[test]
    fn residual_is_the_payload_torque_and_zero_without_one() {
        for payload in [None, Some(PayloadSpec::at_ee(1.0))] {
            let mut plant = model();
            plant.set_payload(payload).unwrap();
            let params = ResidualParams { lowpass_s: 0.0, ..ResidualParams::default() };
            let mut est = ResidualEstimator::new(model(), params).unwrap();
            let (q, dq) = ([0.4, -0.5, 0.3], [0.2, -0.1, 0.3]);
            let tau = [12.0, 4.0, 1.0];
            let dt = 1e-3;
            est.record(0.0, &q, &dq, &tau);
            let mut m = nalgebra::DMatrix::zeros(3, 3);
            let mut bias = vec![0.0; 3];
            plant.mass_matrix(&q, &mut m).unwrap();
            plant.inverse_dynamics(&q, &dq, &[0.0; 3], &mut bias).unwrap();
            let rhs = nalgebra::DVector::from_iterator(3, (0..3).map(|i| tau[i] - bias[i]));
            let ddq: Vec<f64> = m.lu().solve(&rhs).unwrap().iter().copied().collect();
            let dq1: Vec<f64> = (0..3).map(|i| dq[i] + dt * ddq[i]).collect();
            let r = est.update(dt, &dq1).unwrap().to_vec();
            let (mut with, mut without) = (vec![0.0; 3], vec![0.0; 3]);
            plant.inverse_dynamics(&q, &dq, &ddq, &mut with).unwrap();
            model().inverse_dynamics(&q, &dq, &ddq, &mut without).unwrap();
            for i in 0..3 {
                let expect = with[i] - without[i];
                assert!((r[i] - expect).abs() < 1e-6, "payload {payload:?} joint {i}: {r:?} vs {expect}");
            }
            let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt();
            if payload.is_some() {
                assert!(norm > 1.0, "a 1 kg payload costs more than 1 N·m: {r:?}");
            } else {
                assert!(norm < 1e-6, "no payload, no residual: {r:?}");
            }
        }
    }

    /// A command limited after the controller recorded it: the residual explains the amended torque.
    #[test]
    fn an_amended_torque_replaces_the_recorded_one() {
        let params = ResidualParams { lowpass_s: 0.0, ..ResidualParams::default() };
        let q = [0.4, -0.5, 0.3];
        let (mut computed, mut amended) = (
            ResidualEstimator::new(model(), params.clone()).unwrap(),
            ResidualEstimator::new(model(), params).unwrap(),
        );
        computed.record(0.0, &q, &[0.0; 3], &[12.0, 4.0, 1.0]);
        amended.record(0.0, &q, &[0.0; 3], &[12.0, 4.0, 1.0]);
        amended.amend_torque(&[10.0, 4.0, 1.5]);
        let a = computed.update(1e-3, &[0.01, 0.0, 0.0]).unwrap().to_vec();
        let b = amended.update(1e-3, &[0.01, 0.0, 0.0]).unwrap().to_vec();
        assert!((a[0] - b[0] - 2.0).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9 && (b[2] - a[2] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn no_estimate_without_a_previous_tick_or_across_a_gap() {
        let mut est = ResidualEstimator::new(model(), ResidualParams::default()).unwrap();
        let q = [0.1, 0.2, 0.3];
        assert!(est.update(0.0, &[0.0; 3]).is_none());
        est.record(0.0, &q, &[0.0; 3], &[0.0; 3]);
        assert!(est.update(0.5, &[0.0; 3]).is_none(), "a 0.5 s gap is not a finite difference");
        assert!(est.update(0.001, &[0.0; 3]).is_some());
        assert!(ResidualEstimator::new(model(), ResidualParams { lowpass_s: -1.0, ..Default::default() }).is_err());
    }

    /// The RMS error of each estimate of a 1-kg payload's torque on a 3-link arm swinging under a smooth
    /// torque (its own bias torque plus a gentle wave) for 1.5 s (explicit Euler on the loaded model, 1 ms), with the velocities measured with
    /// Gaussian noise of `sigma` rad/s; and the payload torque's RMS.
    fn payload_torque_errors(params: ResidualParams, sigma: f64) -> (f64, f64) {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let noise = Normal::new(0.0, sigma.max(1e-300)).unwrap();
        let mut plant = model();
        plant.set_payload(Some(PayloadSpec::at_ee(1.0))).unwrap();
        let mut est = ResidualEstimator::new(model(), params).unwrap();
        let dt = 1e-3;
        let (mut q, mut dq) = (vec![0.4, -0.5, 0.3], vec![0.0; 3]);
        let (mut m, mut bias, mut with, mut without) =
            (nalgebra::DMatrix::zeros(3, 3), vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]);
        let mut truth_prev: Option<Vec<f64>> = None;
        let (mut err2, mut truth2, mut n) = (0.0, 0.0, 0);
        for k in 0..1500 {
            let t = k as f64 * dt;
            let measured: Vec<f64> = dq.iter().map(|v| v + noise.sample(&mut rng)).collect();
            if let (Some(r), Some(truth)) = (est.update(t, &measured), &truth_prev)
                && t > 0.1
            {
                for i in 0..3 {
                    err2 += (r[i] - truth[i]).powi(2);
                    truth2 += truth[i].powi(2);
                }
                n += 1;
            }
            // The loaded arm's own bias torque plus a gentle wave: it swings slowly instead of falling.
            plant.inverse_dynamics(&q, &dq, &[0.0; 3], &mut bias).unwrap();
            let wave = [3.0 * (3.0 * t).sin(), 2.0 * (5.0 * t).cos(), 0.5 * (7.0 * t).sin()];
            let tau: Vec<f64> = (0..3).map(|i| bias[i] + wave[i]).collect();
            est.record(t, &q, &measured, &tau);
            plant.mass_matrix(&q, &mut m).unwrap();
            let rhs = nalgebra::DVector::from_iterator(3, (0..3).map(|i| tau[i] - bias[i]));
            let ddq: Vec<f64> = m.clone().lu().solve(&rhs).unwrap().iter().copied().collect();
            plant.inverse_dynamics(&q, &dq, &ddq, &mut with).unwrap();
            model().inverse_dynamics(&q, &dq, &ddq, &mut without).unwrap();
            truth_prev = Some((0..3).map(|i| with[i] - without[i]).collect());
            for i in 0..3 {
                q[i] += dt * dq[i];
                dq[i] += dt * ddq[i];
            }
        }
        ((err2 / n as f64).sqrt(), (truth2 / n as f64).sqrt())
    }

    /// With noisy velocities the LMU's slope gives a truer payload torque than the finite difference (both
    /// behind the same 4-ms lowpass); without noise both are close to the truth.
    #[test]
    fn the_lmu_estimate_of_acceleration_beats_the_finite_difference_under_velocity_noise() {
        let lmu = AccelerationEstimate::Lmu { order: 3, window_s: 0.03, dt_s: 1e-3 };
        let fd = ResidualParams::default();
        let with_lmu = ResidualParams { acceleration: lmu, ..ResidualParams::default() };
        for sigma in [0.0, 0.003, 0.01, 0.03] {
            let ((e_fd, truth), (e_lmu, _)) =
                (payload_torque_errors(fd.clone(), sigma), payload_torque_errors(with_lmu.clone(), sigma));
            eprintln!(
                "sigma {sigma}: payload torque rms {truth:.3} N·m; error: finite difference {e_fd:.3}, LMU {e_lmu:.3}"
            );
            if sigma == 0.0 {
                assert!(e_fd < 0.1 * truth && e_lmu < 0.1 * truth, "{e_fd} {e_lmu} of {truth}");
            } else {
                assert!(e_lmu < e_fd, "σ {sigma}: LMU {e_lmu} vs finite difference {e_fd}");
            }
        }
        assert!(
            ResidualEstimator::new(
                model(),
                ResidualParams {
                    acceleration: AccelerationEstimate::Lmu { order: 3, window_s: 0.001, dt_s: 1e-3 },
                    ..Default::default()
                }
            )
            .is_err()
        );
    }
}
