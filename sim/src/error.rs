//! Errors of the simulated arm.

/// Everything that can go wrong when building or driving an [`crate::ArmWorld`].
///
/// Inputs are validated before they reach rapier: a rejected call leaves the world unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The URDF text is not valid URDF/XML.
    #[error("cannot parse the URDF: {0}")]
    UrdfParse(String),
    /// The URDF is valid but describes something this simulator does not handle.
    #[error("unsupported arm model: {0}")]
    UnsupportedModel(String),
    /// A vector has the wrong number of entries.
    #[error("{what}: expected {expected} values (one per joint), got {got}")]
    DimensionMismatch {
        /// What the vector is (`"torque"`, `"q"`, …).
        what: &'static str,
        /// Number of actuated joints.
        expected: usize,
        /// Number of values given.
        got: usize,
    },
    /// A value is NaN or infinite; such values never reach the physics.
    #[error("{what}[{index}] is not finite ({value})")]
    NonFinite {
        /// What the vector is (`"torque"`, `"q"`, …).
        what: &'static str,
        /// Index of the offending entry.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A joint position lies outside the joint's URDF limits.
    #[error("joint '{joint}': position {value} rad is outside its limits [{lower}, {upper}] rad")]
    OutsideLimits {
        /// Joint name from the URDF.
        joint: String,
        /// Requested position, rad.
        value: f64,
        /// Lower limit, rad.
        lower: f64,
        /// Upper limit, rad.
        upper: f64,
    },
    /// A simulation parameter is out of range.
    #[error("invalid simulation parameter: {0}")]
    InvalidParams(String),
    /// A payload specification is out of range.
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
}
