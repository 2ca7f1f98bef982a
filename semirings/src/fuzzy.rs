//! The connectives of the fuzzy logics: which t-norm a logic conjoins with
//! ([`TNorm`]), its implications ([`Implication`]) and its negation, with
//! their derivatives, defined once for every evaluator.
//!
//! A t-norm's conjunction and its dual t-conorm (the disjunction) *are* the
//! product and the sum of the t-norm's algebra ([`Godel`], [`ProductTNorm`],
//! [`Lukasiewicz`]): [`TNorm::and_rows`] and [`TNorm::or_rows`] run those
//! algebras' kernels, so a compiled circuit evaluated in a fuzzy algebra and
//! a formula circuit's `and` and `or` compute the same numbers. Implications
//! are not operations of an algebra; they are defined here, in Rust and, in
//! [`Implication::WGSL`], for the GPU. Negation is `1 − x` in all three
//! logics ([`negation`]).
//!
//! ```
//! use deeplog_semirings::fuzzy::{Implication, TNorm};
//!
//! // Łukasiewicz: 0.7 ∧ 0.6 = max(0, 0.7 + 0.6 − 1), rows of one column.
//! let mut out = [0.0];
//! TNorm::Lukasiewicz.and_rows(&mut out, &[0.75, 0.5], &[0, 1], 1);
//! assert_eq!(out, [0.25]);
//! // Its residuum: min(1, 1 − a + b).
//! assert_eq!(TNorm::Lukasiewicz.residuum(), Implication::Lukasiewicz);
//! assert_eq!(Implication::Lukasiewicz.apply(0.75, 0.5), 0.75);
//! ```

use crate::algebra::{Algebra, Differentiable, NodeRows};
use crate::float::Float;
use crate::{AlgebraKind, Godel, Logic, Lukasiewicz, ProductTNorm};

/// The standard fuzzy negation, `1 − x`, of every t-norm here.
#[inline(always)]
pub fn negation<F: Float>(x: F) -> F {
    F::ONE - x
}

/// A t-norm (fuzzy conjunction) and its dual t-conorm (fuzzy disjunction):
/// the fuzzy logics among the [`Logic`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TNorm {
    /// `min` and `max`.
    Godel,
    /// `Π x` and `1 − Π (1 − x)`.
    Product,
    /// `max(0, Σ x − (n − 1))` and `min(1, Σ x)`.
    Lukasiewicz,
}

impl TNorm {
    pub const ALL: [TNorm; 3] = [TNorm::Godel, TNorm::Product, TNorm::Lukasiewicz];

    /// The logic this t-norm gives its connectives to.
    pub fn logic(self) -> Logic {
        match self {
            TNorm::Godel => Logic::Godel,
            TNorm::Product => Logic::Product,
            TNorm::Lukasiewicz => Logic::Lukasiewicz,
        }
    }

    /// The algebra whose product and sum are this t-norm and its t-conorm.
    pub fn algebra(self) -> AlgebraKind {
        self.logic().algebra()
    }

    /// `implies` in this logic: Gödel's and Łukasiewicz's own (residual)
    /// implications, Reichenbach's `1 − a + ab` for the product logic (LTN's
    /// choice: Goguen's residuum has vanishing gradients; it is the
    /// [`residuum`](Self::residuum)).
    pub fn implication(self) -> Implication {
        match self {
            TNorm::Godel => Implication::Godel,
            TNorm::Product => Implication::Reichenbach,
            TNorm::Lukasiewicz => Implication::Lukasiewicz,
        }
    }

    /// The residuum: the largest `c` with `a ∧ c ≤ b`.
    pub fn residuum(self) -> Implication {
        match self {
            TNorm::Godel => Implication::Godel,
            TNorm::Product => Implication::Goguen,
            TNorm::Lukasiewicz => Implication::Lukasiewicz,
        }
    }

    /// The S-implication `¬a ∨ b` under this t-norm's t-conorm.
    pub fn s_implication(self) -> Implication {
        match self {
            TNorm::Godel => Implication::KleeneDienes,
            TNorm::Product => Implication::Reichenbach,
            TNorm::Lukasiewicz => Implication::Lukasiewicz,
        }
    }

    /// `out[t] = ∧_c rows[c][t]` over `children` (at least one), rows
    /// `width` wide: the product of the t-norm's algebra.
    #[inline(always)]
    pub fn and_rows<F: Float>(self, out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        match self {
            TNorm::Godel => Godel::<F>::product_rows(out, rows, children, width),
            TNorm::Product => ProductTNorm::<F>::product_rows(out, rows, children, width),
            TNorm::Lukasiewicz => Lukasiewicz::<F>::product_rows(out, rows, children, width),
        }
    }

    /// `out[t] = ∨_c rows[c][t]`: the sum of the t-norm's algebra.
    #[inline(always)]
    pub fn or_rows<F: Float>(self, out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        match self {
            TNorm::Godel => Godel::<F>::sum_rows(out, rows, children, width),
            TNorm::Product => ProductTNorm::<F>::sum_rows(out, rows, children, width),
            TNorm::Lukasiewicz => Lukasiewicz::<F>::sum_rows(out, rows, children, width),
        }
    }

    /// `derivs[j * width + t] = ∂(∧)/∂ child j` at column `t`, for a
    /// conjunction whose values are `node.out`.
    #[inline(always)]
    pub fn and_derivatives<F: Float>(self, node: NodeRows<'_, F>, derivs: &mut [F]) {
        match self {
            TNorm::Godel => Godel::<F>::product_derivatives(node, derivs),
            TNorm::Product => ProductTNorm::<F>::product_derivatives(node, derivs),
            TNorm::Lukasiewicz => Lukasiewicz::<F>::product_derivatives(node, derivs),
        }
    }

