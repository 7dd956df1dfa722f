//! Point-mass payloads carried by the end effector.

use crate::SimError;

/// A point mass rigidly attached to the end effector.
///
/// It changes both the gravity load and the inertia of the arm. A point mass has no rotational inertia
/// about its own centre, so its inertia contribution is purely the parallel-axis term `m·|r|²`
/// about the carrying link's centre of mass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PayloadSpec {
    /// Mass, kg. Must be finite and > 0 (remove a payload with `set_payload(None)`).
    pub mass_kg: f64,
    /// Position of the mass in the `ee` frame, m.
    pub offset_m: [f64; 3],
}

impl PayloadSpec {
    /// A payload of `mass_kg` kg exactly at the `ee` frame origin.
    pub fn at_ee(mass_kg: f64) -> Self {
        Self { mass_kg, offset_m: [0.0; 3] }
    }

    /// Checks that the mass is finite and positive and the offset finite.
    pub fn validate(&self) -> Result<(), SimError> {
        if !self.mass_kg.is_finite() || self.mass_kg <= 0.0 {
            return Err(SimError::InvalidPayload(format!("mass must be finite and > 0 kg, got {}", self.mass_kg)));
        }
        if let Some(v) = self.offset_m.iter().find(|v| !v.is_finite()) {
            return Err(SimError::InvalidPayload(format!("offset must be finite, got {v}")));
        }
        Ok(())
    }
}
