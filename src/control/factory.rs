//! Which controller a node runs, and building it on an arm. The settings here are the `[controller]` table
//! of the controller node's settings and of scenarios.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::adaptive::{AdaptiveDesign, AdaptiveOsc, AdaptiveParams};
use super::controller::Controller;
use super::joint_pd::{JointPd, JointPdParams};
use super::learned_ensemble::EnsembleRecipe;
use super::osc::{Osc, OscParams};
use super::pid::{Pid, PidParams};
use crate::arm::Arm;

/// Which controller and its main settings (the rest keep the library defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerParams {
    /// `adaptive` (default: OSC + the spiking adaptive term), `osc`, `pid` or `joint_pd`.
    pub kind: String,
    /// Task stiffness kp, 1/s². Default 200.
    pub kp: f64,
    /// Damping kv, 1/s. Default 20.
    pub kv: f64,
    /// Which adaptive design (adaptive): `inertial` (default: learns the payload's weight and inertia from the
    /// model residual) or `posture` (the first generation: joint angles in, trained on the feedback).
    pub design: AdaptiveDesign,
    /// PES learning rate (adaptive). Default: the adaptive term's own default (2e-4).
    pub learning_rate: f64,
    /// Ensemble size (adaptive). Default 1000.
    pub neurons: usize,
    /// Ensemble seed (adaptive). Default 0.
    pub seed: u64,
    /// Learning on at start (adaptive). Default true.
    pub learning: bool,
}

impl Default for ControllerParams {
    fn default() -> Self {
        Self {
            kind: "adaptive".into(),
            design: AdaptiveDesign::default(),
            kp: 200.0,
            kv: 20.0,
            learning_rate: EnsembleRecipe::default().learning_rate,
            neurons: EnsembleRecipe::default().neurons,
            seed: EnsembleRecipe::default().seed,
            learning: true,
        }
    }
}

/// The controller kinds a node can run.
pub const CONTROLLER_KINDS: &[&str] = &["adaptive", "osc", "pid", "joint_pd"];

impl ControllerParams {
    /// The name the built controller reports ([`Controller::name`]), known without building it.
    pub fn name(&self) -> anyhow::Result<String> {
        Ok(match self.kind.as_str() {
            "osc" => "osc".into(),
            "pid" => format!("pid-ki{}", PidParams::default().ki),
            "joint_pd" => "joint-pd".into(),
            "adaptive" => self.design.controller_name(EnsembleRecipe::default().executor).into(),
            other => bail!("controller.kind `{other}` is not one of {CONTROLLER_KINDS:?}"),
        })
    }

    /// The OSC settings every kind built from these settings runs on (the rest posture is latched at the
    /// first tick).
    pub fn osc_params(&self) -> OscParams {
        OscParams { kp: self.kp, kv: self.kv, ..OscParams::default() }
    }

    /// The adaptive term's settings on an arm with `dof` joints: what the controller node, `launch`, `demo`
    /// and `spikearm eval payload` all run (eval adds only its own experiment switches on top).
    pub fn adaptive_params(&self, dof: usize) -> AdaptiveParams {
        AdaptiveParams {
            design: self.design,
            joints: Some(AdaptiveParams::default_joints(dof)),
            ensemble: EnsembleRecipe {
                learning_rate: self.learning_rate,
                neurons: self.neurons,
                seed: self.seed,
                ..EnsembleRecipe::default()
            },
            ..AdaptiveParams::default()
        }
    }

    /// Builds the controller on `arm`.
    pub fn build(&self, arm: &Arm) -> anyhow::Result<Box<dyn Controller>> {
        let model = arm.model().context("building the arm model")?;
        let dof = model.dof();
        let osc_params = self.osc_params();
        let c: Box<dyn Controller> = match self.kind.as_str() {
            "osc" => Box::new(Osc::new(model, osc_params)?),
            "pid" => Box::new(Pid::new(Osc::new(model, osc_params)?, PidParams::default())?),
            "joint_pd" => Box::new(JointPd::new(model, JointPdParams::default())?),
            "adaptive" => {
                let mut c = AdaptiveOsc::new(Osc::new(model, osc_params)?, self.adaptive_params(dof))?;
                if !self.learning {
                    c.set_param("learning", 0.0)?;
                }
                Box::new(c)
            }
            other => bail!("controller.kind `{other}` is not one of {CONTROLLER_KINDS:?}"),
        };
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_named_as_the_built_controller_names_itself() {
        let urdf =
            std::fs::read_to_string(format!("{}/config/arms/threelink.urdf", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let arm = Arm::from_urdf(urdf).unwrap();
        for kind in CONTROLLER_KINDS {
            let p = ControllerParams { kind: kind.to_string(), neurons: 50, ..Default::default() };
            assert_eq!(p.name().unwrap(), p.build(&arm).unwrap().name(), "{kind}");
        }
        for design in [AdaptiveDesign::Inertial, AdaptiveDesign::Posture] {
            let p = ControllerParams { design, neurons: 50, ..Default::default() };
            assert_eq!(p.name().unwrap(), p.build(&arm).unwrap().name(), "{design:?}");
        }
        let bad = ControllerParams { kind: "mpc".into(), ..Default::default() };
        assert!(bad.name().unwrap_err().to_string().contains("mpc"));
    }
}
