//! The conditions of the payload evaluation (`spikearm eval payload`): each builds its
//! controller from the payload-free arm model and runs [`run_payload_protocol`]. The controllers are built
//! from the controller node's own settings ([`ControllerParams`]: the same OSC gains, the same adaptive term,
//! input scaling included), and every command passes the node's command guard, so that the evaluation
//! measures what the controller node, `launch` and `demo` run. Optionally (an experiment, not what the node
//! runs) the adaptive input scaling can be calibrated from the PD no-payload run instead: means and
//! half-ranges of the joint angles it visits, as the first-generation reference did.

use spikearm_sim::SimParams;

use super::closed_loop::{ClosedLoopError, command_guard};
use super::payload_protocol::{PayloadProtocolParams, ProtocolRun, run_payload_protocol};
use crate::arm::description::ArmSpec;
use crate::arm::hold::HoldParams;
use crate::arm::model::{ArmModel, ArmModelParams};
use crate::control::adaptive::{AdaptiveInputs, AdaptiveOsc, AdaptiveParams};
use crate::control::factory::ControllerParams;
use crate::control::osc::{Osc, OscParams};
use crate::control::pid::{Pid, PidParams};
use crate::control::safety::SafetyParams;
use crate::neuro::ExecutorKind;

/// One row of the evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// OSC (the "PD" of the literature) on the payload-free timeline.
    PdNoPayload,
    /// OSC with the payload.
    PdPayload,
    /// OSC + integral with gain ki, 1/s.
    Pid(f64),
    /// OSC + the adaptive term on the given executor.
    Adaptive(ExecutorKind),
    /// OSC + the adaptive term on the payload-free timeline (what the term costs where nothing is missing).
    AdaptiveNoPayload(ExecutorKind),
}

impl Condition {
    /// Key in reports: `pd_no_payload`, `pd_payload`, `pid_ki<ki>`, `adaptive_float`, `adaptive_loihi`,
    /// `adaptive_<executor>_no_payload`.
    pub fn key(&self) -> String {
        match self {
            Condition::PdNoPayload => "pd_no_payload".into(),
            Condition::PdPayload => "pd_payload".into(),
            Condition::Pid(ki) => format!("pid_ki{ki}"),
            Condition::Adaptive(ExecutorKind::Float) => "adaptive_float".into(),
            Condition::Adaptive(ExecutorKind::Loihi) => "adaptive_loihi".into(),
            Condition::AdaptiveNoPayload(ExecutorKind::Float) => "adaptive_float_no_payload".into(),
            Condition::AdaptiveNoPayload(ExecutorKind::Loihi) => "adaptive_loihi_no_payload".into(),
        }
    }
}

/// Everything a condition needs. `adaptive.ensemble.executor` is overridden by the condition.
#[derive(Debug, Clone)]
pub struct PayloadEvalSpec {
    /// URDF text of the arm (sim and model read the same).
    pub urdf: String,
    /// Timeline, start pose and payload.
    pub protocol: PayloadProtocolParams,
    /// OSC gains (the rest posture latches at the first tick, the start pose). Default: the controller node's
    /// ([`ControllerParams::osc_params`]).
    pub osc: OscParams,
    /// Adaptive settings. Default: the controller node's ([`ControllerParams::adaptive_params`]); `joints`
    /// `None` means [`AdaptiveParams::default_joints`]; means and half-ranges `None` are filled from a
    /// calibration run when one is given, else the library defaults (as in the node).
    pub adaptive: AdaptiveParams,
    /// Physics settings.
    pub sim: SimParams,
    /// The command guard's limits (the controller node's `[safety]`; default the node's).
    pub safety: SafetyParams,
    /// The hold law the guard falls back to (the controller node's `[hold]`).
    pub hold: HoldParams,
    /// Smallest half-range used when calibrating the input scaling (calibrated runs only), rad (rad/s for velocities). Default 0.05.
    pub min_half_range: f64,
    /// Factor on the calibrated half-ranges (calibrated runs only): > 1 leaves room for the payload's sag, which otherwise pushes
    /// the inputs off the calibrated span while the term is learning. Default 2 (3-link last lap 0.16 vs 0.29
    /// normalised with 1 at learning rate 1e-4; 3 is worse again).
    pub range_margin: f64,
}

impl PayloadEvalSpec {
    /// The reference protocol for the arm in `urdf` with `payload_kg` at the ee (start pose by joint count).
    pub fn new(urdf: String, payload_kg: f64) -> Result<Self, ClosedLoopError> {
        let spec = ArmSpec::from_urdf_str(&urdf).map_err(|e| ClosedLoopError::Setup(e.to_string()))?;
        let protocol = PayloadProtocolParams::for_dof(spec.dof(), payload_kg)
            .ok_or_else(|| ClosedLoopError::Setup(format!("no reference start pose for a {}-joint arm", spec.dof())))?;
        let node = ControllerParams::default();
        Ok(Self {
            urdf,
            protocol,
            osc: node.osc_params(),
            adaptive: node.adaptive_params(spec.dof()),
            sim: SimParams::default(),
            safety: SafetyParams::default(),
            hold: HoldParams::default(),
            min_half_range: 0.05,
            range_margin: 2.0,
        })
    }

