//! Shared helpers for the sim tests: the two arms, a seeded generator, the 3-link analytic model.
#![allow(dead_code)]

use spikearm_sim::{ArmWorld, SimParams};

pub const THREELINK: &str = include_str!("../../../config/arms/threelink.urdf");
pub const UR5E: &str = include_str!("../../../config/arms/ur5e.urdf");
pub const G: f64 = 9.81;

pub fn threelink(params: SimParams) -> ArmWorld {
    ArmWorld::from_urdf_str(THREELINK, params).expect("threelink.urdf loads")
}

pub fn ur5e(params: SimParams) -> ArmWorld {
    ArmWorld::from_urdf_str(UR5E, params).expect("ur5e.urdf loads")
}

/// xorshift64*: enough for reproducible test poses without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// The planar 3-link arm by hand (arms.md b): rods along +x, axes (0,-1,0), so q > 0 lifts.
pub mod planar {
    pub const L: [f64; 3] = [0.5, 0.4, 0.3];
    pub const M: [f64; 3] = [2.0, 1.5, 1.0];

    /// Joint anchors, link COMs and the tip in the x–z plane, and absolute link angles.
    pub type Geometry = ([[f64; 2]; 3], [[f64; 2]; 3], [f64; 2], [f64; 3]);

    /// See [`Geometry`].
    pub fn geometry(q: &[f64]) -> Geometry {
        let mut anchors = [[0.0; 2]; 3];
        let mut coms = [[0.0; 2]; 3];
        let mut p = [0.0, 0.0];
        let mut th = 0.0;
        let mut abs = [0.0; 3];
        for k in 0..3 {
            th += q[k];
            abs[k] = th;
            anchors[k] = p;
            let (s, c) = th.sin_cos();
            coms[k] = [p[0] + 0.5 * L[k] * c, p[1] + 0.5 * L[k] * s];
            p = [p[0] + L[k] * c, p[1] + L[k] * s];
        }
        (anchors, coms, p, abs)
    }

    /// Holding torque g(q), N·m, optionally with a point mass `m_tip` at the tip.
    pub fn gravity(q: &[f64], m_tip: f64) -> [f64; 3] {
        let (anchors, coms, tip, _) = geometry(q);
        let mut tau = [0.0; 3];
        for i in 0..3 {
            for k in i..3 {
                tau[i] += M[k] * super::G * (coms[k][0] - anchors[i][0]);
            }
            tau[i] += m_tip * super::G * (tip[0] - anchors[i][0]);
        }
        tau
    }

    /// M(q), kg·m², optionally with a point mass at the tip.
    pub fn mass_matrix(q: &[f64], m_tip: f64) -> [[f64; 3]; 3] {
        let (anchors, coms, tip, _) = geometry(q);
        let mut mm = [[0.0; 3]; 3];
        // Velocity of point p from joint i: rotation about -y by q̇ > 0 moves +x towards +z.
        let jv = |p: [f64; 2], i: usize| [-(p[1] - anchors[i][1]), p[0] - anchors[i][0]];
        for k in 0..3 {
            let inertia = M[k] * L[k] * L[k] / 12.0;
            for i in 0..=k {
                for j in 0..=k {
                    let (a, b) = (jv(coms[k], i), jv(coms[k], j));
                    mm[i][j] += M[k] * (a[0] * b[0] + a[1] * b[1]) + inertia;
                }
            }
        }
        for i in 0..3 {
            for j in 0..3 {
                let (a, b) = (jv(tip, i), jv(tip, j));
                mm[i][j] += m_tip * (a[0] * b[0] + a[1] * b[1]);
            }
        }
        mm
    }
}

/// Largest |aᵢ − bᵢ| over the largest |bᵢ|: the error relative to the size of the reference vector
/// (a per-component ratio would explode on components that are zero by symmetry).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale
}
