//! The memory of a Legendre Memory Unit (Voelker, Kajić & Eliasmith, NeurIPS 2019): `order` state variables
//! `m` that hold the last `theta` seconds of a scalar signal `u` as the coefficients of shifted Legendre
//! polynomials over that window,
//!
//! ```text
//! θ ṁ = A m + B u,   Aᵢⱼ = (2i+1) · (−1 if i < j, else (−1)^(i−j+1)),   Bᵢ = (2i+1) (−1)^i
//! u(t − r θ) ≈ Σᵢ P̃ᵢ(r) mᵢ(t)   for r ∈ [0, 1]   (P̃ᵢ: the shifted Legendre polynomial of degree i)
//! ```
//!
//! so any linear function of the window — a delay, a derivative, an average — is a fixed readout of `m`.
//! The system is discretised by zero-order hold (exact for an input held over each step) and run as
//! [`FixedLmu`] in the core's fixed-point arithmetic — integer state and weights, 64-bit accumulation,
//! round-half-up shifts, as the compartments are — with [`FloatLmu`] as its float oracle. The memory is a
//! linear system of non-spiking units: no spiking neurons are involved, and its weights are wider (20
//! fractional bits) than Loihi 1's 8-bit synapses, which could not hold a matrix this close to the identity.

use nalgebra::{DMatrix, DVector};

use super::NeuroError;

/// An LMU memory: its order, window and time step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmuSpec {
    /// State variables (the degree of the Legendre approximation plus one), 1–16.
    pub order: usize,
    /// The window it remembers, s.
    pub theta_s: f64,
    /// The step, s.
    pub dt_s: f64,
}

impl LmuSpec {
    fn validate(&self) -> Result<(), NeuroError> {
        let ok = (1..=16).contains(&self.order)
            && self.theta_s.is_finite()
            && self.dt_s.is_finite()
            && self.dt_s > 0.0
            && self.theta_s >= self.dt_s;
        if ok {
            Ok(())
        } else {
            Err(NeuroError::InvalidSpec(format!("LMU: order 1–16 and theta_s ≥ dt_s > 0 required, got {self:?}")))
        }
    }

    /// The continuous system `(A, B)` (in units of 1/θ).
    fn continuous(&self) -> (DMatrix<f64>, DVector<f64>) {
        let q = self.order;
        let a = DMatrix::from_fn(q, q, |i, j| {
            let s = if i < j {
                -1.0
            } else if (i - j + 1) % 2 == 0 {
                1.0
            } else {
                -1.0
            };
            (2 * i + 1) as f64 * s
        });
        let b = DVector::from_fn(q, |i, _| (2 * i + 1) as f64 * if i % 2 == 0 { 1.0 } else { -1.0 });
        (a, b)
    }

    /// The zero-order-hold discretisation: `m ← Ā m + B̄ u`, from the exponential of the augmented matrix
    /// `[[A, B], [0, 0]] · dt/θ`.
    pub fn discrete(&self) -> Result<(DMatrix<f64>, DVector<f64>), NeuroError> {
        self.validate()?;
        let q = self.order;
        let (a, b) = self.continuous();
        let mut aug = DMatrix::zeros(q + 1, q + 1);
        aug.view_mut((0, 0), (q, q)).copy_from(&a);
        aug.view_mut((0, q), (q, 1)).copy_from(&b);
        let e = (aug * (self.dt_s / self.theta_s)).exp();
        Ok((e.view((0, 0), (q, q)).into_owned(), e.view((0, q), (q, 1)).column(0).into_owned()))
    }
}

