//! Cross-check of the controller's nalgebra arm model against the rapier sim, on both arms, at 20 random
//! poses / states each (fixed seed).
//!
//! Error measure: for a vector quantity x (torques or joint accelerations) the relative error is
//! `max_i |x_sim,i − x_model,i| / max_i |x_model,i|` (∞-norm relative). A per-component ratio would be
//! meaningless for components that are physically zero (the UR5e base joint carries no gravity torque),
//! and the ∞-norm keeps it in the units of the largest component. For accelerations it is also reported in
//! the kinetic-energy norm `‖e‖_M / ‖a‖_M`, which weighs every joint by the inertia it moves, so the
//! light wrists cannot hide errors at the shoulder.
//!
//! rapier integrates in f32; the bars (0.5 % for torques, 1 % for accelerations) leave room for that.
//! Run with `--nocapture` to see the errors measured.

use nalgebra::{DMatrix, DVector, Vector3};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use spikearm::arm::description::ArmSpec;
use spikearm::arm::model::{ArmModel, ArmModelParams, PayloadSpec};
use spikearm_sim::{ArmWorld, SimParams};

const ARMS: [&str; 2] = ["threelink.urdf", "ur5e.urdf"];
const SAMPLES: usize = 20;
const SEED: u64 = 0x05EE_DA23;

/// Payloads for the payload test: kg, and m in the `ee` frame (off the flange axis so it has a lever arm
/// in every orientation).
const PAYLOAD_MASS: f64 = 2.0;
const PAYLOAD_OFFSET: [f64; 3] = [0.03, 0.02, 0.05];

struct Arm {
    name: &'static str,
    model: ArmModel,
    sim: ArmWorld,
    /// Joint position limits, rad, shrunk so random poses stay clear of the sim's hard stops.
    q_range: Vec<(f64, f64)>,
    efforts: Vec<f64>,
    velocities: Vec<f64>,
}

fn arm(name: &'static str) -> Arm {
    let path = format!("{}/config/arms/{name}", env!("CARGO_MANIFEST_DIR"));
    let urdf = std::fs::read_to_string(&path).unwrap();
    let spec = ArmSpec::from_urdf_str(&urdf).unwrap();
    let model = ArmModel::new(&spec, ArmModelParams::default()).unwrap();
    let sim_params = SimParams::default();
    assert_eq!(Vector3::from(sim_params.gravity), model.params().gravity, "sim and model gravity differ");
    let sim = ArmWorld::from_urdf_str(&urdf, sim_params).unwrap();
    assert_eq!(sim.dof(), model.dof());
    let names: Vec<String> = spec.joints.iter().map(|j| j.name.clone()).collect();
    assert_eq!(sim.joint_names(), names, "{name}: joint order differs");
    let q_range = spec
        .joints
        .iter()
        .map(|j| {
            let (lo, hi) = (j.limits.lower.max(-std::f64::consts::PI), j.limits.upper.min(std::f64::consts::PI));
            (lo + 0.2, hi - 0.2)
        })
        .collect();
    let efforts = spec.joints.iter().map(|j| j.limits.effort).collect();
    let velocities = spec.joints.iter().map(|j| j.limits.velocity).collect();
    Arm { name, model, sim, q_range, efforts, velocities }
}

fn random_q(arm: &Arm, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    arm.q_range.iter().map(|&(lo, hi)| rng.random_range(lo..hi)).collect()
}

fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = got.iter().zip(want).fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
    err / scale
}

fn rel_err_m(got: &[f64], want: &[f64], m: &DMatrix<f64>) -> f64 {
    let (g, w) = (DVector::from_column_slice(got), DVector::from_column_slice(want));
    let e = &g - &w;
    (e.dot(&(m * &e)) / w.dot(&(m * &w))).sqrt()
}

