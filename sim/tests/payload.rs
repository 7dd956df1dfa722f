//! Payloads: a point mass on the `ee` frame adds exactly its gravity torque to the holding torque and
//! its inertia to M(q); removing it restores the arm; changes act from the next step.

mod common;

use common::{Rng, planar, rel_err};
use spikearm_sim::{PayloadSpec, SimParams};

#[test]
fn threelink_payload_adds_its_gravity_and_inertia() {
    let mut w = common::threelink(SimParams::default());
    let mut rng = Rng::new(99);
    let m = 2.5;
    for _ in 0..5 {
        let q = rng.vec(3, -3.0, 3.0);
        w.set_payload(None).unwrap();
        let before = w.holding_torque(&q).unwrap();
        w.set_payload(Some(PayloadSpec::at_ee(m))).unwrap();
        let with = w.holding_torque(&q).unwrap();
        let rise: Vec<f64> = with.iter().zip(&before).map(|(a, b)| a - b).collect();
        let expected: Vec<f64> =
            planar::gravity(&q, m).iter().zip(planar::gravity(&q, 0.0)).map(|(a, b)| a - b).collect();
        let err = rel_err(&rise, &expected);
        println!("q {q:?}: rise {rise:?} expected {expected:?} error {:.4}%", 100.0 * err);
        assert!(err < 0.005);
        let mm = w.mass_matrix(&q).unwrap();
        let exp = planar::mass_matrix(&q, m);
        for (row, e) in mm.iter().zip(&exp) {
            assert!(rel_err(row, e) < 0.005, "M with payload {mm:?} vs {exp:?}");
        }
        w.set_payload(None).unwrap();
        assert_eq!(w.holding_torque(&q).unwrap(), before, "removing the payload restores the arm");
    }
}

#[test]
fn payload_offset_is_in_the_ee_frame() {
    // At q = 0 the 3-link ee frame is aligned with the world: +x offset moves the mass outwards.
    let mut w = common::threelink(SimParams::default());
    let base = w.holding_torque(&[0.0; 3]).unwrap();
    w.set_payload(Some(PayloadSpec { mass_kg: 1.0, offset_m: [0.1, 0.0, 0.0] })).unwrap();
    let with = w.holding_torque(&[0.0; 3]).unwrap();
    let expected = [9.81 * 1.3, 9.81 * 0.8, 9.81 * 0.4];
    for i in 0..3 {
        assert!(((with[i] - base[i]) - expected[i]).abs() < 0.005 * expected[i], "{with:?} - {base:?}");
    }
}

#[test]
fn ur5e_payload_rise_is_the_point_mass_gravity_torque() {
    let mut w = common::ur5e(SimParams::default());
    let mut rng = Rng::new(5);
    let m = 3.0;
    let offset = [0.0, 0.0, 0.05];
    for _ in 0..3 {
        let q = rng.vec(6, -2.5, 2.5);
        let before = w.holding_torque(&q).unwrap();
        w.set_payload(Some(PayloadSpec { mass_kg: m, offset_m: offset })).unwrap();
        let with = w.holding_torque(&q).unwrap();
        w.set_payload(None).unwrap();
        // Expected: τ = J_pᵀ (m g ẑ) with J_p by central differences of the payload point's position.
        let point = |w: &mut spikearm_sim::ArmWorld, q: &[f64]| {
            w.set_state(q, &[0.0; 6]).unwrap();
            let pose = w.ee_pose();
            (pose * nalgebra::Point3::from(offset)).coords
        };
        let h = 1e-4;
        let mut expected = vec![0.0; 6];
        for i in 0..6 {
            let (mut qp, mut qm) = (q.clone(), q.clone());
            qp[i] += h;
            qm[i] -= h;
            let dz = (point(&mut w, &qp).z - point(&mut w, &qm).z) / (2.0 * h);
            expected[i] = m * 9.81 * dz;
        }
        let rise: Vec<f64> = with.iter().zip(&before).map(|(a, b)| a - b).collect();
        let err = rel_err(&rise, &expected);
        println!("q {q:?}: rise {rise:?} expected {expected:?} error {:.4}%", 100.0 * err);
        assert!(err < 0.005);
    }
}

#[test]
fn payload_is_reported_and_acts_from_the_next_step() {
    let mut w = common::threelink(SimParams::default());
    let q = [0.2, 0.3, -0.4];
    w.set_state(&q, &[0.0; 3]).unwrap();
    let hold = w.holding_torque(&q).unwrap();
    w.set_torques(&hold).unwrap();
    for _ in 0..50 {
        w.step();
    }
    assert!(w.dq().iter().all(|v| v.abs() < 1e-3), "held still: {:?}", w.dq());
    assert_eq!(w.payload(), None);
    let p = PayloadSpec::at_ee(1.0);
    w.set_payload(Some(p)).unwrap();
    assert_eq!(w.payload(), Some(p));
    w.step();
    // The arm sags at once: q̈ = −M⁻¹ Δg is tens of rad/s², so q̇ leaves 0 within the one step.
    let speed = w.dq().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(speed > 1e-2, "payload acted on the next step: {:?}", w.dq());
    assert!(w.set_payload(Some(PayloadSpec::at_ee(f64::NAN))).is_err());
    assert!(w.set_payload(Some(PayloadSpec::at_ee(-1.0))).is_err());
    assert_eq!(w.payload(), Some(p), "a refused payload leaves the current one");
}