/// `P̃ᵢ(r)` for i < `order`: the readout of `u(t − r θ)` from the memory.
pub fn delay_readout(order: usize, r: f64) -> Vec<f64> {
    // Shifted Legendre by the recurrence on x = 2r − 1: (n+1) Pₙ₊₁ = (2n+1) x Pₙ − n Pₙ₋₁.
    let x = 2.0 * r - 1.0;
    let mut p = vec![0.0; order];
    for i in 0..order {
        p[i] = match i {
            0 => 1.0,
            1 => x,
            n => ((2 * n - 1) as f64 * x * p[n - 1] - (n - 1) as f64 * p[n - 2]) / n as f64,
        };
    }
    p
}

/// The readout of `du/dt` at `r θ` seconds ago, 1/s: `−(1/θ) d/dr Σ P̃ᵢ(r) mᵢ`, since `u(t − rθ)` runs back in
/// time as r grows. `P̃ᵢ'(r) = 2 Pᵢ'(x)` at x = 2r − 1, from `(x² − 1) Pₙ' = n (x Pₙ − Pₙ₋₁)` (and
/// `Pₙ'(±1) = (±1)^(n+1) n(n+1)/2` at the ends).
pub fn derivative_readout(order: usize, theta_s: f64, r: f64) -> Vec<f64> {
    let x = 2.0 * r - 1.0;
    let p = delay_readout(order, r);
    (0..order)
        .map(|n| {
            let dp = if n == 0 {
                0.0
            } else if (x * x - 1.0).abs() < 1e-12 {
                let sign = if x > 0.0 || n % 2 == 1 { 1.0 } else { -1.0 };
                sign * (n * (n + 1)) as f64 / 2.0
            } else {
                n as f64 * (x * p[n] - p[n - 1]) / (x * x - 1.0)
            };
            -2.0 * dp / theta_s
        })
        .collect()
}

/// The float oracle of [`FixedLmu`].
#[derive(Debug, Clone)]
pub struct FloatLmu {
    a: DMatrix<f64>,
    b: DVector<f64>,
    m: DVector<f64>,
    next: DVector<f64>,
}

impl FloatLmu {
    /// A memory of `spec`, empty (all zero).
    pub fn new(spec: &LmuSpec) -> Result<Self, NeuroError> {
        let (a, b) = spec.discrete()?;
        let q = spec.order;
        Ok(Self { a, b, m: DVector::zeros(q), next: DVector::zeros(q) })
    }

    /// One step with input `u`.
    pub fn step(&mut self, u: f64) {
        self.next.gemv(1.0, &self.a, &self.m, 0.0);
        self.next.axpy(u, &self.b, 1.0);
        std::mem::swap(&mut self.m, &mut self.next);
    }

    /// The memory, `order` values in the input's units.
    pub fn memory(&self) -> &[f64] {
        self.m.as_slice()
    }
}

/// Fractional bits of the fixed-point memory state and input (16.16 in an i32: ±32 768 input units).
pub const STATE_FRAC_BITS: u32 = 16;
/// Fractional bits of the fixed-point weights Ā and B̄.
pub const WEIGHT_FRAC_BITS: u32 = 20;

/// The memory in fixed point: i32 state (16 fractional bits), i32 weights (20 fractional bits), i64
/// accumulation, round half up. Allocation-free per step.
#[derive(Debug, Clone)]
pub struct FixedLmu {
    order: usize,
    /// Ā, row-major.
    a: Vec<i32>,
    b: Vec<i32>,
    m: Vec<i32>,
    next: Vec<i32>,
    /// Steps whose input or state had to saturate at the i32 range.
    pub saturations: u64,
}

impl FixedLmu {
    /// A memory of `spec`, empty (all zero); refuses weights that do not fit.
    pub fn new(spec: &LmuSpec) -> Result<Self, NeuroError> {
        let (a, b) = spec.discrete()?;
        let q = spec.order;
        let scale = f64::from(1u32 << WEIGHT_FRAC_BITS);
        let fix = |x: f64| -> Result<i32, NeuroError> {
            let v = (x * scale).round();
            if v.abs() < f64::from(i32::MAX) {
                Ok(v as i32)
            } else {
                Err(NeuroError::InvalidSpec(format!("LMU weight {x} does not fit 11.20 fixed point: a shorter dt/θ")))
            }
        };
        let mut aw = Vec::with_capacity(q * q);
        for i in 0..q {
            for j in 0..q {
                aw.push(fix(a[(i, j)])?);
            }
        }
        let bw = b.iter().map(|&x| fix(x)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { order: q, a: aw, b: bw, m: vec![0; q], next: vec![0; q], saturations: 0 })
    }

