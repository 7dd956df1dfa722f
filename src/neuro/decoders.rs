//! Regularised least-squares decoders (Nengo's `LstsqL2`), for readouts that start from a known function.

use nalgebra::DMatrix;

use super::build::{BuiltNetwork, STREAM_EVAL_POINTS};
use super::dists::{seeded, uniform_ball};

/// Nengo's default regularisation: noise standard deviation as a fraction of the largest rate.
pub const DEFAULT_REG: f64 = 0.1;

/// Decoders (`output_dims × neurons`, output units per spike/s) that best compute `function` from the
/// ensemble's steady-state rates over Nengo's default evaluation points.
pub fn solve_decoders(built: &BuiltNetwork, function: &dyn Fn(&[f64], &mut [f64])) -> DMatrix<f64> {
    let (n, d, k) = (built.neurons(), built.input_dims(), built.output_dims());
    let m = (500 * d).clamp(750, 2500).max(2 * n);
    let points =
        uniform_ball(&mut seeded(built.spec.ensemble.seed, STREAM_EVAL_POINTS), m, d, built.spec.ensemble.radius);
    let mut a = DMatrix::<f64>::zeros(m, n);
    let mut y = DMatrix::<f64>::zeros(m, k);
    let mut out = vec![0.0; k];
    for (row, x) in points.chunks(d).enumerate() {
        for i in 0..n {
            a[(row, i)] = built.lif.rate(built.current(i, x));
        }
        function(x, &mut out);
        for j in 0..k {
            y[(row, j)] = out[j];
        }
    }
    let sigma = DEFAULT_REG * a.max();
    let mut gram = a.transpose() * &a;
    for i in 0..n {
        gram[(i, i)] += m as f64 * sigma * sigma;
    }
    let rhs = a.transpose() * y;
    let solution = match gram.clone().cholesky() {
        Some(chol) => chol.solve(&rhs),
        // A population that never fires gives a zero Gram matrix plus the ridge: still SPD unless max rate is 0.
        None => DMatrix::zeros(n, k),
    };
    solution.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::spec::{EnsembleSpec, NetworkSpec, PesSpec};

    #[test]
    fn decodes_square_from_rates() {
        let built =
            BuiltNetwork::build(&NetworkSpec::new(EnsembleSpec::new(100, 1, 0), PesSpec::new(1, 1e-4))).unwrap();
        let dec = solve_decoders(&built, &|x, y| y[0] = x[0] * x[0]);
        let mut sq = 0.0;
        for k in 0..=100 {
            let x = -1.0 + 0.02 * k as f64;
            let est: f64 = (0..100).map(|i| dec[(0, i)] * built.lif.rate(built.current(i, &[x]))).sum();
            sq += (est - x * x).powi(2);
        }
        let rmse = (sq / 101.0).sqrt();
        assert!(rmse < 0.05, "static decode rmse {rmse}");
    }
}
