//! The full payload protocol (docs/ARCHITECTURE.md §6) on both arms: 11 laps of 16 s after the
//! payload is attached, scored per lap with DeWolf et al.'s normalised error, adaptive controller on the
//! fixed-point core with default settings against PD and the PID baselines. Conditions run on two threads.
//! Run with `--nocapture` to see the table (`spikearm eval payload` prints the same, with the float row).

use spikearm::eval::metrics::normalised_per_lap;
use spikearm::eval::payload_eval::{Condition, PayloadEvalSpec};
use spikearm::eval::payload_protocol::ProtocolRun;
use spikearm::neuro::ExecutorKind;

const PID_GAINS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];
/// The lap ending 64 s after the payload is attached (laps are 16 s).
const LAP_64S: usize = 3;

struct Scores {
    adaptive: Vec<f64>,
    best_pid_last: f64,
}

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

fn protocol(file: &str, payload_kg: f64) -> Scores {
    let path = format!("{}/config/arms/{file}", env!("CARGO_MANIFEST_DIR"));
    let spec = PayloadEvalSpec::new(std::fs::read_to_string(path).unwrap(), payload_kg).unwrap();
    let pd = parallel(&spec, &[Condition::PdNoPayload, Condition::PdPayload], None);
    let mut conds = vec![Condition::Adaptive(ExecutorKind::Loihi)];
    conds.extend(PID_GAINS.map(Condition::Pid));
    let runs = parallel(&spec, &conds, Some(&pd[0]));
    let (e0, e1) = (&pd[0].error_per_lap, &pd[1].error_per_lap);
    println!("{file} {payload_kg} kg — PD no payload {:.2?} mm", e0.iter().map(|e| e * 1e3).collect::<Vec<_>>());
    println!("{file} {payload_kg} kg — PD payload    {:.2?} mm", e1.iter().map(|e| e * 1e3).collect::<Vec<_>>());
    let mut best_pid_last = f64::INFINITY;
    let mut adaptive = Vec::new();
    for (c, r) in conds.iter().zip(&runs) {
        let n = normalised_per_lap(&r.error_per_lap, e0, e1);
        println!("{file} {:<16} normalised per lap {n:.3?}", c.key());
        match c {
            Condition::Pid(_) => best_pid_last = best_pid_last.min(*n.last().unwrap()),
            _ => adaptive = n,
        }
    }
    Scores { adaptive, best_pid_last }
}

#[test]
fn ur5e_2kg_adaptive_meets_the_payload_bars() {
    let s = protocol("ur5e.urdf", 2.0);
    let n = &s.adaptive;
    assert_eq!(n.len(), 11);
    assert!(n[LAP_64S] <= 0.3, "lap ending at 64 s: {}", n[LAP_64S]);
    assert!(n[10] <= 0.25, "last lap: {}", n[10]);
    assert!(n[LAP_64S + 1..].iter().all(|&x| x <= 0.35), "a lap after 64 s above 0.35: {n:?}");
    assert!(n[10] <= s.best_pid_last, "last lap {} above the best PID {}", n[10], s.best_pid_last);
}

#[test]
fn threelink_1kg_adaptive_meets_the_payload_bars() {
    let s = protocol("threelink.urdf", 1.0);
    let n = &s.adaptive;
    assert!(n[LAP_64S] <= 0.3, "lap ending at 64 s: {}", n[LAP_64S]);
    assert!(n[10] <= 0.2, "last lap: {}", n[10]);
    assert!(n[10] <= s.best_pid_last, "last lap {} above the best PID {}", n[10], s.best_pid_last);
}