    /// One step with input `u` (quantised to 16 fractional bits; NaN counts as 0 and as a saturation).
    pub fn step(&mut self, u: f64) {
        let (ux, saturated) = to_fixed(u);
        self.saturations += u64::from(saturated);
        let half = 1i64 << (WEIGHT_FRAC_BITS - 1);
        let q = self.order;
        for i in 0..q {
            let row = &self.a[i * q..(i + 1) * q];
            let mut acc = i64::from(self.b[i]) * i64::from(ux);
            for (w, x) in row.iter().zip(&self.m) {
                acc += i64::from(*w) * i64::from(*x);
            }
            let v = (acc + half) >> WEIGHT_FRAC_BITS;
            self.next[i] = v.clamp(-i64::from(i32::MAX), i64::from(i32::MAX)) as i32;
            if v.abs() > i64::from(i32::MAX) {
                self.saturations += 1;
            }
        }
        std::mem::swap(&mut self.m, &mut self.next);
    }

    /// Sets the memory to that of an input held at `u` for a whole window (`m = u e₀`): a restart that does
    /// not read a jump from zero.
    pub fn fill(&mut self, u: f64) {
        self.m.fill(0);
        self.m[0] = to_fixed(u).0;
    }

    /// The memory in the input's units.
    pub fn memory_into(&self, out: &mut [f64]) {
        for (o, &x) in out.iter_mut().zip(&self.m) {
            *o = from_fixed(x);
        }
    }

    /// `Σ wᵢ mᵢ` for a readout `w` (e.g. [`delay_readout`], [`derivative_readout`]), in the input's units.
    pub fn read(&self, w: &[f64]) -> f64 {
        w.iter().zip(&self.m).map(|(w, &x)| w * from_fixed(x)).sum()
    }
}

/// `x` with [`STATE_FRAC_BITS`] fractional bits, rounded, saturated to ±`i32::MAX` (NaN: 0); and whether it
/// had to be saturated.
fn to_fixed(x: f64) -> (i32, bool) {
    let scaled = (x * f64::from(1u32 << STATE_FRAC_BITS)).round();
    if scaled.is_nan() {
        (0, true)
    } else if scaled.abs() >= f64::from(i32::MAX) {
        (if scaled > 0.0 { i32::MAX } else { -i32::MAX }, true)
    } else {
        (scaled as i32, false)
    }
}

