//! The two floating-point widths the algebras come in, with branch-free
//! `exp` and `ln` that the compiler can vectorise.
//!
//! The standard library's `exp`/`ln` call into libm one element at a time;
//! in the log-probability algebra they are the whole cost of a pass. The
//! versions here are plain arithmetic on the bits (range reduction to
//! `[-ln2/2, ln2/2]` plus a polynomial), so a loop over a batch becomes SIMD
//! code. Accuracy: within a few units in the last place over the ranges the
//! algebras use (checked against `std` in the tests below).

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// `f32` or `f64`.
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + PartialEq
    + PartialOrd
    + Default
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// Below this magnitude a log-sum-exp needs no shift: `exp` of every
    /// term stays finite and the largest term normal.
    const EXP_SAFE: Self;
    const NEG_INFINITY: Self;
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn max(self, other: Self) -> Self;
    fn min(self, other: Self) -> Self;
    /// `e^x`, vectorisable; `exp(-inf) = 0`.
    fn fast_exp(self) -> Self;
    /// `ln x` for `x > 0`, vectorisable; `ln 0 = -inf`.
    fn fast_ln(self) -> Self;
    /// `ln(1 - e^x)` for `x <= 0`, accurate near both ends.
    fn log1mexp(self) -> Self;
    /// [`Float::log1mexp`], branch-free and vectorisable.
    fn fast_log1mexp(self) -> Self;
    fn is_nan(self) -> bool;
    fn mul_add(self, a: Self, b: Self) -> Self;
}

