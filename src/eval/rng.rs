//! A small deterministic random number generator and the distributions of the accuracy
//! study. xoshiro256** (Blackman and Vigna, 2018) seeded through SplitMix64, as in the
//! authors' reference code; normals by Box–Muller. No `rand` dependency: the study's numbers
//! must not move when a dependency changes its algorithms, so every step is written here.

/// xoshiro256**: 256 bits of state, period 2^256 − 1.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    /// The second Box–Muller normal, kept for the next call.
    spare: Option<f64>,
}

impl Rng {
    /// A generator seeded from one 64-bit value through SplitMix64 (never all-zero state).
    pub fn new(seed: u64) -> Rng {
        let mut seeder = crate::rng::SplitMix64::new(seed);
        let mut next = || seeder.next_u64();
        Rng {
            s: [next(), next(), next(), next()],
            spare: None,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe under `ln`.
    fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Standard normal by Box–Muller (both outputs used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let r = (-2.0 * self.uniform_open0().ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * self.uniform();
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }

    /// Laplace with scale 1 (variance 2), by inverting the CDF.
    pub fn laplace(&mut self) -> f64 {
        let u = self.uniform() - 0.5;
        let m = (1.0 - 2.0 * u.abs()).max(f64::MIN_POSITIVE);
        -u.signum() * m.ln()
    }

    /// Student's t with `nu` (integer) degrees of freedom: Z / sqrt(χ²_ν / ν), χ²_ν a sum of
    /// ν squared normals.
    pub fn student_t(&mut self, nu: u32) -> f64 {
        let z = self.normal();
        let chi2: f64 = (0..nu.max(1)).map(|_| self.normal().powi(2)).sum();
        z / (chi2 / nu.max(1) as f64).sqrt()
    }
}

/// A synthetic distribution of the accuracy study.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// N(0, 1).
    Normal,
    /// Laplace(0, 1).
    Laplace,
    /// Student's t with ν degrees of freedom.
    StudentT(u32),
    /// Uniform on [−1, 1).
    Uniform,
}

impl Distribution {
    /// The distributions `gridgames eval` runs, in table order.
    pub const ALL: [Distribution; 5] = [
        Distribution::Normal,
        Distribution::Laplace,
        Distribution::StudentT(3),
        Distribution::StudentT(5),
        Distribution::Uniform,
    ];

    /// Name used in tables and CSV (`normal`, `laplace`, `student-t3`, `uniform`).
    pub fn name(&self) -> String {
        match self {
            Distribution::Normal => "normal".to_string(),
            Distribution::Laplace => "laplace".to_string(),
            Distribution::StudentT(nu) => format!("student-t{nu}"),
            Distribution::Uniform => "uniform".to_string(),
        }
    }

    /// Parse a name as written by [`Distribution::name`].
    pub fn from_name(name: &str) -> Option<Distribution> {
        match name {
            "normal" => Some(Distribution::Normal),
            "laplace" => Some(Distribution::Laplace),
            "uniform" => Some(Distribution::Uniform),
            _ => name
                .strip_prefix("student-t")
                .and_then(|nu| nu.parse().ok())
                .filter(|&nu| nu > 0)
                .map(Distribution::StudentT),
        }
    }

    /// One draw.
    pub fn draw(&self, rng: &mut Rng) -> f64 {
        match *self {
            Distribution::Normal => rng.normal(),
            Distribution::Laplace => rng.laplace(),
            Distribution::StudentT(nu) => rng.student_t(nu),
            Distribution::Uniform => 2.0 * rng.uniform() - 1.0,
        }
    }

    /// `n` draws rounded once to f32, from a generator seeded with `seed`.
    pub fn sample_f32(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| self.draw(&mut rng) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_reference_output() {
        // Reference: the authors' xoshiro256starstar.c with state s = {1, 2, 3, 4}; first
        // outputs computed by hand from the update rule: result = rotl(s1 * 5, 7) * 9.
        let mut r = Rng {
            s: [1, 2, 3, 4],
            spare: None,
        };
        assert_eq!(r.next_u64(), 11520);
        assert_eq!(r.next_u64(), 0);
        assert_eq!(r.next_u64(), 1509978240);
        assert_eq!(r.next_u64(), 1215971899390074240);
    }

    #[test]
    fn moments_are_close() {
        let n = 200_000;
        for (d, var) in [
            (Distribution::Normal, 1.0),
            (Distribution::Laplace, 2.0),
            (Distribution::StudentT(5), 5.0 / 3.0),
            (Distribution::Uniform, 1.0 / 3.0),
        ] {
            let x = d.sample_f32(n, 7);
            let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let v = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n as f64;
            assert!(mean.abs() < 0.02, "{d:?} mean {mean}");
            assert!((v / var - 1.0).abs() < 0.05, "{d:?} variance {v} vs {var}");
        }
    }
}
