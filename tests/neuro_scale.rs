//! Learned readouts larger than one core (NengoLoihi refuses more than 4096 presynaptic neurons).

use spikearm::neuro::offline::run_offline;
use spikearm::neuro::{BuiltNetwork, EnsembleSpec, Executor, LoihiExecutor, LoihiParams, NetworkSpec, PesSpec};

fn learns_at(neurons: usize, seconds: f64) {
    let spec = NetworkSpec::new(EnsembleSpec::new(neurons, 1, 0), PesSpec::new(1, 1e-4));
    let built = BuiltNetwork::build(&spec).unwrap();
    let mut exec = LoihiExecutor::new(&built, LoihiParams::default()).unwrap();
    let map = exec.core_map().clone();
    assert!(map.readout_groups() >= neurons / 4096, "{neurons} neurons should need several readout cores");
    for c in &map.cores {
        assert!(c.compartments <= 1024 && c.input_axons <= 4096 && c.output_axons <= 4096);
    }
    let steps = (seconds * 1000.0) as usize;
    // Constant input, constant target: the readout must move from 0 toward 0.5.
    let xs = vec![vec![0.3]; steps];
    let ys = vec![vec![0.5]; steps];
    let run = run_offline(&mut exec, &xs, &ys, steps / 4).unwrap();
    eprintln!("{neurons} neurons on {} cores: RMSE per quarter {:?}", map.cores.len(), run.rmse_per_window);
    assert!(run.rmse_last < 0.5 * run.rmse_first, "{neurons}: no learning: {:?}", run.rmse_per_window);
    assert!(exec.accounting().weight_updates > 0);
}

#[test]
fn ten_thousand_neuron_readout_builds_and_learns() {
    learns_at(10_000, 1.0);
}

#[test]
fn hundred_thousand_neuron_readout_builds_and_learns() {
    learns_at(100_000, 1.0);
}
