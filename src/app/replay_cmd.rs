//! `spikearm replay <file.mcap>`: publish a bus recording (as written by `spikearm launch`) again, with its
//! original relative timing; `--info` only lists what the file holds.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::bus::{Bus, BusConfig, ReplayOptions, mcap_topic_counts, recorded_arm, replay_mcap};
use crate::node::Shutdown;

/// Arguments of `spikearm replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording, e.g. reports/short/bus-osc.mcap.
    pub file: PathBuf,
    /// Print the messages per key and the recorded span, then exit.
    #[arg(long)]
    pub info: bool,
    /// Playback speed: 1 = as recorded, 10 = ten times faster, 0 = as fast as possible.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub speed: f64,
    /// Publish under `spikearm/<NAME>/…` [default: the arm of the recording].
    #[arg(long, value_name = "NAME")]
    pub arm: Option<String>,
    /// Only these message kinds (joint_states, torque_cmd, status, target, payload, estop). Repeatable.
    #[arg(long, value_name = "KIND")]
    pub only: Vec<String>,
    /// zenoh configuration (JSON5), e.g. config/zenoh/peer.json5.
    #[arg(long, value_name = "FILE.json5")]
    pub config: Option<PathBuf>,
    /// Endpoint to connect to. Repeatable. Without --config and --connect: tcp/127.0.0.1:7447, where
    /// `spikearm sim node` listens by default.
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
    /// Endpoint to listen on. Repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    pub listen: Vec<String>,
    /// Wait up to this long for a subscriber before publishing the first message, s.
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    pub wait_s: f64,
}

/// `spikearm replay`.
pub fn run_replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let what = || format!("recording {}", args.file.display());
    if args.info {
        let counts = mcap_topic_counts(&bytes).with_context(what)?;
        let (first, last) = counts.iter().fold((u64::MAX, 0), |(f, l), c| (f.min(c.first_ns), l.max(c.last_ns)));
        println!("{:<44}{:>10}{:>10}", "topic", "encoding", "messages");
        for c in &counts {
            println!("{:<44}{:>10}{:>10}", c.topic, c.encoding, c.messages);
        }
        let total: u64 = counts.iter().map(|c| c.messages).sum();
        let span = if total > 0 { (last - first) as f64 * 1e-9 } else { 0.0 };
        println!("{total} messages on {} topics over {span:.3} s of wall time", counts.len());
        return Ok(());
    }
    anyhow::ensure!(
        args.speed.is_finite() && args.speed >= 0.0,
        "--speed must be ≥ 0 (0 = as fast as possible), got {}",
        args.speed
    );
    anyhow::ensure!(args.wait_s.is_finite() && args.wait_s >= 0.0, "--wait-s must be ≥ 0, got {}", args.wait_s);
    let arm = match &args.arm {
        Some(a) => a.clone(),
        None => recorded_arm(&bytes)
            .with_context(what)?
            .with_context(|| format!("{} holds no spikearm/<arm>/… messages", args.file.display()))?,
    };
    let zenoh_json5 = match &args.config {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading zenoh config {}", p.display()))?),
        None => None,
    };
    let connect = if args.connect.is_empty() && args.config.is_none() {
        vec!["tcp/127.0.0.1:7447".to_string()]
    } else {
        args.connect.clone()
    };
    let bus = Bus::open(&arm, &BusConfig { zenoh_json5, listen: args.listen.clone(), connect })?;
    let shutdown = Shutdown::new();
    super::signals::install(shutdown.clone())?;
    let opts = ReplayOptions {
        speed: args.speed,
        only: args.only.clone(),
        wait_for_subscriber: Duration::from_secs_f64(args.wait_s),
    };
    let result = replay_mcap(&bus, &bytes, &opts, &|| shutdown.is_triggered()).with_context(what);
    bus.close()?;
    let r = result?;
    println!(
        "replayed {} messages ({} skipped) on spikearm/{arm}: {:.3} s recorded in {:.3} s{}",
        r.messages,
        r.skipped,
        r.recorded_s,
        r.wall_s,
        if r.interrupted { " (interrupted)" } else { "" }
    );
    for (k, n) in &r.per_topic {
        println!("  {k:<44}{n:>10}");
    }
    Ok(())
}
