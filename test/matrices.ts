/** Test matrices with known spectra, shared by the estimator tests and bench/estimators.ts. */
import { Rng } from '../extension/estimators/rng.js';
import type { MatVec } from '../extension/estimators/types.js';

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

/** A dense symmetric matrix (row-major, float64) with its exact diagonal and trace. */
export interface Dense {
  n: number;
  a: Float64Array;
  diag: Float64Array;
  trace: number;
}

export function dense(n: number, a: Float64Array): Dense {
  const diag = Float64Array.from({ length: n }, (_, i) => a[i * n + i]);
  return { n, a, diag, trace: diag.reduce((s, x) => s + x, 0) };
}

/** Σ_k λ_k q_k q_kᵀ. */
export function fromEigen(lambda: number[], q: Float64Array[]): Dense {
  const n = q[0].length;
  const r = lambda.length;
  const rows = Array.from({ length: n }, (_, i) => Float64Array.from({ length: r }, (_, k) => q[k][i]));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const w = rows[i].map((x, k) => x * lambda[k]);
    for (let j = i; j < n; j++) {
      const u = rows[j];
      let s = 0;
      for (let k = 0; k < r; k++) s += w[k] * u[k];
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return dense(n, a);
}

/**
 * The pinned acceptance matrix of issue 5: n = 1000, 10 eigenvalues log-spaced in [10, 100], 990 drawn
 * from N(0.01, 0.05²), Haar-random eigenvectors; everything from Rng(0). Built once (≈2.5 s).
 */
let pinnedCache: (Dense & { lambda: number[]; vectors: Float64Array[] }) | null = null;
export function pinnedMatrix(): Dense & { lambda: number[]; vectors: Float64Array[] } {
  if (pinnedCache) return pinnedCache;
  const rng = new Rng(0);
  const lambda = [...Array.from({ length: 10 }, (_, i) => 10 * 10 ** (i / 9)), ...Array.from({ length: 990 }, () => 0.01 + 0.05 * rng.normal())];
  const vectors = haarColumns(1000, rng);
  return (pinnedCache = { ...fromEigen(lambda, vectors), lambda, vectors });
}

/** The float32 matvec of a dense matrix (float64 accumulation, rounded once), counting calls. */
/** A·v for a row-major n×n matrix, in float64 (a plain reference product). */
export function mulDense(a: Float64Array, n: number, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j] * v[j];
    out[i] = s;
  }
  return out;
}

export function denseMatVec(m: { n: number; a: Float64Array }): MatVec & { calls: number } {
  const { n, a } = m;
  const f = async (v: Float32Array): Promise<Float32Array> => {
    f.calls++;
    const x = new Float64Array(v);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const row = i * n;
      let s0 = 0;
      let s1 = 0;
      let j = 0;
      for (; j + 1 < n; j += 2) {
        s0 += a[row + j] * x[j];
        s1 += a[row + j + 1] * x[j + 1];
      }
      if (j < n) s0 += a[row + j] * x[j];
      out[i] = s0 + s1;
    }
    return out;
  };
  f.calls = 0;
  return f;
}
