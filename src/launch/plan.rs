//! The run plan: one scenario run's timed events, written by the separate-process launcher and read by both
//! node commands (`--set plan=<file>`). Events are lists of records, which `--set key=value` cannot carry;
//! JSON with round-trip floats carries them bit for bit.

use serde::{Deserialize, Serialize};

use crate::node::{EstopEvent, PayloadEvent, TargetEvent};

/// Timed events for the two nodes of one run. Each node takes its own lists and ignores the others.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunPlan {
    /// Payload changes (the sim node's).
    pub payload_events: Vec<PayloadEvent>,
    /// E-stop engagements and clearances (the sim node's).
    pub estop_events: Vec<EstopEvent>,
    /// Target changes (the controller node's).
    pub target_events: Vec<TargetEvent>,
    /// Spans of sim time whose mean tracking error the controller accumulates, s (the controller node's).
    pub error_windows: Vec<(f64, f64)>,
}

impl RunPlan {
    /// Parses a plan; unknown keys are refused by name.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        Ok(serde_json::from_str(text)?)
    }

    /// The plan as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bit_for_bit_and_refuses_unknown_keys() {
        let p = RunPlan {
            payload_events: vec![PayloadEvent { t: 0.1 + 0.2, mass_kg: 1.0 / 3.0, offset_m: [0.0, -1e-300, 5e-324] }],
            estop_events: vec![EstopEvent { t: 2.0, engaged: true }],
            target_events: vec![TargetEvent { t: 1.0, position: [0.1, std::f64::consts::PI, -0.7] }],
            error_windows: vec![(1.0, 17.0)],
        };
        let q = RunPlan::from_json(&p.to_json()).unwrap();
        assert_eq!(q, p);
        assert_eq!(q.payload_events[0].t.to_bits(), (0.1f64 + 0.2).to_bits());
        let e = RunPlan::from_json(r#"{"payload_event": []}"#).unwrap_err().to_string();
        assert!(e.contains("payload_event"), "{e}");
    }
}
