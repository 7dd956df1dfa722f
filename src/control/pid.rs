//! The PID baseline: the OSC with an integral of the task error inside the stiffness term,
//! `kp·(e + ki·∫e dt)`, the payload protocol's integral baseline. The integral learns a constant task force — a payload's
//! weight at one pose — but not how it changes across the workspace.

use nalgebra::Vector3;

use super::controller::{ControlError, ControlInput, Controller};
use super::osc::{Osc, check_torque};

/// Integral settings of the PID baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PidParams {
    /// Integral gain ki, 1/s (the integral is in m·s, so `ki·∫e` is in m). Default 1.
    pub ki: f64,
    /// Bound on each component of `ki·∫e`, m (anti-windup); default ∞ (the reference has none).
    pub integral_limit: f64,
    /// Longest time step integrated, s: a gap in ticks (a pause) does not dump a huge increment. Default 0.01.
    pub max_dt: f64,
}

impl Default for PidParams {
    fn default() -> Self {
        Self { ki: 1.0, integral_limit: f64::INFINITY, max_dt: 0.01 }
    }
}

/// OSC + integral of the task error.
pub struct Pid {
    osc: Osc,
    params: PidParams,
    name: String,
    integral: Vector3<f64>,
    last_t: Option<f64>,
}

impl Pid {
    /// A PID baseline around `osc`.
    pub fn new(osc: Osc, params: PidParams) -> Result<Self, ControlError> {
        if !(params.ki.is_finite() && params.ki >= 0.0) {
            return Err(ControlError::BadInput(format!("pid.ki must be finite and >= 0 1/s, got {}", params.ki)));
        }
        if !(params.integral_limit > 0.0) || !(params.max_dt.is_finite() && params.max_dt > 0.0) {
            return Err(ControlError::BadInput("pid.integral_limit and pid.max_dt must be > 0".into()));
        }
        Ok(Self { osc, name: format!("pid-ki{}", params.ki), params, integral: Vector3::zeros(), last_t: None })
    }

    /// The integral `∫e dt`, m·s.
    pub fn integral(&self) -> Vector3<f64> {
        self.integral
    }

    /// Clears the integral.
    pub fn reset(&mut self) {
        self.integral = Vector3::zeros();
        self.last_t = None;
    }
}

impl Controller for Pid {
    /// On error the torque is zeroed and the integral is left as it was.
    fn tick(&mut self, input: &ControlInput<'_>, torque: &mut [f64]) -> Result<(), ControlError> {
        let n = self.osc.dof();
        check_torque(torque, n)?;
        let extra =
            (self.params.ki * self.integral).map(|v| v.clamp(-self.params.integral_limit, self.params.integral_limit));
        match self.osc.compute(input.q, input.dq, &input.target, &extra) {
            Ok(t) => {
                for i in 0..n {
                    torque[i] = t.task[i] + t.null[i] + t.gravity[i];
                }
                // Integrate after use: the error measured now acts from the next tick (rectangle rule).
                let dt = match self.last_t {
                    Some(t0) if input.t.is_finite() => (input.t - t0).clamp(0.0, self.params.max_dt),
                    _ => 0.0,
                };
                self.integral += t.error * dt;
                self.last_t = Some(input.t);
                Ok(())
            }
            Err(e) => {
                torque.fill(0.0);
                Err(e)
            }
        }
    }

    fn dof(&self) -> usize {
        self.osc.dof()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn param_names(&self) -> &'static [&'static str] {
        &["kp", "kv", "null_damping", "rest_kp", "rest_kv", "ki"]
    }

    fn param(&self, name: &str) -> Option<f64> {
        if name == "ki" { Some(self.params.ki) } else { self.osc.gain(name) }
    }

    fn set_param(&mut self, name: &str, value: f64) -> Result<(), ControlError> {
        if name == "ki" {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ControlError::BadInput(format!("ki must be finite and >= 0 1/s, got {value}")));
            }
            self.params.ki = value;
            return Ok(());
        }
        self.osc.set_gain(name, value)
    }
}
