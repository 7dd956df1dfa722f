//! SIGINT/SIGTERM → the nodes' shutdown protocol. A second signal while shutting down exits at once.

use crate::node::Shutdown;

/// Triggers `shutdown` on the first SIGINT or SIGTERM; exits the process with code 130 on a second one.
pub fn install(shutdown: Shutdown) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    // Register in the caller's thread so that a signal arriving right after `install` returns is caught.
    let (mut term, mut int) = rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        anyhow::Ok((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?))
    })?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async move {
            let mut first = true;
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                if first {
                    tracing::info!("{name}: shutting down (safe torque, final checkpoint, session close)");
                    shutdown.trigger();
                    first = false;
                } else {
                    tracing::warn!("{name} again: exiting now");
                    std::process::exit(130);
                }
            }
        })
    })?;
    Ok(())
}
