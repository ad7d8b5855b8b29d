import { CancelledError } from '../errors.js';
import { tridiagonalEigen } from '../linalg/tridiagonal.js';
import type { Rng } from './rng.js';
import type { LanczosResult, MatVec, Ritz } from './types.js';

export interface LanczosOptions {
  /** How many of the largest eigenvalues to converge (capped at n). */
  top: number;
  /** How many of the smallest eigenvalues to converge (capped at n). */
  bottom: number;
  /** Most Lanczos steps (= matvecs, = stored basis vectors); capped at n. Bounds memory to maxIter·n floats. */
  maxIter: number;
  /** Relative tolerance: a Ritz pair is converged when its residual ≤ tol · max|θ|. Default 1e-6. */
  tol?: number;
  /** Source of the default start vector. */
  rng: Rng;
  /** Start vector (length n, non-zero; normalised here, not modified). Default: normalised Rademacher. */
  start?: Float32Array;
  /** Called after each step with the number of steps done; `done` is true exactly once, on the last call. */
  onStep?: (iter: number, done: boolean) => void;
  /** Cancels the run: the promise rejects with CancelledError before the next matvec. */
  signal?: AbortSignal;
}

/**
 * Extreme eigenvalues of a symmetric operator H (size n) by the Lanczos process with full
 * reorthogonalisation (Lanczos 1950; Paige 1972; Golub & Van Loan, Matrix Computations, 4th ed., §10.1).
 *
 * From a unit q₁, step j computes
 *   w = Hq_j − β_{j−1} q_{j−1},  α_j = q_jᵀw,  w ← w − α_j q_j,
 *   w ← w − Q_j(Q_jᵀw) twice (classical Gram–Schmidt twice, "twice is enough": Giraud, Langou &
 *   Rozložník 2005),  β_j = ‖w‖,  q_{j+1} = w / β_j,
 * so that H Q_m = Q_m T_m + β_m q_{m+1} e_mᵀ with T_m = tridiag(β, α, β). The Ritz values θ_i are the
 * eigenvalues of T_m (T_m = Y Θ Yᵀ, see tridiagonalEigen) and the Ritz vectors Q_m y_i have residual
 *   ‖H Q_m y_i − θ_i Q_m y_i‖ = β_m |y_{m,i}|
 * (Paige 1972; Meurant, The Lanczos and Conjugate Gradient Algorithms, SIAM 2006, §2.1), so every θ_i
 * lies within that residual of an eigenvalue of H. Full reorthogonalisation keeps Q_m orthonormal to
 * float32 rounding, which rules out the spurious copies ("ghosts") plain Lanczos produces.
 *
 * Stopping: after every step the requested `top` largest and `bottom` smallest Ritz pairs are tested
 * (residual ≤ tol·max|θ|); the run stops when all of them pass, when β_m ≤ tol·max|θ| (an invariant
 * subspace: every Ritz value is then exact to the tolerance, however few there are), or after
 * min(maxIter, n) steps. The test costs O(m²) flops, below the O(m·n) of the reorthogonalisation, so it
 * runs every step and never spends a matvec more than needed.
 *
 * Cost: one matvec per step; O(m²n) flops and m·n float32 of basis storage for m steps.
 * Error: deterministic given the start vector; a Ritz value's error is at most its residual and, once
 * converged, about residual²/gap. A single start vector finds one copy of a repeated eigenvalue, and an
 * eigenvector orthogonal to the start (unlikely for a Rademacher start) is missed.
 * Vectors are float32 (as the matvec's); dot products, norms and T are float64. The reported residual
 * is the exact-arithmetic value β_m|y_{m,i}|: once it falls below the rounding floor of the float32
 * basis and HVP (measured ≈5e-8·‖H‖ with an exact float32 matvec, more for a noisier HVP) it keeps
 * falling while the true ‖Hy − θy‖ stays at that floor, so tolerances far below 1e-6 buy nothing.
 */