    /// The same for a disjunction.
    #[inline(always)]
    pub fn or_derivatives<F: Float>(self, node: NodeRows<'_, F>, derivs: &mut [F]) {
        match self {
            TNorm::Godel => Godel::<F>::sum_derivatives(node, derivs),
            TNorm::Product => ProductTNorm::<F>::sum_derivatives(node, derivs),
            TNorm::Lukasiewicz => Lukasiewicz::<F>::sum_derivatives(node, derivs),
        }
    }
}

/// A fuzzy implication `a → b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Implication {
    /// Residuum of the Gödel t-norm: 1 if `a ≤ b`, else `b`.
    Godel,
    /// Residuum of the product t-norm: 1 if `a ≤ b`, else `b / a`.
    Goguen,
    /// `1 − a + a·b`.
    Reichenbach,
    /// Residuum of the Łukasiewicz t-norm: `min(1, 1 − a + b)`.
    Lukasiewicz,
    /// `max(1 − a, b)`.
    KleeneDienes,
}

impl Implication {
    /// Every implication, in the order of their codes on the GPU
    /// (`implication as u32`).
    pub const ALL: [Implication; 5] = [
        Implication::Godel,
        Implication::Goguen,
        Implication::Reichenbach,
        Implication::Lukasiewicz,
        Implication::KleeneDienes,
    ];

    /// `a → b`.
    #[inline(always)]
    pub fn apply<F: Float>(self, a: F, b: F) -> F {
        match self {
            Implication::Godel => {
                if a <= b {
                    F::ONE
                } else {
                    b
                }
            }
            Implication::Goguen => {
                if a <= b {
                    F::ONE
                } else {
                    b / a
                }
            }
            Implication::Reichenbach => F::ONE - a + a * b,
            Implication::Lukasiewicz => (F::ONE - a + b).min(F::ONE),
            Implication::KleeneDienes => (F::ONE - a).max(b),
        }
    }

    /// `(∂/∂a, ∂/∂b)` of `a → b`; at a kink, the derivative of the branch
    /// [`apply`](Self::apply) takes there.
    #[inline(always)]
    pub fn derivatives<F: Float>(self, a: F, b: F) -> (F, F) {
        let (zero, one) = (F::ZERO, F::ONE);
        match self {
            Implication::Godel => {
                if a <= b {
                    (zero, zero)
                } else {
                    (zero, one)
                }
            }
            Implication::Goguen => {
                if a <= b {
                    (zero, zero)
                } else {
                    (-b / (a * a), one / a)
                }
            }
            Implication::Reichenbach => (b - one, a),
            Implication::Lukasiewicz => {
                if one - a + b < one {
                    (-one, one)
                } else {
                    (zero, zero)
                }
            }
            Implication::KleeneDienes => {
                if one - a >= b {
                    (-one, zero)
                } else {
                    (zero, one)
                }
            }
        }
    }

    /// The name of the implication's code in [`WGSL`](Self::WGSL).
    pub fn wgsl_code(self) -> &'static str {
        match self {
            Implication::Godel => "IMPLIES_GODEL",
            Implication::Goguen => "IMPLIES_GOGUEN",
            Implication::Reichenbach => "IMPLIES_REICHENBACH",
            Implication::Lukasiewicz => "IMPLIES_LUKASIEWICZ",
            Implication::KleeneDienes => "IMPLIES_KLEENE_DIENES",
        }
    }

    /// The WGSL text of [`apply`](Self::apply) and
    /// [`derivatives`](Self::derivatives) over `f32`: `dl_implies(kind, a,
    /// b)` and `dl_implies_derivatives(kind, a, b)`, `kind` an
    /// implication's code. The including module defines each code
    /// [`wgsl_code`](Self::wgsl_code) names as `implication as u32`.
    pub const WGSL: &'static str = "
fn dl_implies(kind: u32, a: f32, b: f32) -> f32 {
  var v = bitcast<f32>(0x7fc00000u);
  switch kind {
    case IMPLIES_GODEL: { v = select(b, 1.0, a <= b); }
    case IMPLIES_GOGUEN: { v = select(b / a, 1.0, a <= b); }
    case IMPLIES_REICHENBACH: { v = 1.0 - a + a * b; }
    case IMPLIES_LUKASIEWICZ: { v = min(1.0 - a + b, 1.0); }
    case IMPLIES_KLEENE_DIENES: { v = max(1.0 - a, b); }
    default: {}
  }
  return v;
}

fn dl_implies_derivatives(kind: u32, a: f32, b: f32) -> vec2<f32> {
  var d = vec2<f32>(0.0, 0.0);
  switch kind {
    case IMPLIES_GODEL: { if (a > b) { d = vec2<f32>(0.0, 1.0); } }
    case IMPLIES_GOGUEN: { if (a > b) { d = vec2<f32>(-b / (a * a), 1.0 / a); } }
    case IMPLIES_REICHENBACH: { d = vec2<f32>(b - 1.0, a); }
    case IMPLIES_LUKASIEWICZ: { if (1.0 - a + b < 1.0) { d = vec2<f32>(-1.0, 1.0); } }
    case IMPLIES_KLEENE_DIENES: {
      if (1.0 - a >= b) { d = vec2<f32>(-1.0, 0.0); } else { d = vec2<f32>(0.0, 1.0); }
    }
    default: {}
  }
  return d;
}
";
}
