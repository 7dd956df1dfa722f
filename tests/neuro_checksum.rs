//! Pins the fixed-point executor's exact results: a hash of every step's output, spike count, the learned
//! weights and the operation counts over a few hundred steps of 12-D networks with learning on. A restructuring
//! for speed must leave them as they are: if a hash changes, the core's semantics changed.
//!
//! Last re-recorded when the learning's random bits became per tile (`loihi/tile_rng.rs`) and tiles grew to 2048
//! neurons: the stochastic rounding draws xorshift32 numbers as before, assigned to neurons differently (and a
//! weight now compares all 32 bits of its number, where it took the top 24), so the learned results differ in
//! their rounding noise only.

use spikearm::neuro::{BuiltNetwork, EnsembleSpec, Executor, LoihiExecutor, LoihiParams, NetworkSpec, PesSpec};

/// FNV-1a over 64-bit words.
struct Fnv(u64);

impl Fnv {
    fn word(&mut self, w: u64) {
        for b in w.to_le_bytes() {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// Runs `steps` steps of a `d`-input, `k`-output network of `n` neurons and hashes everything observable.
/// Targets jump by `jump` halfway through (forcing error and weight rescales); learning is off for a stretch
/// and inputs exceed the radius at times, so every path of the step is exercised.
fn run_hash(n: usize, d: usize, k: usize, lr: f64, seed: u64, steps: usize, jump: f64) -> u64 {
    let (hash, rescales) = run(n, d, k, lr, seed, steps, jump);
    if jump > 1.0 {
        assert!(rescales > 0, "the run should exercise the automatic scaling");
    }
    hash
}

/// The hash and the number of rescales of one run.
fn run(n: usize, d: usize, k: usize, lr: f64, seed: u64, steps: usize, jump: f64) -> (u64, u64) {
    let spec = NetworkSpec::new(EnsembleSpec::new(n, d, seed), PesSpec::new(k, lr));
    let built = BuiltNetwork::build(&spec).unwrap();
    let mut exec = LoihiExecutor::new(&built, LoihiParams::default()).unwrap();
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    let (mut input, mut out, mut err) = (vec![0.0; d], vec![0.0; k], vec![0.0; k]);
    for t in 0..steps {
        let phase = t as f64 * 0.003 * std::f64::consts::TAU;
        for (j, x) in input.iter_mut().enumerate() {
            *x = 1.2 * (phase * (1.0 + 0.1 * j as f64) + j as f64).sin();
        }
        exec.set_learning(!(steps / 3..steps / 3 + 37).contains(&t));
        exec.step(&input, Some(&err), &mut out).unwrap();
        let scale = if t < steps / 2 { 1.0 } else { jump };
        for (j, e) in err.iter_mut().enumerate() {
            *e = out[j] - scale * input[j % d] * input[(j + 1) % d];
        }
        out.iter().for_each(|o| h.word(o.to_bits()));
        h.word(exec.last_spike_count() as u64);
    }
    exec.export_weights().decoders.iter().for_each(|w| h.word(w.to_bits()));
    for b in format!("{:?}", exec.accounting()).bytes() {
        h.word(b as u64);
    }
    (h.0, exec.accounting().rescales)
}

#[test]
fn twelve_d_two_outputs_small_network_is_pinned() {
    assert_eq!(run_hash(1003, 12, 2, 1e-3, 7, 600, 30.0), 8515110622713776028);
}

#[test]
fn twelve_d_several_readout_cores_is_pinned() {
    assert_eq!(run_hash(10_007, 12, 1, 1e-4, 3, 300, 20.0), 9013049178656118135);
}

#[test]
fn three_d_three_outputs_is_pinned() {
    assert_eq!(run_hash(5000, 3, 3, 1e-3, 11, 500, 40.0), 6107616019386604430);
}

#[test]
fn one_d_one_output_is_pinned() {
    assert_eq!(run_hash(2048, 1, 1, 1e-4, 0, 400, 1.0), 7794198935135105578);
}
