//! Arm-model cost per control tick on the UR5e: FK + 6×n Jacobian + M(q) + g(q) + C(q, q̇)q̇.
//!
//! The target is "well under 10 µs for 6 DoF" so the model fits a 1 kHz tick beside the neural core;
//! the `full_tick` figure is the one to compare. The individual functions are timed at a fresh `q`
//! each iteration so the kinematics cache cannot hide their cost.
//!
//! Anchor (docs/ARCHITECTURE.md §7): one rapier 6-DoF step at dt = 1 ms (~50 µs on these machines). The
//! `rapier_step` entry times it in the same run, and the ratio model tick / physics step is printed.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::DMatrix;
use spikearm::arm::description::ArmSpec;
use spikearm::arm::model::{ArmModel, ArmModelParams};
use spikearm_sim::{ArmWorld, SimParams};

const UR5E: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/arms/ur5e.urdf");

fn ur5e() -> ArmModel {
    let spec = ArmSpec::from_urdf_file(UR5E).expect("ur5e.urdf");
    ArmModel::new(&spec, ArmModelParams::default()).expect("model")
}

fn bench_arm_model(c: &mut Criterion) {
    let mut model = ur5e();
    let n = model.dof();
    let mut q = vec![0.1, -1.2, 1.4, -0.6, 1.1, 0.3];
    let dq = vec![0.5, -0.4, 0.3, 0.8, -0.6, 1.0];
    let mut j = DMatrix::zeros(6, n);
    let mut m = DMatrix::zeros(n, n);
    let (mut g, mut cor) = (vec![0.0; n], vec![0.0; n]);

    let mut group = c.benchmark_group("arm_model_ur5e");
    // A new q every iteration: what a control tick pays.
    group.bench_function("full_tick", |b| {
        b.iter(|| {
            q[0] += 1e-9;
            let pose = model.forward_kinematics(black_box(&q)).unwrap();
            model.jacobian(&q, &mut j).unwrap();
            model.mass_matrix(&q, &mut m).unwrap();
            model.gravity_torque(&q, &mut g).unwrap();
            model.coriolis_torque(&q, black_box(&dq), &mut cor).unwrap();
            black_box((pose, &j, &m, &g, &cor));
        })
    });
    group.bench_function("forward_kinematics", |b| {
        b.iter(|| {
            q[0] += 1e-9;
            black_box(model.forward_kinematics(black_box(&q)).unwrap());
        })
    });
    group.bench_function("fk_jacobian", |b| {
        b.iter(|| {
            q[0] += 1e-9;
            model.jacobian(black_box(&q), &mut j).unwrap();
            black_box(&j);
        })
    });
    group.bench_function("fk_mass_matrix", |b| {
        b.iter(|| {
            q[0] += 1e-9;
            model.mass_matrix(black_box(&q), &mut m).unwrap();
            black_box(&m);
        })
    });
    group.bench_function("fk_gravity", |b| {
        b.iter(|| {
            q[0] += 1e-9;
            model.gravity_torque(black_box(&q), &mut g).unwrap();
            black_box(&g);
        })
    });
    group.bench_function("fk_coriolis", |b| {
        b.iter(|| {
            q[0] += 1e-9;
            model.coriolis_torque(black_box(&q), black_box(&dq), &mut cor).unwrap();
            black_box(&cor);
        })
    });

    // The anchor: the sim held still by the model's gravity torque, so it stays clear of the joint limits.
    let urdf = std::fs::read_to_string(UR5E).expect("ur5e.urdf");
    let mut sim = ArmWorld::from_urdf_str(&urdf, SimParams::default()).expect("sim");
    let q0 = vec![0.1, -1.2, 1.4, -0.6, 1.1, 0.3];
    sim.set_state(&q0, &[0.0; 6]).expect("state");
    model.gravity_torque(&q0, &mut g).unwrap();
    sim.set_torques(&g).expect("torques");
    group.bench_function("rapier_step", |b| b.iter(|| sim.step()));
    group.finish();

    // Ratio measured here in one run with plain loops (criterion keeps its estimates to itself).
    let ticks = 200_000;
    let start = Instant::now();
    for _ in 0..ticks {
        q[0] += 1e-9;
        let pose = model.forward_kinematics(&q).unwrap();
        model.jacobian(&q, &mut j).unwrap();
        model.mass_matrix(&q, &mut m).unwrap();
        model.gravity_torque(&q, &mut g).unwrap();
        model.coriolis_torque(&q, &dq, &mut cor).unwrap();
        black_box((pose, &j, &m, &g, &cor));
    }
    let tick = start.elapsed().as_secs_f64() / ticks as f64;
    let steps = 5_000;
    let start = Instant::now();
    for _ in 0..steps {
        sim.step();
    }
    let step = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "arm model full tick {:.2} µs vs rapier UR5e step {:.1} µs (anchor ~50 µs): ratio {:.3}",
        tick * 1e6,
        step * 1e6,
        tick / step
    );
}

criterion_group!(benches, bench_arm_model);
criterion_main!(benches);