    /// Adaptive settings with joints and input scaling resolved (scaling from `calibration`, a PD
    /// no-payload run, when the spec leaves them open).
    pub fn resolved_adaptive(&self, dof: usize, calibration: Option<&ProtocolRun>) -> AdaptiveParams {
        let mut p = self.adaptive.clone();
        let joints = p.joints.clone().unwrap_or_else(|| AdaptiveParams::default_joints(dof));
        if let (Some(cal), None, None) = (calibration, &p.input_means, &p.input_half_ranges) {
            let mut means = Vec::new();
            let mut half = Vec::new();
            let mut push = |lo: &[f64], hi: &[f64]| {
                for &j in &joints {
                    means.push(0.5 * (lo[j] + hi[j]));
                    half.push((0.5 * (hi[j] - lo[j]) * self.range_margin).max(self.min_half_range));
                }
            };
            push(&cal.q_min, &cal.q_max);
            if p.inputs == AdaptiveInputs::PositionsAndVelocities {
                push(&cal.dq_min, &cal.dq_max);
            }
            p.input_means = Some(means);
            p.input_half_ranges = Some(half);
        }
        p.joints = Some(joints);
        p
    }

    /// The OSC every condition runs on, on the payload-free model.
    fn osc(&self) -> Result<(Osc, usize), ClosedLoopError> {
        let arm = ArmSpec::from_urdf_str(&self.urdf).map_err(|e| ClosedLoopError::Setup(e.to_string()))?;
        let model =
            ArmModel::new(&arm, ArmModelParams::default()).map_err(|e| ClosedLoopError::Setup(e.to_string()))?;
        Ok((Osc::new(model, self.osc.clone())?, arm.dof()))
    }

    /// The adaptive controller of the adaptive rows on `executor`; `calibration` (a PD no-payload run), when
    /// given, sets its input scaling.
    pub fn adaptive_controller(
        &self,
        executor: ExecutorKind,
        calibration: Option<&ProtocolRun>,
    ) -> Result<AdaptiveOsc, ClosedLoopError> {
        let (osc, dof) = self.osc()?;
        let mut p = self.resolved_adaptive(dof, calibration);
        p.ensemble.executor = executor;
        Ok(AdaptiveOsc::new(osc, p)?)
    }

    /// Runs one condition. `calibration` (a PD no-payload run), when given, sets the adaptive input scaling.
    pub fn run(&self, condition: Condition, calibration: Option<&ProtocolRun>) -> Result<ProtocolRun, ClosedLoopError> {
        let (osc, _) = self.osc()?;
        let mut protocol = self.protocol.clone();
        let urdf = &self.urdf;
        let guard = command_guard(urdf, self.safety, self.hold)?;
        match condition {
            Condition::PdNoPayload => {
                protocol.payload = None;
                run_payload_protocol(urdf, self.sim.clone(), &protocol, osc, guard)
            }
            Condition::PdPayload => run_payload_protocol(urdf, self.sim.clone(), &protocol, osc, guard),
            Condition::Pid(ki) => {
                let pid = Pid::new(osc, PidParams { ki, ..PidParams::default() })?;
                run_payload_protocol(urdf, self.sim.clone(), &protocol, pid, guard)
            }
            Condition::Adaptive(kind) | Condition::AdaptiveNoPayload(kind) => {
                if matches!(condition, Condition::AdaptiveNoPayload(_)) {
                    protocol.payload = None;
                }
                let ctl = self.adaptive_controller(kind, calibration)?;
                run_payload_protocol(urdf, self.sim.clone(), &protocol, ctl, guard)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::Arm;
    use crate::control::controller::Controller;

    /// `eval payload` runs the adaptive term exactly as the controller node builds it from the same settings:
    /// the same design, executor, seeds, sizes, joints, input scaling and core parameters (the provenance a
    /// checkpoint records), the same OSC gains and the same name.
    #[test]
    fn eval_runs_the_controller_the_node_builds_from_the_same_settings() {
        for file in ["ur5e.urdf", "threelink.urdf"] {
            let urdf = std::fs::read_to_string(format!("{}/config/arms/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let settings = ControllerParams { neurons: 100, ..ControllerParams::default() };
            let node = settings.build(&Arm::from_urdf(urdf.clone()).unwrap()).unwrap();
            let mut spec = PayloadEvalSpec::new(urdf, 1.0).unwrap();
            assert_eq!(spec.osc, settings.osc_params(), "{file}");
            spec.adaptive.ensemble.neurons = 100;
            let eval = spec.adaptive_controller(ExecutorKind::Loihi, None).unwrap();
            assert_eq!(eval.name(), node.name(), "{file}");
            let (a, b) = (eval.weights_provenance().unwrap(), node.weights_provenance().unwrap());
            assert!(a.differences(&b).is_empty(), "{file}: {:?}", a.differences(&b));
            assert_eq!(spec.adaptive, settings.adaptive_params(spec.protocol.q0.len()), "{file}");
        }
    }
}
