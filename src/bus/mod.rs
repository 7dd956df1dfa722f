//! The bus: the only module that imports zenoh. Key expressions, versioned JSON wire types, the codec and
//! session set-up, and the MCAP recorder (with the compact CDR form of the high-rate kinds and the JSON Schemas of the others) and replay of bus traffic. Nodes use the typed handles here and never
//! see a zenoh type.
//!
//! Keys (one arm per prefix, see [`Keys`]): `spikearm/<arm>/joint_states` (sim → all),
//! `…/torque_cmd` (controller → sim), `…/target`, `…/payload`, `…/estop`, `…/status`,
//! liveliness tokens `…/alive/<node>`, and parameter queryables `…/params/<node>`.

mod codec;
mod keys;
mod messages;
pub mod recorded;
mod recorder;
mod replay;
pub mod ros2;
pub mod schemas;
mod session;

pub use codec::{DecodeError, MAX_BODY_BYTES, decode, encode_into};
pub use keys::Keys;
pub use messages::{
    ControllerStatus, Estop, JointStates, MAX_COORD_M, MAX_JOINTS, MAX_NAME_BYTES, MAX_PARAMS, MAX_PAYLOAD_OFFSET_M,
    Message, NodeState, ParamsReply, ParamsRequest, Payload, SCHEMA_VERSION, SimStatus, Status, StatusAccounting,
    StatusBody, Target, TorqueCmd, Violation,
};
pub use recorded::{CompactKind, RecordedFloats};
pub use recorder::{BASE_FRAME, McapSink, RecordError, Recorder, RecordingParams, RecordingReport, VIZ_ROOT};
pub use replay::{
    ReplayError, ReplayOptions, ReplayReport, TopicCount, mcap_topic_counts, recorded_arm, recorded_bus_messages,
    replay_mcap,
};
pub use session::{
    Bus, BusConfig, BusError, BusPublisher, Latest, LivelinessEvent, LivelinessWatch, LivenessToken, ParamServer,
    ParamsQuery, QosClass, Queue, RawPublisher, RawSample, Router, SILENT_GOSSIP, Tap, is_loopback_endpoint,
};
