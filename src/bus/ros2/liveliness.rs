//! The liveliness tokens that make spikearm's nodes, publishers and subscriptions visible in a ROS 2 graph
//! (`ros2 node list`, `ros2 topic list -t`, `ros2 topic info -v`), their QoS text, and entity GIDs.
//!
//! rmw_zenoh keeps its graph in zenoh liveliness tokens under the hermetic prefix `@ros2_lv` (a `**`
//! subscription does not match it). A node declares
//!
//! `@ros2_lv/<domain>/<session zid>/<node id>/<node id>/NN/<enclave>/<namespace>/<node name>`
//!
//! and each of its publishers (`MP`) and subscriptions (`MS`)
//!
//! `@ros2_lv/<domain>/<zid>/<node id>/<entity id>/MP/<enclave>/<namespace>/<node name>/<topic>/<DDS type
//! name>/<type hash>/<qos>`
//!
//! where enclave, namespace and topic are "mangled": every `/` becomes `%` (so `/` alone is `%` and
//! `/arm1/joint_states` is `%arm1%joint_states`). Node and entity ids are decimal numbers unique within the
//! session (rmw_zenoh counts them from 0 in one sequence). The zid is the zenoh session id as zenoh prints
//! it (lower-case hex).
//!
//! An entity's GID (shown by `ros2 topic info -v`, and carried in every sample's attachment) is the
//! 128-bit XXH3 hash of its token's key expression, low 64 bits first, each half little-endian.

use super::keys::{NameError, check_domain_id, check_namespace, check_node_name, check_topic_name};
use super::type_hash::{Distro, TypeDescription};

/// Prefix of every rmw_zenoh liveliness token.
pub const LIVELINESS_PREFIX: &str = "@ros2_lv";

/// A GID: 16 bytes identifying a publisher or subscription graph-wide.
pub type Gid = [u8; 16];

/// The kind of graph entity a token declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// A node (`NN`).
    Node,
    /// A message publisher (`MP`).
    Publisher,
    /// A message subscription (`MS`).
    Subscription,
    /// A service server (`SS`).
    ServiceServer,
    /// A service client (`SC`).
    ServiceClient,
}

impl EntityKind {
    /// The two-letter code in tokens.
    pub fn code(self) -> &'static str {
        match self {
            Self::Node => "NN",
            Self::Publisher => "MP",
            Self::Subscription => "MS",
            Self::ServiceServer => "SS",
            Self::ServiceClient => "SC",
        }
    }

    /// The kind of a two-letter code.
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::Node, Self::Publisher, Self::Subscription, Self::ServiceServer, Self::ServiceClient]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// Reliability QoS policy (rmw numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// Retransmit until delivered (rmw_zenoh's default).
    Reliable = 1,
    /// May drop (sensor data).
    BestEffort = 2,
}

/// Durability QoS policy (rmw numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Late-joining subscriptions get the last samples (e.g. `/robot_description`).
    TransientLocal = 1,
    /// Only live samples (rmw_zenoh's default).
    Volatile = 2,
}

/// History QoS policy (rmw numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum History {
    /// Keep the last `depth` samples (rmw_zenoh's default).
    KeepLast = 1,
    /// Keep all samples.
    KeepAll = 2,
}

/// The QoS of a publisher or subscription, as far as it is advertised. Deadline, lifespan and liveliness
/// are always rmw_zenoh's defaults (infinite, infinite, automatic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Qos {
    /// Reliability.
    pub reliability: Reliability,
    /// Durability.
    pub durability: Durability,
    /// History.
    pub history: History,
    /// History depth, samples (for [`History::KeepLast`]).
    pub depth: u32,
}

/// rmw_zenoh's default depth: a field equal to it is left empty in the QoS text.
const RMW_ZENOH_DEFAULT_DEPTH: u32 = 42;

