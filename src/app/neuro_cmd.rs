//! `spikearm neuro …`: offline learning from recorded data.

use clap::Subcommand;

/// Commands on the neuromorphic core alone.
#[derive(Debug, Subcommand)]
pub enum NeuroCommand {
    /// Placeholder.
    Learn,
}

impl NeuroCommand {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not built yet")
    }
}
