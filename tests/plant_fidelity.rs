//! Plant fidelity: the simulated arm at its DEFAULT settings against an independent integration of the
//! same URDF.
//!
//! The reference integrates q̈ = M(q)⁻¹ (τ − C(q, q̇) q̇ − g(q)) with classical RK4 at a 0.1 ms step, using
//! the controller's own arm model (M by CRBA, C q̇ and g by RNEA, built on nalgebra from the URDF by
//! `urdf_chain`; it shares no code with the sim, which integrates the tree rapier built). Bar: every
//! joint angle within 0.02 rad of the reference over the first 0.5 s, with zero torque and with a
//! constant torque, on both arms. The sim's previous integrator (rapier's own step) is measured in the
//! same run and printed as the anchor, not asserted.
//!
//! Run with `--nocapture` to see the deviations.

use nalgebra::{DMatrix, DVector};
use spikearm::arm::description::ArmSpec;
use spikearm::arm::model::{ArmModel, ArmModelParams};
use spikearm_sim::{ArmWorld, Integrator, SimParams};

const BAR_RAD: f64 = 0.02;
/// Simulated span, s.
const SPAN: f64 = 0.5;
/// Reference RK4 step, s (10 per sim step of 1 ms).
const REF_DT: f64 = 1e-4;

struct Case {
    arm: &'static str,
    /// Initial pose, rad, at rest.
    q0: &'static [f64],
}

/// The 3-link arm released from horizontal; the UR5e from a bent pose that couples every joint.
const CASES: [Case; 2] = [
    Case { arm: "threelink.urdf", q0: &[0.0, 0.0, 0.0] },
    Case { arm: "ur5e.urdf", q0: &[0.3, -0.8, 1.2, -0.6, 0.9, 0.2] },
];

/// The constant torque of the second case is the holding torque at q0 plus M(q0)·a with a = ±A0 on
/// alternate joints: every joint, heavy shoulder or light wrist, starts accelerating at A0 rad/s², and the
/// arm stays clear of its stops for the span.
const A0: f64 = 2.0;

fn urdf(name: &str) -> String {
    std::fs::read_to_string(format!("{}/config/arms/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// q̈ from the controller's model.
fn model_acc(model: &mut ArmModel, q: &[f64], dq: &[f64], tau: &[f64], out: &mut [f64]) {
    let n = model.dof();
    let mut m = DMatrix::zeros(n, n);
    let (mut g, mut c) = (vec![0.0; n], vec![0.0; n]);
    model.mass_matrix(q, &mut m).unwrap();
    model.gravity_torque(q, &mut g).unwrap();
    model.coriolis_torque(q, dq, &mut c).unwrap();
    let rhs = DVector::from_iterator(n, (0..n).map(|i| tau[i] - c[i] - g[i]));
    let a = m.cholesky().expect("M(q) positive definite").solve(&rhs);
    out.copy_from_slice(a.as_slice());
}

/// Reference trajectory: q at every millisecond from 0 to SPAN (inclusive).
fn reference(model: &mut ArmModel, q0: &[f64], tau: &[f64]) -> Vec<Vec<f64>> {
    let n = q0.len();
    let (mut q, mut dq) = (q0.to_vec(), vec![0.0; n]);
    let per_ms = (1e-3 / REF_DT).round() as usize;
    let steps = (SPAN / 1e-3).round() as usize;
    let mut out = vec![q.clone()];
    let h = REF_DT;
    let mut k = [vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    for _ in 0..steps {
        for _ in 0..per_ms {
            // (q, q̇) stages: velocities are q̇ + c·k_acc, positions q + c·v_prev.
            let (mut qs, mut vs) = (q.clone(), dq.clone());
            let mut v = [vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            for s in 0..4 {
                if s > 0 {
                    let c = if s == 3 { h } else { 0.5 * h };
                    for (j, (x, y)) in qs.iter_mut().zip(vs.iter_mut()).enumerate() {
                        *x = q[j] + c * v[s - 1][j];
                        *y = dq[j] + c * k[s - 1][j];
                    }
                }
                v[s].copy_from_slice(&vs);
                model_acc(model, &qs, &vs, tau, &mut k[s]);
            }
            for (j, (x, y)) in q.iter_mut().zip(dq.iter_mut()).enumerate() {
                *x += h / 6.0 * (v[0][j] + 2.0 * v[1][j] + 2.0 * v[2][j] + v[3][j]);
                *y += h / 6.0 * (k[0][j] + 2.0 * k[1][j] + 2.0 * k[2][j] + k[3][j]);
            }
        }
        out.push(q.clone());
    }
    out
}

/// Max |q_sim − q_ref| over joints and the span, rad; with which integrator.
fn deviation(urdf: &str, integrator: Integrator, q0: &[f64], tau: &[f64], reference: &[Vec<f64>]) -> f64 {
    let mut w = ArmWorld::from_urdf_str(urdf, SimParams { integrator, ..SimParams::default() }).unwrap();
    w.set_state(q0, &vec![0.0; q0.len()]).unwrap();
    assert_eq!(w.set_torques(tau).unwrap(), 0, "no torque may be clamped");
    let mut worst = 0.0f64;
    for want in &reference[1..] {
        w.step();
        for (a, b) in w.q().iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

#[test]
fn the_rk4_plant_follows_an_independent_rk4_integration() {
    for case in CASES {
        let text = urdf(case.arm);
        let spec = ArmSpec::from_urdf_str(&text).unwrap();
        let mut model = ArmModel::new(&spec, ArmModelParams::default()).unwrap();
        assert_eq!(
            nalgebra::Vector3::from(SimParams::default().gravity),
            model.params().gravity,
            "sim and model gravity differ"
        );
        let n = case.q0.len();
        let zero = vec![0.0; n];
        let mut tau = vec![0.0; n];
        model.gravity_torque(case.q0, &mut tau).unwrap();
        let mut m = DMatrix::zeros(n, n);
        model.mass_matrix(case.q0, &mut m).unwrap();
        for (i, t) in tau.iter_mut().enumerate() {
            *t += (0..n).map(|j| m[(i, j)] * A0 * if j % 2 == 0 { 1.0 } else { -1.0 }).sum::<f64>();
        }
        for (label, tau) in [("zero torque", &zero[..]), ("constant torque", &tau[..])] {
            let want = reference(&mut model, case.q0, tau);
            let new = deviation(&text, Integrator::Rk4, case.q0, tau, &want);
            let old = deviation(&text, Integrator::Rapier, case.q0, tau, &want);
            println!(
                "{:15} {label:15}: max |q_sim − q_ref| over {SPAN} s = {new:.2e} rad (RK4 plant), \
                 {old:.2e} rad (rapier's own step, 1 substep)",
                case.arm
            );
            assert!(new <= BAR_RAD, "{} {label}: {new} rad > {BAR_RAD} rad", case.arm);
        }
    }
}
