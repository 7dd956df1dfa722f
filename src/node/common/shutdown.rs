//! The stop signal every node loop polls. Shutdown is a protocol: `trigger` asks, each node reaches its
//! safe state (final hold torque, final checkpoint), withdraws its liveliness token and returns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A cloneable stop flag with a wake-up for sleepers.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    flag: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Shutdown {
    /// A flag not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks every holder to stop. Idempotent.
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        let _g = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.cv.notify_all();
    }
    /// Whether a stop was asked.
    pub fn is_triggered(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }
    /// Sleeps up to `d`, waking early on a stop. Returns whether a stop was asked.
    pub fn sleep(&self, d: Duration) -> bool {
        let g = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_triggered() {
            return true;
        }
        let _ = self.inner.cv.wait_timeout_while(g, d, |_| !self.is_triggered());
        self.is_triggered()
    }
}