/// q̈ = M⁻¹ (τ − C q̇ − g) from the model.
fn model_acceleration(model: &mut ArmModel, q: &[f64], dq: &[f64], tau: &[f64]) -> (Vec<f64>, DMatrix<f64>) {
    let n = model.dof();
    let mut m = DMatrix::zeros(n, n);
    let (mut g, mut c) = (vec![0.0; n], vec![0.0; n]);
    model.mass_matrix(q, &mut m).unwrap();
    model.gravity_torque(q, &mut g).unwrap();
    model.coriolis_torque(q, dq, &mut c).unwrap();
    let rhs = DVector::from_iterator(n, (0..n).map(|i| tau[i] - c[i] - g[i]));
    let a = m.clone().cholesky().expect("M(q) positive definite").solve(&rhs);
    (a.iter().copied().collect(), m)
}

/// The model's mean joint acceleration over a step of `dt` from (q, q̇) under constant τ, i.e.
/// (q̇(dt) − q̇)/dt, by RK4 with 20 substeps: the quantity a one-step velocity difference measures.
fn model_mean_acceleration(model: &mut ArmModel, q: &[f64], dq: &[f64], tau: &[f64], dt: f64) -> Vec<f64> {
    let n = q.len();
    let (mut x, mut v) = (q.to_vec(), dq.to_vec());
    let h = dt / 20.0;
    for _ in 0..20 {
        let (k1, _) = model_acceleration(model, &x, &v, tau);
        let (x2, v2): (Vec<f64>, Vec<f64>) = (0..n).map(|i| (x[i] + 0.5 * h * v[i], v[i] + 0.5 * h * k1[i])).unzip();
        let (k2, _) = model_acceleration(model, &x2, &v2, tau);
        let (x3, v3): (Vec<f64>, Vec<f64>) = (0..n).map(|i| (x[i] + 0.5 * h * v2[i], v[i] + 0.5 * h * k2[i])).unzip();
        let (k3, _) = model_acceleration(model, &x3, &v3, tau);
        let (x4, v4): (Vec<f64>, Vec<f64>) = (0..n).map(|i| (x[i] + h * v3[i], v[i] + h * k3[i])).unzip();
        let (k4, _) = model_acceleration(model, &x4, &v4, tau);
        for (i, (xi, vi)) in x.iter_mut().zip(v.iter_mut()).enumerate() {
            *xi += h / 6.0 * (*vi + 2.0 * v2[i] + 2.0 * v3[i] + v4[i]);
            *vi += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    (0..n).map(|i| (v[i] - dq[i]) / dt).collect()
}

#[test]
fn holding_torque_matches_gravity_torque() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    for name in ARMS {
        let mut a = arm(name);
        let mut g = vec![0.0; a.model.dof()];
        let mut worst = 0.0f64;
        for _ in 0..SAMPLES {
            let q = random_q(&a, &mut rng);
            a.model.gravity_torque(&q, &mut g).unwrap();
            let held = a.sim.holding_torque(&q).unwrap();
            let e = rel_err(&held, &g);
            worst = worst.max(e);
            assert!(e < 0.005, "{}: q {q:?}: sim holds with {held:?}, model g {g:?} ({:.3} %)", a.name, 100.0 * e);
        }
        println!("{}: holding torque vs g(q): max relative error {:.4} %", a.name, 100.0 * worst);
    }
}

#[test]
fn rest_accelerations_match_inverse_mass_matrix() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 1);
    for name in ARMS {
        let mut a = arm(name);
        let n = a.model.dof();
        let mut g = vec![0.0; n];
        let (mut worst, mut worst_m) = (0.0f64, 0.0f64);
        for _ in 0..SAMPLES {
            let q = random_q(&a, &mut rng);
            a.model.gravity_torque(&q, &mut g).unwrap();
            // Gravity held by the model, plus a torque of up to 20 % of each joint's effort limit.
            let u: Vec<f64> = a.efforts.iter().map(|e| 0.2 * e * rng.random_range(-1.0..1.0)).collect();
            let tau: Vec<f64> = (0..n).map(|i| g[i] + u[i]).collect();
            let (want, m) = model_acceleration(&mut a.model, &q, &vec![0.0; n], &tau);
            let got = a.sim.accelerations_at_rest(&q, &tau).unwrap();
            let (e, em) = (rel_err(&got, &want), rel_err_m(&got, &want, &m));
            worst = worst.max(e);
            worst_m = worst_m.max(em);
            assert!(e < 0.01, "{}: q {q:?} τ {tau:?}: sim q̈ {got:?}, model {want:?} ({:.3} %)", a.name, 100.0 * e);
            assert!(em < 0.01, "{}: energy-norm error {:.3} %", a.name, 100.0 * em);
        }
        println!(
            "{}: rest accelerations vs M⁻¹τ: max relative error {:.4} % (∞-norm), {:.4} % (M-norm)",
            a.name,
            100.0 * worst,
            100.0 * worst_m
        );
    }
}

