//! Controller-side safety: what leaves the controller is bounded by the arm's own limits, whatever the
//! control law computed, so that the controller is safe to point at a real arm and does not rely on the
//! plant (or a simulator) to clamp it.
//!
//! [`CommandGuard::apply`] shapes every command in four stages: push back near joint position and velocity
//! limits, blend in from the hold torque after a resume, saturate to the URDF effort limits, and limit the
//! rate of change. The velocity brake is bounded by what stops the joint's excess speed within one control
//! period (from the arm model's inertia at the current pose): a brake that rises to the full effort limit over
//! a narrow speed band is otherwise far too stiff for a light joint — on the UR5e's last wrist joint it reversed
//! the joint's velocity every tick and pumped it up to ~200 rad/s. When the control law fails, [`CommandGuard::substitute_hold`] supplies the hold law's
//! torque instead of dropping the arm.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::linalg::{cholesky_in_place, cholesky_solve_in_place};
use crate::arm::Arm;
use crate::arm::hold::{HoldLaw, HoldParams};
use crate::arm::model::ArmModel;

/// Tunables of the controller-side safety (`[safety]` of the controller node's settings).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafetyParams {
    /// Largest change of any joint's torque, N·m per second of sim time. Default 10,000 (10 N·m per 1-ms
    /// tick: a 150-N·m joint goes from zero to its limit in 15 ms).
    pub torque_rate_nm_per_s: f64,
    /// Fraction of each joint's URDF velocity limit above which a braking torque opposes the motion; it
    /// rises to the joint's effort limit over a further 20 % of the limit, but never beyond what takes the
    /// excess speed away within one control period (from the model's inertia at the pose). Default 0.8: from
    /// 80 % of the limit to the full effort at the limit, so a joint stays within its rated speed. 0 turns the brake off (for
    /// a drive that enforces its own limits).
    pub velocity_margin: f64,
    /// Distance inside each URDF position limit where a restoring torque starts, rad; it reaches the joint's
    /// effort limit at the position limit. Default 0.1.
    pub position_margin_rad: f64,
    /// After an e-stop clears, the command blends from the hold torque to the controller's over this long, s
    /// of sim time. Default 0.5.
    pub resume_ramp_s: f64,
}

impl Default for SafetyParams {
    fn default() -> Self {
        Self { torque_rate_nm_per_s: 10_000.0, velocity_margin: 0.8, position_margin_rad: 0.1, resume_ramp_s: 0.5 }
    }
}

impl SafetyParams {
    /// Checks the ranges the types cannot.
    pub fn validate(&self) -> Result<(), String> {
        let p = self;
        if !(p.torque_rate_nm_per_s.is_finite() && p.torque_rate_nm_per_s > 0.0) {
            return Err(format!("safety.torque_rate_nm_per_s must be finite and > 0, got {}", p.torque_rate_nm_per_s));
        }
        if !(p.velocity_margin >= 0.0 && p.velocity_margin <= 1.0) {
            return Err(format!("safety.velocity_margin must lie in [0, 1] (0: off), got {}", p.velocity_margin));
        }
        if !(p.position_margin_rad.is_finite() && p.position_margin_rad > 0.0) {
            return Err(format!("safety.position_margin_rad must be finite and > 0, got {}", p.position_margin_rad));
        }
        if !(p.resume_ramp_s.is_finite() && p.resume_ramp_s >= 0.0) {
            return Err(format!("safety.resume_ramp_s must be finite and ≥ 0, got {}", p.resume_ramp_s));
        }
        Ok(())
    }
}

/// Width of the velocity brake's ramp, as a fraction of the velocity limit: from no brake at
/// `velocity_margin · limit` to the full effort limit `VELOCITY_BAND · limit` faster.
const VELOCITY_BAND: f64 = 0.2;

/// What [`CommandGuard::apply`] changed in one command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardActions {
    /// Some joint was near a position or velocity limit and got a restoring torque.
    pub limit_pushback: bool,
    /// Some joint's torque was above its effort limit.
    pub saturated: bool,
    /// Some joint's torque changed faster than the rate limit allows.
    pub rate_limited: bool,
}

