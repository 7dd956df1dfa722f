//! Seeded samplers for the distributions a build draws from.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal, Triangular};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The build's random number generator: fast, seedable, the same stream on every platform.
pub type BuildRng = Xoshiro256PlusPlus;

/// A generator seeded from a spec seed and a stream tag, so that adding draws to one stream never shifts another.
pub fn seeded(seed: u64, stream: u64) -> BuildRng {
    BuildRng::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// `count` values uniform in `[low, high)`.
pub fn uniform(rng: &mut BuildRng, count: usize, low: f64, high: f64) -> Vec<f64> {
    (0..count).map(|_| low + (high - low) * rng.random::<f64>()).collect()
}

/// `count` unit vectors uniform on the surface of the `dims`-sphere, row-major (`count * dims`).
pub fn unit_sphere_surface(rng: &mut BuildRng, count: usize, dims: usize) -> Vec<f64> {
    let mut out = vec![0.0; count * dims];
    for row in out.chunks_mut(dims) {
        loop {
            for x in row.iter_mut() {
                *x = rng.sample(StandardNormal);
            }
            let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-12 {
                row.iter_mut().for_each(|x| *x /= norm);
                break;
            }
        }
    }
    out
}

/// `count` points uniform inside the `dims`-ball of the given radius, row-major.
pub fn uniform_ball(rng: &mut BuildRng, count: usize, dims: usize, radius: f64) -> Vec<f64> {
    let mut out = unit_sphere_surface(rng, count, dims);
    for row in out.chunks_mut(dims) {
        let r = radius * rng.random::<f64>().powf(1.0 / dims as f64);
        row.iter_mut().for_each(|x| *x *= r);
    }
    out
}

/// Intercepts for sparse firing: a triangular distribution of firing probability `p` mapped through the
/// inverse CDF of the cosine similarity of two random unit vectors in `cos_dims` dimensions, so that a
/// neuron is active for a fraction `p` of uniformly random points on the sphere.
pub fn sparse_intercepts(rng: &mut BuildRng, count: usize, tri: [f64; 3], cos_dims: usize) -> Vec<f64> {
    let [low, mode, high] = tri;
    let dist = Triangular::new(low, high, mode).expect("validated by EnsembleSpec::validate");
    let table = CosineSimilarityTable::new(cos_dims);
    (0..count).map(|_| table.ppf(1.0 - dist.sample(rng))).collect()
}

/// Tabulated CDF of the cosine similarity between two random unit vectors in `d >= 3` dimensions, whose density
/// is proportional to `(1 - x^2)^((d - 3) / 2)` on [-1, 1].
struct CosineSimilarityTable {
    x: Vec<f64>,
    cdf: Vec<f64>,
}

impl CosineSimilarityTable {
    const POINTS: usize = 8001;

    fn new(d: usize) -> Self {
        let d = d.max(3) as f64;
        let x: Vec<f64> = (0..Self::POINTS).map(|i| -1.0 + 2.0 * i as f64 / (Self::POINTS - 1) as f64).collect();
        let pdf: Vec<f64> = x.iter().map(|x| (1.0 - x * x).max(0.0).powf((d - 3.0) / 2.0)).collect();
        let mut cdf = vec![0.0; Self::POINTS];
        for i in 1..Self::POINTS {
            cdf[i] = cdf[i - 1] + 0.5 * (pdf[i] + pdf[i - 1]) * (x[i] - x[i - 1]);
        }
        let total = cdf[Self::POINTS - 1];
        cdf.iter_mut().for_each(|c| *c /= total);
        CosineSimilarityTable { x, cdf }
    }

    fn ppf(&self, q: f64) -> f64 {
        let i = self.cdf.partition_point(|&c| c < q).clamp(1, Self::POINTS - 1);
        let (c0, c1) = (self.cdf[i - 1], self.cdf[i]);
        let t = if c1 > c0 { (q - c0) / (c1 - c0) } else { 0.0 };
        self.x[i - 1] + t * (self.x[i] - self.x[i - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_similarity_ppf_is_symmetric_and_matches_uniform_in_3d() {
        // In 3-D the cosine similarity is uniform on [-1, 1].
        let t = CosineSimilarityTable::new(3);
        for q in [0.1, 0.25, 0.5, 0.9] {
            assert!((t.ppf(q) - (2.0 * q - 1.0)).abs() < 1e-3);
        }
        let t = CosineSimilarityTable::new(8);
        assert!((t.ppf(0.3) + t.ppf(0.7)).abs() < 1e-3);
        assert!(t.ppf(0.5).abs() < 1e-3);
    }

    #[test]
    fn sparse_intercepts_give_the_asked_firing_probability() {
        // Fraction of random surface points with e·x > c should be ~p for each neuron.
        let mut rng = seeded(1, 0);
        let dims = 4;
        let c = sparse_intercepts(&mut rng, 1, [0.45, 0.45, 0.45 + 1e-9], dims + 2)[0];
        let pts = unit_sphere_surface(&mut rng, 20000, dims + 2);
        let active = pts.chunks(dims + 2).filter(|p| p[0] > c).count() as f64 / 20000.0;
        assert!((active - 0.45).abs() < 0.02, "active fraction {active}");
    }
}
