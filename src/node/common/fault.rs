//! Fault injection for tests and drills: a node can be told to lose a seeded fraction of the control-path
//! messages it receives (`joint_states` at the controller, `torque_cmd` at the sim), as a lossy network
//! would. Off by default; it exists so that the lockstep resend protocol and the real-time zero-order hold
//! can be exercised against message loss (see `tests/faults.rs`). Never enable it on a real arm.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Which faults a node injects into its own input.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultParams {
    /// Fraction of incoming control-path messages discarded on arrival, in `[0, 1]`. Default 0 (off).
    pub drop_fraction: f64,
    /// Seed of the drop decisions, so that a lossy run is reproducible. Default 0.
    pub seed: u64,
}

impl Default for FaultParams {
    fn default() -> Self {
        Self { drop_fraction: 0.0, seed: 0 }
    }
}

impl FaultParams {
    /// Checks the fraction is in `[0, 1]`.
    pub fn validate(&self) -> Result<(), String> {
        if (0.0..=1.0).contains(&self.drop_fraction) {
            Ok(())
        } else {
            Err(format!("faults.drop_fraction {} is not in [0, 1]", self.drop_fraction))
        }
    }
}

/// The per-node drop decider. Allocation-free; one random draw per received message when enabled.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    drop_fraction: f64,
    rng: Xoshiro256PlusPlus,
    dropped: u64,
}

impl FaultInjector {
    /// An injector for `params` (assumed validated).
    pub fn new(params: FaultParams) -> Self {
        Self { drop_fraction: params.drop_fraction, rng: Xoshiro256PlusPlus::seed_from_u64(params.seed), dropped: 0 }
    }

    /// Whether to discard the message just received (and count it).
    pub fn drop_this(&mut self) -> bool {
        if self.drop_fraction <= 0.0 {
            return false;
        }
        let drop = self.rng.random::<f64>() < self.drop_fraction;
        self.dropped += u64::from(drop);
        drop
    }

    /// Messages discarded so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_asked_fraction_reproducibly_and_nothing_when_off() {
        let mut a = FaultInjector::new(FaultParams { drop_fraction: 0.1, seed: 7 });
        let mut b = FaultInjector::new(FaultParams { drop_fraction: 0.1, seed: 7 });
        let da: Vec<bool> = (0..20_000).map(|_| a.drop_this()).collect();
        let db: Vec<bool> = (0..20_000).map(|_| b.drop_this()).collect();
        assert_eq!(da, db);
        let frac = a.dropped() as f64 / 20_000.0;
        assert!((frac - 0.1).abs() < 0.01, "{frac}");
        let mut off = FaultInjector::new(FaultParams::default());
        assert!((0..1000).all(|_| !off.drop_this()));
        assert!(FaultParams { drop_fraction: 1.5, seed: 0 }.validate().is_err());
    }
}
