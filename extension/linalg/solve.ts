/**
 * Solves the dense n×n system A x = b by Gaussian elimination with partial pivoting (Golub & Van Loan,
 * Matrix Computations, 4th ed., §3.4), float64 throughout, O(2n³/3) flops; `a` (row-major) and `b` are
 * only read by solveDense. Works for indefinite A; an exactly singular A gives non-finite entries (the caller reports
 * the residual, which is then non-finite too).
 */
export function solveDense(a: ArrayLike<number>, n: number, b: ArrayLike<number>): Float64Array {
  return solveDenseInPlace(Float64Array.from({ length: n * n }, (_, i) => a[i]), n, b);
}

/** solveDense that overwrites `m` (its LU factors) instead of copying it: for P×P systems near the memory budget. */
export function solveDenseInPlace(m: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const x = Float64Array.from(b);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]) > Math.abs(m[p * n + k])) p = i;
    if (p !== k) {
      for (let j = k; j < n; j++) [m[k * n + j], m[p * n + j]] = [m[p * n + j], m[k * n + j]];
      [x[k], x[p]] = [x[p], x[k]];
    }
    const pivot = m[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k] / pivot;
      if (f === 0) continue;
      for (let j = k + 1; j < n; j++) m[i * n + j] -= f * m[k * n + j];
      x[i] -= f * x[k];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let j = i + 1; j < n; j++) s -= m[i * n + j] * x[j];
    x[i] = s / m[i * n + i];
  }
  return x;
}
