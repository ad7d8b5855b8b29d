/**
 * Shared types of the pure-math estimators. Every result is a plain object that carries its own
 * uncertainty (standard error, Ritz residual, converged flag) and its cost in matvecs.
 */

/**
 * A symmetric linear operator of size n, given only by its action v ↦ Hv (for the engine: a
 * Hessian-vector product). The estimators never pass their own buffers, so an implementation may keep
 * or overwrite its argument; it must return a new array of length n and must not keep the result for
 * later writes.
 */
export type MatVec = (v: Float32Array) => Promise<Float32Array>;

/** A scalar estimate with its uncertainty and cost. */
export interface Estimate {
  value: number;
  /** Standard error of `value`; null when it is exact or cannot be estimated (fewer than 2 samples). */
  stderr: number | null;
  /** Number of random samples behind `value`; null for deterministic quantities. */
  samples: number | null;
  /** Number of operator applications (HVPs) spent. */
  matvecs: number;
}

/** One Ritz pair's value, with the residual ‖Hy − θy‖ and whether it met the tolerance. */
export interface Ritz {
  value: number;
  residual: number;
  converged: boolean;
}

export interface LanczosResult {
  /** The largest Ritz values, descending. */
  top: Ritz[];
  /** The smallest Ritz values, ascending. May overlap `top` when few Ritz values exist (tiny n). */
  bottom: Ritz[];
  /** Lanczos steps taken = matvecs spent = size m of the tridiagonal T. */
  iterations: number;
  /** Diagonal of T (length m). */
  alpha: number[];
  /** Off-diagonal of T (length m − 1). */
  beta: number[];
  /** All m Ritz values (eigenvalues of T), ascending: the quadrature nodes for spectral density. */
  nodes: number[];
  /** Squared first components of T's unit eigenvectors (sum to 1): the quadrature weights. */
  weights: number[];
}

export interface HutchinsonResult {
  /** Hutchinson estimate of diag(H) with per-entry standard errors (NaN when samples = 1). */
  diagonal: { values: Float64Array; stderr: Float64Array; samples: number };
  /** Estimate of tr(H). */
  trace: Estimate;
  /** Estimates of the trace of each requested diagonal block, in the order the blocks were given. */
  blockTraces: Estimate[];
}
