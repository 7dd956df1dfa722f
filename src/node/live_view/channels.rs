//! The Foxglove channels of the live view and the JSON messages of its derived channels.
//!
//! Topics (all under one arm):
//! - `spikearm/<arm>/joint_states`, `…/torque_cmd` (decimated), `…/target`, `…/payload`, `…/estop`,
//!   `…/status/<node>`: the bus bodies as they are, JSON, schema `spikearm.<kind>` (the bus's own JSON Schemas);
//! - `viz/<arm>/tf` (`foxglove.FrameTransforms`, JSON): one transform per URDF joint from the latest joint angles,
//!   and root → `target` when a target is known;
//! - `viz/<arm>/ee`, `viz/<arm>/target` (`foxglove.PoseInFrame`, JSON): end effector and target in the root frame;
//! - `viz/<arm>/scene` (`foxglove.SceneUpdate`, protobuf through the Foxglove SDK's own type): the URDF's visuals;
//! - `viz/<arm>/errors`, `viz/<arm>/torques`, `viz/<arm>/spikes`, `viz/<arm>/live_view` (JSON, schemas
//!   `spikearm.live_view.*` below): tracking error, adaptive torque beside the payload's torque, the core's spike
//!   rates, and the view's own counters.

use std::collections::HashMap;
use std::sync::Arc;

use foxglove::messages::SceneUpdate;
use foxglove::{Channel, ChannelBuilder, Context, PartialMetadata, RawChannel, Schema};
use serde_json::{Value, json};

use crate::bus::schemas;

/// Root of the derived channels' topics, as in recordings.
pub const VIZ: &str = "viz";

/// The derived JSON channels and their schema names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Derived {
    /// `foxglove.FrameTransforms`.
    Tf,
    /// End effector, `foxglove.PoseInFrame`.
    Ee,
    /// Target, `foxglove.PoseInFrame`.
    Target,
    /// `spikearm.live_view.errors`.
    Errors,
    /// `spikearm.live_view.torques`.
    Torques,
    /// `spikearm.live_view.spikes`.
    Spikes,
    /// `spikearm.live_view.counters`.
    Counters,
}

impl Derived {
    const ALL: [Derived; 7] =
        [Self::Tf, Self::Ee, Self::Target, Self::Errors, Self::Torques, Self::Spikes, Self::Counters];

    fn leaf(self) -> &'static str {
        match self {
            Self::Tf => "tf",
            Self::Ee => "ee",
            Self::Target => "target",
            Self::Errors => "errors",
            Self::Torques => "torques",
            Self::Spikes => "spikes",
            Self::Counters => "live_view",
        }
    }

    fn schema(self) -> (String, Value) {
        match self {
            Self::Tf => (schemas::FRAME_TRANSFORMS.into(), schemas::frame_transforms_schema()),
            Self::Ee | Self::Target => (schemas::POSE_IN_FRAME.into(), schemas::pose_in_frame_schema()),
            Self::Errors => own_schema(
                "errors",
                "How far the end effector is from its target",
                json!({
                    "stamp": num("Simulation time, s"),
                    "tracking_error_m": num("Distance from end effector to target, m"),
                    "error_m": nums("End effector minus target, x y z in the base frame, m"),
                    "target_m": nums("The target, m"),
                }),
            ),
            Self::Torques => own_schema(
                "torques",
                "The commanded joint torques, the adaptive term's share of them and the torque the payload demands",
                json!({
                    "stamp": num("Simulation time of the joint state, s"),
                    "name": { "type": "array", "items": { "type": "string" }, "description": "Joint names" },
                    "command": nums("Commanded torque per joint, N·m"),
                    "adaptive": nums("The adaptive term's share of the command per joint, N·m (empty without one)"),
                    "payload": nums("Torque the payload demands at each joint, N·m (empty without a payload)"),
                    "adaptive_norm": num("Norm of the adaptive torque from the controller's status, N·m"),
                }),
            ),
            Self::Spikes => own_schema(
                "spikes",
                "Activity of the controller's emulated core between two of its status reports",
                json!({
                    "stamp": num("Simulation time of the later report, s"),
                    "spikes_per_s": num("Spikes per simulated second, all neurons"),
                    "neurons": num("Neurons updated per core step"),
                    "mean_rate_hz": num("Mean firing rate per neuron, Hz"),
                    "synaptic_events_per_s": num("Synaptic events per simulated second"),
                }),
            ),
            Self::Counters => own_schema(
                "counters",
                "What the live view itself has seen and refused",
                json!({
                    "client_accepted": num("Client messages accepted and published on the bus"),
                    "client_refused": {
                        "type": "object",
                        "properties": {},
                        "description": "Client messages refused, by reason",
                    },
                    "client_last_refusal": { "type": "string", "description": "The latest refusal, in words" },
                    "bus_refused": num("Bus bodies the view could not decode"),
                    "bus_dropped": num("Bus samples dropped because the view fell behind"),
                    "states_received": num("Joint states received"),
                    "states_sent": num("Joint states sent to clients (decimated)"),
                }),
            ),
        }
    }
}

