//! A small seeded generator for the random cases. Only integer operations and correctly
//! rounded IEEE operations (+, −, ×, ÷, sqrt) are used, so the vectors come out identical on
//! every platform; `ln`/`cos` are avoided because libm results differ between systems.

use crate::rng::SplitMix64;

/// The case generator: [`crate::rng::SplitMix64`] seeded from a label, with the few
/// distributions the catalogue needs.
#[derive(Clone, Debug)]
pub struct Rng {
    inner: SplitMix64,
}

impl Rng {
    /// A generator seeded from a label (FNV-1a of the bytes), so each format's and each
    /// rule's stream stays the same when other formats or rules are added.
    pub fn from_label(label: &str) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng {
            inner: SplitMix64::new(h),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform integer in `0..n` (n > 0); the modulo bias is irrelevant for test inputs.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform f32 in [0, 1): 24 random bits.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform f32 in [-1, 1).
    pub fn symmetric(&mut self) -> f32 {
        2.0 * self.unit() - 1.0
    }

    /// Approximately standard normal: the Irwin–Hall sum of 12 uniforms minus 6.
    pub fn normal(&mut self) -> f32 {
        let mut s = 0f32;
        for _ in 0..12 {
            s += self.unit();
        }
        s - 6.0
    }

    /// Heavy-tailed: a normal divided by the square root of a uniform in (0, 1].
    pub fn heavy(&mut self) -> f32 {
        let u = 1.0 - self.unit();
        self.normal() / u.sqrt()
    }

    /// Log-uniform magnitude with exponent in `lo..=hi`, random sign and mantissa, built from
    /// bits (normal f32 only).
    pub fn log_uniform(&mut self, lo: i32, hi: i32) -> f32 {
        let span = (hi - lo + 1).max(1) as u64;
        let e = lo + self.below(span) as i32;
        let field = (e + 127).clamp(1, 254) as u32;
        let mant = (self.next_u64() & 0x7f_ffff) as u32;
        let sign = (self.next_u64() & 1) as u32;
        f32::from_bits(sign << 31 | field << 23 | mant)
    }
}
