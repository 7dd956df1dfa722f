//! The payload protocol (docs/ARCHITECTURE.md §6) on both arms, on the default (faithful, RK4) plant, with the
//! default adaptive controller (the inertial design on the fixed-point core), scored per 16-s lap with
//! DeWolf et al.'s normalised error against the OSC without and with the payload.
//!
//! The shortest run that shows the bars: 5 laps (80 s) after the payload is attached. The bars of the full
//! 11-lap protocol are lap 4 ≤ 0.06, last lap ≤ 0.04 and no lap after lap 4 above 0.08; here lap 4 ≤ 0.06 and
//! lap 5 already ≤ 0.04. Without a payload the adaptive controller must not cost more than 5 % over the OSC.
//! The 11-lap figures and other seeds are in BENCHMARKS.md (`spikearm eval payload`). Run with `--nocapture`
//! to see the per-lap numbers.

use spikearm::eval::metrics::normalised_per_lap;
use spikearm::eval::payload_eval::{Condition, PayloadEvalSpec};
use spikearm::eval::payload_protocol::ProtocolRun;
use spikearm::neuro::ExecutorKind;

/// Laps scored after the payload is attached.
const LAPS: usize = 5;
/// The lap ending 64 s after the payload is attached (laps are 16 s).
const LAP_64S: usize = 3;

/// Runs the conditions on two threads, results in the order given.
fn parallel(spec: &PayloadEvalSpec, conds: &[Condition], cal: Option<&ProtocolRun>) -> Vec<ProtocolRun> {
    let (a, b): (Vec<_>, Vec<_>) = conds.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let (ra, rb) = std::thread::scope(|s| {
        let h = s.spawn(|| b.iter().map(|(_, c)| spec.run(**c, cal).unwrap()).collect::<Vec<_>>());
        let ra: Vec<_> = a.iter().map(|(_, c)| spec.run(**c, cal).unwrap()).collect();
        (ra, h.join().unwrap())
    });
    let (mut ia, mut ib) = (ra.into_iter(), rb.into_iter());
    (0..conds.len()).map(|i| if i % 2 == 0 { ia.next().unwrap() } else { ib.next().unwrap() }).collect()
}

/// Normalised error per lap of the adaptive controller with the payload, and its mean error without a payload
/// over the OSC's.
fn protocol(file: &str, payload_kg: f64) -> (Vec<f64>, f64) {
    let path = format!("{}/config/arms/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut spec = PayloadEvalSpec::new(std::fs::read_to_string(path).unwrap(), payload_kg).unwrap();
    spec.protocol.laps = LAPS;
    let pd = parallel(&spec, &[Condition::PdNoPayload, Condition::PdPayload], None);
    let conds = [Condition::Adaptive(ExecutorKind::Loihi), Condition::AdaptiveNoPayload(ExecutorKind::Loihi)];
    let runs = parallel(&spec, &conds, None);
    let (e0, e1) = (&pd[0].error_per_lap, &pd[1].error_per_lap);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let n = normalised_per_lap(&runs[0].error_per_lap, e0, e1);
    let ratio = mean(&runs[1].error_per_lap) / mean(e0);
    println!("{file} {payload_kg} kg — PD no payload {:.2?} mm", e0.iter().map(|e| e * 1e3).collect::<Vec<_>>());
    println!("{file} {payload_kg} kg — PD payload    {:.2?} mm", e1.iter().map(|e| e * 1e3).collect::<Vec<_>>());
    println!("{file} adaptive normalised per lap {n:.3?}; without payload × {ratio:.4} of the OSC's error");
    (n, ratio)
}

fn assert_bars(n: &[f64], no_payload_ratio: f64) {
    assert_eq!(n.len(), LAPS);
    assert!(n[0] < 1.0, "first lap shows no compensation: {n:?}");
    assert!(n[LAP_64S] <= 0.06, "lap ending at 64 s: {n:?}");
    assert!(n[LAPS - 1] <= 0.04, "lap 5: {n:?}");
    assert!(n[LAP_64S..].iter().all(|&x| x <= 0.08), "a lap from 64 s on above 0.08: {n:?}");
    assert!(no_payload_ratio <= 1.05, "without a payload the adaptive error is × {no_payload_ratio} of the OSC's");
}

#[test]
fn ur5e_2kg_adaptive_meets_the_payload_bars() {
    let (n, ratio) = protocol("ur5e.urdf", 2.0);
    assert_bars(&n, ratio);
}

#[test]
fn threelink_1kg_adaptive_meets_the_payload_bars() {
    let (n, ratio) = protocol("threelink.urdf", 1.0);
    assert_bars(&n, ratio);
}