/// Per-joint limits from the URDF.
struct JointBounds {
    effort: Vec<f64>,
    velocity: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

/// A resume in progress: blend from the hold torque at `q_hold` towards the controller's command.
struct Ramp {
    active: bool,
    /// Sim time of the first command after the resume, s; `None` until that command.
    start_s: Option<f64>,
    q_hold: Vec<f64>,
}

/// A run of control-law failures: hold at `q_hold`, latched at the first.
struct FailureHold {
    active: bool,
    q_hold: Vec<f64>,
}

/// The arm's inertia at the current pose, for bounding the velocity brake.
struct BrakeInertia {
    model: ArmModel,
    /// M(q), factored in place.
    m: DMatrix<f64>,
    /// One column of M⁻¹.
    col: Vec<f64>,
    /// The last control period seen, s (1 ms until two commands have been timed).
    period_s: f64,
}

impl BrakeInertia {
    /// The largest brake torque (N·m, ≥ 0) on joint `i` that takes away at most `excess` rad/s of its speed in
    /// one control period, the other joints free: `excess / (period · (M⁻¹)ᵢᵢ)`. `None` if M(q) is unusable.
    /// Call [`factor`](Self::factor) first.
    fn bound(&mut self, i: usize, excess: f64) -> Option<f64> {
        self.col.fill(0.0);
        self.col[i] = 1.0;
        cholesky_solve_in_place(&self.m, &mut self.col);
        let inv = self.col[i];
        (inv.is_finite() && inv > 0.0).then(|| excess / (self.period_s * inv))
    }

    /// Factors M(q); `false` if the model refuses the pose or M is not positive definite.
    fn factor(&mut self, q: &[f64]) -> bool {
        self.model.mass_matrix(q, &mut self.m).is_ok() && cholesky_in_place(&mut self.m, 1e-12)
    }
}

/// Shapes every command of one arm. Allocation-free after construction.
pub struct CommandGuard {
    params: SafetyParams,
    bounds: JointBounds,
    inertia: Option<BrakeInertia>,
    hold: HoldLaw,
    hold_tau: Vec<f64>,
    /// The last command sent and its sim time; `None` after a resume (nothing to be continuous with).
    prev: Vec<f64>,
    prev_t: Option<f64>,
    ramp: Ramp,
    failure: FailureHold,
}

impl CommandGuard {
    /// The guard for `arm`; `hold` are the gains of the hold law it falls back to.
    pub fn new(arm: &Arm, params: SafetyParams, hold: HoldParams) -> Result<Self, String> {
        params.validate()?;
        let joints = &arm.spec().joints;
        let bounds = JointBounds {
            effort: joints.iter().map(|j| j.limits.effort).collect(),
            velocity: joints.iter().map(|j| j.limits.velocity).collect(),
            lower: joints.iter().map(|j| j.limits.lower).collect(),
            upper: joints.iter().map(|j| j.limits.upper).collect(),
        };
        let n = joints.len();
        let inertia = arm.model().ok().map(|model| BrakeInertia {
            model,
            m: DMatrix::zeros(n, n),
            col: vec![0.0; n],
            period_s: 1e-3,
        });
        Ok(Self {
            params,
            bounds,
            inertia,
            hold: HoldLaw::new(arm, hold)?,
            hold_tau: vec![0.0; n],
            prev: vec![0.0; n],
            prev_t: None,
            ramp: Ramp { active: false, start_s: None, q_hold: vec![0.0; n] },
            failure: FailureHold { active: false, q_hold: vec![0.0; n] },
        })
    }

    /// The settings in force.
    pub fn params(&self) -> &SafetyParams {
        &self.params
    }

    /// The control law produced no torque at `q`: write the hold law's torque instead, holding where the arm
    /// was at the first failure of this run of failures (never zero torque: that drops the arm).
    pub fn substitute_hold(&mut self, q: &[f64], dq: &[f64], tau: &mut [f64]) {
        if !self.failure.active {
            self.failure.active = true;
            self.failure.q_hold.copy_from_slice(q);
        }
        if self.hold.torque(&self.failure.q_hold, q, dq, tau).is_err() {
            tau.fill(0.0);
        }
    }

