//! The attachment rmw_zenoh puts on every published sample: sequence number, source timestamp and the
//! publisher's GID. Subscribers read the publisher's identity and timing from it (`ros2 topic echo
//! --include-message-info`, message-lost detection), and some releases drop samples that lack it.
//!
//! It is written with zenoh's own serialization ("zenoh-ext"): an `i64` little-endian, another `i64`
//! little-endian, then the GID as a byte sequence, which is its length as a LEB128 varint (one byte, 16) and
//! the 16 bytes: 33 bytes in all. That is the layout of rmw_zenoh in Humble, Kilted, Rolling and Jazzy from
//! 0.2.4 on. Jazzy's first releases (0.2.0 to 0.2.3) wrote each field after its name instead (`"sequence_
//! number"`, `"source_timestamp"`, `"source_gid"`, each a varint-prefixed string): 77 bytes. We write the
//! current layout and read both.

use super::liveliness::Gid;

/// Length of an attachment in the current layout, bytes.
pub const ATTACHMENT_LEN: usize = 33;
/// Length of an attachment in Jazzy's early named-field layout, bytes.
pub const LEGACY_ATTACHMENT_LEN: usize = 77;

/// The metadata of one published sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attachment {
    /// Per-publisher sample counter, starting at 1 (rmw_zenoh's first sample is 1).
    pub sequence_number: i64,
    /// When the sample was published: nanoseconds since the Unix epoch (system clock), ns.
    pub source_timestamp_ns: i64,
    /// The publisher's GID (see [`super::entity_gid`]).
    pub source_gid: Gid,
}

/// Why an attachment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed rmw_zenoh attachment of {len} bytes: {detail}")]
pub struct AttachmentError {
    /// Length of what was received, bytes.
    pub len: usize,
    /// What is wrong.
    pub detail: &'static str,
}

const NAMES: [&[u8]; 3] = [b"sequence_number", b"source_timestamp", b"source_gid"];

impl Attachment {
    /// The attachment bytes in the current layout.
    pub fn encode(&self) -> [u8; ATTACHMENT_LEN] {
        let mut out = [0u8; ATTACHMENT_LEN];
        out[..8].copy_from_slice(&self.sequence_number.to_le_bytes());
        out[8..16].copy_from_slice(&self.source_timestamp_ns.to_le_bytes());
        out[16] = 16; // varint length of the GID
        out[17..].copy_from_slice(&self.source_gid);
        out
    }

    /// Parses an attachment in either layout.
    pub fn decode(bytes: &[u8]) -> Result<Self, AttachmentError> {
        let bad = |detail| AttachmentError { len: bytes.len(), detail };
        let i64_at = |at: usize| -> i64 {
            let mut a = [0u8; 8];
            a.copy_from_slice(&bytes[at..at + 8]);
            i64::from_le_bytes(a)
        };
        match bytes.len() {
            ATTACHMENT_LEN => {
                if bytes[16] != 16 {
                    return Err(bad("GID length is not 16"));
                }
                let mut source_gid = [0u8; 16];
                source_gid.copy_from_slice(&bytes[17..]);
                Ok(Self { sequence_number: i64_at(0), source_timestamp_ns: i64_at(8), source_gid })
            }
            LEGACY_ATTACHMENT_LEN => {
                // varint name length, name, value; three times.
                let mut at = 0;
                let mut values = [0i64; 2];
                for (i, name) in NAMES.iter().enumerate() {
                    if usize::from(bytes[at]) != name.len() || &bytes[at + 1..at + 1 + name.len()] != *name {
                        return Err(bad("field names are not sequence_number, source_timestamp, source_gid"));
                    }
                    at += 1 + name.len();
                    if i < 2 {
                        values[i] = i64_at(at);
                        at += 8;
                    }
                }
                if bytes[at] != 16 {
                    return Err(bad("GID length is not 16"));
                }
                let mut source_gid = [0u8; 16];
                source_gid.copy_from_slice(&bytes[at + 1..]);
                Ok(Self { sequence_number: values[0], source_timestamp_ns: values[1], source_gid })
            }
            _ => Err(bad("neither 33 nor 77 bytes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_layout_round_trips() {
        let a =
            Attachment { sequence_number: 5, source_timestamp_ns: -7, source_gid: std::array::from_fn(|i| i as u8) };
        let bytes = a.encode();
        // What zenoh-ext's serializer writes for (5i64, -7i64, bytes(0..16)) (checked against the Python
        // binding in tests/ros2_cdr.rs).
        let mut want = 5i64.to_le_bytes().to_vec();
        want.extend((-7i64).to_le_bytes());
        want.push(16);
        want.extend(0u8..16);
        assert_eq!(bytes.to_vec(), want);
        assert_eq!(Attachment::decode(&bytes), Ok(a));
    }

    #[test]
    fn legacy_layout_decodes() {
        let gid = [0xab; 16];
        let mut b = Vec::new();
        b.push(15);
        b.extend(b"sequence_number");
        b.extend(9i64.to_le_bytes());
        b.push(16);
        b.extend(b"source_timestamp");
        b.extend(1_700_000_000_000_000_000i64.to_le_bytes());
        b.push(10);
        b.extend(b"source_gid");
        b.push(16);
        b.extend(gid);
        assert_eq!(b.len(), LEGACY_ATTACHMENT_LEN);
        let a = Attachment::decode(&b).unwrap();
        assert_eq!(
            a,
            Attachment { sequence_number: 9, source_timestamp_ns: 1_700_000_000_000_000_000, source_gid: gid }
        );
        b[3] = b'X';
        assert!(Attachment::decode(&b).is_err());
    }

    #[test]
    fn malformed_attachments_are_refused() {
        assert!(Attachment::decode(&[]).is_err());
        assert!(Attachment::decode(&[0; 32]).is_err());
        let mut b = Attachment { sequence_number: 1, source_timestamp_ns: 2, source_gid: [3; 16] }.encode();
        b[16] = 15;
        assert!(Attachment::decode(&b).is_err());
        // Any 77 bytes: refused or parsed, never a panic.
        for fill in [0u8, 15, 16, 255] {
            let _ = Attachment::decode(&[fill; LEGACY_ATTACHMENT_LEN]);
        }
    }
}
