//! The emulated neuromorphic core: describe → build → discretize → execute. No I/O, no async.
//!
//! - [`spec`]: inert descriptions ([`NetworkSpec`]: an ensemble and a PES-learned readout).
//! - [`build`]: gains, biases, encoders drawn from the seed ([`BuiltNetwork`]); [`decoders`] solves readouts.
//! - [`FloatExecutor`]: Nengo's float semantics, the oracle.
//! - [`loihi`]: the fixed-point core the controller runs on ([`LoihiExecutor`]).
//!
//! Both executors implement [`Executor`]: `step(input, error) -> output`, allocation-free.

pub mod accounting;
pub mod build;
pub mod decoders;
pub mod dists;
pub mod error;
pub mod executor;
pub mod float_executor;
pub mod lif;
pub mod lmu;
pub mod loihi;
pub mod offline;
pub mod spec;

pub use accounting::{Accounting, EnergyEstimate, EnergyTable};
pub use build::BuiltNetwork;
pub use error::NeuroError;
pub use executor::{Executor, ExecutorKind, LearnedWeights};
pub use float_executor::FloatExecutor;
pub use loihi::{CoreMap, CoreProfile, LoihiExecutor, LoihiParams};
pub use spec::{EnsembleSpec, InterceptSpec, NetworkSpec, PesSpec, RangeSpec};

/// Builds a network and sets it up on the chosen executor (fixed-point with default [`LoihiParams`]).
pub fn executor_for(spec: &NetworkSpec, kind: ExecutorKind) -> Result<Box<dyn Executor>, NeuroError> {
    let built = BuiltNetwork::build(spec)?;
    Ok(match kind {
        ExecutorKind::Float => Box::new(FloatExecutor::new(&built)),
        ExecutorKind::Loihi => Box::new(LoihiExecutor::new(&built, LoihiParams::default())?),
    })
}
