//! A ROS 2 node on a spikearm bus session: the liveliness tokens that put it and its endpoints into the ROS
//! graph, CDR publishers that attach rmw_zenoh's attachment to every sample, and CDR subscriptions.
//!
//! [`RosNode::declare`] declares the node token; [`RosNode::publisher`] and [`RosNode::latest`] /
//! [`RosNode::queue`] declare a data key (`<domain>/<topic>/<DDS type>/<hash>`) and the endpoint's token,
//! which lives as long as the handle. Entity ids come from one process-wide counter, so they are unique
//! within every session (nodes of one process may share a session, as the launch's in-process nodes do).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zenoh::Wait;
use zenoh::handlers::{FifoChannel, FifoChannelHandler, RingChannel, RingChannelHandler};
use zenoh::sample::Sample;

use super::attachment::Attachment;
use super::cdr::{CdrError, decode, encode_into};
use super::keys::{NameError, data_key, qualify_topic};
use super::liveliness::{EntityKind, Gid, NodeIdentity, Qos, entity_gid};
use super::messages::RosMessage;
use super::type_hash::Distro;
use crate::bus::{Bus, BusError, QosClass};

/// Next node or entity id; rmw_zenoh numbers a session's nodes and entities from one counter too.
static NEXT_ENTITY_ID: AtomicU32 = AtomicU32::new(0);

fn next_id() -> u32 {
    NEXT_ENTITY_ID.fetch_add(1, Ordering::Relaxed)
}

fn name_err(what: &str) -> impl FnOnce(NameError) -> BusError + '_ {
    move |e| BusError::Declare { what: what.to_string(), detail: e.to_string() }
}

fn declare_err(what: String) -> impl FnOnce(zenoh::Error) -> BusError {
    move |e| BusError::Declare { what, detail: e.to_string() }
}

/// Where a ROS node lives in the graph: the `[ros2]` settings both nodes share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosNodeSpec<'a> {
    /// `ROS_DOMAIN_ID`.
    pub domain_id: u32,
    /// Which distribution's type hashes go into keys and tokens.
    pub distro: Distro,
    /// Node namespace (`/` for none); relative topic names resolve under it.
    pub namespace: &'a str,
    /// Node name, as `ros2 node list` shows it.
    pub name: &'a str,
}

/// A node in the ROS 2 graph. Dropping it withdraws its token; its endpoints withdraw their own.
pub struct RosNode {
    session: zenoh::Session,
    bus: Bus,
    identity: NodeIdentity,
    distro: Distro,
    _token: zenoh::liveliness::LivelinessToken,
}

impl std::fmt::Debug for RosNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RosNode").field("identity", &self.identity).field("distro", &self.distro).finish()
    }
}

impl RosNode {
    /// Declares the node on `bus`'s session (its node token goes out now).
    pub fn declare(bus: &Bus, spec: &RosNodeSpec<'_>) -> Result<Self, BusError> {
        let session = bus.zenoh_session().clone();
        let identity =
            NodeIdentity::new(spec.domain_id, session.zid().to_string(), next_id(), spec.namespace, spec.name);
        let key = identity.node_token().map_err(name_err("ROS node"))?;
        let token = session.liveliness().declare_token(key.clone()).wait().map_err(declare_err(key))?;
        Ok(Self { session, bus: bus.clone(), identity, distro: spec.distro, _token: token })
    }

    /// Who the node is (domain, zid, ids, namespace, name).
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// `name` resolved against the node's namespace (`joint_states` → `/arm1/joint_states`).
    pub fn resolve(&self, name: &str) -> Result<String, BusError> {
        qualify_topic(&self.identity.namespace, name).map_err(name_err("ROS topic"))
    }

    /// Key and token of a new endpoint of type `M` on `topic`.
    fn endpoint<M: RosMessage>(
        &self,
        topic: &str,
        kind: EntityKind,
        qos: &Qos,
    ) -> Result<(String, String, String), BusError> {
        let topic = self.resolve(topic)?;
        let key = data_key(self.identity.domain_id, &topic, M::TYPE, self.distro).map_err(name_err("ROS topic"))?;
        let token = self
            .identity
            .endpoint_token(next_id(), kind, &topic, M::TYPE, self.distro, qos)
            .map_err(name_err("ROS endpoint"))?;
        Ok((topic, key, token))
    }

    fn declare_token(&self, token: &str) -> Result<zenoh::liveliness::LivelinessToken, BusError> {
        self.session.liveliness().declare_token(token.to_string()).wait().map_err(declare_err(token.to_string()))
    }

    /// Declares a publisher of `M` on `topic` (relative names resolve under the namespace) with the
    /// advertised `qos`; `class` sets zenoh's priority and congestion control as for the native keys.
    pub fn publisher<M: RosMessage>(
        &self,
        topic: &str,
        qos: Qos,
        class: QosClass,
    ) -> Result<RosPublisher<M>, BusError> {
        let (topic, key, token) = self.endpoint::<M>(topic, EntityKind::Publisher, &qos)?;
        let publisher = self.bus.declare_publisher(&key, class)?;
        Ok(RosPublisher {
            gid: entity_gid(&token),
            _token: self.declare_token(&token)?,
            publisher,
            topic,
            sequence_number: 0,
            buf: Vec::with_capacity(1024),
            _m: PhantomData,
        })
    }