    /// The control law produced a torque again: a later failure holds where that one happens.
    pub fn controller_ok(&mut self) {
        self.failure.active = false;
    }

    /// The controller is about to command again after an e-stop: the next commands blend in from the hold torque at `q` over [`SafetyParams::resume_ramp_s`].
    pub fn resume(&mut self, q: &[f64]) {
        self.ramp.active = true;
        self.ramp.start_s = None;
        self.ramp.q_hold.copy_from_slice(q);
        self.prev_t = None;
    }

    /// The next command is not continuous with the last one (the controller paused while joint states were
    /// missing; a new sim may restart the clock): no rate limit against the old command.
    pub fn restart(&mut self) {
        self.prev_t = None;
    }

    /// Whether a resume ramp is in progress.
    pub fn ramping(&self) -> bool {
        self.ramp.active
    }

    /// Shapes `tau` (N·m), the command for the state `(q, dq)` at sim time `t_s`, in place.
    pub fn apply(&mut self, t_s: f64, q: &[f64], dq: &[f64], tau: &mut [f64]) -> GuardActions {
        if let (Some(prev), Some(inertia)) = (self.prev_t, &mut self.inertia) {
            let dt = t_s - prev;
            if dt > 0.0 && dt < 1.0 {
                inertia.period_s = dt;
            }
        }
        let mut acts = GuardActions { limit_pushback: self.push_back_from_limits(q, dq, tau), ..Default::default() };
        self.blend_from_hold(t_s, q, dq, tau);
        acts.saturated = self.saturate(tau);
        acts.rate_limited = self.limit_rate(t_s, tau);
        self.prev.copy_from_slice(tau);
        self.prev_t = Some(t_s);
        acts
    }

    /// The hold torque at `q_hold` for the state `(q, dq)`, saturated: the parting command.
    pub fn hold_command(&mut self, q_hold: &[f64], q: &[f64], dq: &[f64], tau: &mut [f64]) {
        if self.hold.torque(q_hold, q, dq, tau).is_err() {
            tau.fill(0.0);
        }
        self.saturate(tau);
    }

    /// Near a position limit a spring, near the velocity limit a brake, each rising linearly to the joint's
    /// effort limit at the limit itself; the brake never more than stops the excess speed in one period.
    fn push_back_from_limits(&mut self, q: &[f64], dq: &[f64], tau: &mut [f64]) -> bool {
        let (b, p) = (&self.bounds, &self.params);
        let mut acted = false;
        let mut factored = None;
        for i in 0..tau.len() {
            let e = b.effort[i];
            let d = p.position_margin_rad;
            let into_upper = ((q[i] - (b.upper[i] - d)) / d).clamp(0.0, 1.0);
            let into_lower = (((b.lower[i] + d) - q[i]) / d).clamp(0.0, 1.0);
            let v_max = b.velocity[i];
            let v_from = if p.velocity_margin > 0.0 { p.velocity_margin * v_max } else { f64::INFINITY };
            let over_speed = ((dq[i].abs() - v_from) / (VELOCITY_BAND * v_max)).clamp(0.0, 1.0);
            // NaN (infinite limits) compares false: no push.
            let push = if into_upper > 0.0 {
                -into_upper
            } else if into_lower > 0.0 {
                into_lower
            } else {
                0.0
            };
            let mut brake = if over_speed > 0.0 { e * over_speed } else { 0.0 };
            if brake > 0.0
                && let Some(inertia) = &mut self.inertia
                && *factored.get_or_insert_with(|| inertia.factor(q))
                && let Some(bound) = inertia.bound(i, dq[i].abs() - v_from)
            {
                brake = brake.min(bound);
            }
            if push != 0.0 || brake > 0.0 {
                tau[i] += e * push - dq[i].signum() * brake;
                acted = true;
            }
        }
        acted
    }

