//! `spikearm sim …`: open-loop physics runs.

use clap::Subcommand;

/// Commands on the physics alone.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Placeholder.
    Learn,
}

impl SimCommand {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not built yet")
    }
}
