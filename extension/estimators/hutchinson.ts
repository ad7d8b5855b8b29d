import { CancelledError } from '../errors.js';
import type { Rng } from './rng.js';
import type { Estimate, HutchinsonResult, MatVec } from './types.js';

export interface HutchinsonOptions {
  /** Number of probes m ≥ 1 (= matvecs). */
  samples: number;
  /** Source of the Rademacher probes; the same seed gives bit-identical results. */
  rng: Rng;
  /** Diagonal blocks [start, end) (e.g. one per layer) whose traces to estimate from the same probes. */
  blocks?: Array<[start: number, end: number]>;
  /** Called after each probe with the number done and the running trace estimate. */
  onProbe?: (done: number, running: { trace: Estimate }) => void;
  /** Cancels the run: the promise rejects with CancelledError before the next matvec. */
  signal?: AbortSignal;
  /** Sees every probe z and its product Hz, in probe order (e.g. to estimate ‖H‖_F² from the same probes). */
  onProduct?: (z: Float32Array, hz: Float32Array) => void;
  /**
   * Apply the operator to `size` probes at once (e.g. several HVPs in one pass). The probes and their
   * order are the same as one at a time, so results do not depend on the batch size. `first`: at most
   * this many in the first group (default `size`), for a first look (onProduct) sooner.
   */
  batch?: { size: number; first?: number; matvecMany: (vs: Float32Array[]) => Promise<Float32Array[]> };
}

/**
 * Hutchinson's estimators of the diagonal and trace of a symmetric operator H (size n) from m
 * Rademacher probes z_k (entries ±1 with probability ½):
 *   diag:  d̂ = (1/m) Σ_k z_k ⊙ Hz_k                     (Bekas, Kokiopoulou & Saad 2007)
 *   trace: t̂ = (1/m) Σ_k z_kᵀHz_k = Σ_i d̂_i               (Hutchinson 1989)
 *   block: t̂_B = (1/m) Σ_k Σ_{i∈B} (z_k ⊙ Hz_k)_i = Σ_{i∈B} d̂_i
 * All are unbiased. Per probe, Var[(z⊙Hz)_i] = Σ_{j≠i} H_ij² and Var[zᵀHz] = 2 Σ_{i≠j} H_ij²
 * (the exact variances for Rademacher z), so the error falls as 1/√m and is large when the
 * off-diagonal mass dominates (see the Hutch++/XTrace/XDiag estimators for such spectra).
 *
 * Reported uncertainty: the standard error s/√m, with s² the unbiased sample variance (denominator
 * m − 1) of the m per-probe values, accumulated by Welford's streaming update (memory O(n), not O(m·n)).
 * With m = 1 the standard error is undefined: NaN per diagonal entry, null for the traces.
 *
 * Cost: m matvecs, O(m·n) flops. Hutchinson, M. F., "A stochastic estimator of the trace of the
 * influence matrix for Laplacian smoothing splines", Comm. Statist. Simul. Comput. 18(3), 1989.
 * Bekas, C., Kokiopoulou, E. & Saad, Y., "An estimator for the diagonal of a matrix", Appl. Numer.
 * Math. 57, 2007.
 */
export async function hutchinson(matvec: MatVec, n: number, opts: HutchinsonOptions): Promise<HutchinsonResult> {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`hutchinson: n must be a positive integer, got ${n}`);
  const m = opts.samples;
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`hutchinson: samples must be a positive integer, got ${m}`);
  const blocks = opts.blocks ?? [];
  for (const [s, e] of blocks) {
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < s || e > n) {
      throw new RangeError(`hutchinson: block [${s}, ${e}) is not inside [0, ${n})`);
    }
  }
  const { signal, onProbe } = opts;

  // Welford accumulators: running means and sums of squared deviations.
  const mean = new Float64Array(n);
  const m2 = new Float64Array(n);
  const trace = new Welford();
  const blockStats = blocks.map(() => new Welford());

  const group = Math.max(1, Math.floor(opts.batch?.size ?? 1));
  const firstGroup = Math.max(1, Math.min(group, Math.floor(opts.batch?.first ?? group)));
  for (let first = 1, step = firstGroup; first <= m; first += step, step = group) {
    if (signal?.aborted) throw new CancelledError();
    const zs = Array.from({ length: Math.min(step, m - first + 1) }, () => opts.rng.rademacher(n));
    const hzs = opts.batch && zs.length > 1 ? await opts.batch.matvecMany(zs.map((z) => z.slice())) : [await matvec(zs[0].slice())];
    if (signal?.aborted) throw new CancelledError();
    zs.forEach((z, j) => probe(first + j, z, hzs[j]));
  }

  function probe(k: number, z: Float32Array, hz: Float32Array): void {
    if (hz.length !== n) throw new RangeError(`hutchinson: matvec returned length ${hz.length}, expected ${n}`);
    let t = 0;
    for (let i = 0; i < n; i++) {
      const x = z[i] * hz[i];
      t += x;
      const delta = x - mean[i];
      mean[i] += delta / k;
      m2[i] += delta * (x - mean[i]);
    }
    if (!Number.isFinite(t)) throw new Error('hutchinson: the matvec returned a non-finite value');
    trace.push(t);
    opts.onProduct?.(z, hz);
    blocks.forEach(([s, e], b) => {
      let tb = 0;
      for (let i = s; i < e; i++) tb += z[i] * hz[i];
      blockStats[b].push(tb);
    });
    onProbe?.(k, { trace: trace.estimate() });
  }

  const stderr = new Float64Array(n);
  for (let i = 0; i < n; i++) stderr[i] = m > 1 ? Math.sqrt(m2[i] / (m - 1) / m) : NaN;
  return {
    diagonal: { values: mean, stderr, samples: m },
    trace: trace.estimate(),
    blockTraces: blockStats.map((w) => w.estimate()),
  };
}

/** Welford's streaming mean and variance of a scalar (Welford 1962). */
class Welford {
  private count = 0;
  private mean = 0;
  private m2 = 0;

  push(x: number): void {
    this.count++;
    const delta = x - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (x - this.mean);
  }

  /** Mean with standard error s/√count (null below 2 samples); one matvec per sample. */
  estimate(): Estimate {
    const c = this.count;
    return {
      value: this.mean,
      stderr: c > 1 ? Math.sqrt(this.m2 / (c - 1) / c) : null,
      samples: c,
      matvecs: c,
    };
  }
}
