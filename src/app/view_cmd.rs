//! `spikearm view`: the live-view node on its own — a Foxglove WebSocket server for one running arm, a client
//! of the bus under the identity of its zenoh configuration. Settings as for every node: defaults < file <
//! environment (`SPIKEARM_VIEW__…`) < `--set`.

use std::sync::Arc;

use anyhow::Context;

use super::node_cmd::{NodeArgs, open_bus, settings};
use crate::arm::Arm;
use crate::node::{BusSettings, LiveView, LiveViewSettings, Shutdown};

/// `spikearm view`.
pub fn run_view(args: &NodeArgs) -> anyhow::Result<()> {
    let Some(s) = settings::<LiveViewSettings>(args, "SPIKEARM_VIEW", "live view")? else { return Ok(()) };
    let urdf = std::fs::read_to_string(&s.urdf).with_context(|| format!("reading {}", s.urdf.display()))?;
    let shutdown = Shutdown::new();
    super::signals::install(shutdown.clone())?;
    let bus = open_bus(&s.arm, &s.bus)?;
    let result = LiveView::new(&s, &urdf, bus.clone()).and_then(|v| v.run(&shutdown, |_| {}));
    bus.close()?;
    let r = result?;
    tracing::info!(
        states_received = r.states_received,
        states_sent = r.states_sent,
        published = r.published,
        refused = r.clients.refused.values().sum::<u64>(),
        "live view stopped"
    );
    Ok(())
}

/// A live view beside a launched scenario: its own session, which the scenario's connects to, read-only, serving
/// `listen`. Stopped and joined by [`LiveViewThread::stop`].
pub struct LiveViewThread {
    shutdown: Shutdown,
    thread: std::thread::JoinHandle<()>,
}

impl LiveViewThread {
    /// Starts the view of `arm` (its bus name `name`) on a thread, its session listening on `endpoint` for
    /// the scenario to connect to; returns once the WebSocket server listens.
    pub fn spawn(name: &str, arm: &Arc<Arm>, endpoint: &str, listen: &str) -> anyhow::Result<Self> {
        let s = LiveViewSettings {
            arm: name.to_string(),
            listen: listen.to_string(),
            bus: BusSettings { zenoh_config: Some("".into()), listen: vec![endpoint.to_string()], connect: vec![] },
            ..LiveViewSettings::default()
        };
        let bus = open_bus(&s.arm, &s.bus)?;
        let view = LiveView::new(&s, arm.urdf(), bus.clone())?;
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name("live-view".into()).spawn(move || {
            let fail = tx.clone();
            if let Err(e) = view.run(&stop, move |addr| {
                let _ = tx.send(Ok(addr));
            }) {
                let _ = fail.send(Err(e));
            }
            let _ = bus.close();
        })?;
        match rx.recv() {
            Ok(Ok(addr)) => {
                println!("live view: open ws://{addr} in Foxglove (Open connection → Foxglove WebSocket)")
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => anyhow::bail!("the live view stopped before it listened"),
        }
        Ok(Self { shutdown, thread })
    }

    /// Stops the view and waits for it.
    pub fn stop(self) {
        self.shutdown.trigger();
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::super::layered_config::load_layered;
    use super::*;

    /// config/live_view.toml documents the defaults: loading it gives exactly the built-in settings.
    #[test]
    fn the_shipped_config_holds_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/live_view.toml");
        let s: LiveViewSettings = load_layered(Some(&path), "NONE", vec![], &[]).unwrap();
        assert_eq!(s, LiveViewSettings::default());
    }
}
