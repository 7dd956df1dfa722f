//! Gravity and inertia of the simulated arms against hand-derivable values (docs/ARCHITECTURE.md §5) at q = 0 and
//! the planar 3-link arm's closed forms at 20 seeded random poses. (The comparison against the
//! controller's independent URDF model lives in the root `tests/sim_vs_model.rs`.)

mod common;

use common::{Rng, planar, rel_err};
use spikearm_sim::SimParams;

#[test]
fn threelink_gravity_and_mass_matrix_at_zero_match_design() {
    let w = common::threelink(SimParams::default());
    let g = w.holding_torque(&[0.0; 3]).unwrap();
    let expected = [25.506, 8.3385, 1.4715];
    let err = rel_err(&g, &expected);
    println!("3-link g(0) = {g:?}, error {:.4}%", 100.0 * err);
    assert!(err < 0.005, "g(0) = {g:?}");

    let m = w.mass_matrix(&[0.0; 3]).unwrap();
    let expected = [[2.031667, 0.815, 0.165], [0.815, 0.39, 0.09], [0.165, 0.09, 0.03]];
    for (row, exp) in m.iter().zip(&expected) {
        assert!(rel_err(row, exp) < 0.005, "M(0) = {m:?}");
    }
}

#[test]
fn ur5e_gravity_at_zero_matches_design() {
    let w = common::ur5e(SimParams::default());
    let g = w.holding_torque(&[0.0; 6]).unwrap();
    let expected = [0.0, -59.756, -18.439, 0.0, 0.0, 0.0];
    let err = rel_err(&g, &expected);
    println!("UR5e g(0) = {g:?}, error {:.4}% of |g|", 100.0 * err);
    assert!(err < 0.005, "g(0) = {g:?}");
}

#[test]
fn ur5e_flange_at_zero_matches_dh() {
    let w = common::ur5e(SimParams::default());
    let s = w.state();
    let expected = [-0.8172, -0.2329, 0.0628];
    for (a, b) in s.ee_position.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-5, "ee = {:?}", s.ee_position);
    }
}

#[test]
fn threelink_ee_follows_the_planar_forward_kinematics() {
    let mut w = common::threelink(SimParams::default());
    let mut rng = Rng::new(7);
    for _ in 0..20 {
        let q = rng.vec(3, -3.0, 3.0);
        w.set_state(&q, &[0.0; 3]).unwrap();
        let (_, _, tip, _) = planar::geometry(&q);
        let ee = w.state().ee_position;
        assert!(
            (ee[0] - tip[0]).abs() < 1e-5 && ee[1].abs() < 1e-6 && (ee[2] - tip[1]).abs() < 1e-5,
            "q {q:?} ee {ee:?} tip {tip:?}"
        );
        let back = w.q();
        assert!(rel_err(&back, &q) < 1e-6, "q read back {back:?} for {q:?}");
    }
}

#[test]
fn threelink_gravity_at_random_poses_matches_closed_form() {
    let w = common::threelink(SimParams::default());
    let mut rng = Rng::new(42);
    let mut worst: f64 = 0.0;
    for _ in 0..20 {
        let q = rng.vec(3, -3.0, 3.0);
        let g = w.holding_torque(&q).unwrap();
        let err = rel_err(&g, &planar::gravity(&q, 0.0));
        worst = worst.max(err);
        assert!(err < 0.005, "q {q:?}: sim {g:?} vs {:?}", planar::gravity(&q, 0.0));
    }
    println!("3-link gravity, 20 random poses: worst error {:.4}%", 100.0 * worst);
}

#[test]
fn threelink_torque_impulse_accelerations_match_closed_form() {
    let w = common::threelink(SimParams::default());
    let mut rng = Rng::new(4242);
    let mut worst: f64 = 0.0;
    for _ in 0..20 {
        let q = rng.vec(3, -3.0, 3.0);
        let tau = rng.vec(3, -10.0, 10.0);
        let a = w.accelerations_at_rest(&q, &tau).unwrap();
        let m = planar::mass_matrix(&q, 0.0);
        let g = planar::gravity(&q, 0.0);
        let rhs: Vec<f64> = (0..3).map(|i| tau[i] - g[i]).collect();
        let mm = nalgebra::Matrix3::from_fn(|i, j| m[i][j]);
        let expected = mm.try_inverse().unwrap() * nalgebra::Vector3::from_column_slice(&rhs);
        let err = rel_err(&a, expected.as_slice());
        worst = worst.max(err);
        assert!(err < 0.01, "q {q:?} tau {tau:?}: sim {a:?} vs {expected:?}");
    }
    println!("3-link M(q)^-1 (tau - g), 20 random poses: worst error {:.4}%", 100.0 * worst);
}
