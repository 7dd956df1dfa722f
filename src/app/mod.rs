//! Composition root: the command line, file loading and process concerns. Everything below is library code.

mod cli;
mod ctl_cmd;
mod eval_cmd;
mod fleet_cmd;
mod host_cmd;
mod launch_cmd;
mod layered_config;
mod neuro_cmd;
mod node_cmd;
mod replay_cmd;
mod router_cmd;
mod service;
mod signals;
mod sim_cmd;
mod view_cmd;

pub use cli::{Cli, Command};
pub use service::{ServiceThread, metrics_text};

use std::sync::OnceLock;

use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// The log filter in force, replaceable while running (`[service] log_level`, SIGHUP).
static LOG_FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Starts `tracing` output on stderr, as text or (`json`) one JSON object per line; `RUST_LOG` overrides the
/// level chosen by `-v`.
pub fn init_tracing(verbose: u8, json: bool) {
    // zenoh's own info lines (session ids, gossip notes) drown ours, as do the Foxglove server's (each client
    // that connects or leaves); -v brings them back.
    let default = match verbose {
        0 => "info,zenoh=warn,foxglove=warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let (filter, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = Registry::default().with(filter);
    let installed = if json { registry.with(fmt.json()).try_init() } else { registry.with(fmt).try_init() };
    if installed.is_ok() {
        let _ = LOG_FILTER.set(handle);
    }
}

/// Replaces the log filter (`RUST_LOG` syntax) unless `RUST_LOG` is set, which always wins.
pub fn set_log_filter(filter: &str) -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing::info!("log filter `{filter}` not applied: RUST_LOG is set and wins");
        return Ok(());
    }
    let f = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("log filter `{filter}`: {e}"))?;
    if let Some(h) = LOG_FILTER.get() {
        h.reload(f).map_err(|e| anyhow::anyhow!("replacing the log filter: {e}"))?;
    }
    Ok(())
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
        Command::Ctl(args) => ctl_cmd::run_ctl(&args),
        Command::Router(args) => router_cmd::run_router(&args),
        Command::Fleet(args) => fleet_cmd::run_fleet_view(&args),
        Command::View(args) => view_cmd::run_view(&args),
        Command::Host(args) => host_cmd::run_host(&args),
    }
}