    /// During a resume ramp: `hold + α·(tau − hold)`, α rising from 0 to 1 over the ramp time.
    fn blend_from_hold(&mut self, t_s: f64, q: &[f64], dq: &[f64], tau: &mut [f64]) {
        let ramp = &mut self.ramp;
        if !ramp.active {
            return;
        }
        let start = *ramp.start_s.get_or_insert(t_s);
        let alpha = if self.params.resume_ramp_s > 0.0 { (t_s - start) / self.params.resume_ramp_s } else { 1.0 };
        if alpha >= 1.0 {
            ramp.active = false;
            return;
        }
        let alpha = alpha.max(0.0);
        // The hold law pulls towards where the arm was when the pause ended.
        if self.hold.torque(&ramp.q_hold, q, dq, &mut self.hold_tau).is_err() {
            return;
        }
        for (t, h) in tau.iter_mut().zip(&self.hold_tau) {
            *t = h + alpha * (*t - h);
        }
    }

    /// Clamps to ±effort limit; non-finite entries become 0 (a NaN must never reach a drive).
    fn saturate(&self, tau: &mut [f64]) -> bool {
        let mut acted = false;
        for (t, &e) in tau.iter_mut().zip(&self.bounds.effort) {
            if !t.is_finite() {
                *t = 0.0;
                acted = true;
            } else if t.abs() > e {
                *t = t.clamp(-e, e);
                acted = true;
            }
        }
        acted
    }

