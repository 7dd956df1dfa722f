//! Checks of the ROS 2 names in a node's `[ros2]` settings, so that a bad name is a settings error at start
//! rather than a failed declaration later.

use crate::bus::ros2::{check_node_name, data_key, qualify_topic};

/// Checks a `[ros2]` table's node name, namespace, domain id and each `(setting, topic)` (relative topics
/// resolve under the namespace).
pub fn check_ros2_names(
    domain_id: u32,
    namespace: &str,
    node_name: &str,
    topics: &[(&str, &str)],
) -> Result<(), String> {
    check_node_name(node_name).map_err(|e| format!("ros2.node_name: {e}"))?;
    for (setting, topic) in topics {
        let full = qualify_topic(namespace, topic).map_err(|e| format!("ros2.{setting}: {e}"))?;
        // Any type: only the domain id and the name are checked here.
        data_key(domain_id, &full, &crate::bus::ros2::messages::STRING, Default::default())
            .map_err(|e| format!("ros2.{setting}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_with_the_setting_named() {
        assert!(check_ros2_names(0, "/", "spikearm_sim", &[("effort_topic", "effort_controller/commands")]).is_ok());
        let e = check_ros2_names(0, "/", "sim node", &[]).unwrap_err();
        assert!(e.starts_with("ros2.node_name"), "{e}");
        let e = check_ros2_names(0, "/arm1", "sim", &[("joint_states_topic", "joint states")]).unwrap_err();
        assert!(e.starts_with("ros2.joint_states_topic"), "{e}");
        assert!(check_ros2_names(0, "arm1", "sim", &[("joint_states_topic", "x")]).is_err());
        assert!(check_ros2_names(1 << 20, "/", "sim", &[("joint_states_topic", "x")]).is_err());
    }
}
