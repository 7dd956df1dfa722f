//! Where the end effector is sent during the payload protocol: the circle of fixed targets, seeded random
//! targets, or a continuous figure-8 — so that what is learned is not tuned to one repeated circle.
//! All patterns stay in the world x–z plane through the start end-effector position, within `radius_m` of it
//! (the region the protocol's arms reach from their start poses).

use std::f64::consts::PI;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::circle::Circle;

/// The target pattern of a protocol run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TargetPattern {
    /// `targets` fixed points on the circle, the same every lap (default; DeWolf et al.'s protocol).
    #[default]
    Circle,
    /// `targets` points per lap drawn uniformly from the disc of `radius_m` (x–z plane), new ones every lap,
    /// from a seed: the same seed gives the same sequence, so the reference runs see the same targets.
    Random,
    /// A continuous figure-8 (a 1:2 Lissajous curve of half-width `radius_m`) traced once per lap; the target
    /// moves every step.
    Figure8,
}

/// The targets of one run: a pattern around a centre, stepped by control step.
#[derive(Debug, Clone)]
pub struct TargetSequence {
    pattern: TargetPattern,
    center: [f64; 3],
    radius_m: f64,
    targets: usize,
    reach_steps: usize,
    /// The current lap's targets (circle and random).
    lap: Vec<[f64; 3]>,
    lap_index: usize,
    rng: Xoshiro256PlusPlus,
}

impl TargetSequence {
    /// A sequence of `targets` per lap, `reach_steps` control steps each (≥ 1), around `center` (m).
    pub fn new(
        pattern: TargetPattern,
        center: [f64; 3],
        radius_m: f64,
        targets: usize,
        reach_steps: usize,
        seed: u64,
    ) -> Self {
        let mut s = Self {
            pattern,
            center,
            radius_m,
            targets: targets.max(1),
            reach_steps: reach_steps.max(1),
            lap: Vec::new(),
            lap_index: usize::MAX,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        };
        s.start_lap(0);
        s
    }

    fn start_lap(&mut self, lap: usize) {
        if lap == self.lap_index {
            return;
        }
        self.lap_index = lap;
        self.lap = match self.pattern {
            TargetPattern::Circle | TargetPattern::Figure8 => {
                Circle { center: self.center, radius_m: self.radius_m, targets: self.targets }.lap()
            }
            TargetPattern::Random => (0..self.targets)
                .map(|_| {
                    // Uniform on the disc: radius ∝ √u.
                    let r = self.radius_m * self.rng.random::<f64>().sqrt();
                    let a = 2.0 * PI * self.rng.random::<f64>();
                    [self.center[0] + r * a.cos(), self.center[1], self.center[2] + r * a.sin()]
                })
                .collect(),
        };
    }

    /// The target at control step `k` of lap `lap` (k < targets · reach_steps), m. Laps must be visited in
    /// order (random targets are drawn lap by lap).
    pub fn target(&mut self, lap: usize, k: usize) -> [f64; 3] {
        self.start_lap(lap);
        match self.pattern {
            TargetPattern::Circle | TargetPattern::Random => self.lap[(k / self.reach_steps) % self.targets],
            TargetPattern::Figure8 => {
                let phase = 2.0 * PI * k as f64 / (self.targets * self.reach_steps) as f64;
                let c = self.center;
                [c[0] + self.radius_m * phase.sin(), c[1], c[2] + 0.5 * self.radius_m * (2.0 * phase).sin()]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    #[test]
    fn random_targets_stay_in_the_disc_change_every_lap_and_repeat_with_the_seed() {
        let c = [0.3, -0.1, 0.5];
        let mut a = TargetSequence::new(TargetPattern::Random, c, 0.15, 8, 10, 3);
        let mut b = TargetSequence::new(TargetPattern::Random, c, 0.15, 8, 10, 3);
        let lap0: Vec<_> = (0..80).map(|k| a.target(0, k)).collect();
        let lap1: Vec<_> = (0..80).map(|k| a.target(1, k)).collect();
        assert_ne!(lap0, lap1, "new targets every lap");
        assert_eq!(lap0, (0..80).map(|k| b.target(0, k)).collect::<Vec<_>>(), "same seed, same targets");
        assert!(lap0.iter().chain(&lap1).all(|t| dist(*t, c) <= 0.15 + 1e-12 && t[1] == -0.1));
        assert_eq!(lap0[0], lap0[9], "a target holds for its reach");
    }

    #[test]
    fn figure8_is_continuous_crosses_the_centre_and_closes_each_lap() {
        let c = [0.3, -0.1, 0.5];
        let mut s = TargetSequence::new(TargetPattern::Figure8, c, 0.15, 8, 2000, 0);
        let n = 8 * 2000;
        assert!(dist(s.target(0, 0), c) < 1e-12 && dist(s.target(0, n / 2), c) < 1e-9, "crosses the centre twice");
        let max_step = (1..n).map(|k| dist(s.target(0, k), s.target(0, k - 1))).fold(0.0, f64::max);
        assert!(max_step < 1e-3, "continuous: {max_step} m per step");
        assert!(dist(s.target(0, n - 1), s.target(1, 0)) < 1e-3, "closes the lap");
        let far = (0..n).map(|k| dist(s.target(0, k), c)).fold(0.0, f64::max);
        assert!((far - 0.15).abs() < 1e-3, "half-width {far}");
    }
}
