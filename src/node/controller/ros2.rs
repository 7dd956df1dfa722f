//! The controller's ROS 2 side: its node, the `/joint_states` subscription (turned into the native state
//! the loop already handles), the effort publisher, the target and e-stop subscriptions and the status
//! publisher, declared once from `[ros2]`.
//!
//! A ROS joint state names no state number and no end-effector position: each new header stamp counts as
//! the next state (the same stamp again is the sim re-sending a state it still waits on), and the end
//! effector comes from the controller's own model of the arm. A ros2_control arm lists its joints in its own
//! order, possibly with others (a gripper): the arm's are picked by name.

use crate::arm::Arm;
use crate::arm::model::ArmModel;
use crate::bus::ros2::{
    BoolMsg, Float64MultiArray, JointState, PointStamped, Qos, RosLatest, RosMessage, RosNode, RosNodeSpec,
    RosPublisher, RosQueue, StringMsg,
};
use crate::bus::{Bus, JointStates, QosClass, SCHEMA_VERSION, Status};
use crate::node::NodeError;
use crate::node::common::{Reason, Refusal};

use super::settings::ControllerRos2Settings;

/// Target and e-stop messages queued between two drains.
const EVENT_QUEUE: usize = 16;

/// The controller's handles in the ROS graph.
pub(super) struct ControllerRos {
    pub(super) states: RosLatest<JointState>,
    pub(super) target: RosQueue<PointStamped>,
    pub(super) estop: RosQueue<BoolMsg>,
    effort: RosPublisher<Float64MultiArray>,
    effort_msg: Float64MultiArray,
    status: RosPublisher<StringMsg>,
    status_msg: StringMsg,
    joints: JointMap,
    model: ArmModel,
    /// Header stamp (s, ns) of the last state.
    last_stamp: Option<(i32, u32)>,
    seq: u64,
    _node: RosNode,
}

impl ControllerRos {
    /// Declares the node and its endpoints when `settings.enabled`.
    pub(super) fn declare(bus: &Bus, settings: &ControllerRos2Settings, arm: &Arm) -> Result<Option<Self>, NodeError> {
        if !settings.enabled {
            return Ok(None);
        }
        let node = RosNode::declare(
            bus,
            &RosNodeSpec {
                domain_id: settings.domain_id,
                distro: settings.distro,
                namespace: &settings.namespace,
                name: &settings.node_name,
            },
        )?;
        let qos = Qos::default();
        let ros = Self {
            states: node.latest(&settings.joint_states_topic, qos)?,
            target: node.queue(&settings.target_topic, qos, EVENT_QUEUE)?,
            estop: node.queue(&settings.estop_topic, qos, EVENT_QUEUE)?,
            effort: node.publisher(&settings.effort_topic, qos, QosClass::Control)?,
            effort_msg: Float64MultiArray::from_data(vec![0.0; arm.dof()]),
            status: node.publisher(&settings.status_topic, qos, QosClass::Report)?,
            status_msg: StringMsg::default(),
            joints: JointMap::new(arm.envelope().joint_names().to_vec()),
            model: arm.model().map_err(|e| NodeError::Model(e.to_string()))?,
            last_stamp: None,
            seq: 0,
            _node: node,
        };
        tracing::info!(
            node = %settings.node_name,
            states = ros.states.topic(),
            commands = ros.effort.topic(),
            "controller: control path on ROS 2 (domain {}, {})",
            settings.domain_id,
            settings.distro
        );
        Ok(Some(ros))
    }

    /// Sends `effort` (N·m, URDF order) as the effort command.
    pub(super) fn put_effort(&mut self, effort: &[f64]) -> Result<(), NodeError> {
        self.effort_msg.data.copy_from_slice(effort);
        self.effort.put(&self.effort_msg)?;
        Ok(())
    }

    /// Publishes `status` as its JSON text.
    pub(super) fn put_status(&mut self, status: &Status) -> Result<(), NodeError> {
        self.status_msg.data = serde_json::to_string(status).unwrap_or_default();
        self.status.put(&self.status_msg)?;
        Ok(())
    }

