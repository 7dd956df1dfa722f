//! `[service]`: how a node presents itself when it runs as a system service.

use serde::{Deserialize, Serialize};

/// What a node offers its service manager and monitoring (`[service]` of either node's settings). The
/// systemd notify protocol needs no setting: it is spoken whenever systemd sets `NOTIFY_SOCKET`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceSettings {
    /// Serve `/metrics` (Prometheus text format) and `/healthz` over HTTP on this TCP address, e.g.
    /// `127.0.0.1:9464`, from a background thread. Absent (default): no HTTP server.
    pub metrics_listen: Option<String>,
    /// Log filter in `RUST_LOG` syntax (`info`, `debug`, `info,spikearm::node=debug`), applied at start and
    /// again on SIGHUP. Absent (default): `-v` or `RUST_LOG` decide.
    pub log_level: Option<String>,
}

impl ServiceSettings {
    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(a) = &self.metrics_listen
            && a.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(format!(
                "service.metrics_listen must be an IP address and port such as 127.0.0.1:9464, got `{a}`"
            ));
        }
        if let Some(l) = &self.log_level
            && tracing_subscriber::EnvFilter::try_new(l).is_err()
        {
            return Err(format!("service.log_level `{l}` is not a log filter (e.g. `info` or `info,spikearm=debug`)"));
        }
        Ok(())
    }
}
