//! The bus: the only module that imports zenoh. Key expressions, versioned JSON wire types, the codec and
//! session set-up. Nodes use the typed handles here and never see a zenoh type.
//!
//! Keys (one arm per prefix, see [`Keys`]): `spikearm/<arm>/joint_states` (sim → all),
//! `…/torque_cmd` (controller → sim), `…/target`, `…/payload`, `…/estop`, `…/status`,
//! liveliness tokens `…/alive/<node>`, and parameter queryables `…/params/<node>`.

mod codec;
mod keys;
mod messages;
mod session;

pub use codec::{DecodeError, MAX_BODY_BYTES, decode, encode_into};
pub use keys::Keys;
pub use messages::{
    Estop, JointStates, Message, NodeState, ParamsReply, ParamsRequest, Payload, SCHEMA_VERSION, Status,
    StatusAccounting, Target, TorqueCmd,
};
pub use session::{
    Bus, BusConfig, BusError, BusPublisher, Latest, LivelinessEvent, LivelinessWatch, LivenessToken, ParamServer,
    ParamsQuery, QosClass, Queue, is_loopback_endpoint,
};