    /// The native state of a ROS joint state: the arm's joints in URDF order, the state number counted
    /// from new stamps, the end effector from the model. Refused: missing joints, lengths that do not
    /// match, non-finite numbers.
    pub(super) fn native_state(&mut self, m: &JointState) -> Result<JointStates, Refusal> {
        let idx = self.joints.indices(m)?;
        let pick = |xs: &[f64]| -> Vec<f64> { idx.iter().map(|&i| xs[i]).collect() };
        let position = pick(&m.position);
        let velocity = pick(&m.velocity);
        let effort = if m.effort.is_empty() { vec![0.0; idx.len()] } else { pick(&m.effort) };
        if position.iter().chain(&velocity).chain(&effort).any(|x| !x.is_finite()) {
            return Err(Refusal {
                reason: Reason::NonFinite,
                detail: "a position, velocity or effort is NaN or infinite".into(),
            });
        }
        let ee = self
            .model
            .ee_position(&position)
            .map_err(|e| Refusal { reason: Reason::Invalid, detail: e.to_string() })?;
        let stamp = (m.header.stamp.sec, m.header.stamp.nanosec);
        if self.last_stamp.is_some_and(|t| t != stamp) {
            self.seq += 1;
        }
        self.last_stamp = Some(stamp);
        Ok(JointStates {
            v: SCHEMA_VERSION,
            stamp: m.header.stamp.as_secs_f64(),
            seq: self.seq,
            // The joints are the arm's, in its order: no need to name them again.
            name: Vec::new(),
            position,
            velocity,
            effort,
            ee_position: [ee.x, ee.y, ee.z],
            payload_effort: Vec::new(),
        })
    }
}

/// Where the arm's joints are in incoming joint states (remembered while the names stay the same).
struct JointMap {
    arm: Vec<String>,
    names: Vec<String>,
    idx: Vec<usize>,
}

impl JointMap {
    fn new(arm: Vec<String>) -> Self {
        let idx = (0..arm.len()).collect();
        Self { arm, names: Vec::new(), idx }
    }

    /// Index in `m`'s arrays of each of the arm's joints, checking the lengths.
    fn indices(&mut self, m: &JointState) -> Result<&[usize], Refusal> {
        let n = self.arm.len();
        let listed = if m.name.is_empty() { n } else { m.name.len() };
        let dims_ok = m.position.len() == listed
            && m.velocity.len() == listed
            && (m.effort.is_empty() || m.effort.len() == listed);
        if !dims_ok || listed < n {
            return Err(Refusal {
                reason: Reason::Dimension,
                detail: format!(
                    "{} names, {} positions, {} velocities, {} efforts for an arm of {n} joints",
                    m.name.len(),
                    m.position.len(),
                    m.velocity.len(),
                    m.effort.len()
                ),
            });
        }
        if m.name.is_empty() {
            self.names.clear();
            self.idx.clear();
            self.idx.extend(0..n);
        } else if m.name != self.names {
            let mut idx = Vec::with_capacity(n);
            for j in &self.arm {
                match m.name.iter().position(|x| x == j) {
                    Some(i) => idx.push(i),
                    None => {
                        return Err(Refusal {
                            reason: Reason::UnknownArm,
                            detail: format!("joint {j:?} missing from {:?}", m.name),
                        });
                    }
                }
            }
            self.idx = idx;
            self.names.clone_from(&m.name);
        }
        Ok(&self.idx)
    }
}

/// The ROS type name of joint states, for counters.
pub(super) const JOINT_STATE: &str = JointState::TYPE.name;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::ros2::Header;

    fn js(names: &[&str], q: &[f64]) -> JointState {
        JointState {
            header: Header::default(),
            name: names.iter().map(|s| s.to_string()).collect(),
            position: q.to_vec(),
            velocity: q.to_vec(),
            effort: Vec::new(),
        }
    }

    #[test]
    fn joints_are_picked_by_name_and_checked() {
        let mut map = JointMap::new(vec!["a".into(), "b".into()]);
        assert_eq!(map.indices(&js(&["b", "gripper", "a"], &[2.0, 9.0, 1.0])).unwrap(), &[2, 0]);
        assert_eq!(map.indices(&js(&[], &[1.0, 2.0])).unwrap(), &[0, 1]);
        assert_eq!(map.indices(&js(&["a", "c"], &[1.0, 2.0])).unwrap_err().reason, Reason::UnknownArm);
        assert_eq!(map.indices(&js(&[], &[1.0])).unwrap_err().reason, Reason::Dimension);
        let mut short = js(&["a", "b"], &[1.0, 2.0]);
        short.velocity.pop();
        assert_eq!(map.indices(&short).unwrap_err().reason, Reason::Dimension);
    }
}
