//! Command-line interface (clap).

use clap::{Parser, Subcommand};

/// spikearm: adaptive robot-arm control on an emulated neuromorphic core.
#[derive(Debug, Parser)]
#[command(name = "spikearm", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log one JSON object per line on stderr (for journald or a log shipper) instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The neuromorphic core on its own: offline learning from recorded data.
    #[command(subcommand)]
    Neuro(super::neuro_cmd::NeuroCommand),
    /// The physics alone: open-loop runs of a URDF arm in rapier3d.
    #[command(subcommand)]
    Sim(super::sim_cmd::SimCommand),
    /// The controller node (daemon): answers joint_states on the zenoh bus with torque_cmd.
    ///
    /// Example: spikearm control --config config/control.toml --set controller.kind=osc
    Control(super::node_cmd::NodeArgs),
    /// Run a scenario file (arm, controllers, timing, timed events) in one process (or, with --processes, its
    /// nodes as separate processes) and write a report.
    ///
    /// Example: spikearm launch launch/ur5e_payload.toml --out reports/ur5e
    Launch(super::launch_cmd::LaunchArgs),
    /// The UR5e payload demo: adaptive vs OSC, lockstep, embedded scenario; prints the errors.
    Demo(super::launch_cmd::DemoArgs),
    /// Publish a bus recording (MCAP, written by `launch` as <report>/bus-<controller>.mcap) again with its
    /// original timing; --info lists its topics.
    ///
    /// Example: spikearm replay reports/short/bus-osc.mcap --speed 0 --connect tcp/127.0.0.1:7447
    Replay(super::replay_cmd::ReplayArgs),
    /// Operator commands to a running arm over the bus: target, payload, e-stop, parameters, status, a live
    /// view. Acts under the identity of the zenoh config given (access control applies).
    ///
    /// Example: spikearm ctl --arm ur5e target 0.4 0.1 0.5; spikearm ctl params kp=150; spikearm ctl watch
    Ctl(super::ctl_cmd::CtlArgs),
    /// A zenoh router, the hub of a deployment: nodes and tools connect to it as clients; it enforces the
    /// access control of its configuration (identities by user name or TLS certificate). `zenohd` with the
    /// same file is equivalent.
    ///
    /// Example: spikearm router --config config/zenoh/router.json5
    Router(super::router_cmd::RouterArgs),
    /// The arms and nodes alive on a router (liveliness) with their health: state, tracking error, deadline
    /// misses, learning on/off.
    ///
    /// Example: spikearm fleet --connect tcp/127.0.0.1:7447 --config config/zenoh/acl-viewer.json5
    Fleet(super::fleet_cmd::FleetArgs),
    /// A live view of a running arm for Foxglove (WebSocket, ws://127.0.0.1:8765 by default): joint states,
    /// per-link transforms and visuals, end effector and target, errors, torques, spike rates; with
    /// allow_publish, target, payload and e-stop from Foxglove's Publish panel (config/live_view.toml).
    ///
    /// Example: spikearm view --config config/live_view.toml --set allow_publish=true
    View(super::node_cmd::NodeArgs),
    /// Many nodes (sims, controllers, of many arms) in one process on a fixed pool of worker threads, over
    /// one zenoh session: a rack's controllers without a spinning core per arm. Each file is the node's own
    /// settings file; each arm ticks at its own rate.
    ///
    /// Example: spikearm host --controller arm1/control.toml --controller arm2/control.toml --threads 1
    Host(super::host_cmd::HostArgs),
    /// Closed-loop evaluations of the controllers against the sim (the payload protocol).
    #[command(subcommand)]
    Eval(super::eval_cmd::EvalCommand),
}
