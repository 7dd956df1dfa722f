//! The two timing modes of a sim node.

use serde::{Deserialize, Serialize};

/// How the sim advances time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimingMode {
    /// The sim waits for the torque answering its last state before stepping: deterministic and as fast as
    /// the machine allows (tests, benchmarks, demos).
    Lockstep,
    /// The sim steps at a fixed rate on the wall clock and applies the newest torque (zero-order hold);
    /// steps that start late are counted as deadline misses (the daemon).
    RealTime,
}
