//! ROS 2 interop over rmw_zenoh: the wire mapping that makes a zenoh node a ROS 2 node to `ros2 topic
//! list`, `ros2 topic echo`, RViz and ros2_control. Pure functions and types, and [`RosNode`], which
//! declares the publishers, subscriptions and liveliness tokens with the keys built here on a bus session.
//!
//! - [`cdr`]-encoded bodies ([`encode_into`], [`decode`]) of the [`RosMessage`] types in [`messages`];
//! - [`data_key`]: `<domain>/<topic>/<DDS type>/<type hash>`, the hash per [`Distro`] ([`TypeDescription::rihs01`]);
//! - [`NodeIdentity::node_token`] and [`NodeIdentity::endpoint_token`]: the `@ros2_lv/…` liveliness tokens
//!   that put nodes, publishers and subscriptions into the ROS graph, with their [`Qos`] text;
//! - [`Attachment`]: sequence number, source timestamp and publisher GID ([`entity_gid`]) on every sample;
//! - [`RosNode`]: a node on a bus session with its tokens, [`RosPublisher`]s and [`RosLatest`] / [`RosQueue`]
//!   subscriptions (the only part here that touches zenoh).
//!
//! docs/ROS2.md describes the mapping for maintainers.

pub mod attachment;
pub mod cdr;
pub mod keys;
pub mod liveliness;
pub mod messages;
mod node;
pub mod type_hash;

pub use attachment::{ATTACHMENT_LEN, Attachment, AttachmentError, LEGACY_ATTACHMENT_LEN};
pub use cdr::{
    CDR_LE_HEADER, Cdr, CdrError, CdrReader, CdrWriter, MAX_CDR_BYTES, MAX_TRAILING_BYTES, decode, decode_with, encode,
    encode_into, encode_with,
};
pub use keys::{MAX_DOMAIN_ID, NameError, check_namespace, check_node_name, check_topic_name, data_key, qualify_topic};
pub use liveliness::{
    Durability, EntityKind, Gid, History, LIVELINESS_PREFIX, NodeIdentity, ParsedToken, Qos, Reliability, TokenError,
    entity_gid, parse_token,
};
pub use messages::{
    BoolMsg, Duration, Float64Msg, Float64MultiArray, Header, Inertia, JointState, JointTrajectory,
    JointTrajectoryPoint, MultiArrayDimension, MultiArrayLayout, Point, PointStamped, RosMessage, StringMsg, Time,
    Vector3,
};
pub use node::{RosLatest, RosNode, RosNodeSpec, RosPublisher, RosQueue};
pub use type_hash::{Distro, FieldDescription, FieldType, HUMBLE_TYPE_HASH, Primitive, TypeDescription};
