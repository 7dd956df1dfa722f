//! Fixtures the node and bus tests share: free loopback ports and the shipped arm files.
//! Include with `#[path = "common/fixtures.rs"] mod fixtures;`.
#![allow(dead_code)] // each test file uses what it needs

use std::path::Path;

/// A free loopback port: bind port 0, read it, release it (tests running in parallel then do not collide).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A zenoh TCP endpoint on a free loopback port.
pub fn loopback_endpoint() -> String {
    format!("tcp/127.0.0.1:{}", free_port())
}

/// The text of a shipped arm, `config/arms/<file>`.
pub fn arm_urdf(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/arms").join(file)).unwrap()
}

/// A shipped arm, parsed once (`config/arms/<file>`).
pub fn arm(file: &str) -> std::sync::Arc<spikearm::arm::Arm> {
    spikearm::arm::Arm::from_urdf(arm_urdf(file)).unwrap()
}

/// Sim settings for tests: lockstep, and sleeping between steps so that several node pairs share two cores.
pub fn sim_settings() -> spikearm::node::SimSettings {
    spikearm::node::SimSettings {
        timing: spikearm::node::TimingMode::Lockstep,
        wait: spikearm::node::WaitMode::Sleep,
        ..Default::default()
    }
}

/// Controller settings for tests: sleeping between states (see [`sim_settings`]).
pub fn controller_settings() -> spikearm::node::ControllerSettings {
    spikearm::node::ControllerSettings { wait: spikearm::node::WaitMode::Sleep, ..Default::default() }
}
