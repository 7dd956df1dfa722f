//! Physics steps per second, single thread, for both arms (target: ≥ 40,000 steps/s for the 3-link
//! arm and ≥ 20,000 for the UR5e at dt = 1 ms). Run: `cargo bench -p spikearm-sim --bench arm_step`.
//!
//! The arm swings under gravity with a small sinusoidal torque, default parameters (the RK4 integrator),
//! and for comparison, in the same run, rapier's own step at 1 substep (the previous default) and at 8.
//! With position limits on, both arms soon fall onto a joint stop and rest there (so those steps are
//! rapier steps whatever the integrator); with limits off they swing freely (the RK4 path).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use spikearm_sim::{ArmWorld, Integrator, SimParams};

const ARMS: [(&str, &str, f64); 2] = [
    ("threelink", include_str!("../../config/arms/threelink.urdf"), 40_000.0),
    ("ur5e", include_str!("../../config/arms/ur5e.urdf"), 20_000.0),
];

fn world(urdf: &str, integrator: Integrator, substeps: usize, limits: bool) -> ArmWorld {
    let params = SimParams { integrator, substeps, enforce_position_limits: limits, ..SimParams::default() };
    let mut w = ArmWorld::from_urdf_str(urdf, params).expect("arm loads");
    let n = w.dof();
    let q0: Vec<f64> = (0..n).map(|i| 0.3 - 0.2 * i as f64).collect();
    w.set_state(&q0, &vec![0.0; n]).expect("valid pose");
    w
}

fn drive(w: &mut ArmWorld, k: u64, tau: &mut [f64]) {
    for (i, t) in tau.iter_mut().enumerate() {
        *t = 2.0 * ((k as f64) * 0.003 + i as f64).sin();
    }
    w.set_torques(tau).expect("finite torques");
    w.step();
}

/// Plain wall-clock count over 2 s per arm, printed with the ratio to the bar.
fn report() {
    let d = SimParams::default();
    for (integrator, substeps, limits) in [
        (d.integrator, d.substeps, true),
        (d.integrator, d.substeps, false),
        (Integrator::Rapier, 1, true),
        (Integrator::Rapier, 1, false),
        (Integrator::Rapier, 8, true),
    ] {
        for (name, urdf, bar) in ARMS {
            let mut w = world(urdf, integrator, substeps, limits);
            let mut tau = vec![0.0; w.dof()];
            for k in 0..2_000 {
                drive(&mut w, k, &mut tau);
            }
            let start = Instant::now();
            let mut k = 0u64;
            while start.elapsed().as_secs_f64() < 2.0 {
                for _ in 0..1_000 {
                    drive(&mut w, k, &mut tau);
                    k += 1;
                }
            }
            let rate = k as f64 / start.elapsed().as_secs_f64();
            println!(
                "physics {name:9} {integrator:6?} substeps {substeps} limits {:3}: {rate:9.0} steps/s ({:5.1} us/step), {:.2}x the {bar:.0} steps/s bar",
                if limits { "on" } else { "off" },
                1e6 / rate,
                rate / bar
            );
        }
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("arm_step");
    group.throughput(Throughput::Elements(1));
    for (name, urdf, _) in ARMS {
        let mut w = world(urdf, SimParams::default().integrator, SimParams::default().substeps, true);
        let mut tau = vec![0.0; w.dof()];
        let mut k = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                drive(&mut w, k, &mut tau);
                k += 1;
                black_box(w.applied_torques()[0])
            })
        });
    }
    group.finish();
}

fn main() {
    report();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
