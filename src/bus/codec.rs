//! JSON bodies: encode into a reused buffer, decode with a size cap, a schema-version check and validation.

use super::messages::{Message, SCHEMA_VERSION, Violation};

/// Largest body accepted, bytes. A 6-DoF joint state is ~600 bytes; 64 KiB leaves room for long arms and
/// status accounting while bounding what a hostile publisher can make a node parse.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a body was refused. Nodes count these by kind and drop the message; decoding never panics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The body exceeds [`MAX_BODY_BYTES`].
    #[error("{kind}: body of {len} bytes exceeds the {cap}-byte cap")]
    TooLarge { kind: &'static str, len: usize, cap: usize },
    /// Not JSON of the expected shape.
    #[error("{kind}: malformed body: {detail}")]
    Malformed { kind: &'static str, detail: String },
    /// A schema version this build does not speak.
    #[error("{kind}: schema version {got} not supported (this build speaks {want})")]
    Version { kind: &'static str, got: u32, want: u32 },
    /// Well-formed but refused by the type's [`Message::check`] (non-finite numbers, lengths, ranges).
    #[error("{kind}: {}: {violation}", violation.reason())]
    Refused { kind: &'static str, violation: Violation },
    /// Invalid contents not covered by a [`Violation`] (e.g. a query's selector parameter that is no number).
    #[error("{kind}: invalid: {detail}")]
    Invalid { kind: &'static str, detail: String },
}

impl DecodeError {
    /// Short reason label for counters: `too_large`, `malformed` (not JSON, wrong types, missing fields),
    /// `version`, `non_finite`, `dimension`, `out_of_range` or `invalid`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed { .. } => "malformed",
            Self::Version { .. } => "version",
            Self::Refused { violation, .. } => violation.reason(),
            Self::Invalid { .. } => "invalid",
        }
    }

    /// The message kind the body was decoded as.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge { kind, .. }
            | Self::Malformed { kind, .. }
            | Self::Version { kind, .. }
            | Self::Refused { kind, .. }
            | Self::Invalid { kind, .. } => kind,
        }
    }
}

/// Serialises `msg` into `buf` (cleared first; its capacity is reused).
pub fn encode_into<M: Message>(msg: &M, buf: &mut Vec<u8>) {
    buf.clear();
    // Writing plain data structs to a Vec cannot fail (no maps with non-string keys, no I/O).
    serde_json::to_writer(&mut *buf, msg).expect("wire types serialise infallibly");
}

/// Parses and checks one body.
pub fn decode<M: Message>(body: &[u8]) -> Result<M, DecodeError> {
    let kind = M::KIND;
    if body.len() > MAX_BODY_BYTES {
        return Err(DecodeError::TooLarge { kind, len: body.len(), cap: MAX_BODY_BYTES });
    }
    // Check the version before the full shape so that a newer schema says so instead of "missing field".
    #[derive(serde::Deserialize)]
    struct VersionOnly {
        v: u32,
    }
    match serde_json::from_slice::<VersionOnly>(body) {
        Ok(VersionOnly { v }) if v != SCHEMA_VERSION => {
            return Err(DecodeError::Version { kind, got: v, want: SCHEMA_VERSION });
        }
        Ok(_) => {}
        Err(e) => return Err(DecodeError::Malformed { kind, detail: e.to_string() }),
    }
    let msg: M = serde_json::from_slice(body).map_err(|e| DecodeError::Malformed { kind, detail: e.to_string() })?;
    msg.check().map_err(|violation| DecodeError::Refused { kind, violation })?;
    Ok(msg)
}
