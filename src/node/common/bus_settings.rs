//! How a node joins the bus: the `[bus]` table of every node's settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[bus]`: the zenoh configuration and endpoints of a node's session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    /// zenoh JSON5 config file. Default `config/zenoh/peer.json5` (loopback peer, no scouting). An empty
    /// path selects the built-in loopback peer without scouting (needs no file; `launch` uses it).
    pub zenoh_config: Option<PathBuf>,
    /// Endpoints to listen on (replace the file's when not empty).
    pub listen: Vec<String>,
    /// Endpoints to connect to (replace the file's when not empty).
    pub connect: Vec<String>,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self::listening("tcp/127.0.0.1:7447")
    }
}

impl BusSettings {
    /// A peer listening on `endpoint` (the sim owns the known port).
    pub fn listening(endpoint: &str) -> Self {
        Self { zenoh_config: Some("config/zenoh/peer.json5".into()), listen: vec![endpoint.into()], connect: vec![] }
    }

    /// A peer connecting to `endpoint`; it listens on an ephemeral port only, so it never takes the sim's.
    pub fn connecting(endpoint: &str) -> Self {
        Self {
            zenoh_config: Some("config/zenoh/peer.json5".into()),
            listen: vec!["tcp/127.0.0.1:0".into()],
            connect: vec![endpoint.into()],
        }
    }
}
