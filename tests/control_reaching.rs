//! Closed-loop reaching without a payload, and payload removal after adaptation.
//! Run with `--nocapture` to see the errors measured.

use spikearm::eval::payload_eval::{Condition, PayloadEvalSpec};
use spikearm::neuro::ExecutorKind;

fn spec(file: &str, payload_kg: f64) -> PayloadEvalSpec {
    let path = format!("{}/config/arms/{file}", env!("CARGO_MANIFEST_DIR"));
    PayloadEvalSpec::new(std::fs::read_to_string(path).unwrap(), payload_kg).unwrap()
}

/// Bar: UR5e-class arm, 8 targets 0.15 m from the start pose, 2 s each: final error < 5 mm on every target.
#[test]
fn ur5e_osc_reaches_every_target_within_5_mm() {
    let mut s = spec("ur5e.urdf", 2.0);
    s.protocol.laps = 1;
    let run = s.run(Condition::PdNoPayload, None).unwrap();
    assert_eq!(run.final_error_per_reach.len(), 8);
    let mm: Vec<f64> = run.final_error_per_reach.iter().map(|e| e * 1e3).collect();
    println!("UR5e final error per target (mm): {mm:.3?}; mean lap error {:.2} mm", run.error_per_lap[0] * 1e3);
    assert!(mm.iter().all(|&e| e < 5.0), "final errors {mm:?} mm");
}

#[test]
fn threelink_osc_reaches_every_target_within_5_mm() {
    let mut s = spec("threelink.urdf", 1.0);
    s.protocol.laps = 1;
    let run = s.run(Condition::PdNoPayload, None).unwrap();
    let mm: Vec<f64> = run.final_error_per_reach.iter().map(|e| e * 1e3).collect();
    println!("3-link final error per target (mm): {mm:.3?}");
    assert!(mm.iter().all(|&e| e < 5.0), "final errors {mm:?} mm");
}

/// Bar: removing the payload again does not destabilise the arm — the error returns to the no-payload
/// level. 4 laps with the payload (the adaptive term learns it), then 3 laps without; the last of those is
/// compared with the PD no-payload lap error.
#[test]
fn removing_the_payload_returns_the_adaptive_arm_to_no_payload_error() {
    for (file, kg) in [("threelink.urdf", 1.0), ("ur5e.urdf", 2.0)] {
        let mut s = spec(file, kg);
        s.protocol.laps = 4;
        let base = s.run(Condition::PdNoPayload, None).unwrap();
        s.protocol.laps_after_removal = 3;
        let run = s.run(Condition::Adaptive(ExecutorKind::Loihi), Some(&base)).unwrap();
        let e0 = base.error_per_lap[3];
        let with = run.error_per_lap[3];
        let after = run.error_after_removal.clone();
        println!(
            "{file}: PD no payload {:.2} mm; adaptive with payload lap 4 {:.2} mm; after removal {:.2?} mm",
            e0 * 1e3,
            with * 1e3,
            after.iter().map(|e| e * 1e3).collect::<Vec<_>>()
        );
        let last = *after.last().unwrap();
        assert!(last.is_finite() && last < 1.5 * e0 + 1e-3, "{file}: {last} m after removal vs {e0} m");
        // No lap after removal is worse than the payload lap it came from (no excursion).
        assert!(after.iter().all(|&e| e < with.max(2.0 * e0) + 2e-3), "{file}: {after:?}");
    }
}