    /// Subscribes to `M` on `topic`, keeping only the newest sample (commands and states: a slow reader sees
    /// the latest and never stalls the session).
    pub fn latest<M: RosMessage>(&self, topic: &str, qos: Qos) -> Result<RosLatest<M>, BusError> {
        let (topic, key, token) = self.endpoint::<M>(topic, EntityKind::Subscription, &qos)?;
        let sub = self
            .session
            .declare_subscriber(key.clone())
            .with(RingChannel::new(1))
            .wait()
            .map_err(declare_err(format!("ROS subscription {key}")))?;
        Ok(RosLatest { sub, topic, _token: self.declare_token(&token)?, _m: PhantomData })
    }

    /// Subscribes to `M` on `topic`, queueing up to `capacity` samples (events that must each be seen).
    pub fn queue<M: RosMessage>(&self, topic: &str, qos: Qos, capacity: usize) -> Result<RosQueue<M>, BusError> {
        let (topic, key, token) = self.endpoint::<M>(topic, EntityKind::Subscription, &qos)?;
        let sub = self
            .session
            .declare_subscriber(key.clone())
            .with(FifoChannel::new(capacity))
            .wait()
            .map_err(declare_err(format!("ROS subscription {key}")))?;
        Ok(RosQueue { sub, topic, _token: self.declare_token(&token)?, _m: PhantomData })
    }
}

/// A CDR publisher (see [`RosNode::publisher`]) that reuses its encoding buffer and numbers its samples.
pub struct RosPublisher<M> {
    publisher: zenoh::pubsub::Publisher<'static>,
    topic: String,
    gid: Gid,
    sequence_number: i64,
    buf: Vec<u8>,
    _token: zenoh::liveliness::LivelinessToken,
    _m: PhantomData<fn(&M)>,
}

impl<M: RosMessage> RosPublisher<M> {
    /// Encodes `msg` and sends it with its attachment (sequence number from 1, the system time, the GID).
    pub fn put(&mut self, msg: &M) -> Result<(), BusError> {
        encode_into(msg, &mut self.buf);
        self.sequence_number += 1;
        let attachment = Attachment {
            sequence_number: self.sequence_number,
            source_timestamp_ns: unix_nanos(),
            source_gid: self.gid,
        }
        .encode();
        self.publisher
            .put(self.buf.as_slice())
            .attachment(&attachment[..])
            .wait()
            .map_err(|e| BusError::Send { key: self.topic.clone(), detail: e.to_string() })
    }

    /// The fully qualified topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The GID in this publisher's attachments (the one `ros2 topic info -v` derives from its token).
    pub fn gid(&self) -> Gid {
        self.gid
    }
}

/// Nanoseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
fn unix_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn received<M: RosMessage, E: std::fmt::Display>(
    r: Result<Option<Sample>, E>,
) -> Result<Option<Result<M, CdrError>>, BusError> {
    match r {
        Ok(s) => Ok(s.map(|s| decode(&s.payload().to_bytes()))),
        Err(e) => Err(BusError::Closed(e.to_string())),
    }
}

/// A latest-value CDR subscription (see [`RosNode::latest`]). A body that is not a valid `M` comes back as
/// `Some(Err(_))`, for the node to count.
pub struct RosLatest<M> {
    sub: zenoh::pubsub::Subscriber<RingChannelHandler<Sample>>,
    topic: String,
    _token: zenoh::liveliness::LivelinessToken,
    _m: PhantomData<fn() -> M>,
}

impl<M: RosMessage> RosLatest<M> {
    /// The newest unread sample, if any, without blocking.
    pub fn try_recv(&self) -> Result<Option<Result<M, CdrError>>, BusError> {
        received(self.sub.handler().try_recv())
    }

    /// Waits up to `timeout` for a sample.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Result<M, CdrError>>, BusError> {
        received(self.sub.handler().recv_timeout(timeout))
    }

    /// The fully qualified topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

/// A queued CDR subscription (see [`RosNode::queue`]).
pub struct RosQueue<M> {
    sub: zenoh::pubsub::Subscriber<FifoChannelHandler<Sample>>,
    topic: String,
    _token: zenoh::liveliness::LivelinessToken,
    _m: PhantomData<fn() -> M>,
}

impl<M: RosMessage> RosQueue<M> {
    /// The oldest unread sample, if any, without blocking.
    pub fn try_recv(&self) -> Result<Option<Result<M, CdrError>>, BusError> {
        received(self.sub.handler().try_recv())
    }

    /// Waits up to `timeout` for a sample.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Result<M, CdrError>>, BusError> {
        received(self.sub.handler().recv_timeout(timeout))
    }

    /// The fully qualified topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}