fn num(description: &str) -> Value {
    json!({ "type": "number", "description": description })
}

fn nums(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "number" }, "description": description })
}

fn own_schema(leaf: &str, description: &str, properties: Value) -> (String, Value) {
    let name = format!("spikearm.live_view.{leaf}");
    let schema = json!({ "title": name, "description": description, "type": "object", "properties": properties });
    (name, schema)
}

fn json_channel(ctx: &Arc<Context>, topic: &str, schema_name: &str, schema: &Value) -> Arc<RawChannel> {
    let text = serde_json::to_vec(schema).expect("a JSON value serialises");
    ChannelBuilder::new(topic)
        .context(ctx)
        .message_encoding("json")
        .schema(Schema::new(schema_name, "jsonschema", text))
        .build_raw()
        .expect("a channel with a schema and an encoding builds")
}

/// Every channel of one arm's live view, in one Foxglove context.
pub struct Channels {
    ctx: Arc<Context>,
    prefix: String,
    bus: HashMap<String, Arc<RawChannel>>,
    derived: HashMap<Derived, Arc<RawChannel>>,
    scene: Channel<SceneUpdate>,
}

impl Channels {
    /// Advertises the fixed channels of the arm with key prefix `prefix` (`spikearm/<arm>`) in `ctx`; status
    /// channels appear as nodes report.
    pub fn new(ctx: &Arc<Context>, prefix: &str, arm: &str) -> Self {
        let mut me = Self {
            ctx: ctx.clone(),
            prefix: prefix.to_string(),
            bus: HashMap::new(),
            derived: HashMap::new(),
            scene: ChannelBuilder::new(format!("{VIZ}/{arm}/scene")).context(ctx).build::<SceneUpdate>(),
        };
        for kind in ["joint_states", "torque_cmd", "target", "payload", "estop"] {
            me.bus_channel(kind);
        }
        for d in Derived::ALL {
            let (name, schema) = d.schema();
            me.derived.insert(d, json_channel(ctx, &format!("{VIZ}/{arm}/{}", d.leaf()), &name, &schema));
        }
        me
    }

    /// The channel of the bus key `<prefix>/<leaf>` (`joint_states`, `status/controller`, …), made when first
    /// asked for.
    fn bus_channel(&mut self, leaf: &str) -> &Arc<RawChannel> {
        if !self.bus.contains_key(leaf) {
            let kind = leaf.split('/').next().unwrap_or(leaf);
            let schema = schemas::kind_schema(kind).unwrap_or_else(|| schemas::unknown_kind_schema(kind));
            let ch =
                json_channel(&self.ctx, &format!("{}/{leaf}", self.prefix), &schemas::kind_schema_name(kind), &schema);
            self.bus.insert(leaf.to_string(), ch);
        }
        &self.bus[leaf]
    }

    /// Sends a bus body as it is on its key's channel.
    pub fn forward(&mut self, leaf: &str, body: &[u8], log_ns: u64) {
        self.bus_channel(leaf).log_with_meta(body, PartialMetadata { log_time: Some(log_ns) });
    }

    /// Sends one derived message.
    pub fn send(&self, d: Derived, msg: &Value, log_ns: u64) {
        let body = serde_json::to_vec(msg).expect("a JSON value serialises");
        self.derived[&d].log_with_meta(&body, PartialMetadata { log_time: Some(log_ns) });
    }

    /// Sends the arm's visuals.
    pub fn send_scene(&self, scene: &SceneUpdate, log_ns: u64) {
        self.scene.log_with_meta(scene, PartialMetadata { log_time: Some(log_ns) });
    }
}

/// `{sec, nsec}` of a time in ns since the Unix epoch.
pub fn time(ns: u64) -> Value {
    json!({ "sec": ns / 1_000_000_000, "nsec": ns % 1_000_000_000 })
}

/// A `foxglove.PoseInFrame` at `p` (m) with the identity orientation.
pub fn pose_in_frame(frame: &str, log_ns: u64, p: [f64; 3]) -> Value {
    json!({
        "timestamp": time(log_ns),
        "frame_id": frame,
        "pose": {
            "position": { "x": p[0], "y": p[1], "z": p[2] },
            "orientation": { "x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0 },
        },
    })
}

/// One `foxglove.FrameTransform`.
pub fn frame_transform(log_ns: u64, parent: &str, child: &str, t: [f64; 3], r: [f64; 4]) -> Value {
    json!({
        "timestamp": time(log_ns),
        "parent_frame_id": parent,
        "child_frame_id": child,
        "translation": { "x": t[0], "y": t[1], "z": t[2] },
        "rotation": { "x": r[0], "y": r[1], "z": r[2], "w": r[3] },
    })
}
