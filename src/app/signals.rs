//! Signals → the nodes' shutdown protocol and their reload. SIGINT/SIGTERM trigger the shutdown; a second one
//! while shutting down exits at once. SIGHUP, where a reload is given, runs it on the signal thread.

use crate::node::Shutdown;

/// What SIGHUP does.
pub type Reload = Box<dyn FnMut() + Send>;

/// Triggers `shutdown` on the first SIGINT or SIGTERM; exits the process with code 130 on a second one.
pub fn install(shutdown: Shutdown) -> anyhow::Result<()> {
    install_with_reload(shutdown, None)
}

/// As [`install`], and runs `reload` on every SIGHUP (without one, SIGHUP is logged and ignored: a daemon
/// must not die of it).
pub fn install_with_reload(shutdown: Shutdown, mut reload: Option<Reload>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    // Register in the caller's thread so that a signal arriving right after `install` returns is caught.
    let (mut term, mut int, mut hup) = rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        anyhow::Ok((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?, signal(SignalKind::hangup())?))
    })?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async move {
            let mut first = true;
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                    _ = hup.recv() => {
                        match reload.as_mut() {
                            Some(r) => r(),
                            None => tracing::info!("SIGHUP: nothing to reload"),
                        }
                        continue;
                    }
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
