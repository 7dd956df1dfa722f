//! ROS 2 names (topics, namespaces, nodes) and the zenoh key expression rmw_zenoh publishes data on.
//!
//! A topic's data key is `<domain id>/<fully qualified topic name without its leading slash>/<DDS type
//! name>/<type hash>`, e.g. `0/joint_states/sensor_msgs::msg::dds_::JointState_/RIHS01_a13e…` (the `/`s
//! inside the name stay: `/arm1/joint_states` becomes `0/arm1/joint_states/…`). Domains keep separate
//! graphs apart; the type name and hash keep publishers and subscriptions of different types apart, since
//! zenoh itself would match any two equal keys.

use super::type_hash::{Distro, TypeDescription};

/// Largest `ROS_DOMAIN_ID` accepted. ROS documents 0–101 (232 on some platforms) for DDS port reasons;
/// rmw_zenoh has no such limit, so only absurd values are refused.
pub const MAX_DOMAIN_ID: u32 = 65_535;

/// Why a ROS name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ROS {what} {name:?}: {detail}")]
pub struct NameError {
    /// What kind of name (`topic`, `namespace`, `node name`, `domain id`, …).
    pub what: &'static str,
    /// The name as given.
    pub name: String,
    /// What is wrong.
    pub detail: &'static str,
}

fn err(what: &'static str, name: &str, detail: &'static str) -> NameError {
    NameError { what, name: name.to_owned(), detail }
}

/// Checks one `/`-separated token of a ROS name: ASCII letters, digits and `_`, not starting with a digit,
/// no `__` (reserved by ROS).
fn check_token(what: &'static str, name: &str, token: &str) -> Result<(), NameError> {
    if token.is_empty() {
        return Err(err(what, name, "empty token (a doubled or trailing '/')"));
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(err(what, name, "only ASCII letters, digits, '_' and '/' are allowed"));
    }
    if token.as_bytes()[0].is_ascii_digit() {
        return Err(err(what, name, "a token may not start with a digit"));
    }
    if token.contains("__") {
        return Err(err(what, name, "'__' is reserved"));
    }
    Ok(())
}

/// Checks a fully qualified topic name: `/` followed by one or more tokens separated by `/`.
pub fn check_topic_name(name: &str) -> Result<(), NameError> {
    let Some(rest) = name.strip_prefix('/') else {
        return Err(err("topic", name, "a fully qualified name starts with '/'"));
    };
    rest.split('/').try_for_each(|t| check_token("topic", name, t))
}

/// Checks a node namespace: `/` alone or `/`-separated tokens starting with `/`.
pub fn check_namespace(ns: &str) -> Result<(), NameError> {
    match ns.strip_prefix('/') {
        None => Err(err("namespace", ns, "a namespace starts with '/'")),
        Some("") => Ok(()),
        Some(rest) => rest.split('/').try_for_each(|t| check_token("namespace", ns, t)),
    }
}

/// Checks a node name: one token.
pub fn check_node_name(name: &str) -> Result<(), NameError> {
    check_token("node name", name, name)
}

/// Resolves a topic name against a namespace: an absolute name (`/x`) is kept, a relative one (`x/y`) is
/// put under `namespace`. Private (`~`) and substitution (`{…}`) names are not supported.
pub fn qualify_topic(namespace: &str, name: &str) -> Result<String, NameError> {
    check_namespace(namespace)?;
    let full = if name.starts_with('/') {
        name.to_owned()
    } else if namespace == "/" {
        format!("/{name}")
    } else {
        format!("{namespace}/{name}")
    };
    check_topic_name(&full)?;
    Ok(full)
}

/// Checks a domain id against [`MAX_DOMAIN_ID`].
pub fn check_domain_id(domain_id: u32) -> Result<(), NameError> {
    if domain_id > MAX_DOMAIN_ID {
        return Err(err("domain id", &domain_id.to_string(), "larger than MAX_DOMAIN_ID"));
    }
    Ok(())
}

/// The key expression rmw_zenoh publishes `topic` (fully qualified, e.g. `/joint_states`) of type `ty` on,
/// in `domain_id`, with `distro`'s type hash.
pub fn data_key(domain_id: u32, topic: &str, ty: &TypeDescription, distro: Distro) -> Result<String, NameError> {
    check_domain_id(domain_id)?;
    check_topic_name(topic)?;
    Ok(format!("{domain_id}/{}/{}/{}", &topic[1..], ty.dds_name(), ty.type_hash(distro)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::ros2::messages::{JOINT_STATE, STRING};

    #[test]
    fn data_keys_follow_rmw_zenoh() {
        // The example of rmw_zenoh's design document (std_msgs/String on /chatter, Jazzy).
        assert_eq!(
            data_key(0, "/chatter", &STRING, Distro::Jazzy).unwrap(),
            "0/chatter/std_msgs::msg::dds_::String_/\
             RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18"
        );
        assert_eq!(
            data_key(0, "/robot1/chatter", &STRING, Distro::Rolling).unwrap(),
            "0/robot1/chatter/std_msgs::msg::dds_::String_/\
             RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18"
        );
        assert_eq!(
            data_key(3, "/joint_states", &JOINT_STATE, Distro::Humble).unwrap(),
            "3/joint_states/sensor_msgs::msg::dds_::JointState_/TypeHashNotSupported"
        );
    }

    #[test]
    fn names_are_checked_and_resolved() {
        assert_eq!(qualify_topic("/", "joint_states").unwrap(), "/joint_states");
        assert_eq!(qualify_topic("/arm1", "joint_states").unwrap(), "/arm1/joint_states");
        assert_eq!(qualify_topic("/arm1", "/effort_controller/commands").unwrap(), "/effort_controller/commands");
        for bad in ["", "joint_states", "/", "//x", "/x/", "/x y", "/1x", "/a__b", "/ä", "/x/*", "/~/x"] {
            assert!(check_topic_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_namespace("/").is_ok());
        assert!(check_namespace("/a/b").is_ok());
        assert!(check_namespace("a").is_err());
        assert!(check_namespace("/a/").is_err());
        assert!(check_node_name("spikearm_sim").is_ok());
        assert!(check_node_name("sim/x").is_err());
        assert!(data_key(MAX_DOMAIN_ID + 1, "/x", &STRING, Distro::Jazzy).is_err());
    }
}
