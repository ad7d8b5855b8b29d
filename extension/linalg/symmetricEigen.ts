/**
 * All eigenvalues of a dense symmetric matrix: Householder reduction to tridiagonal form, then the
 * tridiagonal QL solver (Golub & Van Loan, Matrix Computations, 4th ed., §8.3.1 and §8.3.5). Float64
 * throughout; O(4n³/3) flops. Used with --exact, where the Hessian is built column by column from HVPs:
 * unlike Lanczos it resolves repeated eigenvalues (a softmax layer's Hessian block has a null space of
 * dimension fan-in + 1, which a Krylov method sees only once).
 */
import { tridiagonalEigen } from './tridiagonal.js';

/** Eigenvalues (ascending) of the symmetric n×n matrix `a` (row-major; only read). */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from({ length: n * n }, (_, i) => a[i]);
  const alpha = new Float64Array(n);
  const beta = new Float64Array(Math.max(n - 1, 0));
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // Householder vector for column k below the diagonal.
    let norm = 0;
    for (let i = k + 1; i < n; i++) norm += m[i * n + k] ** 2;
    norm = Math.sqrt(norm);
    const x0 = m[(k + 1) * n + k];
    if (norm === 0) {
      beta[k] = 0;
      continue;
    }
    const alphaK = x0 > 0 ? -norm : norm;
    beta[k] = alphaK;
    for (let i = k + 1; i < n; i++) v[i] = m[i * n + k];
    v[k + 1] -= alphaK;
    let vv = 0;
    for (let i = k + 1; i < n; i++) vv += v[i] * v[i];
    if (vv === 0) continue;
    // A ← (I − 2vvᵀ/vᵀv) A (I − 2vvᵀ/vᵀv) on the trailing block: p = A v·2/vv; w = p − (vᵀp/vv) v; A −= v wᵀ + w vᵀ.
    const tau = 2 / vv;
    let vp = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += m[i * n + j] * v[j];
      p[i] = tau * s;
      vp += v[i] * p[i];
    }
    const c = (tau * vp) / 2;
    for (let i = k + 1; i < n; i++) p[i] -= c * v[i];
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j < n; j++) m[i * n + j] -= v[i] * p[j] + p[i] * v[j];
    }
  }
  for (let i = 0; i < n; i++) alpha[i] = m[i * n + i];
  if (n >= 2) beta[n - 2] = m[(n - 1) * n + (n - 2)];
  return tridiagonalEigen(alpha, beta).values;
}