    /// Moves each joint's torque at most `rate · dt` from the previous command.
    fn limit_rate(&self, t_s: f64, tau: &mut [f64]) -> bool {
        let Some(prev_t) = self.prev_t else { return false };
        // A state never comes twice to a tick; a clock that went back is a new sim: nothing to be continuous with.
        // In whole nanoseconds: a ROS header carries integer nanoseconds, the native state f64 seconds, and the
        // same step must give the same limit either way.
        let dt = ((t_s - prev_t) * 1e9).round() * 1e-9;
        if !(dt > 0.0) {
            return false;
        }
        let step = self.params.torque_rate_nm_per_s * dt;
        let mut acted = false;
        for (t, &p) in tau.iter_mut().zip(&self.prev) {
            let limited = t.clamp(p - step, p + step);
            if limited != *t {
                *t = limited;
                acted = true;
            }
        }
        acted
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn arm(file: &str) -> Arc<Arm> {
        Arm::from_urdf_file(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/arms").join(file)).unwrap()
    }

    fn guard(file: &str) -> CommandGuard {
        CommandGuard::new(&arm(file), SafetyParams::default(), HoldParams::default()).unwrap()
    }

    const Q: [f64; 3] = [0.3, -0.4, 0.2];
    const DQ: [f64; 3] = [0.0; 3];

    #[test]
    fn commands_are_saturated_to_the_effort_limits_and_nan_becomes_zero() {
        let mut g = guard("threelink.urdf");
        let mut tau = [500.0, -500.0, f64::NAN];
        let acts = g.apply(0.0, &Q, &DQ, &mut tau);
        assert_eq!(tau, [80.0, -40.0, 0.0]);
        assert!(acts.saturated && !acts.rate_limited && !acts.limit_pushback);
    }

    #[test]
    fn the_rate_limit_bounds_each_step_by_rate_times_dt() {
        let mut g = guard("threelink.urdf");
        let mut tau = [0.0; 3];
        g.apply(0.0, &Q, &DQ, &mut tau);
        let mut tau = [30.0, -30.0, 1.0];
        let acts = g.apply(0.001, &Q, &DQ, &mut tau);
        assert!(acts.rate_limited);
        for (t, want) in tau.iter().zip([10.0, -10.0, 1.0]) {
            assert!((t - want).abs() < 1e-9, "{tau:?}");
        }
    }

    #[test]
    fn a_failing_law_gets_the_hold_torque_latched_at_the_first_failure() {
        let mut g = guard("ur5e.urdf");
        let q = [0.0, -1.2, 1.0, -1.4, -1.57, 0.0];
        let mut tau = [0.0; 6];
        g.substitute_hold(&q, &[0.0; 6], &mut tau);
        let gravity = tau;
        assert!(gravity.iter().map(|t| t.abs()).sum::<f64>() > 1.0, "not zero torque: {tau:?}");
        // The arm sagged 0.05 rad at the shoulder: the latched hold pulls it back up.
        let mut sagged = q;
        sagged[1] -= 0.05;
        g.substitute_hold(&sagged, &[0.0; 6], &mut tau);
        let mut gravity_there = [0.0; 6];
        g.controller_ok();
        g.substitute_hold(&sagged, &[0.0; 6], &mut gravity_there);
        assert!(tau[1] > gravity_there[1] + 1.0, "pulls back: {} vs {}", tau[1], gravity_there[1]);
    }

    #[test]
    fn a_resume_starts_at_the_hold_torque_and_reaches_the_command_after_the_ramp() {
        let mut g = guard("threelink.urdf");
        let mut hold = [0.0; 3];
        g.hold_command(&Q, &Q, &DQ, &mut hold);
        let cmd = [20.0, 10.0, 5.0];
        g.resume(&Q);
        let mut tau = cmd;
        g.apply(1.0, &Q, &DQ, &mut tau);
        assert_eq!(tau, hold, "the first command after a resume is the hold torque");
        let mut max_step: f64 = 0.0;
        let mut prev = tau;
        for k in 1..=600 {
            let mut tau = cmd;
            g.apply(1.0 + k as f64 * 1e-3, &Q, &DQ, &mut tau);
            max_step = tau.iter().zip(&prev).map(|(a, b)| (a - b).abs()).fold(max_step, f64::max);
            prev = tau;
        }
        assert_eq!(prev, cmd, "after the ramp the command passes unchanged");
        assert!(!g.ramping());
        let ramp_step = hold.iter().zip(&cmd).map(|(h, c)| (c - h).abs()).fold(0.0, f64::max) * 1e-3 / 0.5;
        assert!(max_step <= ramp_step + 1e-9, "steps {max_step} vs the ramp's {ramp_step}");
    }

    #[test]
    fn joints_near_their_limits_are_pushed_back_and_braked() {
        let params = SafetyParams { velocity_margin: 1.0, ..Default::default() };
        let mut g = CommandGuard::new(&arm("threelink.urdf"), params, HoldParams::default()).unwrap();
        let pi = std::f64::consts::PI;
        // Joint 0 halfway into the upper margin, joint 1 10 % over its 10 rad/s limit, joint 2 free.
        let q = [pi - 0.05, 0.0, 0.0];
        let dq = [0.0, 11.0, 0.0];
        let mut tau = [0.0; 3];
        let acts = g.apply(0.0, &q, &dq, &mut tau);
        assert!(acts.limit_pushback);
        assert!((tau[0] + 0.5 * 80.0).abs() < 1e-9, "{tau:?}");
        assert!((tau[1] + 0.5 * 40.0).abs() < 1e-9, "{tau:?}");
        assert_eq!(tau[2], 0.0);
    }

    #[test]
    fn a_zero_velocity_margin_turns_the_brake_off() {
        let params = SafetyParams { velocity_margin: 0.0, ..Default::default() };
        let mut g = CommandGuard::new(&arm("threelink.urdf"), params, HoldParams::default()).unwrap();
        let mut tau = [0.0; 3];
        let acts = g.apply(0.0, &[0.0; 3], &[0.0, 11.0, 0.0], &mut tau);
        assert!(!acts.limit_pushback && tau == [0.0; 3], "{tau:?}");
    }

    #[test]
    fn bad_params_are_refused() {
        for p in [
            SafetyParams { torque_rate_nm_per_s: 0.0, ..Default::default() },
            SafetyParams { velocity_margin: 1.5, ..Default::default() },
            SafetyParams { velocity_margin: f64::NAN, ..Default::default() },
            SafetyParams { position_margin_rad: f64::NAN, ..Default::default() },
            SafetyParams { resume_ramp_s: -1.0, ..Default::default() },
        ] {
            assert!(p.validate().is_err(), "{p:?}");
        }
    }
}