/// Returns the worst (∞-norm, M-norm) relative errors of the sim's one-step finite-difference
/// accelerations against the model, at `SAMPLES` random states, with the sim stepping at `dt`.
fn moving_acceleration_errors(name: &'static str, dt: f64, seed: u64) -> (f64, f64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut a = arm(name);
    if dt != a.sim.params().dt {
        let urdf = std::fs::read_to_string(format!("{}/config/arms/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        a.sim = ArmWorld::from_urdf_str(&urdf, SimParams { dt, ..SimParams::default() }).unwrap();
    }
    let n = a.model.dof();
    let mut g = vec![0.0; n];
    let (mut worst, mut worst_m) = (0.0f64, 0.0f64);
    for _ in 0..SAMPLES {
        let q = random_q(&a, &mut rng);
        // Up to 60 % of the velocity limit (at most 3 rad/s) so C q̇ is a sizeable share of the torque.
        let dq: Vec<f64> = a.velocities.iter().map(|v| 0.6 * v.min(5.0) * rng.random_range(-1.0..1.0)).collect();
        a.model.gravity_torque(&q, &mut g).unwrap();
        let tau: Vec<f64> = (0..n)
            .map(|i| (g[i] + 0.2 * a.efforts[i] * rng.random_range(-1.0..1.0)).clamp(-a.efforts[i], a.efforts[i]))
            .collect();
        a.sim.set_state(&q, &dq).unwrap();
        assert_eq!(a.sim.set_torques(&tau).unwrap(), 0, "no torque may be clamped");
        a.sim.step();
        let dq1 = a.sim.dq();
        let got: Vec<f64> = (0..n).map(|i| (dq1[i] - dq[i]) / dt).collect();
        let (_, m) = model_acceleration(&mut a.model, &q, &dq, &tau);
        let want = model_mean_acceleration(&mut a.model, &q, &dq, &tau, dt);
        let (e, em) = (rel_err(&got, &want), rel_err_m(&got, &want, &m));
        worst = worst.max(e);
        worst_m = worst_m.max(em);
    }
    println!(
        "{name}, dt = {dt} s: moving accelerations vs the model's mean M⁻¹(τ − Cq̇ − g) over the step: \
         max relative error {:.4} % (∞-norm), {:.4} % (M-norm)",
        100.0 * worst,
        100.0 * worst_m
    );
    (worst, worst_m)
}

/// The bar, at the sim's operating step of 1 ms: within 1 %.
///
/// A one-step velocity difference measures the mean acceleration over the step, so it is compared with
/// the model's mean over the same step (a fine RK4 of the model), not with q̈ at the step's start (they
/// differ by O(dt·|q̇|), ~1 % on the 3-link arm at 3 rad/s and 1 ms). With the sim's default RK4
/// integrator what remains is the sim's f32 link placement and the model's own rounding.
#[test]
fn moving_accelerations_match_model_dynamics() {
    for (k, name) in ARMS.into_iter().enumerate() {
        let (e, em) = moving_acceleration_errors(name, 1e-3, SEED + 2 + k as u64);
        assert!(e < 0.01 && em < 0.01, "{name}: {:.3} % (∞-norm), {:.3} % (M-norm)", 100.0 * e, 100.0 * em);
    }
}

/// Same states at a 0.1 ms step: the discrepancy stays small when the step shrinks (an integrator
/// error would shrink; a model error would not, and would show here).
#[test]
fn moving_accelerations_converge_as_the_step_shrinks() {
    for (k, name) in ARMS.into_iter().enumerate() {
        let (e, em) = moving_acceleration_errors(name, 1e-4, SEED + 2 + k as u64);
        assert!(e < 0.002 && em < 0.002, "{name}: {:.3} % (∞-norm), {:.3} % (M-norm)", 100.0 * e, 100.0 * em);
    }
}

#[test]
fn payload_raises_holding_torque_by_its_gravity_torque() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 3);
    for name in ARMS {
        let mut a = arm(name);
        let n = a.model.dof();
        let (mut g0, mut g1) = (vec![0.0; n], vec![0.0; n]);
        let (mut worst, mut worst_total) = (0.0f64, 0.0f64);
        for _ in 0..SAMPLES {
            let q = random_q(&a, &mut rng);
            a.sim.set_payload(None).unwrap();
            let held0 = a.sim.holding_torque(&q).unwrap();
            a.sim
                .set_payload(Some(spikearm_sim::PayloadSpec { mass_kg: PAYLOAD_MASS, offset_m: PAYLOAD_OFFSET }))
                .unwrap();
            let held1 = a.sim.holding_torque(&q).unwrap();

            a.model.set_payload(None).unwrap();
            a.model.gravity_torque(&q, &mut g0).unwrap();
            a.model.set_payload(Some(PayloadSpec { mass_kg: PAYLOAD_MASS, offset_m: PAYLOAD_OFFSET })).unwrap();
            a.model.gravity_torque(&q, &mut g1).unwrap();

            let rise_sim: Vec<f64> = (0..n).map(|i| held1[i] - held0[i]).collect();
            let rise_model: Vec<f64> = (0..n).map(|i| g1[i] - g0[i]).collect();
            let e = rel_err(&rise_sim, &rise_model);
            let e_total = rel_err(&held1, &g1);
            worst = worst.max(e);
            worst_total = worst_total.max(e_total);
            assert!(
                e < 0.005,
                "{}: q {q:?}: holding torque rose by {rise_sim:?}, payload gravity torque {rise_model:?} ({:.3} %)",
                a.name,
                100.0 * e
            );
            assert!(e_total < 0.005, "{}: with payload, sim holds {held1:?}, model g {g1:?}", a.name);
        }
        println!(
            "{}: {PAYLOAD_MASS} kg payload: rise of holding torque vs payload gravity torque max relative error {:.4} %; \
             holding torque with payload vs g(q) {:.4} %",
            a.name,
            100.0 * worst,
            100.0 * worst_total
        );
    }
}

