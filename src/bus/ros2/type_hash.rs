//! Type descriptions and RIHS01 type hashes, and the ROS 2 distributions whose keys they go into.
//!
//! Since Iron, every ROS 2 type has a hash of its definition ("RIHS01", ROS Interface Hashing Standard
//! version 1), and rmw_zenoh puts it into every data key and liveliness token, so that a publisher and a
//! subscription whose definitions differ never match. The hash is SHA-256 over a JSON text that describes
//! the type: its fields (name, type id, capacities, nested type name) and, sorted by name, every type it
//! references, directly or not. The JSON is written exactly as Python's `json.dumps` does with its default
//! separators (`", "`, `": "`), which is what ROS's generator and the `rosbags` package hash. Constants and
//! default values are not part of it.
//!
//! Humble predates type hashes: its rmw_zenoh writes the literal [`HUMBLE_TYPE_HASH`] in their place.

use sha2::{Digest, Sha256};

/// What Humble's rmw_zenoh writes where later distributions write a RIHS01 hash.
pub const HUMBLE_TYPE_HASH: &str = "TypeHashNotSupported";

/// A ROS 2 distribution, as far as the wire differs between them. In settings files it is the
/// `ROS_DISTRO` name: `humble`, `jazzy`, `kilted` or `rolling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distro {
    /// Humble Hawksbill (2022, LTS): no type hashes ([`HUMBLE_TYPE_HASH`] instead).
    Humble,
    /// Jazzy Jalisco (2024, LTS): RIHS01 hashes.
    #[default]
    Jazzy,
    /// Kilted Kaiju (2025): RIHS01 hashes, the same as Jazzy's for every type here.
    Kilted,
    /// Rolling: RIHS01 hashes, the same as Jazzy's for every type here (checked against `rosbags`).
    Rolling,
}

impl Distro {
    /// Every distribution, oldest first.
    pub const ALL: [Distro; 4] = [Distro::Humble, Distro::Jazzy, Distro::Kilted, Distro::Rolling];

    /// Lower-case name, as in `ROS_DISTRO` (`humble`, `jazzy`, `kilted`, `rolling`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Humble => "humble",
            Self::Jazzy => "jazzy",
            Self::Kilted => "kilted",
            Self::Rolling => "rolling",
        }
    }

    /// Parses a `ROS_DISTRO` value (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this distribution's keys carry RIHS01 hashes.
    pub fn has_type_hashes(self) -> bool {
        self != Self::Humble
    }
}

impl std::fmt::Display for Distro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A primitive ROS field type (the ones the messages here use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    /// `bool`.
    Bool,
    /// `uint8`.
    Uint8,
    /// `int32`.
    Int32,
    /// `uint32`.
    Uint32,
    /// `float64`.
    Float64,
    /// Unbounded `string`.
    String,
}

impl Primitive {
    /// Type id in ROS's `type_description_interfaces/FieldType`.
    fn type_id(self) -> u32 {
        match self {
            Self::Uint8 => 3,
            Self::Int32 => 6,
            Self::Uint32 => 7,
            Self::Float64 => 11,
            Self::Bool => 15,
            Self::String => 17,
        }
    }
}

/// The type of one field.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// A single primitive.
    Primitive(Primitive),
    /// An unbounded sequence (`T[]`) of a primitive.
    PrimitiveSeq(Primitive),
    /// A nested message.
    Nested(&'static TypeDescription),
    /// An unbounded sequence of a nested message.
    NestedSeq(&'static TypeDescription),
}

/// One field of a message: its name and type.
#[derive(Debug, Clone, Copy)]
pub struct FieldDescription {
    /// Field name as in the `.msg` file.
    pub name: &'static str,
    /// Field type.
    pub ty: FieldType,
}

/// A message type's definition, enough to compute its RIHS01 hash.
#[derive(Debug)]
pub struct TypeDescription {
    /// Full ROS name, `package/msg/Name`.
    pub name: &'static str,
    /// Fields in declaration order (constants excluded).
    pub fields: &'static [FieldDescription],
}

/// Offset added to a type id for an unbounded sequence (`type_description_interfaces/FieldType`).
const UNBOUNDED_SEQUENCE_OFFSET: u32 = 144;
/// Type id of a nested message.
const NESTED_TYPE_ID: u32 = 1;

impl TypeDescription {
    /// The DDS type name that rmw_zenoh puts in keys: `pkg/msg/Name` → `pkg::msg::dds_::Name_`.
    pub fn dds_name(&self) -> String {
        match self.name.rsplit_once('/') {
            Some((prefix, short)) => format!("{}::dds_::{short}_", prefix.replace('/', "::")),
            None => format!("{}_", self.name),
        }
    }

    /// The JSON text that RIHS01 hashes (see the module documentation).
    pub fn hash_input(&self) -> String {
        let mut referenced: Vec<&'static TypeDescription> = Vec::new();
        self.collect_referenced(&mut referenced);
        referenced.retain(|t| t.name != self.name);
        referenced.sort_by(|a, b| a.name.cmp(b.name));
        let mut s = String::with_capacity(1024);
        s.push_str("{\"type_description\": ");
        self.write_json(&mut s);
        s.push_str(", \"referenced_type_descriptions\": [");
        for (i, t) in referenced.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            t.write_json(&mut s);
        }
        s.push_str("]}");
        s
    }

    /// `RIHS01_` followed by the lower-case hex SHA-256 of [`TypeDescription::hash_input`].
    pub fn rihs01(&self) -> String {
        let digest = Sha256::digest(self.hash_input().as_bytes());
        let mut s = String::with_capacity(7 + 64);
        s.push_str("RIHS01_");
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The type hash as `distro`'s rmw_zenoh writes it: RIHS01, or [`HUMBLE_TYPE_HASH`] on Humble.
    pub fn type_hash(&self, distro: Distro) -> String {
        if distro.has_type_hashes() { self.rihs01() } else { HUMBLE_TYPE_HASH.to_owned() }
    }

    fn collect_referenced(&self, out: &mut Vec<&'static TypeDescription>) {
        for f in self.fields {
            if let FieldType::Nested(t) | FieldType::NestedSeq(t) = f.ty
                && !out.iter().any(|o| o.name == t.name)
            {
                out.push(t);
                t.collect_referenced(out);
            }
        }
    }

    fn write_json(&self, s: &mut String) {
        // Names are ASCII identifiers and `pkg/msg/Name` paths: nothing JSON would escape.
        s.push_str("{\"type_name\": \"");
        s.push_str(self.name);
        s.push_str("\", \"fields\": [");
        for (i, f) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let (type_id, nested) = match f.ty {
                FieldType::Primitive(p) => (p.type_id(), ""),
                FieldType::PrimitiveSeq(p) => (p.type_id() + UNBOUNDED_SEQUENCE_OFFSET, ""),
                FieldType::Nested(t) => (NESTED_TYPE_ID, t.name),
                FieldType::NestedSeq(t) => (NESTED_TYPE_ID + UNBOUNDED_SEQUENCE_OFFSET, t.name),
            };
            s.push_str(&format!(
                "{{\"name\": \"{}\", \"type\": {{\"type_id\": {type_id}, \"capacity\": 0, \"string_capacity\": 0, \
                 \"nested_type_name\": \"{nested}\"}}}}",
                f.name
            ));
        }
        s.push_str("]}");
    }
}
