//! Proves the arm model's per-call functions allocate nothing once built.
//!
//! Allocations are counted per thread (`tests/common/counting_alloc.rs`).

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

use nalgebra::DMatrix;
use spikearm::arm::description::ArmSpec;
use spikearm::arm::model::{ArmModel, ArmModelParams, PayloadSpec};

#[test]
fn per_call_model_functions_do_not_allocate() {
    for file in ["threelink.urdf", "ur5e.urdf"] {
        let path = format!("{}/config/arms/{file}", env!("CARGO_MANIFEST_DIR"));
        let spec = ArmSpec::from_urdf_file(path).unwrap();
        let mut model = ArmModel::new(&spec, ArmModelParams::default()).unwrap();
        let n = model.dof();
        model.set_payload(Some(PayloadSpec { mass_kg: 1.5, offset_m: [0.0, 0.0, 0.05] })).unwrap();
        let mut j6 = DMatrix::zeros(6, n);
        let mut j3 = DMatrix::zeros(3, n);
        let mut m = DMatrix::zeros(n, n);
        let (mut g, mut c, mut tau) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut q: Vec<f64> = (0..n).map(|i| 0.3 * i as f64 - 0.5).collect();
        let dq: Vec<f64> = (0..n).map(|i| 0.7 - 0.2 * i as f64).collect();
        let ddq: Vec<f64> = (0..n).map(|i| 1.0 + 0.1 * i as f64).collect();

        let before = allocations();
        let mut checksum = 0.0;
        for step in 0..100 {
            // A new q every other step exercises both the cached and the recomputed kinematics.
            if step % 2 == 0 {
                q[0] += 1e-3;
            }
            let pose = model.forward_kinematics(&q).unwrap();
            checksum += model.ee_position(&q).unwrap().x + pose.translation.z;
            model.jacobian(&q, &mut j6).unwrap();
            model.jacobian(&q, &mut j3).unwrap();
            model.mass_matrix(&q, &mut m).unwrap();
            model.gravity_torque(&q, &mut g).unwrap();
            model.coriolis_torque(&q, &dq, &mut c).unwrap();
            model.inverse_dynamics(&q, &dq, &ddq, &mut tau).unwrap();
            checksum += j6[(0, 0)] + j3[(1, 0)] + m[(0, 0)] + g[0] + c[0] + tau[0];
        }
        let after = allocations();
        assert!(checksum.is_finite());
        assert_eq!(after - before, 0, "{file}: the per-call functions allocated {} times", after - before);
    }
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(allocations() > before, "counting allocator is not active");
    drop(v);
}
