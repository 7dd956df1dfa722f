//! The arm: its description read from URDF (the serial chain, limits, inertias), the model built on it
//! (kinematics, Jacobian, mass matrix, gravity and Coriolis torques), its envelope (names, effort limits,
//! reach) and the hold law. Written on nalgebra, independently of the physics engine, so the two can be
//! cross-checked. No I/O beyond reading a URDF file on request.
//!
//! An [`Arm`] is parsed once per process and shared (`Arc<Arm>`): the sim node, the controller node, the
//! controller factory, the hold law and the validation envelope all take it.

pub mod body_inertia;
pub mod description;
pub mod envelope;
pub mod hold;
pub mod model;

use std::sync::Arc;

use description::{ArmSpec, UrdfChainError};
use envelope::ArmEnvelope;
use model::{ArmModel, ArmModelError, ArmModelParams};

/// One arm, read from its URDF once.
#[derive(Debug)]
pub struct Arm {
    urdf: String,
    spec: ArmSpec,
    envelope: ArmEnvelope,
}

impl Arm {
    /// Parses and checks the URDF text.
    pub fn from_urdf(urdf: impl Into<String>) -> Result<Arc<Self>, UrdfChainError> {
        let urdf = urdf.into();
        let spec = ArmSpec::from_urdf_str(&urdf)?;
        let envelope = ArmEnvelope::from_spec(&spec);
        Ok(Arc::new(Self { urdf, spec, envelope }))
    }

    /// Reads and parses a URDF file.
    pub fn from_urdf_file(path: &std::path::Path) -> Result<Arc<Self>, UrdfChainError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| UrdfChainError::Io { path: path.to_owned(), source })?;
        Self::from_urdf(text)
    }

    /// The URDF text (the physics engine reads it itself).
    pub fn urdf(&self) -> &str {
        &self.urdf
    }

    /// The parsed chain.
    pub fn spec(&self) -> &ArmSpec {
        &self.spec
    }

    /// Joint names, effort limits, reach.
    pub fn envelope(&self) -> &ArmEnvelope {
        &self.envelope
    }

    /// Actuated joints.
    pub fn dof(&self) -> usize {
        self.spec.dof()
    }

    /// A model of this arm with its own workspace (each user needs one: model calls take `&mut self`).
    pub fn model(&self) -> Result<ArmModel, ArmModelError> {
        ArmModel::new(&self.spec, ArmModelParams::default())
    }
}