impl Default for Qos {
    /// rclcpp's default profile: reliable, volatile, keep last 10.
    fn default() -> Self {
        Self {
            reliability: Reliability::Reliable,
            durability: Durability::Volatile,
            history: History::KeepLast,
            depth: 10,
        }
    }
}

impl Qos {
    /// ROS's sensor-data profile: best effort, volatile, keep last 5.
    pub fn sensor_data() -> Self {
        Self { reliability: Reliability::BestEffort, depth: 5, ..Self::default() }
    }

    /// Reliable, transient local, keep last 1: latched data such as `/robot_description`.
    pub fn latched() -> Self {
        Self { durability: Durability::TransientLocal, depth: 1, ..Self::default() }
    }

    /// The compact text rmw_zenoh puts in tokens:
    /// `<reliability>:<durability>:<history>,<depth>:<deadline s>,<ns>:<lifespan s>,<ns>:<liveliness>,<lease
    /// s>,<ns>`, where a value equal to rmw_zenoh's default is left empty (defaults: reliable, volatile, keep
    /// last, depth 42, infinite durations, automatic liveliness). rclcpp's default profile is `::,10:,:,:,,`.
    pub fn to_token_text(&self) -> String {
        let reliability = if self.reliability == Reliability::Reliable {
            String::new()
        } else {
            (self.reliability as u8).to_string()
        };
        let durability =
            if self.durability == Durability::Volatile { String::new() } else { (self.durability as u8).to_string() };
        let history = if self.history == History::KeepLast { String::new() } else { (self.history as u8).to_string() };
        let depth = if self.depth == RMW_ZENOH_DEFAULT_DEPTH { String::new() } else { self.depth.to_string() };
        format!("{reliability}:{durability}:{history},{depth}:,:,:,,")
    }
}

/// Replaces every `/` by `%`, as rmw_zenoh does for names inside one token chunk.
pub fn mangle(name: &str) -> String {
    name.replace('/', "%")
}

/// Inverse of [`mangle`].
pub fn demangle(chunk: &str) -> String {
    chunk.replace('%', "/")
}

/// Who a node is in the ROS graph: everything its tokens carry before the entity part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// `ROS_DOMAIN_ID`.
    pub domain_id: u32,
    /// The zenoh session id, as zenoh's `ZenohId` displays it (lower-case hex).
    pub zid: String,
    /// Node id, unique among the session's entities.
    pub node_id: u32,
    /// SROS enclave, `/` when unset.
    pub enclave: String,
    /// Namespace, `/` for none.
    pub namespace: String,
    /// Node name.
    pub name: String,
}

