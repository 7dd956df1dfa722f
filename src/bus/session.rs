//! Session set-up and typed handles over zenoh: publishers with a QoS class, latest-value and queued
//! subscribers, liveliness tokens and watches, and the parameter queryable.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use zenoh::Wait;
use zenoh::handlers::{FifoChannel, FifoChannelHandler, RingChannel, RingChannelHandler};
use zenoh::qos::{CongestionControl, Priority};
use zenoh::sample::{Sample, SampleKind};

use super::codec::{DecodeError, decode, encode_into};
use super::keys::Keys;
use super::messages::{Message, ParamsReply, ParamsRequest, SCHEMA_VERSION};

/// The session-level settings a node passes to [`Bus::open`]. The JSON5 text is read from
/// `config/zenoh/*.json5` by the app; the endpoint lists, when not empty, replace the file's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusConfig {
    /// zenoh configuration (JSON5 text). `None`: an isolated peer (no listening, no scouting) — enough for
    /// nodes sharing one in-process session.
    pub zenoh_json5: Option<String>,
    /// Endpoints to listen on, e.g. `tcp/127.0.0.1:7447`. Empty: keep the file's.
    pub listen: Vec<String>,
    /// Endpoints to connect to. Empty: keep the file's.
    pub connect: Vec<String>,
}

/// The built-in isolated peer: no listener, no connection, no multicast scouting, and gossip that speaks to no
/// one and connects to no one (see [`SILENT_GOSSIP`]).
const ISOLATED_PEER: &str = r#"{
  mode: "peer",
  listen: { endpoints: [] },
  connect: { endpoints: [] },
  scouting: { multicast: { enabled: false }, gossip: { enabled: true, multihop: false, target: [], autoconnect: [] } },
}"#;

/// The gossip settings of every bundled peer configuration (`config/zenoh/*.json5` and [`ISOLATED_PEER`]):
/// enabled, but sending to no one (`target: []`) and connecting to no one it hears of (`autoconnect: []`). On
/// the wire this is what `enabled: false` was: no gossip message, no connection but the configured ones. It
/// differs only inside zenoh (≥ 1.10), whose peer router, with gossip disabled, warns at every session open
/// that it "cannot de-duplicate data traversing region gateways" (we have no region gateways). The session's
/// start is unchanged too: a peer that connects still waits for its peer's declarations, not for gossip.
pub const SILENT_GOSSIP: &str = "{ enabled: true, multihop: false, target: [], autoconnect: [] }";

impl BusConfig {
    /// The zenoh configuration a session opened with these settings gets: the file (or the built-in isolated
    /// peer) with the endpoint overrides applied.
    fn zenoh_config(&self) -> Result<zenoh::Config, BusError> {
        let cfg_err = |e: zenoh::Error| BusError::Config(e.to_string());
        let text = self.zenoh_json5.as_deref().unwrap_or(ISOLATED_PEER);
        let mut zc = zenoh::Config::from_json5(text).map_err(|e| BusError::Config(e.to_string()))?;
        // Never scout by multicast unless the file says so explicitly: these machines share a network.
        if self.zenoh_json5.is_none() {
            zc.insert_json5("scouting/multicast/enabled", "false").map_err(cfg_err)?;
        }
        let list = |v: &[String]| serde_json::to_string(v).expect("strings serialise");
        if !self.listen.is_empty() {
            zc.insert_json5("listen/endpoints", &list(&self.listen)).map_err(cfg_err)?;
        }
        if !self.connect.is_empty() {
            zc.insert_json5("connect/endpoints", &list(&self.connect)).map_err(cfg_err)?;
        }
        Ok(zc)
    }

    /// The endpoints a session opened with these settings would listen on (e.g. `tcp/127.0.0.1:7447`).
    pub fn listen_endpoints(&self) -> Result<Vec<String>, BusError> {
        listen_endpoints(&self.zenoh_config()?)
    }
}

