//! Once running, stepping either executor (learning on, rescales included) allocates nothing.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;
use spikearm::neuro::{
    BuiltNetwork, EnsembleSpec, Executor, FloatExecutor, LoihiExecutor, LoihiParams, NetworkSpec, PesSpec,
};

fn drive(exec: &mut dyn Executor, steps: usize, scale: f64) {
    let (mut out, mut err) = ([0.0; 2], [0.0; 2]);
    for t in 0..steps {
        let x = (t as f64 * 0.001 * std::f64::consts::TAU).sin();
        exec.step(&[x, -x, 0.5], Some(&err), &mut out).unwrap();
        err = [out[0] - scale * x * x, out[1] - scale * x];
    }
}

#[test]
fn stepping_allocates_nothing() {
    let spec = NetworkSpec::new(EnsembleSpec::new(5000, 3, 1), PesSpec::new(2, 1e-3));
    let built = BuiltNetwork::build(&spec).unwrap();
    let mut loihi = LoihiExecutor::new(&built, LoihiParams::default()).unwrap();
    let mut float = FloatExecutor::new(&built);
    for exec in [&mut loihi as &mut dyn Executor, &mut float] {
        drive(exec, 100, 1.0);
        let before = allocations();
        // A jump to large targets forces error and weight rescales while counting.
        drive(exec, 2000, 40.0);
        assert_eq!(allocations() - before, 0, "allocations during steps");
    }
    assert!(loihi.accounting().rescales > 0, "the run should have exercised rescaling");
}
