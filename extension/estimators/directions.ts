/**
 * Step sizes and update directions from curvature, as small pure functions. Notation: the loss near w
 * is modelled by the quadratic q(s) = L(w) − gᵀs + ½ sᵀHs for an update w ← w − s, so the predicted
 * decrease of a step s is m(s) = gᵀs − ½ sᵀHs (positive: the loss goes down).
 */
import { dot } from '../linalg/dot.js';

/**
 * The largest stable learning rate of gradient descent along a direction of curvature c > 0: on
 * q, one step with rate η multiplies that component of the error by (1 − ηc), which shrinks iff
 * 0 < η < 2/c (Nesterov, Introductory Lectures on Convex Optimization, 2004, §1.2.3; LeCun, Bottou,
 * Orr & Müller, "Efficient BackProp", 1998, §5). c = λ_max gives the rate above which the top
 * eigendirection diverges; c = gᵀHg/gᵀg (a Rayleigh quotient) the rate above which a step along −g
 * overshoots the quadratic's minimum along that line by more than twice. Null when c ≤ 0 (no bound:
 * the quadratic is flat or curves down that way) or c is not finite.
 */
export function stableLearningRate(curvature: number | null | undefined): number | null {
  return curvature != null && Number.isFinite(curvature) && curvature > 0 ? 2 / curvature : null;
}

/** vᵀHv / vᵀv (curvature along v); NaN when v = 0. */
export function rayleighQuotient(v: ArrayLike<number>, hv: ArrayLike<number>): number {
  const vv = dot(v, v);
  return vv > 0 ? dot(v, hv) / vv : NaN;
}

/**
 * AdaHessian's damped inverse-diagonal step s = D⁻¹g with D = |d̂| + ε (Yao, Gholami, Shen, Mustafa,
 * Keutzer & Mahoney, "ADAHESSIAN: an adaptive second order optimizer for machine learning", AAAI 2021;
 * without its momentum and spatial averaging): the absolute value keeps D positive where H_ii < 0 or
 * the estimate d̂ is noisy, ε bounds the step where d̂ ≈ 0.
 */
export function dampedInverseDiagonal(g: ArrayLike<number>, diag: ArrayLike<number>, epsilon: number): Float64Array {
  if (!(epsilon >= 0)) throw new RangeError(`dampedInverseDiagonal: epsilon must be ≥ 0, got ${epsilon}`);
  const s = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) s[i] = g[i] / (Math.abs(diag[i]) + epsilon);
  return s;
}

/** m(s) = gᵀs − ½ sᵀHs, the quadratic model's predicted decrease for w ← w − s. */
export function predictedDecrease(g: ArrayLike<number>, s: ArrayLike<number>, hs: ArrayLike<number>): number {
  return dot(g, s) - 0.5 * dot(s, hs);
}

/**
 * The gradient step with the exact line-search length on q: s = αg, α = gᵀg / gᵀHg, predicted decrease
 * m(αg) = ½ (gᵀg)² / gᵀHg (Cauchy point without a trust region; Nocedal & Wright, Numerical
 * Optimization, 2nd ed., §3.5 and §4.1). Null when gᵀHg ≤ 0: the model decreases without bound along −g.
 */
export function lineSearchGradientDecrease(gg: number, ghg: number): number | null {
  return ghg > 0 && Number.isFinite(ghg) ? (0.5 * gg * gg) / ghg : null;
}

/** cos ∠(a, b); NaN when either is zero. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const d = Math.sqrt(dot(a, a) * dot(b, b));
  return d > 0 ? dot(a, b) / d : NaN;
}
