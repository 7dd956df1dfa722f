//! The reaching pattern of the payload protocol and of the payload scenarios: targets on a circle in the
//! world x–z plane (the plane the planar arm moves in), counter-clockwise from +x, lap after lap.

use std::f64::consts::PI;

/// `targets` points on a circle of `radius_m` around `center`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    /// Centre (the start end-effector position), base frame, m.
    pub center: [f64; 3],
    /// Radius, m.
    pub radius_m: f64,
    /// Targets per lap (≥ 1).
    pub targets: usize,
}

impl Circle {
    /// The `k`-th target (k counts on past the first lap), m.
    pub fn target(&self, k: usize) -> [f64; 3] {
        let a = 2.0 * PI * (k % self.targets) as f64 / self.targets as f64;
        let c = self.center;
        [c[0] + self.radius_m * a.cos(), c[1], c[2] + self.radius_m * a.sin()]
    }

    /// The targets of one lap, in order.
    pub fn lap(&self) -> Vec<[f64; 3]> {
        (0..self.targets).map(|k| self.target(k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_lie_on_the_circle_in_the_xz_plane_and_repeat_every_lap() {
        let c = Circle { center: [0.3, -0.1, 0.5], radius_m: 0.15, targets: 8 };
        for k in 0..16 {
            let t = c.target(k);
            let r = ((t[0] - 0.3).powi(2) + (t[2] - 0.5).powi(2)).sqrt();
            assert!((r - 0.15).abs() < 1e-12 && t[1] == -0.1, "{t:?}");
            assert_eq!(t, c.target(k % 8));
        }
        assert!((c.target(0)[0] - 0.45).abs() < 1e-12 && c.target(0)[2] == 0.5, "the first target is on +x");
        assert!((c.target(2)[2] - 0.65).abs() < 1e-12, "a quarter turn counter-clockwise is +z");
    }
}
