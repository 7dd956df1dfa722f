//! The conditions of the payload evaluation (`spikearm eval payload`): each builds its
//! controller from the payload-free arm model and runs [`run_payload_protocol`]. The adaptive rows take their
//! input scaling from the PD no-payload run (means and half-ranges of the joint angles it visits), as the
//! reference does.

use spikearm_sim::SimParams;

use super::closed_loop::ClosedLoopError;
use super::payload_protocol::{PayloadProtocolParams, ProtocolRun, run_payload_protocol};
use crate::arm::description::ArmSpec;
use crate::arm::model::{ArmModel, ArmModelParams};
use crate::control::adaptive::{AdaptiveInputs, AdaptiveOsc, AdaptiveParams};
use crate::control::osc::{Osc, OscParams};
use crate::control::pid::{Pid, PidParams};
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

/// Everything a condition needs. `adaptive.executor` is overridden by the condition.
#[derive(Debug, Clone)]
pub struct PayloadEvalSpec {
    /// URDF text of the arm (sim and model read the same).
    pub urdf: String,
    /// Timeline, start pose and payload.
    pub protocol: PayloadProtocolParams,
    /// OSC gains (rest posture defaults to q0).
    pub osc: OscParams,
    /// Adaptive settings; `joints` `None` means [`AdaptiveParams::default_joints`]; means and half-ranges
    /// `None` are filled from the calibration run.
    pub adaptive: AdaptiveParams,
    /// Physics settings.
    pub sim: SimParams,
    /// Smallest half-range used when calibrating the input scaling, rad (rad/s for velocities). Default 0.05.
    pub min_half_range: f64,
    /// Factor on the calibrated half-ranges: > 1 leaves room for the payload's sag, which otherwise pushes
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
        Ok(Self {
            urdf,
            protocol,
            osc: OscParams::default(),
            adaptive: AdaptiveParams::default(),
            sim: SimParams::default(),
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

    /// Runs one condition. `calibration` (the PD no-payload run) sets the adaptive input scaling.
    pub fn run(&self, condition: Condition, calibration: Option<&ProtocolRun>) -> Result<ProtocolRun, ClosedLoopError> {
        let arm = ArmSpec::from_urdf_str(&self.urdf).map_err(|e| ClosedLoopError::Setup(e.to_string()))?;
        let model =
            ArmModel::new(&arm, ArmModelParams::default()).map_err(|e| ClosedLoopError::Setup(e.to_string()))?;
        let mut osc_params = self.osc.clone();
        if osc_params.rest_posture.is_none() {
            osc_params.rest_posture = Some(self.protocol.q0.clone());
        }
        let osc = Osc::new(model, osc_params)?;
        let mut protocol = self.protocol.clone();
        let urdf = &self.urdf;
        match condition {
            Condition::PdNoPayload => {
                protocol.payload = None;
                run_payload_protocol(urdf, self.sim.clone(), &protocol, osc)
            }
            Condition::PdPayload => run_payload_protocol(urdf, self.sim.clone(), &protocol, osc),
            Condition::Pid(ki) => {
                let pid = Pid::new(osc, PidParams { ki, ..PidParams::default() })?;
                run_payload_protocol(urdf, self.sim.clone(), &protocol, pid)
            }
            Condition::Adaptive(kind) | Condition::AdaptiveNoPayload(kind) => {
                if matches!(condition, Condition::AdaptiveNoPayload(_)) {
                    protocol.payload = None;
                }
                let mut p = self.resolved_adaptive(arm.dof(), calibration);
                p.executor = kind;
                let ctl = AdaptiveOsc::new(osc, p)?;
                run_payload_protocol(urdf, self.sim.clone(), &protocol, ctl)
            }
        }
    }
}