/// `a · b + c`, fused where the target has FMA (one rounding, half the
/// latency of a multiply and an add); plain arithmetic elsewhere, since a
/// software `fma` would be far slower.
#[inline(always)]
fn madd<F: Float>(a: F, b: F, c: F) -> F {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

macro_rules! float_common {
    ($t:ty, $name:expr, $safe:expr) => {
        const ZERO: Self = 0.0;
        const ONE: Self = 1.0;
        const EXP_SAFE: Self = $safe;
        const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
        const NAME: &'static str = $name;
        #[inline(always)]
        fn from_f64(x: f64) -> Self {
            x as $t
        }
        #[inline(always)]
        fn to_f64(self) -> f64 {
            self as f64
        }
        #[inline(always)]
        fn max(self, other: Self) -> Self {
            // Not `f64::max`: this form compiles to one `maxpd` and keeps NaN
            // propagation out of the hot loop (inputs are never NaN).
            if self > other {
                self
            } else {
                other
            }
        }
        #[inline(always)]
        fn min(self, other: Self) -> Self {
            if self < other {
                self
            } else {
                other
            }
        }
        fn log1mexp(self) -> Self {
            if self > -std::f64::consts::LN_2 as $t {
                (-self.exp_m1()).ln()
            } else {
                (-self.exp()).ln_1p()
            }
        }
        #[inline(always)]
        fn is_nan(self) -> bool {
            <$t>::is_nan(self)
        }
        #[inline(always)]
        fn mul_add(self, a: Self, b: Self) -> Self {
            <$t>::mul_add(self, a, b)
        }
    };
}

/// [`Float::fast_log1mexp`] with one `exp` and one `ln`:
/// near 0, `ln(1 − eˣ) = ln(−2 sinh(x/2)) + x/2` with `sinh` as its series;
/// further out, `ln(1 − y)` for `y = eˣ ≤ 1/2`, with the rounding of `1 − y`
/// compensated (the classic `log1p` trick).
macro_rules! fast_log1mexp {
    ($t:ty, $inv_odd_factorials:expr) => {
        #[inline(always)]
        fn fast_log1mexp(self) -> $t {
            let x = self;
            let h = 0.5 * x;
            let h2 = h * h;
            // q = sinh(h) / h = Σ h^(2k) / (2k + 1)!, Horner from the last term.
            let mut q: $t = 0.0;
            for c in $inv_odd_factorials.iter().rev() {
                q = madd(q, h2, *c as $t);
            }
            let y = x.fast_exp();
            let near = x > -std::f64::consts::LN_2 as $t;
            let u = if near { -2.0 * h * q } else { 1.0 - y };
            let l = u.fast_ln();
            if near {
                l + h
            } else {
                l - ((u - 1.0) + y) / u
            }
        }
    };
}

impl Float for f64 {
    float_common!(f64, "f64", 600.0);
    fast_log1mexp!(
        f64,
        [1.0, 1.0 / 6.0, 1.0 / 120.0, 1.0 / 5040.0, 1.0 / 362_880.0, 1.0 / 39_916_800.0, 1.0 / 6_227_020_800.0]
    );

    #[inline(always)]
    fn fast_exp(self) -> f64 {
        const LN2_HI: f64 = 6.931_471_803_691_238e-1;
        const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
        // Adding 1.5·2⁵² rounds to an integer that sits in the low mantissa
        // bits: float ops only, since AVX2 has no f64 ↔ i64 conversion.
        const ROUND: f64 = 6_755_399_441_055_744.0;
        let x = self.clamp(-708.0, 709.0);
        let t = x * std::f64::consts::LOG2_E + ROUND;
        let n = t - ROUND;
        let r = x - n * LN2_HI - n * LN2_LO;
        // Taylor series to degree 13: the remainder on |r| <= ln2/2 is below 1e-17.
        let mut p = 1.0 / 6_227_020_800.0;
        p = madd(p, r, 1.0 / 479_001_600.0);
        p = madd(p, r, 1.0 / 39_916_800.0);
        p = madd(p, r, 1.0 / 3_628_800.0);
        p = madd(p, r, 1.0 / 362_880.0);
        p = madd(p, r, 1.0 / 40_320.0);
        p = madd(p, r, 1.0 / 5_040.0);
        p = madd(p, r, 1.0 / 720.0);
        p = madd(p, r, 1.0 / 120.0);
        p = madd(p, r, 1.0 / 24.0);
        p = madd(p, r, 1.0 / 6.0);
        p = madd(p, r, 0.5);
        p = madd(p, r, 1.0);
        p = madd(p, r, 1.0);
        let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
        let y = p * scale;
        if self < -708.0 {
            0.0
        } else {
            y
        }
    }

    #[inline(always)]
    fn fast_ln(self) -> f64 {
        // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh((m-1)/(m+1)).
        // Subnormals are scaled up first; no branch calls out to libm, so
        // loops over this stay vectorised.
        let tiny = self < f64::MIN_POSITIVE;
        let x = if tiny { self * 18_014_398_509_481_984.0 } else { self }; // 2^54
        let bits = x.to_bits();
        // The exponent field as a float, without an int → float conversion.
        let field = f64::from_bits(0x4330_0000_0000_0000 | ((bits >> 52) & 0x7ff)) - 4_503_599_627_370_496.0;
        let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
        let big = m > std::f64::consts::SQRT_2;
        m = if big { m * 0.5 } else { m };
        let e = field - 1023.0 - if tiny { 54.0 } else { 0.0 } + if big { 1.0 } else { 0.0 };
        let f = (m - 1.0) / (m + 1.0);
        let f2 = f * f;
        let mut p = 1.0 / 23.0;
        p = madd(p, f2, 1.0 / 21.0);
        p = madd(p, f2, 1.0 / 19.0);
        p = madd(p, f2, 1.0 / 17.0);
        p = madd(p, f2, 1.0 / 15.0);
        p = madd(p, f2, 1.0 / 13.0);
        p = madd(p, f2, 1.0 / 11.0);
        p = madd(p, f2, 1.0 / 9.0);
        p = madd(p, f2, 1.0 / 7.0);
        p = madd(p, f2, 1.0 / 5.0);
        p = madd(p, f2, 1.0 / 3.0);
        p = madd(p, f2, 1.0);
        let y = e * std::f64::consts::LN_2 + 2.0 * f * p;
        if self == 0.0 {
            f64::NEG_INFINITY
        } else if self == f64::INFINITY {
            f64::INFINITY
        } else {
            y
        }
    }
}

impl Float for f32 {
    float_common!(f32, "f32", 60.0);
    fast_log1mexp!(f32, [1.0, 1.0 / 6.0, 1.0 / 120.0, 1.0 / 5040.0, 1.0 / 362_880.0]);

    #[inline(always)]
    fn fast_exp(self) -> f32 {
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        const ROUND: f32 = 12_582_912.0; // 1.5·2²³, as for f64
        let x = self.clamp(-87.0, 88.0);
        let t = x * std::f32::consts::LOG2_E + ROUND;
        let n = t - ROUND;
        let r = x - n * LN2_HI - n * LN2_LO;
        // Taylor to degree 7: remainder below 5e-9 on |r| <= ln2/2.
        let mut p = 1.0 / 5040.0;
        p = madd(p, r, 1.0 / 720.0);
        p = madd(p, r, 1.0 / 120.0);
        p = madd(p, r, 1.0 / 24.0);
        p = madd(p, r, 1.0 / 6.0);
        p = madd(p, r, 0.5);
        p = madd(p, r, 1.0);
        p = madd(p, r, 1.0);
        let scale = f32::from_bits(t.to_bits().wrapping_add(127) << 23);
        let y = p * scale;
        if self < -87.0 {
            0.0
        } else {
            y
        }
    }

    #[inline(always)]
    fn fast_ln(self) -> f32 {
        let tiny = self < f32::MIN_POSITIVE;
        let x = if tiny { self * 16_777_216.0 } else { self }; // 2^24
        let bits = x.to_bits();
        let field = f32::from_bits(0x4b00_0000 | ((bits >> 23) & 0xff)) - 8_388_608.0;
        let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
        let big = m > std::f32::consts::SQRT_2;
        m = if big { m * 0.5 } else { m };
        let e = field - 127.0 - if tiny { 24.0 } else { 0.0 } + if big { 1.0 } else { 0.0 };
        let f = (m - 1.0) / (m + 1.0);
        let f2 = f * f;
        let mut p = 1.0 / 11.0;
        p = madd(p, f2, 1.0 / 9.0);
        p = madd(p, f2, 1.0 / 7.0);
        p = madd(p, f2, 1.0 / 5.0);
        p = madd(p, f2, 1.0 / 3.0);
        p = madd(p, f2, 1.0);
        let y = e * std::f32::consts::LN_2 + 2.0 * f * p;
        if self == 0.0 {
            f32::NEG_INFINITY
        } else if self == f32::INFINITY {
            f32::INFINITY
        } else {
            y
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        if a == b {
            0.0
        } else {
            (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
        }
    }

    #[test]
    fn exp_matches_std_f64() {
        let mut worst: f64 = 0.0;
        let mut x: f64 = -700.0;
        while x < 700.0 {
            worst = worst.max(rel(x.fast_exp(), x.exp()));
            x += 0.0137;
        }
        assert!(worst < 4e-16, "worst relative error {worst}");
        assert_eq!(f64::NEG_INFINITY.fast_exp(), 0.0);
        assert_eq!((-800.0f64).fast_exp(), 0.0);
        assert_eq!(0.0f64.fast_exp(), 1.0);
    }

    #[test]
    fn ln_matches_std_f64() {
        let mut worst: f64 = 0.0;
        let mut x: f64 = 1e-300;
        while x < 1e300 {
            worst = worst.max((x.fast_ln() - x.ln()).abs() / x.ln().abs().max(1.0));
            x *= 1.0137;
        }
        assert!(worst < 4e-16, "worst error {worst}");
        assert_eq!(0.0f64.fast_ln(), f64::NEG_INFINITY);
        assert_eq!(1.0f64.fast_ln(), 0.0);
        for x in [1e-310f64, 4e-320, f64::MIN_POSITIVE / 3.0] {
            assert!((x.fast_ln() - x.ln()).abs() < 1e-12 * x.ln().abs(), "subnormal {x}");
        }
    }

    #[test]
    fn exp_and_ln_match_std_f32() {
        let mut worst: f64 = 0.0;
        let mut x = -80.0f32;
        while x < 80.0 {
            worst = worst.max(rel(x.fast_exp() as f64, (x as f64).exp()));
            x += 0.0137;
        }
        assert!(worst < 4e-7, "exp worst {worst}");
        let mut worst: f64 = 0.0;
        let mut x = 1e-37f32;
        while x < 1e37 {
            let exact = (x as f64).ln();
            worst = worst.max((x.fast_ln() as f64 - exact).abs() / exact.abs().max(1.0));
            x *= 1.0137;
        }
        assert!(worst < 4e-7, "ln worst {worst}");
        assert_eq!(0.0f32.fast_ln(), f32::NEG_INFINITY);
    }

    #[test]
    fn fast_log1mexp_matches_log1mexp() {
        let mut worst: f64 = 0.0;
        let mut x: f64 = -60.0;
        while x < 0.0 {
            worst = worst.max(rel(x.fast_log1mexp(), x.log1mexp()));
            x += 0.00731;
        }
        for x in [-1e-300, -1e-12, -1e-5, -0.69, -0.7, -700.0] {
            worst = worst.max(rel(x.fast_log1mexp(), x.log1mexp()));
        }
        assert!(worst < 1e-14, "f64 worst {worst}");
        let mut worst: f64 = 0.0;
        let mut x: f32 = -30.0;
        while x < 0.0 {
            worst = worst.max(rel(x.fast_log1mexp() as f64, (x as f64).log1mexp()));
            x += 0.00731;
        }
        assert!(worst < 2e-6, "f32 worst {worst}");
        assert_eq!(0.0f64.fast_log1mexp(), f64::NEG_INFINITY);
        assert_eq!(f64::NEG_INFINITY.fast_log1mexp(), 0.0);
    }

    #[test]
    fn log1mexp_is_accurate_at_both_ends() {
        for &x in &[-1e-10f64, -0.1, -0.7, -5.0, -50.0] {
            // ln(1 − eˣ) ≈ ln(−x) as x → 0⁻ and ≈ −eˣ as x → −∞.
            let expected = if x > -1e-5 {
                (-x).ln()
            } else if x < -30.0 {
                -x.exp()
            } else {
                (1.0 - x.exp()).ln()
            };
            assert!(rel(x.log1mexp(), expected) < 1e-9, "{x}");
        }
        assert_eq!(0.0f64.log1mexp(), f64::NEG_INFINITY);
        assert_eq!(f64::NEG_INFINITY.log1mexp(), 0.0);
    }
}
