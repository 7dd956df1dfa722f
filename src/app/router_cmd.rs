//! `spikearm router --config config/zenoh/router.json5`: a zenoh router — the hub nodes and tools connect to
//! — until SIGINT/SIGTERM. It is zenoh's own routing engine, so `zenohd -c config/zenoh/router.json5` (a
//! zenohd of the same zenoh version, 1.10) is an equivalent; this one needs no second install and speaks
//! exactly the transports this build of spikearm does.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::bus::{BusConfig, Router};
use crate::node::Shutdown;

/// Arguments of `spikearm router`.
#[derive(Debug, Args)]
pub struct RouterArgs {
    /// zenoh JSON5 configuration (listen endpoints, authentication, TLS, access control); its `mode` is
    /// forced to `router`. Paths inside it are relative to the working directory.
    #[arg(long, value_name = "FILE.json5", default_value = "config/zenoh/router.json5")]
    pub config: PathBuf,
    /// Listen on these endpoints instead of the file's (repeatable), e.g. --listen tcp/0.0.0.0:7447.
    #[arg(long, value_name = "ENDPOINT")]
    pub listen: Vec<String>,
    /// Also connect to these routers or peers (repeatable): a mesh of routers.
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
}

/// Runs the router until a signal arrives.
pub fn run_router(args: &RouterArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading zenoh config {}", args.config.display()))?;
    let cfg = BusConfig { zenoh_json5: Some(text), listen: args.listen.clone(), connect: args.connect.clone() };
    let shutdown = Shutdown::new();
    super::signals::install(shutdown.clone())?;
    let router = Router::open(&cfg).with_context(|| format!("starting the router ({})", args.config.display()))?;
    tracing::info!(zid = router.zid(), listening = ?router.listening(), config = %args.config.display(), "router up");
    // The router works on zenoh's own threads; this one only waits for the signal.
    while !shutdown.sleep(std::time::Duration::from_secs(3600)) {}
    router.close()?;
    tracing::info!("router stopped");
    Ok(())
}
