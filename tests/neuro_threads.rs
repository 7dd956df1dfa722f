//! The fixed-point core split over threads gives the same bits as on one thread: outputs, spike counts,
//! learned weights and operation counts of multi-tile networks with learning on, for 1, 2 and 3 threads.

use spikearm::neuro::{BuiltNetwork, EnsembleSpec, Executor, LoihiExecutor, LoihiParams, NetworkSpec, PesSpec};

/// Everything observable of a run.
#[derive(Debug, PartialEq)]
struct Record {
    outputs: Vec<u64>,
    spikes: Vec<usize>,
    weights: Vec<u64>,
    accounting: String,
}

/// Runs `steps` steps of a `d`-input, `k`-output network of `n` neurons on `threads` threads. Targets jump
/// halfway (forcing error and weight rescales), learning pauses for a stretch, inputs exceed the radius at times.
fn run(params: LoihiParams, n: usize, d: usize, k: usize, threads: usize, steps: usize) -> Record {
    let spec = NetworkSpec::new(EnsembleSpec::new(n, d, 5), PesSpec::new(k, 1e-3));
    let built = BuiltNetwork::build(&spec).unwrap();
    // Parts of at least 16 384 neurons: half the default minimum, so this 50k-neuron network still splits.
    let params = LoihiParams { threads, thread_min_neurons: 16 * 1024, ..params };
    let mut exec = LoihiExecutor::new(&built, params).unwrap();
    assert_eq!(exec.threads(), threads, "n = {n} should run on the {threads} threads asked for");
    let (mut input, mut out, mut err) = (vec![0.0; d], vec![0.0; k], vec![0.0; k]);
    let mut rec = Record { outputs: Vec::new(), spikes: Vec::new(), weights: Vec::new(), accounting: String::new() };
    for t in 0..steps {
        let phase = t as f64 * 0.004 * std::f64::consts::TAU;
        for (j, x) in input.iter_mut().enumerate() {
            *x = 1.2 * (phase * (1.0 + 0.1 * j as f64) + j as f64).sin();
        }
        exec.set_learning(!(steps / 3..steps / 3 + 21).contains(&t));
        exec.step(&input, Some(&err), &mut out).unwrap();
        let scale = if t < steps / 2 { 1.0 } else { 30.0 };
        for (j, e) in err.iter_mut().enumerate() {
            *e = out[j] - scale * input[j % d] * input[(j + 1) % d];
        }
        rec.outputs.extend(out.iter().map(|o| o.to_bits()));
        rec.spikes.push(exec.last_spike_count());
    }
    rec.weights = exec.export_weights().decoders.iter().map(|w| w.to_bits()).collect();
    assert!(exec.accounting().rescales > 0, "the run should exercise the automatic scaling");
    rec.accounting = format!("{:?}", exec.accounting());
    rec
}

/// Three parts of at least 16 384 neurons, and a last tile that ends part-way through a random draw's neurons.
const N: usize = 3 * 16 * 1024 + 517;

#[test]
fn loihi1_is_bit_identical_on_one_two_and_three_threads() {
    let one = run(LoihiParams::default(), N, 3, 2, 1, 160);
    assert!(one.weights.iter().any(|&w| f64::from_bits(w) != 0.0), "the readout should have learned");
    for threads in [2, 3] {
        assert!(run(LoihiParams::default(), N, 3, 2, threads, 160) == one, "{threads} threads differ from one");
    }
}

#[test]
fn a_one_dimensional_readout_with_packed_biases_is_bit_identical_on_one_and_two_threads() {
    // One output: the compartment loop delivers the spikes itself. Over 2^16 neurons: the biases stay packed.
    let n = (1 << 16) + 3 * 1024 + 77;
    let one = run(LoihiParams::default(), n, 1, 1, 1, 60);
    assert!(run(LoihiParams::default(), n, 1, 1, 2, 60) == one, "2 threads differ from one");
}

#[test]
fn loihi2_is_bit_identical_on_one_and_three_threads() {
    let one = run(LoihiParams::loihi2(), N, 2, 3, 1, 120);
    assert!(run(LoihiParams::loihi2(), N, 2, 3, 3, 120) == one, "3 threads differ from one");
}

#[test]
fn small_networks_stay_on_one_thread() {
    let spec = NetworkSpec::new(EnsembleSpec::new(10_000, 1, 0), PesSpec::new(1, 1e-4));
    let built = BuiltNetwork::build(&spec).unwrap();
    let exec = LoihiExecutor::new(&built, LoihiParams { threads: 0, ..LoihiParams::default() }).unwrap();
    assert_eq!(exec.threads(), 1, "ten tiles are too few to share");
    let spec = NetworkSpec::new(EnsembleSpec::new(N, 1, 0), PesSpec::new(1, 1e-4));
    let built = BuiltNetwork::build(&spec).unwrap();
    let exec = LoihiExecutor::new(&built, LoihiParams { threads: 2, ..LoihiParams::default() }).unwrap();
    assert_eq!(exec.threads(), 1, "50k neurons are under twice the default minimum per thread");
}
