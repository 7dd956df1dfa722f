//! What Foxglove clients publish: the target, the payload and the e-stop, as the same JSON bodies the bus
//! carries, on topics named like the bus keys (`spikearm/<arm>/target`, `…/payload`, `…/estop`). Each message is
//! decoded and checked by the bus codec (size, shape, version, [`crate::bus::Message::check`]); a refused one is
//! counted by reason and dropped. Accepted ones are queued for the live view's loop, which publishes them on the
//! bus: the listener runs on the WebSocket server's threads and never touches the bus itself.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use foxglove::websocket::{Client, ClientChannel, ServerListener};

use crate::bus::{Estop, Keys, Payload, Target, decode};

/// Client messages waiting for the loop. A client that floods faster than the loop publishes (every few ms)
/// has the excess refused as `busy`.
const QUEUE: usize = 64;

/// A client's request, checked, waiting to be published on the bus.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    /// Move the controller's target.
    Target(Target),
    /// Attach or remove a payload.
    Payload(Payload),
    /// Engage or clear the e-stop.
    Estop(Estop),
}

/// Counts of what clients sent: accepted, and refused by reason (`not_allowed`, `unknown_topic`, `encoding`,
/// `busy`, and the bus codec's `too_large`, `malformed`, `version`, `non_finite`, `dimension`, `out_of_range`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ClientCounts {
    /// Messages accepted and queued for the bus.
    pub accepted: u64,
    /// Messages refused, by reason.
    pub refused: BTreeMap<String, u64>,
    /// The latest refusal in words, if any.
    pub last_refusal: Option<String>,
}

/// The [`ServerListener`] of the live view.
pub struct ClientInput {
    allow: bool,
    target: String,
    payload: String,
    estop: String,
    tx: SyncSender<ClientCommand>,
    counts: Arc<Mutex<ClientCounts>>,
}

impl ClientInput {
    /// A listener for `keys`' arm; `allow` false refuses everything (a read-only view also does not advertise
    /// client publishing, so a well-behaved client sends nothing). Returns the receiving end of the queue and
    /// the shared counters.
    pub fn new(keys: &Keys, allow: bool) -> (Self, Receiver<ClientCommand>, Arc<Mutex<ClientCounts>>) {
        let (tx, rx) = sync_channel(QUEUE);
        let counts = Arc::new(Mutex::new(ClientCounts::default()));
        let me = Self {
            allow,
            target: keys.target(),
            payload: keys.payload(),
            estop: keys.estop(),
            tx,
            counts: counts.clone(),
        };
        (me, rx, counts)
    }

    /// Checks one client message and queues it, or says why not (reason, detail).
    fn accept(&self, topic: &str, encoding: &str, payload: &[u8]) -> Result<(), (&'static str, String)> {
        if !self.allow {
            return Err(("not_allowed", "this live view is read-only (allow_publish = false)".into()));
        }
        if encoding != "json" {
            return Err(("encoding", format!("{topic}: encoding `{encoding}`, only `json` is accepted")));
        }
        let t = topic.trim_start_matches('/');
        let decoded = if t == self.target {
            decode::<Target>(payload).map(ClientCommand::Target)
        } else if t == self.payload {
            decode::<Payload>(payload).map(ClientCommand::Payload)
        } else if t == self.estop {
            decode::<Estop>(payload).map(ClientCommand::Estop)
        } else {
            let want = format!("{}, {} or {}", self.target, self.payload, self.estop);
            return Err(("unknown_topic", format!("`{topic}` is not one a client may publish ({want})")));
        };
        let cmd = decoded.map_err(|e| (e.reason(), format!("{topic}: {e}")))?;
        match self.tx.try_send(cmd) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(("busy", format!("{topic}: more than {QUEUE} messages waiting"))),
            Err(TrySendError::Disconnected(_)) => Err(("busy", "the live view is stopping".into())),
        }
    }
}

impl ServerListener for ClientInput {
    fn on_message_data(&self, _client: Client, channel: &ClientChannel, payload: &[u8]) {
        let result = self.accept(&channel.topic, &channel.encoding, payload);
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(()) => c.accepted += 1,
            Err((reason, detail)) => {
                *c.refused.entry(reason.to_string()).or_default() += 1;
                // Once per reason at warn, the rest at debug: a flooding client does not flood the log.
                if c.refused[reason] == 1 {
                    tracing::warn!(reason, "live view: client message refused: {detail}");
                } else {
                    tracing::debug!(reason, "live view: client message refused: {detail}");
                }
                c.last_refusal = Some(format!("{reason}: {detail}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_like_the_bus_and_refusals_counted() {
        let keys = Keys::new("threelink").unwrap();
        let (input, rx, counts) = ClientInput::new(&keys, true);
        let target = "spikearm/threelink/target";
        assert!(input.accept(target, "json", br#"{"v":1,"position":[0.5,0.0,0.6]}"#).is_ok());
        assert_eq!(rx.try_recv().unwrap(), ClientCommand::Target(Target { v: 1, position: [0.5, 0.0, 0.6] }));
        assert_eq!(input.accept(target, "json", b"\x00not json").unwrap_err().0, "malformed");
        assert_eq!(input.accept(target, "json", br#"{"v":1,"position":[1e9,0,0]}"#).unwrap_err().0, "out_of_range");
        assert_eq!(input.accept(target, "json", br#"{"v":7,"position":[0,0,0]}"#).unwrap_err().0, "version");
        assert_eq!(input.accept(target, "cdr", b"{}").unwrap_err().0, "encoding");
        assert_eq!(input.accept("spikearm/threelink/torque_cmd", "json", b"{}").unwrap_err().0, "unknown_topic");
        let estop = br#"{"v":1,"engaged":true,"source":"foxglove"}"#;
        assert!(input.accept("/spikearm/threelink/estop", "json", estop).is_ok());
        assert!(matches!(rx.try_recv().unwrap(), ClientCommand::Estop(Estop { engaged: true, .. })));
        assert!(rx.try_recv().is_err());
        // The counters are kept by the listener entry point, not by `accept`.
        assert_eq!(counts.lock().unwrap().accepted, 0);

        let (read_only, rx, _) = ClientInput::new(&keys, false);
        assert_eq!(
            read_only.accept(target, "json", br#"{"v":1,"position":[0.5,0,0.6]}"#).unwrap_err().0,
            "not_allowed"
        );
        assert!(rx.try_recv().is_err());
    }
}
