//! Errors of the neuromorphic core.

use thiserror::Error;

/// Why a network description could not be built or run.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NeuroError {
    /// A field of a spec is out of its valid range; the message names the field and the range.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// An input or error vector has the wrong length.
    #[error("dimension mismatch for {what}: expected {expected}, got {got}")]
    Dimension {
        /// Which vector.
        what: &'static str,
        /// Length the network was built for.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The network does not fit the emulated chip's per-core limits.
    #[error("does not fit the core: {0}")]
    CoreLimit(String),
    /// Imported learned weights do not match the network.
    #[error("weights do not fit this network: {0}")]
    Weights(String),
}
