//! Small dense helpers on preallocated buffers: the controllers' per-tick algebra without allocation.
//!
//! nalgebra's `Cholesky` on `DMatrix` clones its input; these routines work in place on buffers sized at
//! construction, for the n ≤ ~10 joint counts of an arm.

use nalgebra::DMatrix;

/// Factors the symmetric positive-definite `a` in place into its lower Cholesky factor `L` (`a = L Lᵀ`);
/// the strict upper triangle is left untouched and must be ignored. Returns `false` if `a` is not
/// positive definite (a pivot ≤ `min_pivot`), leaving `a` partly overwritten.
pub(crate) fn cholesky_in_place(a: &mut DMatrix<f64>, min_pivot: f64) -> bool {
    let n = a.nrows();
    for j in 0..n {
        let mut d = a[(j, j)];
        for k in 0..j {
            d -= a[(j, k)] * a[(j, k)];
        }
        if !(d > min_pivot) {
            return false;
        }
        let d = d.sqrt();
        a[(j, j)] = d;
        for i in (j + 1)..n {
            let mut s = a[(i, j)];
            for k in 0..j {
                s -= a[(i, k)] * a[(j, k)];
            }
            a[(i, j)] = s / d;
        }
    }
    true
}

/// Solves `L Lᵀ x = b` in place (`b` becomes `x`) with the factor from [`cholesky_in_place`].
pub(crate) fn cholesky_solve_in_place(l: &DMatrix<f64>, b: &mut [f64]) {
    let n = l.nrows();
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[(i, k)] * b[k];
        }
        b[i] = s / l[(i, i)];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in (i + 1)..n {
            s -= l[(k, i)] * b[k];
        }
        b[i] = s / l[(i, i)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_spd_system() {
        let a = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0]);
        let x = [1.0, -2.0, 0.5];
        let b: Vec<f64> = (0..3).map(|i| (0..3).map(|k| a[(i, k)] * x[k]).sum()).collect();
        let mut l = a.clone();
        assert!(cholesky_in_place(&mut l, 0.0));
        let mut y = b.clone();
        cholesky_solve_in_place(&l, &mut y);
        for i in 0..3 {
            assert!((y[i] - x[i]).abs() < 1e-12);
        }
    }

    #[test]
    fn refuses_an_indefinite_matrix() {
        let mut a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(!cholesky_in_place(&mut a, 0.0));
    }
}
