//! Cost of one control tick on the UR5e-class arm: model (FK, Jacobian, M, g) + OSC + the adaptive term on the
//! fixed-point core, learning on — the default inertial design (1000-neuron joint-space ensemble, 1000-neuron
//! task-space ensemble, the model residual by one RNEA pass) against a target of ≤ 20 µs on one thread.
//! Also the first-generation posture design, the OSC alone, the float core, and the PID baseline.
//!
//! States are replayed from a recorded closed-loop run (reaching with a 2 kg payload) so the ensemble fires
//! as it does in use, and the kinematics cache never hits.
//!
//! Anchor (docs/ARCHITECTURE.md §7): one UR5e physics step at dt = 1 ms with the sim's default integrator, timed in the same
//! run; the ratio tick / physics step is printed.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::Vector3;
use spikearm::arm::description::ArmSpec;
use spikearm::arm::model::{ArmModel, ArmModelParams};
use spikearm::control::adaptive::{AdaptiveOsc, AdaptiveParams};
use spikearm::control::controller::{ControlInput, Controller};
use spikearm::control::learned_ensemble::EnsembleRecipe;
use spikearm::control::osc::{Osc, OscParams};
use spikearm::control::pid::{Pid, PidParams};
use spikearm::neuro::ExecutorKind;
use spikearm_sim::{ArmWorld, PayloadSpec, SimParams};

const UR5E: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/arms/ur5e.urdf");
const Q0: [f64; 6] = [0.0, -1.2, 1.6, -1.97, -1.57, 0.0];

fn osc() -> Osc {
    let spec = ArmSpec::from_urdf_file(UR5E).expect("ur5e.urdf");
    Osc::new(ArmModel::new(&spec, ArmModelParams::default()).expect("model"), OscParams::default()).expect("osc")
}

fn adaptive(kind: ExecutorKind, design: AdaptiveParams) -> AdaptiveOsc {
    let params = AdaptiveParams {
        joints: Some(vec![1, 2, 3]),
        ensemble: EnsembleRecipe { executor: kind, ..design.ensemble.clone() },
        ..design
    };
    AdaptiveOsc::new(osc(), params).expect("adaptive")
}

/// 4 s of states (q, dq, target) from the OSC reaching around the start pose with a 2 kg payload.
fn recorded_states() -> Vec<(Vec<f64>, Vec<f64>, Vector3<f64>)> {
    let urdf = std::fs::read_to_string(UR5E).expect("ur5e.urdf");
    let mut world = ArmWorld::from_urdf_str(&urdf, SimParams::default()).expect("world");
    world.set_state(&Q0, &[0.0; 6]).expect("q0");
    world.set_payload(Some(PayloadSpec::at_ee(2.0))).expect("payload");
    let center = Vector3::from(world.state().ee_position);
    let mut ctl = osc();
    let mut tau = vec![0.0; 6];
    let mut out = Vec::new();
    for k in 0..4000 {
        let a = std::f64::consts::TAU * (k / 500) as f64 / 8.0;
        let target = center + 0.15 * Vector3::new(a.cos(), 0.0, a.sin());
        let s = world.state();
        ctl.tick(&ControlInput { t: s.t, q: &s.q, dq: &s.dq, target }, &mut tau).expect("tick");
        world.step_with_torques(&tau).expect("step");
        out.push((s.q, s.dq, target));
    }
    out
}

fn bench_tick<C: Controller>(
    c: &mut Criterion,
    name: &str,
    mut ctl: C,
    states: &[(Vec<f64>, Vec<f64>, Vector3<f64>)],
) -> f64 {
    let mut tau = vec![0.0; 6];
    let mut k = 0usize;
    let mut t = 0.0;
    let mut tick = |ctl: &mut C| {
        let (q, dq, target) = &states[k % states.len()];
        k += 1;
        t += 0.001;
        ctl.tick(&ControlInput { t, q, dq, target: *target }, &mut tau).expect("tick");
        black_box(&tau);
    };
    // Warm up past the first learning epochs so the readout is non-zero.
    for _ in 0..2000 {
        tick(&mut ctl);
    }
    c.bench_function(name, |b| b.iter(|| tick(&mut ctl)));
    // A plain mean for the printed ratio (criterion's estimate is the figure to quote).
    let n = 20_000;
    let t0 = Instant::now();
    for _ in 0..n {
        tick(&mut ctl);
    }
    t0.elapsed().as_secs_f64() / n as f64
}

fn bench_control_tick(c: &mut Criterion) {
    let states = recorded_states();
    let inertial = AdaptiveParams::default;
    let loihi = bench_tick(c, "control_tick_ur5e/adaptive_loihi", adaptive(ExecutorKind::Loihi, inertial()), &states);
    let posture = bench_tick(
        c,
        "control_tick_ur5e/adaptive_posture_loihi",
        adaptive(ExecutorKind::Loihi, AdaptiveParams::posture()),
        &states,
    );
    let float = bench_tick(c, "control_tick_ur5e/adaptive_float", adaptive(ExecutorKind::Float, inertial()), &states);
    let osc_only = bench_tick(c, "control_tick_ur5e/osc", osc(), &states);
    let pid = bench_tick(c, "control_tick_ur5e/pid", Pid::new(osc(), PidParams::default()).expect("pid"), &states);

    // Anchor: the UR5e physics step (the sim's default integrator).
    let urdf = std::fs::read_to_string(UR5E).expect("ur5e.urdf");
    let mut world = ArmWorld::from_urdf_str(&urdf, SimParams::default()).expect("world");
    world.set_state(&Q0, &[0.0; 6]).expect("q0");
    let tau = [0.0, -60.0, -18.0, 0.0, 0.0, 0.0];
    c.bench_function("control_tick_ur5e/physics_step_anchor", |b| {
        b.iter(|| world.step_with_torques(black_box(&tau)).expect("step"))
    });
    let n = 5_000;
    let t0 = Instant::now();
    for _ in 0..n {
        world.step_with_torques(&tau).expect("step");
    }
    let step = t0.elapsed().as_secs_f64() / n as f64;
    println!(
        "mean tick: adaptive loihi {:.1} µs (posture design {:.1} µs), adaptive float {:.1} µs, osc {:.1} µs, \
         pid {:.1} µs; physics step {:.1} µs; adaptive-loihi tick / physics step = {:.2}; target ≤ 20 µs: {}",
        loihi * 1e6,
        posture * 1e6,
        float * 1e6,
        osc_only * 1e6,
        pid * 1e6,
        step * 1e6,
        loihi / step,
        if loihi <= 20e-6 { "met" } else { "MISSED" }
    );
}

criterion_group!(benches, bench_control_tick);
criterion_main!(benches);