/// Not one of the bars, but cheap and it localises a failure of the others: FK and M(q) agree.
#[test]
fn ee_pose_and_mass_matrix_agree() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 4);
    for name in ARMS {
        let mut a = arm(name);
        let n = a.model.dof();
        let mut m = DMatrix::zeros(n, n);
        let (mut worst_pos, mut worst_m) = (0.0f64, 0.0f64);
        for _ in 0..SAMPLES {
            let q = random_q(&a, &mut rng);
            a.sim.set_state(&q, &vec![0.0; n]).unwrap();
            let pose_sim = a.sim.ee_pose();
            let pose_model = a.model.forward_kinematics(&q).unwrap();
            let dp = (pose_sim.translation.vector - pose_model.translation.vector).norm();
            let dr = pose_sim.rotation.angle_to(&pose_model.rotation);
            worst_pos = worst_pos.max(dp);
            assert!(dp < 1e-5 && dr < 1e-5, "{}: q {q:?}: ee differs by {dp} m, {dr} rad", a.name);

            a.model.mass_matrix(&q, &mut m).unwrap();
            let m_sim = a.sim.mass_matrix(&q).unwrap();
            let m_sim = DMatrix::from_fn(n, n, |r, c| m_sim[r][c]);
            let e = (&m_sim - &m).abs().max() / m.abs().max();
            worst_m = worst_m.max(e);
            assert!(e < 0.01, "{}: q {q:?}: M differs by {:.3} % of its largest entry", a.name, 100.0 * e);
        }
        println!(
            "{}: ee position max difference {:.2e} m; M(q) max entry difference {:.4} % of max entry",
            a.name,
            worst_pos,
            100.0 * worst_m
        );
    }
}