fn listen_endpoints(zc: &zenoh::Config) -> Result<Vec<String>, BusError> {
    let get = |key: &str| -> Result<serde_json::Value, BusError> {
        let json = zc.get_json(key).map_err(|e| BusError::Config(e.to_string()))?;
        serde_json::from_str(&json).map_err(|e| BusError::Config(e.to_string()))
    };
    // A plain list, or one list per mode (`{ router: [...], peer: [...], client: [...] }`, zenoh's default
    // when the file names none): take this session's mode's (zenoh's default mode is peer).
    let mode = get("mode")?.as_str().unwrap_or("peer").to_string();
    let list = match get("listen/endpoints")? {
        serde_json::Value::Object(mut per_mode) => per_mode.remove(&mode).unwrap_or_default(),
        l => l,
    };
    Ok(list.as_array().into_iter().flatten().filter_map(|e| e.as_str()).map(String::from).collect())
}

/// Whether a zenoh endpoint (`proto/host:port[?…][#…]`) names a loopback address (`127.0.0.0/8`, `::1`,
/// `localhost`). Anything unparsable counts as not loopback.
pub fn is_loopback_endpoint(endpoint: &str) -> bool {
    let Some((_, addr)) = endpoint.split_once('/') else { return false };
    let addr = addr.split(['?', '#']).next().unwrap_or_default();
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// QoS classes used on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosClass {
    /// Control path (joint_states, torque_cmd): RealTime priority, drop rather than block when congested,
    /// express (no batching). A late control message is worthless; a blocked publisher is dangerous.
    Control,
    /// Events that must not be lost (estop, payload, target): high priority, block when congested.
    Event,
    /// Reports (status): data priority, dropped when congested.
    Report,
}

/// Why a bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The zenoh configuration was refused.
    #[error("zenoh config: {0}")]
    Config(String),
    /// The session could not be opened.
    #[error("zenoh open: {0}")]
    Open(String),
    /// A publisher, subscriber, token or queryable could not be declared.
    #[error("declaring {what}: {detail}")]
    Declare { what: String, detail: String },
    /// Sending failed.
    #[error("sending on {key}: {detail}")]
    Send { key: String, detail: String },
    /// The session or channel is closed.
    #[error("bus closed: {0}")]
    Closed(String),
    /// A query got no usable answer.
    #[error("query {key}: {detail}")]
    Query { key: String, detail: String },
}

fn declare_err(what: impl Into<String>) -> impl FnOnce(zenoh::Error) -> BusError {
    let what = what.into();
    move |e| BusError::Declare { what, detail: e.to_string() }
}

/// An open session and the keys of one arm. Cloning shares the session (nodes in one process do).
#[derive(Clone)]
pub struct Bus {
    session: zenoh::Session,
    keys: Keys,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("prefix", &self.keys.prefix()).field("zid", &self.session.zid()).finish()
    }
}

impl Bus {
    /// Opens a session for `arm`. Blocking; call from a plain thread or a multi-thread tokio runtime (zenoh
    /// refuses a current-thread runtime).
    pub fn open(arm: &str, config: &BusConfig) -> Result<Self, BusError> {
        let keys = Keys::new(arm).map_err(BusError::Config)?;
        let zc = config.zenoh_config()?;
        // Only a warning: a config this cannot read is zenoh's to refuse, not ours.
        let exposed: Vec<String> =
            listen_endpoints(&zc).unwrap_or_default().into_iter().filter(|e| !is_loopback_endpoint(e)).collect();
        if !exposed.is_empty() && zc.get_json("access_control/enabled").ok().as_deref() != Some("true") {
            tracing::warn!(
                ?exposed,
                "listening beyond loopback without access control (see config/zenoh/router.json5)"
            );
        }
        let session = zenoh::open(zc).wait().map_err(|e| BusError::Open(e.to_string()))?;
        Ok(Self { session, keys })
    }

    /// The keys of this bus's arm.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The zenoh session, for the ROS 2 side of the bus ([`super::ros2::RosNode`]), which declares its own
    /// keys, tokens and attachments on it.
    pub(in crate::bus) fn zenoh_session(&self) -> &zenoh::Session {
        &self.session
    }

