//! The reference PES task on both executors, side by side: a 100-neuron ensemble learns x² from zero while
//! x = sin 2πt (Nengo defaults, learning rate 1e-4, 10 s, seed 0). Prints RMSE per second and what it cost.
//!
//! `cargo run --release --example pes_reference [-- SEED]`

use spikearm::neuro::offline::run_offline;
use spikearm::neuro::{EnergyTable, EnsembleSpec, ExecutorKind, NetworkSpec, PesSpec, executor_for};

fn main() -> anyhow::Result<()> {
    let seed = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let spec = NetworkSpec::new(EnsembleSpec::new(100, 1, seed), PesSpec::new(1, 1e-4));
    let xs: Vec<Vec<f64>> =
        (1..=10_000).map(|t| vec![(2.0 * std::f64::consts::PI * t as f64 * spec.dt).sin()]).collect();
    let ys: Vec<Vec<f64>> = xs.iter().map(|x| vec![x[0] * x[0]]).collect();
    let mut runs = Vec::new();
    for kind in [ExecutorKind::Float, ExecutorKind::Loihi] {
        let mut exec = executor_for(&spec, kind)?;
        runs.push((kind, run_offline(exec.as_mut(), &xs, &ys, 1000)?));
    }
    println!("RMSE of the learned x² per 1-s window (Nengo 4.1: 0.406 → 0.095; NengoLoihi 1.1: 0.440 → 0.141)");
    println!("{:>6} {:>10} {:>12}", "window", "float", "fixed-point");
    for w in 0..runs[0].1.rmse_per_window.len() {
        println!("{:>6} {:>10.3} {:>12.3}", w + 1, runs[0].1.rmse_per_window[w], runs[1].1.rmse_per_window[w]);
    }
    let table = EnergyTable::default();
    for (kind, run) in &runs {
        let a = &run.accounting;
        let e = a.energy(&table);
        println!(
            "{kind:?}: {} spikes, {} synaptic events, {} weight updates, {} dense MACs; \
             energy estimate {:.2e} J on a Loihi-class core vs {:.2e} J as dense float MACs",
            a.spikes, a.synaptic_events, a.weight_updates, a.dense_macs, e.neuromorphic_j, e.dense_cpu_j
        );
    }
    Ok(())
}
