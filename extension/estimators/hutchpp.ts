import { CancelledError } from '../errors.js';
import { qrColumns } from '../linalg/qr.js';
import type { Estimate, MatVec } from './types.js';
import { dot } from '../linalg/dot.js';
import { checkSize, meanStderr, operator, type SketchOptions } from './xtrace.js';

export type HutchppOptions = SketchOptions;

/**
 * Hutch++ trace estimator (Meyer, Musco, Musco & Woodruff, "Hutch++: optimal stochastic trace
 * estimation", SIAM Symposium on Simplicity in Algorithms (SOSA) 2021, arXiv:2010.09649) for a symmetric
 * operator H of size n, with budget m = 2k + g matvecs, k = ⌊m/3⌋, g = m − 2k (≥ k):
 *   S = k Rademacher vectors,  Q = orth(HS),  G = g Rademacher vectors,  G⊥ = G − Q(QᵀG),
 *   tr(H) ≈ tr(QᵀHQ) + (1/g) Σ_j g⊥_jᵀ H g⊥_j            (= (3/m) Σ for g = m/3).
 * tr(H) = tr(QᵀHQ) + tr((I − QQᵀ)H(I − QQᵀ)), and g⊥ᵀHg⊥ = gᵀ(I − QQᵀ)H(I − QQᵀ)g is a Hutchinson
 * sample of the second term, so the estimate is unbiased. Its variance is that of Hutchinson on the
 * deflated matrix D = (I − QQᵀ)H(I − QQᵀ): 2 Σ_{a≠b} D_ab² / g ≤ 2‖D‖_F²/g, and ‖D‖_F is close to the
 * tail ‖H − H_k‖_F (H_k: best rank-k approximation) once HS captures the top of the spectrum, so for PSD
 * H the relative error is O(1/m) (the paper's bound) instead of Hutchinson's O(1/√m).
 *
 * Error bar: stderr = s/√g with s² the unbiased sample variance of the g residual samples g⊥ᵀHg⊥ (the
 * deflated part tr(QᵀHQ) is exact given the sketch, so conditionally on Q this is the right standard
 * error); null when g < 2. With few residual probes and a heavy-tailed residual (an eigenvalue the
 * sketch missed) the sample variance is often too small: ±2 stderr covered the truth in only 65–85 %
 * of seeds at m = 30 (g = 10) in bench/estimators-results.md, ≥ 90 % from m = 100.
 *
 * m < 3 leaves no sketch (k = 0): plain Hutchinson with m probes. When HS is rank-deficient (H of rank
 * below k, or k > n), Q has rank(HS) columns and only those are multiplied by H, so `matvecs` can be
 * below m. Cost: k + rank(HS) + g matvecs, O(nk² + ngk) flops; memory ≈ n·(20k + 12g) bytes (S, HS,
 * HQ, G, G⊥, HG⊥ as float32, Q as float64).
 * Checked against exact traces in test/estimators-sketch.test.ts.
 */
export async function hutchpp(matvec: MatVec, n: number, opts: HutchppOptions): Promise<Estimate> {
  const who = 'hutchpp';
  checkSize(who, n);
  const m = opts.matvecs;
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`${who}: matvecs must be a positive integer, got ${m}`);
  const k = Math.floor(m / 3);
  const g = m - 2 * k;
  const apply = operator(who, matvec, n, opts, m);
  if (opts.signal?.aborted) throw new CancelledError();

  const sketch = Array.from({ length: k }, () => opts.rng.rademacher(n));
  const probes = Array.from({ length: g }, () => opts.rng.rademacher(n));
  const { q, rank } = qrColumns(await apply(sketch));
  apply.replan(k + rank + g);
  const hq = await apply(q);
  let deflated = 0;
  for (let a = 0; a < rank; a++) deflated += dot(q[a], hq[a]);

  // G⊥ = G − Q(QᵀG), rounded once to float32; the quadratic forms use that same vector.
  const perp = probes.map((z) => {
    const v = new Float64Array(z);
    for (const qa of q) {
      const c = dot(qa, z);
      for (let j = 0; j < n; j++) v[j] -= c * qa[j];
    }
    return new Float32Array(v);
  });
  const hperp = await apply(perp);
  const samples = perp.map((x, j) => dot(x, hperp[j]));
  const residual = meanStderr(samples);
  return { value: deflated + residual.value, stderr: residual.stderr, samples: g, matvecs: k + rank + g };
}
