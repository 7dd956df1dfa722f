//! `LiveViewSettings`: the one settings type of the live-view node (`spikearm view --config
//! config/live_view.toml`), filled like every node's: defaults < file < environment (`SPIKEARM_VIEW__…`) <
//! `--set`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::node::BusSettings;

/// Settings of the live view: which arm, where the Foxglove WebSocket server listens, whether Foxglove clients
/// may publish, how often the fast channels are sent, and the node's own bus session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveViewSettings {
    /// Arm name: the key prefix `spikearm/<arm>/`. Default `threelink`.
    pub arm: String,
    /// The arm's URDF (the one the sim runs): per-link frames and visuals. Default `config/arms/threelink.urdf`.
    pub urdf: PathBuf,
    /// `host:port` the Foxglove WebSocket server listens on (plain `ws://`, no TLS; port 0 picks a free one).
    /// Default `127.0.0.1:8765`, Foxglove's usual port, loopback only.
    pub listen: String,
    /// Let Foxglove clients set the target, the payload and the e-stop (advertises the `clientPublish`
    /// capability). Default false: a read-only view. What clients send is checked like any bus body and then
    /// published through this node's own zenoh session, so the router's access control applies to it as to
    /// any bus client with the same identity (`[bus] zenoh_config`).
    pub allow_publish: bool,
    /// Joint states, torques, transforms and errors sent at most this often, per wall-clock second, Hz. The sim
    /// publishes 1 kHz; a browser needs far fewer. Default 100.
    pub rate_hz: f64,
    /// The arm's visuals (`foxglove.SceneUpdate`) and the view's own counters are sent again this often, s, so
    /// a client that joins late gets them. Default 1.
    pub scene_period_s: f64,
    /// The node's bus session. Default: a loopback peer connecting to the sim's `tcp/127.0.0.1:7447`.
    pub bus: BusSettings,
}

impl Default for LiveViewSettings {
    fn default() -> Self {
        Self {
            arm: "threelink".into(),
            urdf: "config/arms/threelink.urdf".into(),
            listen: "127.0.0.1:8765".into(),
            allow_publish: false,
            rate_hz: 100.0,
            scene_period_s: 1.0,
            bus: BusSettings::connecting("tcp/127.0.0.1:7447"),
        }
    }
}
