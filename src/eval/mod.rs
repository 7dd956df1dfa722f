//! Closed-loop evaluation: a controller and the simulated arm stepped together without the bus, the payload
//! protocol (targets on a circle, a payload the controller is not told of, the error of every lap), and the
//! metrics both `spikearm eval` and `spikearm launch` report — one target circle, one normalised error.

pub mod circle;
pub mod closed_loop;
pub mod metrics;
pub mod payload_eval;
pub mod payload_protocol;
pub mod targets;