export async function lanczos(matvec: MatVec, n: number, opts: LanczosOptions): Promise<LanczosResult> {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`lanczos: n must be a positive integer, got ${n}`);
  for (const key of ['top', 'bottom'] as const) {
    const k = opts[key];
    if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`lanczos: ${key} must be a non-negative integer, got ${k}`);
  }
  if (!Number.isSafeInteger(opts.maxIter) || opts.maxIter < 1) {
    throw new RangeError(`lanczos: maxIter must be a positive integer, got ${opts.maxIter}`);
  }
  const tol = opts.tol ?? 1e-6;
  if (!(tol >= 0)) throw new RangeError(`lanczos: tol must be ≥ 0, got ${tol}`);
  const wantTop = Math.min(opts.top, n);
  const wantBottom = Math.min(opts.bottom, n);
  const maxIter = Math.min(opts.maxIter, n);
  const { signal, onStep } = opts;
  const checkCancelled = (): void => {
    if (signal?.aborted) throw new CancelledError();
  };
  checkCancelled();

  // Start vector, normalised in float64 then stored as float32.
  const w = new Float64Array(n);
  if (opts.start) {
    if (opts.start.length !== n) throw new RangeError(`lanczos: start has length ${opts.start.length}, expected ${n}`);
    w.set(opts.start);
  } else {
    w.set(opts.rng.rademacher(n));
  }
  const norm = norm2(w);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new RangeError('lanczos: start vector must be finite and non-zero');
  const basis: Float32Array[] = [toUnit32(w, norm)];

  const alpha: number[] = [];
  const beta: number[] = []; // beta[j] couples q_j and q_{j+1}
  for (let j = 0; ; j++) {
    checkCancelled();
    const q = basis[j];
    const hq = await matvec(q.slice());
    checkCancelled();
    if (hq.length !== n) throw new RangeError(`lanczos: matvec returned length ${hq.length}, expected ${n}`);
    w.set(hq);
    if (j > 0) axpy(-beta[j - 1], basis[j - 1], w);
    const a = dot(q, w);
    axpy(-a, q, w);
    for (let pass = 0; pass < 2; pass++) {
      const c = basis.map((qi) => dot(qi, w)); // classical: all coefficients from the same w
      for (let i = 0; i < basis.length; i++) axpy(-c[i], basis[i], w);
    }
    const b = norm2(w);
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new Error('lanczos: the matvec returned a non-finite value');
    alpha.push(a);

    const m = j + 1;
    const eig = tridiagonalEigen(Float64Array.from(alpha), Float64Array.from(beta));
    const thetaMax = Math.max(Math.abs(eig.values[0]), Math.abs(eig.values[m - 1]));
    const limit = tol * thetaMax;
    const ritz = (i: number): Ritz => {
      const residual = b * Math.abs(eig.last[i]);
      return { value: eig.values[i], residual, converged: residual <= limit };
    };
    const top = Array.from({ length: Math.min(wantTop, m) }, (_, r) => ritz(m - 1 - r));
    const bottom = Array.from({ length: Math.min(wantBottom, m) }, (_, r) => ritz(r));
    const allConverged =
      top.length === wantTop && bottom.length === wantBottom && top.every((t) => t.converged) && bottom.every((t) => t.converged);
    const invariant = b === 0 || b <= limit;
    if (allConverged || invariant || m === maxIter) {
      onStep?.(m, true);
      return {
        top,
        bottom,
        iterations: m,
        alpha,
        beta,
        nodes: Array.from(eig.values),
        weights: Array.from(eig.first, (f) => f * f),
      };
    }
    onStep?.(m, false);
    beta.push(b);
    basis.push(toUnit32(w, b));
  }
}

function dot(x: Float32Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

function axpy(a: number, x: Float32Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function norm2(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

function toUnit32(x: Float64Array, norm: number): Float32Array {
  const q = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) q[i] = x[i] / norm;
  return q;
}
