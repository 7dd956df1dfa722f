//! Command-line interface (clap).

use clap::{Parser, Subcommand};

/// spikearm: adaptive robot-arm control on an emulated neuromorphic core.
#[derive(Debug, Parser)]
#[command(name = "spikearm", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
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
    /// Closed-loop evaluations of the controllers against the sim (the payload protocol).
    #[command(subcommand)]
    Eval(super::eval_cmd::EvalCommand),
}
