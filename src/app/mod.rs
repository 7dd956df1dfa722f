//! Composition root: the command line, file loading and process concerns. Everything below is library code.

mod cli;
mod eval_cmd;
mod fleet_cmd;
mod launch_cmd;
mod layered_config;
mod neuro_cmd;
mod node_cmd;
mod replay_cmd;
mod router_cmd;
mod signals;
mod sim_cmd;

pub use cli::{Cli, Command};

/// Starts `tracing` output on stderr; `RUST_LOG` overrides the level chosen by `-v`.
pub fn init_tracing(verbose: u8) {
    // zenoh's own info lines (session ids, gossip notes) drown ours; -v brings them back.
    let default = match verbose {
        0 => "info,zenoh=warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs one command to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Neuro(cmd) => cmd.run(),
        Command::Sim(cmd) => cmd.run(),
        Command::Eval(cmd) => cmd.run(),
        Command::Control(args) => node_cmd::run_control(&args),
        Command::Launch(args) => launch_cmd::run_launch(&args),
        Command::Demo(args) => launch_cmd::run_demo(&args),
        Command::Replay(args) => replay_cmd::run_replay(&args),
        Command::Router(args) => router_cmd::run_router(&args),
        Command::Fleet(args) => fleet_cmd::run_fleet_view(&args),
    }
}
