/** Test matrices with known spectra, shared by the estimator tests and bench/estimators.ts. */
import { Rng } from '../extension/estimators/rng.js';

/**
 * `count` Haar-random orthonormal columns of length n: modified Gram–Schmidt on a Gaussian matrix, which
 * is its QR with R's diagonal positive, i.e. the sign-corrected Q (Mezzadri 2007).
 */
export function haarColumns(n: number, rng: Rng, count = n): Float64Array[] {
  const q: Float64Array[] = [];
  for (let j = 0; j < count; j++) {
    const v = Float64Array.from({ length: n }, () => rng.normal());
    for (const qi of q) {
      let c = 0;
      for (let t = 0; t < n; t++) c += qi[t] * v[t];
      for (let t = 0; t < n; t++) v[t] -= c * qi[t];
    }
    let s = 0;
    for (let t = 0; t < n; t++) s += v[t] * v[t];
    s = Math.sqrt(s);
    for (let t = 0; t < n; t++) v[t] /= s;
    q.push(v);
  }
  return q;
}
