//! The payload metric both `spikearm eval` and `spikearm launch` report: DeWolf et al.'s normalised error
//! `(e − e_without) / (e_with − e_without)` — 1 means the payload's whole effect on the tracking error remains,
//! 0 that it is fully compensated — and the named spans of sim time that scenarios score.

use serde::{Deserialize, Serialize};

/// A named span of sim time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Name (`before`, `after_payload`, `adapted`, …).
    pub name: String,
    /// Start, s.
    pub from_s: f64,
    /// End, s.
    pub to_s: f64,
}

/// `(e − e_without) / effect`, where `effect = e_with − e_without` is the payload's effect on the reference
/// controller's error (m); NaN when there is no effect to normalise by.
pub fn normalised(e: f64, e_without: f64, effect: f64) -> f64 {
    if effect.abs() > 0.0 { (e - e_without) / effect } else { f64::NAN }
}

/// [`normalised`] lap by lap: `errors` of the controller under test, `without` and `with` the reference
/// controller's errors without and with the payload, m.
pub fn normalised_per_lap(errors: &[f64], without: &[f64], with: &[f64]) -> Vec<f64> {
    errors.iter().zip(without.iter().zip(with)).map(|(e, (e0, e1))| normalised(*e, *e0, e1 - e0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_means_the_whole_payload_effect_and_zero_none() {
        assert_eq!(normalised_per_lap(&[0.03, 0.01, 0.02], &[0.01, 0.01, 0.01], &[0.03, 0.03, 0.01])[..2], [1.0, 0.0]);
        assert!(normalised(0.02, 0.01, 0.0).is_nan(), "no effect, no normalisation");
        assert!((normalised(0.015, 0.01, 0.02) - 0.25).abs() < 1e-15);
    }
}
