//! The energy estimate of a 1000-neuron adaptive controller with a 12-D input (the controller's shape: sparse
//! firing intercepts, 12 ms input and training synapses, slow joint-like inputs on the unit sphere): the Loihi 2
//! profile's estimate must stay below the dense float one; the Loihi 1 profile's is printed beside it.

use spikearm::neuro::{
    BuiltNetwork, EnergyTable, EnsembleSpec, Executor, InterceptSpec, LoihiExecutor, LoihiParams, NetworkSpec, PesSpec,
};

/// Runs `steps` steps with learning on and returns (neuromorphic J, dense J, input events, synaptic events).
fn run(params: LoihiParams, steps: usize) -> (f64, f64, u64, u64) {
    let (n, d, k) = (1000, 12, 3);
    let mut ens = EnsembleSpec::new(n, d, 3);
    ens.intercepts = InterceptSpec::SparseFiring { sparse_firing: [0.35, 0.45, 0.55] };
    ens.input_synapse = Some(0.012);
    let mut pes = PesSpec::new(k, 2e-4);
    pes.pre_synapse = 0.012;
    pes.synapse = 0.2;
    let built = BuiltNetwork::build(&NetworkSpec::new(ens, pes)).unwrap();
    let mut exec = LoihiExecutor::new(&built, params).unwrap();
    let (mut x, mut out, mut err) = (vec![0.0; d], vec![0.0; k], vec![0.0; k]);
    for t in 0..steps {
        // Joint-like motion: each input a slow sine (0.2–0.75 Hz), normalised onto the unit sphere.
        let s = t as f64 * 1e-3;
        for (j, xj) in x.iter_mut().enumerate() {
            *xj = (std::f64::consts::TAU * (0.2 + 0.05 * j as f64) * s + j as f64).sin();
        }
        let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-9);
        x.iter_mut().for_each(|v| *v /= norm);
        exec.step(&x, Some(&err), &mut out).unwrap();
        for (kk, e) in err.iter_mut().enumerate() {
            *e = out[kk] - 5.0 * x[kk] * x[kk + 1];
        }
    }
    let a = *exec.accounting();
    let e = a.energy(&EnergyTable::default());
    (e.neuromorphic_j, e.dense_cpu_j, a.input_spikes, a.synaptic_events)
}

#[test]
fn the_loihi2_profile_estimates_less_energy_than_dense_float_for_a_12d_controller() {
    let steps = 2000;
    let (l1, dense1, in1, ev1) = run(LoihiParams::default(), steps);
    let (l2, dense2, in2, ev2) = run(LoihiParams::loihi2(), steps);
    println!(
        "loihi1: neuromorphic {:.2} µJ, dense {:.2} µJ, input events {in1}, synaptic events {ev1}",
        l1 * 1e6,
        dense1 * 1e6
    );
    println!(
        "loihi2: neuromorphic {:.2} µJ, dense {:.2} µJ, input events {in2}, synaptic events {ev2}",
        l2 * 1e6,
        dense2 * 1e6
    );
    assert_eq!(dense1, dense2, "the dense baseline does not depend on the profile");
    assert!(in2 * 4 < in1, "graded send-on-change input should cut input events several-fold: {in2} vs {in1}");
    assert!(l2 < dense2, "loihi2 estimate {l2:e} J should be below dense {dense2:e} J");
}

#[test]
fn both_profiles_learn_the_reference_task_and_loihi2_sends_fewer_input_events() {
    // x = sin 2πt, target x², 300 neurons, lr 3e-4, 4 s: both profiles learn, send-on-change input sends less.
    use spikearm::neuro::offline::run_offline;
    let spec = NetworkSpec::new(EnsembleSpec::new(300, 1, 1), PesSpec::new(1, 3e-4));
    let built = BuiltNetwork::build(&spec).unwrap();
    let xs: Vec<Vec<f64>> = (1..=4000).map(|t| vec![(std::f64::consts::TAU * t as f64 * 1e-3).sin()]).collect();
    let ys: Vec<Vec<f64>> = xs.iter().map(|x| vec![x[0] * x[0]]).collect();
    let mut events = vec![];
    for params in [LoihiParams::default(), LoihiParams::loihi2()] {
        let mut exec = LoihiExecutor::new(&built, params).unwrap();
        let r = run_offline(&mut exec, &xs, &ys, 1000).unwrap();
        assert!(r.rmse_last < 0.5 * r.rmse_first && r.rmse_last < 0.2, "{params:?}: {:?}", r.rmse_per_window);
        events.push(r.accounting.input_spikes);
    }
    assert!(events[1] * 3 < events[0], "input events loihi1 {} vs loihi2 {}", events[0], events[1]);
}