/// A fixed-point state value in the input's units.
fn from_fixed(x: i32) -> f64 {
    f64::from(x) / f64::from(1u32 << STATE_FRAC_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A band-limited test signal (well inside the window's bandwidth) and its derivative.
    fn signal(t: f64) -> (f64, f64) {
        let parts = [(0.7, 1.3, 0.2), (0.4, 3.1, 1.1), (0.25, 5.3, 2.0)];
        let u = parts.iter().map(|(a, f, p)| a * (std::f64::consts::TAU * f * t + p).sin()).sum();
        let du = parts
            .iter()
            .map(|(a, f, p)| a * std::f64::consts::TAU * f * (std::f64::consts::TAU * f * t + p).cos())
            .sum();
        (u, du)
    }

    fn rms(x: &[f64]) -> f64 {
        (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// The memory holds the window: the delay readout at r = 1 gives u(t − θ), checked against the analytic
    /// delayed signal, in float and in fixed point (which agree to quantisation).
    #[test]
    fn the_memory_delays_a_signal_by_its_window() {
        let spec = LmuSpec { order: 6, theta_s: 0.1, dt_s: 0.001 };
        let (mut f, mut x) = (FloatLmu::new(&spec).unwrap(), FixedLmu::new(&spec).unwrap());
        let w = delay_readout(6, 1.0);
        let (mut ef, mut ex, mut truth, mut gap) = (vec![], vec![], vec![], 0.0f64);
        for k in 0..3000 {
            let t = k as f64 * spec.dt_s;
            let (u, _) = signal(t);
            f.step(u);
            x.step(u);
            if t > 0.5 {
                // After step k the memory holds u up to time t (input held over the step).
                let delayed = signal(t - spec.theta_s).0;
                let yf: f64 = w.iter().zip(f.memory()).map(|(a, b)| a * b).sum();
                let yx = x.read(&w);
                ef.push(yf - delayed);
                ex.push(yx - delayed);
                truth.push(delayed);
                gap = gap.max((yf - yx).abs());
            }
        }
        let (nf, nx) = (rms(&ef) / rms(&truth), rms(&ex) / rms(&truth));
        assert!(nf < 0.05 && nx < 0.05, "normalised delay error: float {nf:.4}, fixed {nx:.4}");
        assert!(gap < 1e-3, "fixed point departs from float by {gap}");
        assert_eq!(x.saturations, 0);
    }

    /// The derivative readout estimates du/dt from the window.
    #[test]
    fn the_derivative_readout_follows_the_derivative() {
        let spec = LmuSpec { order: 4, theta_s: 0.03, dt_s: 0.001 };
        let mut x = FixedLmu::new(&spec).unwrap();
        let w = derivative_readout(4, spec.theta_s, 0.0);
        let (mut e, mut truth) = (vec![], vec![]);
        for k in 0..2000 {
            let t = k as f64 * spec.dt_s;
            x.step(signal(t).0);
            if t > 0.2 {
                let d = signal(t).1;
                e.push(x.read(&w) - d);
                truth.push(d);
            }
        }
        let n = rms(&e) / rms(&truth);
        assert!(n < 0.1, "normalised derivative error {n:.4}");
    }

    /// The derivative readout anywhere in the window equals the finite difference of the delay readout.
    #[test]
    fn the_derivative_readout_is_the_slope_of_the_delay_readout() {
        let (q, theta) = (5, 0.04);
        let m = [0.3, -1.2, 0.7, 0.25, -0.4];
        let at = |r: f64| delay_readout(q, r).iter().zip(&m).map(|(a, b)| a * b).sum::<f64>();
        for r in [0.0, 0.0125, 0.3, 0.5, 0.9, 1.0] {
            let d: f64 = derivative_readout(q, theta, r).iter().zip(&m).map(|(a, b)| a * b).sum();
            let h = 1e-6;
            let (lo, hi) = ((r - h).max(0.0), (r + h).min(1.0));
            let fd = -(at(hi) - at(lo)) / ((hi - lo) * theta);
            assert!((d - fd).abs() < 1e-4 * fd.abs().max(1.0), "r {r}: readout {d}, slope {fd}");
        }
    }

    #[test]
    fn bad_specs_and_inputs_are_refused_or_counted() {
        assert!(FixedLmu::new(&LmuSpec { order: 0, theta_s: 0.1, dt_s: 0.001 }).is_err());
        assert!(FixedLmu::new(&LmuSpec { order: 4, theta_s: 0.0005, dt_s: 0.001 }).is_err());
        assert!(FloatLmu::new(&LmuSpec { order: 4, theta_s: f64::NAN, dt_s: 0.001 }).is_err());
        let mut x = FixedLmu::new(&LmuSpec { order: 3, theta_s: 0.05, dt_s: 0.001 }).unwrap();
        x.step(f64::NAN);
        x.step(1e9);
        assert_eq!(x.saturations, 2);
    }
}