impl NodeIdentity {
    /// A node in `domain_id` on session `zid`, with id `node_id`, no enclave and namespace `namespace`.
    pub fn new(domain_id: u32, zid: impl Into<String>, node_id: u32, namespace: &str, name: &str) -> Self {
        Self {
            domain_id,
            zid: zid.into(),
            node_id,
            enclave: "/".into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    fn check(&self) -> Result<(), NameError> {
        check_domain_id(self.domain_id)?;
        let zid_ok = !self.zid.is_empty() && self.zid.bytes().all(|b| b.is_ascii_hexdigit());
        if !zid_ok {
            return Err(NameError { what: "zenoh id", name: self.zid.clone(), detail: "not a hex zenoh id" });
        }
        // The enclave follows the namespace rules.
        check_namespace(&self.enclave)?;
        check_namespace(&self.namespace)?;
        check_node_name(&self.name)
    }

    fn prefix(&self, entity_id: u32, kind: EntityKind) -> String {
        format!(
            "{LIVELINESS_PREFIX}/{}/{}/{}/{entity_id}/{}/{}/{}/{}",
            self.domain_id,
            self.zid,
            self.node_id,
            kind.code(),
            mangle(&self.enclave),
            mangle(&self.namespace),
            mangle(&self.name)
        )
    }

    /// The node's own token (`NN`; its entity id is its node id).
    pub fn node_token(&self) -> Result<String, NameError> {
        self.check()?;
        Ok(self.prefix(self.node_id, EntityKind::Node))
    }

    /// The token of one of the node's publishers or subscriptions (`kind` is [`EntityKind::Publisher`] or
    /// [`EntityKind::Subscription`]) on fully qualified `topic`.
    pub fn endpoint_token(
        &self,
        entity_id: u32,
        kind: EntityKind,
        topic: &str,
        ty: &TypeDescription,
        distro: Distro,
        qos: &Qos,
    ) -> Result<String, NameError> {
        self.check()?;
        check_topic_name(topic)?;
        Ok(format!(
            "{}/{}/{}/{}/{}",
            self.prefix(entity_id, kind),
            mangle(topic),
            ty.dds_name(),
            ty.type_hash(distro),
            qos.to_token_text()
        ))
    }
}

/// The GID of the entity whose liveliness token is `token`: XXH3-128 of the token text, low half first,
/// little-endian (what rmw_zenoh computes for every entity it sees).
pub fn entity_gid(token: &str) -> Gid {
    let h = xxhash_rust::xxh3::xxh3_128(token.as_bytes());
    let mut gid = [0u8; 16];
    gid[..8].copy_from_slice(&(h as u64).to_le_bytes());
    gid[8..].copy_from_slice(&((h >> 64) as u64).to_le_bytes());
    gid
}

/// A liveliness token read back into its parts (to list the ROS graph or find a topic's type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// Domain id.
    pub domain_id: u32,
    /// Session zid.
    pub zid: String,
    /// Node id within the session.
    pub node_id: String,
    /// Entity id within the session.
    pub entity_id: String,
    /// Kind.
    pub kind: EntityKind,
    /// Enclave, demangled.
    pub enclave: String,
    /// Namespace, demangled.
    pub namespace: String,
    /// Node name.
    pub node_name: String,
    /// For endpoints: fully qualified topic (demangled), DDS type name, type hash and QoS text.
    pub endpoint: Option<(String, String, String, String)>,
}

/// Why a token could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an rmw_zenoh liveliness token ({detail}): {token:?}")]
pub struct TokenError {
    /// The token.
    pub token: String,
    /// What is wrong.
    pub detail: &'static str,
}

/// Parses a token as rmw_zenoh does: 9 chunks for a node, 13 for an endpoint, none empty.
pub fn parse_token(token: &str) -> Result<ParsedToken, TokenError> {
    let bad = |detail| TokenError { token: token.to_owned(), detail };
    let parts: Vec<&str> = token.split('/').collect();
    if parts.len() != 9 && parts.len() != 13 {
        return Err(bad("wrong number of chunks"));
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty chunk"));
    }
    if parts[0] != LIVELINESS_PREFIX {
        return Err(bad("no @ros2_lv prefix"));
    }
    let domain_id = parts[1].parse().map_err(|_| bad("domain id is not a number"))?;
    let kind = EntityKind::from_code(parts[5]).ok_or_else(|| bad("unknown entity kind"))?;
    let endpoint = match (kind, parts.len()) {
        (EntityKind::Node, 9) => None,
        (EntityKind::Node, _) => return Err(bad("node token with endpoint chunks")),
        (_, 13) => Some((demangle(parts[9]), parts[10].to_owned(), parts[11].to_owned(), parts[12].to_owned())),
        _ => return Err(bad("endpoint token without topic chunks")),
    };
    Ok(ParsedToken {
        domain_id,
        zid: parts[2].to_owned(),
        node_id: parts[3].to_owned(),
        entity_id: parts[4].to_owned(),
        kind,
        enclave: demangle(parts[6]),
        namespace: demangle(parts[7]),
        node_name: demangle(parts[8]),
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::ros2::messages::STRING;

    const TALKER_ZID: &str = "8b20917502ee955ac4476e0266340d5c";

    #[test]
    fn tokens_match_rmw_zenoh_design_examples() {
        // The examples of rmw_zenoh's design document (demo_nodes_cpp, domain 2).
        let listener = NodeIdentity::new(2, "aac3178e146ba6f1fc6e6a4085e77f21", 0, "/", "listener");
        assert_eq!(listener.node_token().unwrap(), "@ros2_lv/2/aac3178e146ba6f1fc6e6a4085e77f21/0/0/NN/%/%/listener");
        let sub = listener
            .endpoint_token(10, EntityKind::Subscription, "/chatter", &STRING, Distro::Jazzy, &Qos::default())
            .unwrap();
        assert_eq!(
            sub,
            "@ros2_lv/2/aac3178e146ba6f1fc6e6a4085e77f21/0/10/MS/%/%/listener/%chatter/std_msgs::msg::dds_::String_/\
             RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18/::,10:,:,:,,"
        );
        let talker = NodeIdentity::new(2, TALKER_ZID, 0, "/", "talker");
        let qos = Qos { depth: 7, ..Qos::default() };
        let pub_ = talker.endpoint_token(10, EntityKind::Publisher, "/chatter", &STRING, Distro::Jazzy, &qos).unwrap();
        assert!(pub_.ends_with(
            "/MP/%/%/talker/%chatter/std_msgs::msg::dds_::String_/\
             RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18/::,7:,:,:,,"
        ));

        let parsed = parse_token(&pub_).unwrap();
        assert_eq!(parsed.kind, EntityKind::Publisher);
        assert_eq!(parsed.domain_id, 2);
        assert_eq!(parsed.namespace, "/");
        assert_eq!(parsed.endpoint.unwrap().0, "/chatter");
        assert!(parse_token("@ros2_lv/2/x/0/0/XX/%/%/n").is_err());
        assert!(parse_token("@ros2_lv/2/x/0/0/NN/%//n").is_err());
        assert!(parse_token("ros2_lv/2/x/0/0/NN/%/%/n").is_err());
    }

    #[test]
    fn qos_text_leaves_rmw_zenoh_defaults_empty() {
        assert_eq!(Qos::default().to_token_text(), "::,10:,:,:,,");
        assert_eq!(Qos::sensor_data().to_token_text(), "2::,5:,:,:,,");
        assert_eq!(Qos::latched().to_token_text(), ":1:,1:,:,:,,");
        let keep_all = Qos { history: History::KeepAll, depth: 42, ..Qos::default() };
        assert_eq!(keep_all.to_token_text(), "::2,:,:,:,,");
    }

    #[test]
    fn names_are_mangled_and_checked() {
        let n = NodeIdentity::new(0, "1f", 3, "/arm1/left", "spikearm_sim");
        let t = n
            .endpoint_token(
                4,
                EntityKind::Publisher,
                "/arm1/left/joint_states",
                &STRING,
                Distro::Humble,
                &Qos::default(),
            )
            .unwrap();
        assert_eq!(
            t,
            "@ros2_lv/0/1f/3/4/MP/%/%arm1%left/spikearm_sim/%arm1%left%joint_states/std_msgs::msg::dds_::String_/\
             TypeHashNotSupported/::,10:,:,:,,"
        );
        assert!(NodeIdentity::new(0, "zz", 0, "/", "n").node_token().is_err());
        assert!(NodeIdentity::new(0, "1f", 0, "arm", "n").node_token().is_err());
        assert!(NodeIdentity::new(0, "1f", 0, "/", "a/b").node_token().is_err());
        assert!(n.endpoint_token(4, EntityKind::Publisher, "x", &STRING, Distro::Jazzy, &Qos::default()).is_err());
    }

    #[test]
    fn gid_is_xxh3_128_low_half_first() {
        // XXH3-128 of the empty input (xxHash's reference value 99aa06d3014798d8_6001c324468d497f).
        let gid = entity_gid("");
        assert_eq!(gid[..8], 0x6001c324468d497fu64.to_le_bytes());
        assert_eq!(gid[8..], 0x99aa06d3014798d8u64.to_le_bytes());
    }
}
