//! The boolean algebra: `∨`, `∧`, `¬`. Idempotent; evaluates any NNF
//! circuit (no compilation needed). It has no derivative.

use crate::algebra::{Algebra, Laws, Requirements};

/// Truth values under `∨` and `∧`. A distributive lattice, so every
/// semiring law holds, and idempotence too.
#[derive(Clone, Copy, Debug, Default)]
pub struct Boolean;

impl Algebra for Boolean {
    type Value = bool;
    const NAME: &'static str = "boolean";
    const LAWS: Laws = Laws { sum_idempotent: true, distributive: true, lattice: true };
    const REQUIRES: Requirements = Requirements { decomposable: false, deterministic: false, smooth: false };
    const WGSL: Option<&'static str> = Some(
        "fn dl_zero() -> f32 { return 0.0; }
const DL_LOG_SUM_EXP: bool = false;
fn dl_one() -> f32 { return 1.0; }
fn dl_add(a: f32, b: f32) -> f32 { return max(a, b); }
fn dl_mul(a: f32, b: f32) -> f32 { return min(a, b); }
fn dl_neg(a: f32) -> f32 { return 1.0 - a; }
",
    );

    fn zero() -> bool {
        false
    }
    fn one() -> bool {
        true
    }
    #[inline(always)]
    fn add(a: bool, b: bool) -> bool {
        a | b
    }
    #[inline(always)]
    fn mul(a: bool, b: bool) -> bool {
        a & b
    }
    fn negate(a: bool) -> Option<bool> {
        Some(!a)
    }
    /// An event is taken to hold when it is at least as likely as not.
    fn from_probability(p: f64) -> bool {
        p >= 0.5
    }
    fn to_f64(a: bool) -> f64 {
        a as u8 as f64
    }
}
