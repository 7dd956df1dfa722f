//! The `[controller]` section of node configs and scenarios, and building the controller it names from the
//! library's constructors.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::control::adaptive::{AdaptiveOsc, AdaptiveParams};
use crate::control::arm_model::{ArmModel, ArmModelParams};
use crate::control::controller::Controller;
use crate::control::joint_pd::{JointPd, JointPdParams};
use crate::control::osc::{Osc, OscParams};
use crate::control::pid::{Pid, PidParams};
use crate::control::urdf_chain::ArmSpec;

/// `[controller]`: which controller and its main settings (the rest keep the library defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerSection {
    /// `adaptive` (default: OSC + the spiking adaptive term), `osc`, `pid` or `joint_pd`.
    pub kind: String,
    /// Task stiffness kp, 1/s². Default 200.
    pub kp: f64,
    /// Damping kv, 1/s. Default 20.
    pub kv: f64,
    /// PES learning rate (adaptive). Default: the adaptive term's own default (2e-4).
    pub learning_rate: f64,
    /// Ensemble size (adaptive). Default 1000.
    pub neurons: usize,
    /// Ensemble seed (adaptive). Default 0.
    pub seed: u64,
    /// Learning on at start (adaptive). Default true.
    pub learning: bool,
}

impl Default for ControllerSection {
    fn default() -> Self {
        Self { kind: "adaptive".into(), kp: 200.0, kv: 20.0, learning_rate: AdaptiveParams::default().learning_rate, neurons: 1000, seed: 0, learning: true }
    }
}

/// The controller kinds a node can run.
pub const CONTROLLER_KINDS: &[&str] = &["adaptive", "osc", "pid", "joint_pd"];

/// Builds `section.kind` on the arm described by `urdf` (text).
pub fn build(section: &ControllerSection, urdf: &str) -> anyhow::Result<Box<dyn Controller>> {
    let spec = ArmSpec::from_urdf_str(urdf).context("reading the arm for the controller's model")?;
    let model = ArmModel::new(&spec, ArmModelParams::default()).context("building the arm model")?;
    let dof = model.dof();
    let osc_params = OscParams { kp: section.kp, kv: section.kv, ..OscParams::default() };
    let c: Box<dyn Controller> = match section.kind.as_str() {
        "osc" => Box::new(Osc::new(model, osc_params)?),
        "pid" => Box::new(Pid::new(Osc::new(model, osc_params)?, PidParams::default())?),
        "joint_pd" => Box::new(JointPd::new(model, JointPdParams::default())?),
        "adaptive" => {
            let params = AdaptiveParams {
                joints: Some(AdaptiveParams::default_joints(dof)),
                learning_rate: section.learning_rate,
                neurons: section.neurons,
                seed: section.seed,
                ..AdaptiveParams::default()
            };
            let mut c = AdaptiveOsc::new(Osc::new(model, osc_params)?, params)?;
            if !section.learning {
                c.set_param("learning", 0.0)?;
            }
            Box::new(c)
        }
        other => bail!("controller.kind `{other}` is not one of {CONTROLLER_KINDS:?}"),
    };
    Ok(c)
}
