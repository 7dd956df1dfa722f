//! Input scaling for the adaptive term (abr_control's `scale_inputs`): each input is centred on its mean and
//! divided by its half-range, so the workspace the arm visits fills [−1, 1]; optionally the d scaled inputs
//! are mapped to angles in [0, π] and projected onto the unit hypersphere in d + 1 dimensions, which spreads
//! them evenly over the surface where the ensemble's encoders live.

use super::controller::ControlError;

/// Per-input centring and scale.
#[derive(Debug, Clone, PartialEq)]
pub struct InputScaling {
    means: Vec<f64>,
    half_ranges: Vec<f64>,
    hypersphere: bool,
    clip: bool,
}

impl InputScaling {
    /// Scaling with `means` and `half_ranges` (input units, one per input; half-ranges > 0), projected onto
    /// the hypersphere when `hypersphere` is set.
    pub fn new(means: Vec<f64>, half_ranges: Vec<f64>, hypersphere: bool) -> Result<Self, ControlError> {
        if means.is_empty() || means.len() != half_ranges.len() {
            return Err(ControlError::BadInput(format!(
                "input scaling needs as many means as half-ranges (≥ 1), got {} and {}",
                means.len(),
                half_ranges.len()
            )));
        }
        if means.iter().any(|m| !m.is_finite()) || half_ranges.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(ControlError::BadInput(format!(
                "input scaling means must be finite and half-ranges finite and > 0: {means:?} / {half_ranges:?}"
            )));
        }
        Ok(Self { means, half_ranges, hypersphere, clip: false })
    }

    /// Scaling from the observed extremes of each input: mean = midpoint, half-range = half the span
    /// (at least `min_half_range`).
    pub fn from_extremes(
        min: &[f64],
        max: &[f64],
        min_half_range: f64,
        hypersphere: bool,
    ) -> Result<Self, ControlError> {
        if min.len() != max.len() {
            return Err(ControlError::BadInput("input extremes differ in length".into()));
        }
        let means = min.iter().zip(max).map(|(a, b)| 0.5 * (a + b)).collect();
        let half = min.iter().zip(max).map(|(a, b)| (0.5 * (b - a)).max(min_half_range)).collect();
        Self::new(means, half, hypersphere)
    }

    /// Clips each scaled input to [−1, 1] before the hypersphere (an input beyond its calibrated span then
    /// reads as the edge of the span instead of folding back over the sphere). Off by default.
    pub fn with_clip(mut self, clip: bool) -> Self {
        self.clip = clip;
        self
    }

    /// Whether scaled inputs are clipped to [−1, 1].
    pub fn clip(&self) -> bool {
        self.clip
    }

    /// One input centred, scaled and (when configured) clipped.
    fn scaled(&self, raw: f64, i: usize) -> f64 {
        let x = (raw - self.means[i]) / self.half_ranges[i];
        if self.clip { x.clamp(-1.0, 1.0) } else { x }
    }

    /// Number of raw inputs.
    pub fn inputs(&self) -> usize {
        self.means.len()
    }

    /// Number of scaled outputs (the ensemble's dimensions): d, or d + 1 on the hypersphere.
    pub fn outputs(&self) -> usize {
        self.means.len() + usize::from(self.hypersphere)
    }

    /// Means, input units.
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// Half-ranges, input units.
    pub fn half_ranges(&self) -> &[f64] {
        &self.half_ranges
    }

    /// Whether the output is projected onto the hypersphere.
    pub fn hypersphere(&self) -> bool {
        self.hypersphere
    }

    /// Scales `raw` (length [`inputs`](Self::inputs)) into `out` (length [`outputs`](Self::outputs)).
    /// Allocation-free. Lengths are the caller's contract (checked at construction of the adaptive term).
    pub fn apply(&self, raw: &[f64], out: &mut [f64]) {
        let d = self.means.len();
        if !self.hypersphere {
            for i in 0..d {
                out[i] = self.scaled(raw[i], i);
            }
            return;
        }
        // Angles θ_i = π (x_i/2 + 1/2); y_0 = cos θ_0, y_k = sin θ_0 … sin θ_{k−1} cos θ_k, y_d = ∏ sin θ_i:
        // a point on the unit sphere in d + 1 dimensions.
        let mut sin_prod = 1.0;
        for i in 0..d {
            let x = self.scaled(raw[i], i);
            let theta = std::f64::consts::PI * (0.5 * x + 0.5);
            let (s, c) = theta.sin_cos();
            out[i] = sin_prod * c;
            sin_prod *= s;
        }
        out[d] = sin_prod;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypersphere_outputs_have_unit_norm() {
        let s = InputScaling::new(vec![0.0, 1.0, -1.0], vec![1.0, 0.5, 2.0], true).unwrap();
        let mut out = [0.0; 4];
        for raw in [[0.0, 1.0, -1.0], [0.9, 1.4, 0.5], [-3.0, 0.0, 7.0]] {
            s.apply(&raw, &mut out);
            let n: f64 = out.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-12, "{out:?}");
        }
        // The mean maps to the equator of every angle: θ = π/2.
        s.apply(&[0.0, 1.0, -1.0], &mut out);
        assert!(out[0].abs() < 1e-12 && (out[3] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn plain_scaling_centres_and_divides() {
        let s = InputScaling::from_extremes(&[-1.0, 2.0], &[1.0, 4.0], 1e-3, false).unwrap();
        let mut out = [0.0; 2];
        s.apply(&[1.0, 2.0], &mut out);
        assert_eq!(out, [1.0, -1.0]);
        assert!(InputScaling::new(vec![0.0], vec![0.0], false).is_err());
        let clipped = InputScaling::new(vec![0.0, 0.0], vec![1.0, 1.0], false).unwrap().with_clip(true);
        clipped.apply(&[3.0, -0.5], &mut out);
        assert_eq!(out, [1.0, -0.5]);
    }
}
