//! The sim's ROS 2 side: the node, its `/joint_states` publisher and its command, payload and e-stop
//! subscriptions, declared once from `[ros2]`. The joint state is a pre-sized message re-filled in place,
//! its CDR buffer reused: publishing allocates no more than the native state does.

use spikearm_sim::ArmState;

use super::settings::SimRos2Settings;
use crate::bus::ros2::{
    BoolMsg, Float64MultiArray, Header, Inertia, JointState, Qos, RosLatest, RosNode, RosNodeSpec, RosPublisher,
    RosQueue, Time,
};
use crate::bus::{Bus, QosClass};
use crate::node::NodeError;

/// Payload and e-stop messages queued between two drains.
const EVENT_QUEUE: usize = 16;

/// The sim's handles in the ROS graph.
pub(super) struct SimRos {
    pub(super) effort: RosLatest<Float64MultiArray>,
    pub(super) payload: RosQueue<Inertia>,
    pub(super) estop: RosQueue<BoolMsg>,
    states: RosPublisher<JointState>,
    msg: JointState,
    /// Real time: publish every this many steps.
    every: u64,
    _node: RosNode,
}

impl SimRos {
    /// Declares the node and its endpoints when `settings.enabled`; `names` are the arm's joints in order,
    /// `dt` the physics step, s.
    pub(super) fn declare(
        bus: &Bus,
        settings: &SimRos2Settings,
        names: Vec<String>,
        dt: f64,
    ) -> Result<Option<Self>, NodeError> {
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
        let n = names.len();
        let qos = Qos::default();
        let ros = Self {
            states: node.publisher(&settings.joint_states_topic, qos, QosClass::Control)?,
            effort: node.latest(&settings.effort_topic, qos)?,
            payload: node.queue(&settings.payload_topic, qos, EVENT_QUEUE)?,
            estop: node.queue(&settings.estop_topic, qos, EVENT_QUEUE)?,
            msg: JointState {
                header: Header::default(),
                name: names,
                position: vec![0.0; n],
                velocity: vec![0.0; n],
                effort: vec![0.0; n],
            },
            every: settings.joint_states_every(dt),
            _node: node,
        };
        tracing::info!(
            node = %settings.node_name,
            states = ros.states.topic(),
            commands = ros.effort.topic(),
            "sim: on ROS 2 (domain {}, {})",
            settings.domain_id,
            settings.distro
        );
        Ok(Some(ros))
    }

    /// Whether the state of step `seq` goes out in real time (decimated).
    pub(super) fn due(&self, seq: u64) -> bool {
        seq.is_multiple_of(self.every)
    }

    /// Publishes `state` (stamped with its sim time).
    pub(super) fn publish(&mut self, state: &ArmState) -> Result<(), NodeError> {
        let m = &mut self.msg;
        m.header.stamp = Time::from_secs_f64(state.t);
        m.position.copy_from_slice(&state.q);
        m.velocity.copy_from_slice(&state.dq);
        m.effort.copy_from_slice(&state.tau);
        self.states.put(&self.msg)?;
        Ok(())
    }
}
