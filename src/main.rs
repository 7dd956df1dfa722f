//! The `spikearm` binary: parse the command line, start logging, hand over to [`spikearm::app`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = spikearm::app::Cli::parse();
    spikearm::app::init_tracing(cli.verbose, cli.log_json);
    match spikearm::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
