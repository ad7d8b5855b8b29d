import { CancelledError } from '../errors.js';

/** v ↦ Hv in float64 (the engine's float32 HVP wrapped, or a dense product); must not keep v. */
export type MatVec64 = (v: Float64Array) => Promise<ArrayLike<number>>;

export interface MinresOptions {
  /** λ in (H + λI)s = b (default 0). */
  shift?: number;
  /** Most iterations (= matvecs). */
  maxIter: number;
  /** Stop when the recurrence's residual estimate ‖b − (H + λI)s‖ ≤ tol·‖b‖ (default 1e-6). */
  tol?: number;
  signal?: AbortSignal;
}

export interface MinresResult {
  /** The iterate s_k (float64). */
  solution: Float64Array;
  /** Iterations taken = matvecs spent. */
  iterations: number;
  /** The recurrence's estimate of ‖b − (H + λI)s_k‖ (exact in exact arithmetic). */
  residualEstimate: number;
  /** 'converged' (≤ tol·‖b‖), 'invariant' (the Krylov space closed: s is the minimum-residual solution on it), or 'budget'. */
  stop: 'converged' | 'invariant' | 'budget';
}

/**
 * MINRES (Paige & Saunders, "Solution of sparse indefinite systems of linear equations", SIAM J. Numer.
 * Anal. 12(4), 1975): s_k = argmin_{s ∈ K_k(A, b)} ‖b − As‖ for the symmetric, possibly indefinite
 * A = H + λI. The Lanczos process builds an orthonormal basis V_k of the Krylov space K_k with
 * A V_k = V_{k+1} T̄_k (T̄_k tridiagonal, (k+1)×k); Givens rotations reduce T̄_k to upper-triangular form
 * as it grows, so ‖b − As_k‖ = |φ̄_k| is known without a matvec and s_k is updated by a three-term
 * recurrence of search directions. Unlike conjugate gradients it needs no positive definiteness: the
 * residual norm decreases monotonically for any symmetric A, and for singular A it tends to the
 * least-squares residual. This is the unpreconditioned recurrence of Choi, Paige & Saunders, SIAM J.
 * Sci. Comput. 33(4), 2011, Table 2.1 (as in SciPy's `minres`), with A = H + λI in place of A − σI.
 *
 * Cost: one matvec per iteration, O(n) memory (six float64 vectors).
 * Error: with plain (not reorthogonalised) Lanczos the estimate can drift from the true residual in
 * finite precision; callers who need it exactly recompute b − As with one more matvec.
 */
export async function minres(matvec: MatVec64, b: ArrayLike<number>, opts: MinresOptions): Promise<MinresResult> {
  const n = b.length;
  const shift = opts.shift ?? 0;
  const tol = opts.tol ?? 1e-6;
  if (!Number.isSafeInteger(opts.maxIter) || opts.maxIter < 1) throw new RangeError(`minres: maxIter must be a positive integer, got ${opts.maxIter}`);
  if (!Number.isFinite(shift)) throw new RangeError(`minres: shift must be finite, got ${shift}`);
  const x = new Float64Array(n);
  let r1 = Float64Array.from(b);
  let r2 = Float64Array.from(b);
  let y = Float64Array.from(b);
  const beta1 = norm(y);
  if (!(beta1 > 0)) return { solution: x, iterations: 0, residualEstimate: 0, stop: 'converged' };
  let w = new Float64Array(n);
  let w1 = new Float64Array(n);
  let w2 = new Float64Array(n);
  let oldb = 0;
  let beta = beta1;
  let dbar = 0;
  let epsln = 0;
  let phibar = beta1;
  let cs = -1;
  let sn = 0;
  for (let itn = 1; itn <= opts.maxIter; itn++) {
    if (opts.signal?.aborted) throw new CancelledError();
    const s = 1 / beta;
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = s * y[i];
    const av = await matvec(v.slice());
    if (av.length !== n) throw new RangeError(`minres: matvec returned length ${av.length}, expected ${n}`);
    y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = av[i] + shift * v[i];
    if (itn >= 2) axpy(-beta / oldb, r1, y);
    const alfa = dot(v, y);
    axpy(-alfa / beta, r2, y);
    r1 = r2;
    r2 = y;
    oldb = beta;
    beta = norm(y); // β_{k+1}
    if (!Number.isFinite(alfa) || !Number.isFinite(beta)) throw new Error('minres: the matvec returned a non-finite value');
    const oldeps = epsln;
    const delta = cs * dbar + sn * alfa;
    const gbar = sn * dbar - cs * alfa;
    epsln = sn * beta;
    dbar = -cs * beta;
    const gamma = Math.max(Math.hypot(gbar, beta), Number.MIN_VALUE);
    cs = gbar / gamma;
    sn = beta / gamma;
    const phi = cs * phibar;
    phibar = sn * phibar;
    const tmp = w1;
    w1 = w2;
    w2 = w;
    w = tmp;
    for (let i = 0; i < n; i++) w[i] = (v[i] - oldeps * w1[i] - delta * w2[i]) / gamma;
    axpy(phi, w, x);
    const rnorm = Math.abs(phibar);
    if (rnorm <= tol * beta1) return { solution: x, iterations: itn, residualEstimate: rnorm, stop: 'converged' };
    if (beta <= 1e-14 * beta1) return { solution: x, iterations: itn, residualEstimate: rnorm, stop: 'invariant' };
    if (itn === opts.maxIter) return { solution: x, iterations: itn, residualEstimate: rnorm, stop: 'budget' };
  }
  throw new Error('unreachable');
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

function axpy(a: number, x: ArrayLike<number>, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += a * x[i];
}
