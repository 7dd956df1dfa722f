//! How a node waits between steps — for the bus (the next state, the answer to a state) or for the clock.
//!
//! A thread that blocks lets its CPU halt, and on a virtual machine (and on hosts with deep C-states) a halted
//! CPU is woken tens of µs to milliseconds late. One state→torque round trip chains several wake-ups (sim,
//! zenoh's transport tasks, controller), so blocking nodes miss 1 kHz deadlines however fast their work is:
//! BENCHMARKS.md ("Bus and nodes") measures p99 5 ms blocking against 0.24 ms spinning on these machines.
//! Spinning keeps the CPU awake at the price of one busy core per node, as real-time control loops do;
//! between polls it yields, so zenoh's own threads woken on the same core run at once.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bus::ros2::{CdrError, RosLatest, RosMessage};
use crate::bus::{BusError, DecodeError, Latest, Message};

use super::Shutdown;

/// A latest-value subscription a node can wait on: the native JSON one ([`Latest`]) or a ROS 2 CDR one
/// ([`RosLatest`]). `Item` is the decoded sample or why it was refused.
pub trait Subscription {
    /// A decoded sample or its decoder's refusal.
    type Item;
    /// The newest unread sample, if any, without blocking.
    fn try_recv(&self) -> Result<Option<Self::Item>, BusError>;
    /// Waits up to `timeout` for a sample.
    fn recv_timeout(&self, timeout: Duration) -> Result<Option<Self::Item>, BusError>;
}

impl<M: Message> Subscription for Latest<M> {
    type Item = Result<M, DecodeError>;
    fn try_recv(&self) -> Result<Option<Self::Item>, BusError> {
        Latest::try_recv(self)
    }
    fn recv_timeout(&self, timeout: Duration) -> Result<Option<Self::Item>, BusError> {
        Latest::recv_timeout(self, timeout)
    }
}

impl<M: RosMessage> Subscription for RosLatest<M> {
    type Item = Result<M, CdrError>;
    fn try_recv(&self) -> Result<Option<Self::Item>, BusError> {
        RosLatest::try_recv(self)
    }
    fn recv_timeout(&self, timeout: Duration) -> Result<Option<Self::Item>, BusError> {
        RosLatest::recv_timeout(self, timeout)
    }
}

/// How a node waits for the bus or the clock. The nodes' settings default to spinning (what 1 kHz needs);
/// tests that run several node pairs at once on two cores ask for sleeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitMode {
    /// Poll and yield (busy: one core per node). The lowest latency: what 1 kHz control needs.
    Spin,
    /// Block in the OS (idle CPU). For shared machines and non-real-time use; wake-ups add latency.
    Sleep,
}

impl WaitMode {
    /// The newest sample on `sub`, waiting for one until `until` (`None` if none came).
    pub fn recv_until<S: Subscription>(self, sub: &S, until: Instant) -> Result<Option<S::Item>, BusError> {
        match self {
            WaitMode::Sleep => sub.recv_timeout(until.saturating_duration_since(Instant::now())),
            WaitMode::Spin => loop {
                if let Some(r) = sub.try_recv()? {
                    return Ok(Some(r));
                }
                if Instant::now() >= until {
                    return Ok(None);
                }
                std::thread::yield_now();
            },
        }
    }

    /// [`Self::recv_until`] for at most `timeout` from now.
    pub fn recv_timeout<S: Subscription>(self, sub: &S, timeout: Duration) -> Result<Option<S::Item>, BusError> {
        self.recv_until(sub, Instant::now() + timeout)
    }

    /// Waits until `deadline`, or less if a stop is asked. Returns whether a stop was asked.
    pub fn until(self, deadline: Instant, shutdown: &Shutdown) -> bool {
        match self {
            WaitMode::Sleep => {
                let now = Instant::now();
                shutdown.is_triggered() || (deadline > now && shutdown.sleep(deadline - now))
            }
            WaitMode::Spin => {
                while Instant::now() < deadline {
                    if shutdown.is_triggered() {
                        return true;
                    }
                    std::thread::yield_now();
                }
                shutdown.is_triggered()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_wait_until_the_deadline_and_see_a_stop() {
        for mode in [WaitMode::Spin, WaitMode::Sleep] {
            let stop = Shutdown::new();
            let t = Instant::now();
            assert!(!mode.until(t + Duration::from_millis(5), &stop), "{mode:?}");
            assert!(t.elapsed() >= Duration::from_millis(5), "{mode:?} returned early");
            stop.trigger();
            let t = Instant::now();
            assert!(mode.until(t + Duration::from_secs(10), &stop), "{mode:?}");
            assert!(t.elapsed() < Duration::from_secs(5), "{mode:?} ignored the stop");
        }
    }

    #[test]
    fn modes_parse_from_config_names() {
        #[derive(Deserialize)]
        struct C {
            wait: WaitMode,
        }
        assert_eq!(toml::from_str::<C>("wait = \"spin\"").unwrap().wait, WaitMode::Spin);
        assert_eq!(toml::from_str::<C>("wait = \"sleep\"").unwrap().wait, WaitMode::Sleep);
        assert!(toml::from_str::<C>("wait = \"nap\"").is_err());
    }
}
