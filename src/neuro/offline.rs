//! Offline learning over recorded data: the loop behind `spikearm neuro learn` and the reference tests.

use serde::Serialize;

use super::{Accounting, Executor, NeuroError};

/// What a run over recorded data produced.
#[derive(Debug, Clone, Serialize)]
pub struct OfflineResult {
    /// RMSE of output vs target in each window (the last window may be shorter), output units.
    pub rmse_per_window: Vec<f64>,
    /// RMSE of the first window.
    pub rmse_first: f64,
    /// RMSE of the last window.
    pub rmse_last: f64,
    /// The learned output, one row per step.
    pub output: Vec<Vec<f64>>,
    /// Operation counts of the run.
    pub accounting: Accounting,
}

/// Steps `exec` over `inputs` (rows of `d`) learning toward `targets` (rows of `k`) with error = output − target,
/// each step's error applied on the next step. RMSE is reported per window of `window_steps`.
pub fn run_offline(
    exec: &mut dyn Executor,
    inputs: &[Vec<f64>],
    targets: &[Vec<f64>],
    window_steps: usize,
) -> Result<OfflineResult, NeuroError> {
    if inputs.len() != targets.len() {
        return Err(NeuroError::Dimension { what: "target rows", expected: inputs.len(), got: targets.len() });
    }
    let k = targets.first().map_or(0, Vec::len);
    let mut error = vec![0.0; k];
    let mut out = vec![0.0; k];
    let mut output = Vec::with_capacity(inputs.len());
    let mut window_sq = Vec::new();
    let (mut sq, mut count) = (0.0, 0usize);
    for (t, (x, y)) in inputs.iter().zip(targets).enumerate() {
        exec.step(x, (t > 0).then_some(&error[..]), &mut out)?;
        for j in 0..k {
            error[j] = out[j] - y[j];
            sq += error[j] * error[j];
        }
        count += k;
        output.push(out.clone());
        if (t + 1) % window_steps.max(1) == 0 || t + 1 == inputs.len() {
            window_sq.push((sq / count.max(1) as f64).sqrt());
            (sq, count) = (0.0, 0);
        }
    }
    Ok(OfflineResult {
        rmse_first: window_sq.first().copied().unwrap_or(f64::NAN),
        rmse_last: window_sq.last().copied().unwrap_or(f64::NAN),
        rmse_per_window: window_sq,
        output,
        accounting: *exec.accounting(),
    })
}
