//! Energy drift of the free swing: an arm released at rest, zero torque, no damping, 10 s at dt = 1 ms,
//! measured as max |E(t) − E(0)| over the peak kinetic energy. Position limits are off: the 3-link swing
//! folds joints past the nominal ±π stops of the URDF within 0.9 s, and an inelastic stop would measure
//! the stop, not the integrator.
//!
//! The bar (≤ 5 % of the peak kinetic energy on both arms) is for the DEFAULT settings, i.e. the RK4
//! integrator. rapier's own multibody step (semi-implicit Euler with a linearly implicit Coriolis term)
//! bleeds energy at a rate proportional to its (sub)step; it is measured here as the anchor.
//! Run with `--nocapture` to see the figures (BENCHMARKS.md, "Plant fidelity").

mod common;

use spikearm_sim::{ArmWorld, Integrator, SimParams};

/// The UR5e from a bent pose where every joint moves under gravity.
const UR5E_BENT: [f64; 6] = [0.3, -0.8, 1.2, -0.6, 0.9, 0.2];

/// Returns (max |E(t) − E(0)|, peak kinetic energy), J, of a 10 s free swing from rest at `q0`.
fn swing(mut w: ArmWorld, q0: &[f64]) -> (f64, f64) {
    w.set_state(q0, &vec![0.0; q0.len()]).unwrap();
    let e0 = w.energy().total();
    let (mut drift, mut peak_ke): (f64, f64) = (0.0, 0.0);
    for _ in 0..10_000 {
        w.step();
        let e = w.energy();
        drift = drift.max((e.total() - e0).abs());
        peak_ke = peak_ke.max(e.kinetic);
    }
    (drift, peak_ke)
}

fn params(integrator: Integrator, substeps: usize) -> SimParams {
    SimParams { integrator, substeps, enforce_position_limits: false, ..SimParams::default() }
}

/// The 3-link arm from horizontal, in % of the peak kinetic energy.
fn free_swing(integrator: Integrator, substeps: usize) -> f64 {
    let (drift, peak) = swing(common::threelink(params(integrator, substeps)), &[0.0; 3]);
    let pct = 100.0 * drift / peak;
    println!(
        "3-link free swing, {integrator:?}, {substeps} substep(s): drift {drift:.5} J of peak KE {peak:.4} J = {pct:.4}%"
    );
    pct
}

#[test]
fn energy_at_rest_is_potential_only() {
    let w = common::threelink(SimParams::default());
    let e = w.energy();
    assert_eq!(e.kinetic, 0.0);
    // Horizontal arm at z = 0: zero potential energy.
    assert!(e.potential.abs() < 1e-6, "{e:?}");
}

#[test]
fn kinetic_energy_matches_half_dq_m_dq() {
    let mut w = common::threelink(SimParams::default());
    let q = [0.3, -0.7, 1.1];
    let dq = [1.5, -2.0, 0.7];
    w.set_state(&q, &dq).unwrap();
    let m = common::planar::mass_matrix(&q, 0.0);
    let ke: f64 = (0..3).flat_map(|i| (0..3).map(move |j| (i, j))).map(|(i, j)| 0.5 * dq[i] * m[i][j] * dq[j]).sum();
    let got = w.energy().kinetic;
    assert!((got - ke).abs() < 1e-5 * ke, "sim {got} vs {ke}");
}

#[test]
fn free_swing_drift_within_five_percent_with_the_rk4_integrator_on_both_arms() {
    let d = SimParams { integrator: Integrator::Rk4, ..SimParams::default() };
    let threelink = free_swing(d.integrator, d.substeps);
    assert!(threelink <= 5.0, "3-link: drift {threelink:.2}% of peak KE");
    for (label, q0) in [("from horizontal (q = 0)", [0.0; 6]), ("from a bent pose", UR5E_BENT)] {
        let (drift, peak) = swing(common::ur5e(params(d.integrator, d.substeps)), &q0);
        let pct = 100.0 * drift / peak;
        println!("UR5e free swing {label}, RK4: drift {drift:.5} J of peak KE {peak:.4} J = {pct:.4}%");
        assert!(pct <= 5.0, "UR5e {label}: drift {pct:.2}% of peak KE");
    }
}

/// The anchor: rapier's own step loses energy in proportion to its substep.
#[test]
fn rapier_step_loses_energy_in_proportion_to_its_substep() {
    let one = free_swing(Integrator::Rapier, 1);
    let eight = free_swing(Integrator::Rapier, 8);
    assert!(one > 2.0 * eight && eight > 0.5, "1 substep {one:.2}%, 8 substeps {eight:.2}%");
    for (label, q0) in [("from horizontal (q = 0)", [0.0; 6]), ("from a bent pose", UR5E_BENT)] {
        let (drift, peak) = swing(common::ur5e(params(Integrator::Rapier, 1)), &q0);
        println!("UR5e free swing {label}, Rapier, 1 substep: drift {:.4}% of peak KE", 100.0 * drift / peak);
    }
}