    /// The same session for another arm (`spikearm/<arm>/…`): the nodes of several arms in one process share
    /// one session, so a tool that joins it sees them all.
    pub fn for_arm(&self, arm: &str) -> Result<Self, BusError> {
        Ok(Self { session: self.session.clone(), keys: Keys::new(arm).map_err(BusError::Config)? })
    }

    /// This session's zenoh id (what liveliness and the router's logs name it by).
    pub fn zid(&self) -> String {
        self.session.zid().to_string()
    }

    /// Declares a typed publisher on `key`.
    pub fn publisher<M: Message>(&self, key: &str, qos: QosClass) -> Result<BusPublisher<M>, BusError> {
        let publisher = self.declare_publisher(key, qos)?;
        Ok(BusPublisher { publisher, key: key.to_string(), buf: Vec::with_capacity(1024), _m: PhantomData })
    }

    pub(in crate::bus) fn declare_publisher(
        &self,
        key: &str,
        qos: QosClass,
    ) -> Result<zenoh::pubsub::Publisher<'static>, BusError> {
        let (prio, cc, express) = match qos {
            QosClass::Control => (Priority::RealTime, CongestionControl::Drop, true),
            QosClass::Event => (Priority::InteractiveHigh, CongestionControl::Block, true),
            QosClass::Report => (Priority::Data, CongestionControl::Drop, false),
        };
        self.session
            .declare_publisher(key.to_string())
            .priority(prio)
            .congestion_control(cc)
            .express(express)
            .wait()
            .map_err(declare_err(format!("publisher {key}")))
    }

    /// Declares a publisher of raw bodies on `key` (tools that forward bodies they do not decode: replay).
    pub fn raw_publisher(&self, key: &str, qos: QosClass) -> Result<RawPublisher, BusError> {
        Ok(RawPublisher { publisher: self.declare_publisher(key, qos)?, key: key.to_string() })
    }

    /// Taps every sample on `key_expr` (wildcards allowed, e.g. `spikearm/ur5e/**`) as raw bytes, for tools
    /// that handle any message kind (the recorder). The sample is handed over in the publishing thread without
    /// copying its body and queued, up to `capacity`; when the queue is full the sample is dropped and counted
    /// ([`Tap::dropped`]) rather than blocking the publisher, which may be a control loop.
    pub fn tap(&self, key_expr: &str, capacity: usize) -> Result<Tap, BusError> {
        let (tx, rx) = mpsc::sync_channel::<(SystemTime, Sample)>(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&dropped);
        let sub = self
            .session
            .declare_subscriber(key_expr.to_string())
            .callback(move |s: Sample| {
                if tx.try_send((SystemTime::now(), s)).is_err() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
            .wait()
            .map_err(declare_err(format!("tap {key_expr}")))?;
        Ok(Tap { _sub: sub, rx, dropped })
    }

    /// Subscribes to `key`, keeping only the newest sample (a ring of one): a slow reader sees the latest
    /// value and never stalls the session.
    pub fn latest<M: Message>(&self, key: &str) -> Result<Latest<M>, BusError> {
        let sub = self
            .session
            .declare_subscriber(key.to_string())
            .with(RingChannel::new(1))
            .wait()
            .map_err(declare_err(format!("subscriber {key}")))?;
        Ok(Latest { sub, _m: PhantomData })
    }

    /// Subscribes to `key`, queueing up to `capacity` samples (events that must each be seen).
    pub fn queue<M: Message>(&self, key: &str, capacity: usize) -> Result<Queue<M>, BusError> {
        let sub = self
            .session
            .declare_subscriber(key.to_string())
            .with(FifoChannel::new(capacity))
            .wait()
            .map_err(declare_err(format!("subscriber {key}")))?;
        Ok(Queue { sub, _m: PhantomData })
    }

    /// Declares this node alive until the token is dropped or the session closes.
    pub fn liveliness_token(&self, node: &str) -> Result<LivenessToken, BusError> {
        let key = self.keys.alive(node);
        let token = self.session.liveliness().declare_token(key.clone()).wait().map_err(declare_err(key))?;
        Ok(LivenessToken { _token: token })
    }

    /// Watches every node of this arm appear and vanish (current ones are reported first).
    pub fn watch_liveliness(&self) -> Result<LivelinessWatch, BusError> {
        let key = self.keys.alive_all();
        let sub =
            self.session.liveliness().declare_subscriber(key.clone()).history(true).wait().map_err(declare_err(key))?;
        Ok(LivelinessWatch { sub })
    }

    /// Every node alive on the bus, of every arm: `(arm, node)` from the liveliness tokens
    /// `spikearm/<arm>/alive/<node>` that answer within `timeout`, sorted.
    pub fn alive_everywhere(&self, timeout: Duration) -> Result<Vec<(String, String)>, BusError> {
        let key = format!("{}/*/alive/*", Keys::ROOT);
        let qerr = |detail: String| BusError::Query { key: key.clone(), detail };
        let replies =
            self.session.liveliness().get(key.clone()).timeout(timeout).wait().map_err(|e| qerr(e.to_string()))?;
        let mut out = Vec::new();
        while let Ok(reply) = replies.recv() {
            if let Ok(sample) = reply.result() {
                let parts: Vec<&str> = sample.key_expr().as_str().split('/').collect();
                if let [_, arm, _, node] = parts[..] {
                    out.push((arm.to_string(), node.to_string()));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Declares the parameter queryable of `node`.
    pub fn param_server(&self, node: &str) -> Result<ParamServer, BusError> {
        let key = self.keys.params(node);
        let q = self.session.declare_queryable(key.clone()).wait().map_err(declare_err(key))?;
        Ok(ParamServer { q })
    }

    /// Asks `node` to apply `request` and returns its answer (blocking up to `timeout`).
    pub fn query_params(
        &self,
        node: &str,
        request: &ParamsRequest,
        timeout: Duration,
    ) -> Result<ParamsReply, BusError> {
        let key = self.keys.params(node);
        let mut body = Vec::new();
        encode_into(request, &mut body);
        let qerr = |detail: String| BusError::Query { key: key.clone(), detail };
        let replies =
            self.session.get(key.clone()).payload(body).timeout(timeout).wait().map_err(|e| qerr(e.to_string()))?;
        let reply = replies.recv().map_err(|_| qerr(format!("no reply within {timeout:?}")))?;
        match reply.result() {
            Ok(sample) => decode::<ParamsReply>(&sample.payload().to_bytes()).map_err(|e| qerr(e.to_string())),
            Err(e) => Err(qerr(String::from_utf8_lossy(&e.payload().to_bytes()).into_owned())),
        }
    }

    /// Publishes one message without declaring a publisher (tools, tests, scenario events).
    pub fn put<M: Message>(&self, key: &str, msg: &M) -> Result<(), BusError> {
        let mut body = Vec::new();
        encode_into(msg, &mut body);
        self.session
            .put(key.to_string(), body)
            .wait()
            .map_err(|e| BusError::Send { key: key.to_string(), detail: e.to_string() })
    }

    /// Closes the session: every token is withdrawn (peers see the node vanish) and every declaration
    /// undone. Other clones of this bus stop working.
    pub fn close(&self) -> Result<(), BusError> {
        self.session.close().wait().map_err(|e| BusError::Closed(e.to_string()))
    }
}

/// A zenoh router: the hub of a deployment. Nodes, tools and other routers connect to it as clients or peers;
/// it routes their puts, queries, replies and liveliness, and enforces the access control of its
/// configuration on every one of them (per link and identity). The very routing engine `zenohd` runs.
pub struct Router {
    session: zenoh::Session,
    listening: Vec<String>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("zid", &self.session.zid()).field("listening", &self.listening).finish()
    }
}

impl Router {
    /// Opens a router with `config` (its JSON5 text and endpoint overrides; the mode is forced to `router`).
    /// Blocking, like [`Bus::open`]. Fails when a listen endpoint cannot be bound.
    pub fn open(config: &BusConfig) -> Result<Self, BusError> {
        let mut zc = config.zenoh_config()?;
        zc.insert_json5("mode", r#""router""#).map_err(|e| BusError::Config(e.to_string()))?;
        let listening = listen_endpoints(&zc)?;
        let acl = zc.get_json("access_control/enabled").ok().as_deref() == Some("true");
        let exposed: Vec<&String> = listening.iter().filter(|e| !is_loopback_endpoint(e)).collect();
        if !exposed.is_empty() && !acl {
            tracing::warn!(
                ?exposed,
                "router listening beyond loopback without access control (see config/zenoh/router.json5)"
            );
        }
        let session = zenoh::open(zc).wait().map_err(|e| BusError::Open(e.to_string()))?;
        Ok(Self { session, listening })
    }

    /// The endpoints it was configured to listen on.
    pub fn listening(&self) -> &[String] {
        &self.listening
    }

    /// The router's zenoh id.
    pub fn zid(&self) -> String {
        self.session.zid().to_string()
    }

    /// Closes the router: every client loses its link (and reconnects to another router or a restarted one).
    pub fn close(self) -> Result<(), BusError> {
        self.session.close().wait().map_err(|e| BusError::Closed(e.to_string()))
    }
}

/// A typed publisher that reuses its encoding buffer.
pub struct BusPublisher<M> {
    publisher: zenoh::pubsub::Publisher<'static>,
    key: String,
    buf: Vec<u8>,
    _m: PhantomData<fn(&M)>,
}

impl<M: Message> BusPublisher<M> {
    /// Encodes and sends `msg`. With [`QosClass::Control`] a congested link drops it instead of blocking.
    pub fn put(&mut self, msg: &M) -> Result<(), BusError> {
        encode_into(msg, &mut self.buf);
        // zenoh takes ownership of the body; copying ~600 bytes keeps our buffer's capacity.
        self.publisher
            .put(self.buf.as_slice())
            .wait()
            .map_err(|e| BusError::Send { key: self.key.clone(), detail: e.to_string() })
    }

    /// The key published on.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A publisher of raw bodies (see [`Bus::raw_publisher`]).
pub struct RawPublisher {
    publisher: zenoh::pubsub::Publisher<'static>,
    key: String,
}

impl RawPublisher {
    /// Sends `body` as is.
    pub fn put(&self, body: &[u8]) -> Result<(), BusError> {
        self.publisher.put(body).wait().map_err(|e| BusError::Send { key: self.key.clone(), detail: e.to_string() })
    }

    /// Whether some subscriber (in this process or a connected one) currently matches the key.
    pub fn has_subscribers(&self) -> bool {
        self.publisher.matching_status().wait().is_ok_and(|m| m.matching())
    }

    /// The key published on.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A raw-bytes subscription to a key expression (see [`Bus::tap`]). Dropping it undeclares the subscriber.
pub struct Tap {
    _sub: zenoh::pubsub::Subscriber<()>,
    rx: mpsc::Receiver<(SystemTime, Sample)>,
    dropped: Arc<AtomicU64>,
}

impl Tap {
    /// Waits up to `timeout` for the next sample.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<RawSample>, BusError> {
        match self.rx.recv_timeout(timeout) {
            Ok((received, sample)) => Ok(Some(RawSample { received, sample })),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(BusError::Closed("tap disconnected".into())),
        }
    }

    /// The next queued sample, if any, without blocking.
    pub fn try_recv(&self) -> Option<RawSample> {
        self.rx.try_recv().ok().map(|(received, sample)| RawSample { received, sample })
    }

    /// Samples dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One tapped sample: its key, its body and when it arrived.
pub struct RawSample {
    received: SystemTime,
    sample: Sample,
}

impl RawSample {
    /// The key it was published on.
    pub fn key(&self) -> &str {
        self.sample.key_expr().as_str()
    }
    /// The body (borrowed when it arrived in one piece, as local and small samples do).
    pub fn body(&self) -> std::borrow::Cow<'_, [u8]> {
        self.sample.payload().to_bytes()
    }
    /// Wall-clock time it reached this session.
    pub fn received(&self) -> SystemTime {
        self.received
    }
    /// The publisher's timestamp, when the publishing session stamps its samples (zenoh `timestamping`).
    pub fn published(&self) -> Option<SystemTime> {
        self.sample.timestamp().map(|t| t.get_time().to_system_time())
    }
}

fn decode_sample<M: Message>(s: &Sample) -> Result<M, DecodeError> {
    decode(&s.payload().to_bytes())
}

/// What a subscriber's channel gave, decoded; a closed channel becomes [`BusError::Closed`].
fn received<M: Message, E: std::fmt::Display>(
    r: Result<Option<Sample>, E>,
) -> Result<Option<Result<M, DecodeError>>, BusError> {
    match r {
        Ok(s) => Ok(s.as_ref().map(decode_sample)),
        Err(e) => Err(BusError::Closed(e.to_string())),
    }
}

/// A latest-value subscriber (see [`Bus::latest`]). Received items are decoded; a refused body comes back
/// as `Some(Err(_))` for the caller to count.
pub struct Latest<M> {
    sub: zenoh::pubsub::Subscriber<RingChannelHandler<Sample>>,
    _m: PhantomData<fn() -> M>,
}

impl<M: Message> Latest<M> {
    /// The newest unread sample, if any, without blocking.
    pub fn try_recv(&self) -> Result<Option<Result<M, DecodeError>>, BusError> {
        received(self.sub.handler().try_recv())
    }
    /// Waits up to `timeout` for a sample.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Result<M, DecodeError>>, BusError> {
        received(self.sub.handler().recv_timeout(timeout))
    }
}

/// A queued subscriber (see [`Bus::queue`]).
pub struct Queue<M> {
    sub: zenoh::pubsub::Subscriber<FifoChannelHandler<Sample>>,
    _m: PhantomData<fn() -> M>,
}

impl<M: Message> Queue<M> {
    /// The oldest unread sample, if any, without blocking.
    pub fn try_recv(&self) -> Result<Option<Result<M, DecodeError>>, BusError> {
        received(self.sub.handler().try_recv())
    }
    /// Waits up to `timeout` for a sample.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Result<M, DecodeError>>, BusError> {
        received(self.sub.handler().recv_timeout(timeout))
    }
}

/// A node's liveliness token; dropping it withdraws the node.
pub struct LivenessToken {
    _token: zenoh::liveliness::LivelinessToken,
}

/// A node appearing or vanishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LivelinessEvent {
    /// The node's token appeared.
    Alive(String),
    /// The node's token vanished (clean close, or its session was lost).
    Gone(String),
}

/// Watches liveliness tokens (see [`Bus::watch_liveliness`]).
pub struct LivelinessWatch {
    sub: zenoh::pubsub::Subscriber<FifoChannelHandler<Sample>>,
}

impl LivelinessWatch {
    /// Waits up to `timeout` for the next appearance or disappearance.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<LivelinessEvent>, BusError> {
        match self.sub.handler().recv_timeout(timeout) {
            Ok(Some(s)) => {
                let node = s.key_expr().as_str().rsplit('/').next().unwrap_or_default().to_string();
                Ok(Some(match s.kind() {
                    SampleKind::Put => LivelinessEvent::Alive(node),
                    SampleKind::Delete => LivelinessEvent::Gone(node),
                }))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(BusError::Closed(e.to_string())),
        }
    }
}

/// The parameter queryable of a node (see [`Bus::param_server`]).
pub struct ParamServer {
    q: zenoh::query::Queryable<FifoChannelHandler<zenoh::query::Query>>,
}

impl ParamServer {
    /// The next pending query, if any, without blocking.
    pub fn try_next(&self) -> Option<ParamsQuery> {
        self.q.handler().try_recv().ok().flatten().map(|query| ParamsQuery { query })
    }
}

/// One parameter query waiting for its reply.
pub struct ParamsQuery {
    query: zenoh::query::Query,
}

impl ParamsQuery {
    /// The request: the JSON body if any, plus selector parameters (`…/params/controller?kp=50`) as sets.
    pub fn request(&self) -> Result<ParamsRequest, DecodeError> {
        let mut req = match self.query.payload() {
            Some(p) if !p.is_empty() => decode::<ParamsRequest>(&p.to_bytes())?,
            _ => ParamsRequest { v: SCHEMA_VERSION, set: Default::default() },
        };
        for (k, v) in self.query.parameters().iter() {
            let x: f64 = v.parse().map_err(|_| DecodeError::Invalid {
                kind: ParamsRequest::KIND,
                detail: format!("selector parameter `{k}={v}` is not a number"),
            })?;
            req.set.insert(k.to_string(), x);
        }
        use super::messages::Message as _;
        req.validate().map_err(|detail| DecodeError::Invalid { kind: ParamsRequest::KIND, detail })?;
        Ok(req)
    }

    /// Answers the query.
    pub fn reply(self, reply: &ParamsReply) -> Result<(), BusError> {
        let mut body = Vec::new();
        encode_into(reply, &mut body);
        let key = self.query.key_expr().clone();
        self.query
            .reply(key.clone(), body)
            .wait()
            .map_err(|e| BusError::Send { key: key.to_string(), detail: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in peer and every bundled peer and router configuration gossip silently ([`SILENT_GOSSIP`]) and never
    /// scout by multicast.
    #[test]
    fn bundled_peer_configs_gossip_silently() {
        let json = |zc: &zenoh::Config, key: &str| -> serde_json::Value {
            serde_json::from_str(&zc.get_json(key).unwrap()).unwrap()
        };
        let silent = zenoh::Config::from_json5(&format!("{{ scouting: {{ gossip: {SILENT_GOSSIP} }} }}")).unwrap();
        let want = json(&silent, "scouting/gossip");
        assert_eq!(want["enabled"], true);
        let mut configs = vec![("built-in".to_string(), ISOLATED_PEER.to_string())];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config/zenoh");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json5") {
                configs.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
            }
        }
        assert!(configs.len() > 5, "{configs:?}");
        let mut peers = 0;
        for (name, text) in configs {
            let zc = zenoh::Config::from_json5(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(json(&zc, "scouting/multicast/enabled"), false, "{name}");
            // Peers and routers gossip (silently); clients do not take part in gossip.
            if json(&zc, "mode") == "peer" || json(&zc, "mode") == "router" {
                assert_eq!(json(&zc, "scouting/gossip"), want, "{name}");
                peers += 1;
            }
        }
        assert!(peers >= 4, "the built-in peer, peer.json5, router.json5, router-tls.json5: {peers}");
    }

    /// Two sessions over loopback TCP with the built-in peer's gossip still exchange data as before.
    #[test]
    fn silent_gossip_peers_still_talk() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let ep = format!("tcp/127.0.0.1:{port}");
        let a = Bus::open("g", &BusConfig { zenoh_json5: None, listen: vec![ep.clone()], connect: vec![] }).unwrap();
        let b = Bus::open("g", &BusConfig { zenoh_json5: None, listen: vec![], connect: vec![ep] }).unwrap();
        let tap = a.tap("spikearm/g/**", 16).unwrap();
        let p = b.raw_publisher("spikearm/g/x", QosClass::Event).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !p.has_subscribers() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        p.put(b"{}").unwrap();
        let s = tap.recv_timeout(Duration::from_secs(5)).unwrap().expect("the sample crossed");
        assert_eq!((s.key(), &*s.body()), ("spikearm/g/x", &b"{}"[..]));
        b.close().unwrap();
        a.close().unwrap();
    }
}
