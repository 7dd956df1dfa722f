//! A node's vital signs for observers outside its loop — the service manager's watchdog, `/metrics`,
//! `/healthz`: the loop's turns, counted with one relaxed atomic add, and the latest status, handed over
//! without ever making the loop wait.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bus::Status;

/// Shared between a node's loop (writer) and observer threads (readers).
#[derive(Debug, Default)]
pub struct NodeProbe {
    turns: AtomicU64,
    latest: Mutex<Option<Status>>,
}

impl NodeProbe {
    /// A probe with no turns and no status yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One more turn of the node's loop.
    pub fn turn(&self) {
        self.turns.fetch_add(1, Ordering::Relaxed);
    }

    /// Turns of the node's loop so far.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }

    /// Offers the node's latest status. Skipped, never waited for, when a reader holds the lock: the next
    /// status (a status period later) will do.
    pub fn offer_status(&self, status: &Status) {
        if let Ok(mut slot) = self.latest.try_lock() {
            match slot.as_mut() {
                Some(s) => s.clone_from(status),
                None => *slot = Some(status.clone()),
            }
        }
    }

    /// The latest status offered, if any.
    pub fn status(&self) -> Option<Status> {
        self.latest.lock().ok().and_then(|s| s.clone())
    }
}
