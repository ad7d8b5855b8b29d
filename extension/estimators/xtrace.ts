import { dot } from '../linalg/dot.js';
import { CancelledError } from '../errors.js';
import { invertUpperTriangular, qrColumns } from '../linalg/qr.js';
import type { Rng } from './rng.js';
import type { Estimate, MatVec } from './types.js';

/** Options shared by the sketching estimators (XTrace/XDiag here, Hutch++ in hutchpp.ts). */
export interface SketchOptions {
  /** Budget m of operator applications (HVPs). */
  matvecs: number;
  /** Source of the Rademacher test vectors; the same seed gives bit-identical results. */
  rng: Rng;
  /** Cancels the run: the promise rejects with CancelledError before the next matvec (or batch). */
  signal?: AbortSignal;
  /**
   * Apply the operator to several vectors at once (e.g. K HVPs in one pass). Used for every group of
   * vectors when given; the vectors and their order are those of the one-at-a-time path, so the
   * results are identical as long as it computes the same products.
   */
  matvecMany?: (vs: Float32Array[]) => Promise<Float32Array[]>;
  /** Most vectors per matvecMany call (default: a whole stage at once). */
  batchSize?: number;
  /**
   * Most vectors in the very first matvecMany call (default batchSize): a small first group gives the
   * caller its first products (onProduct) sooner. The vectors, their order and the results are the same.
   */
  firstBatchSize?: number;
  /** Called after each matvec or batch with the matvecs done and the total planned so far. */
  onProgress?: (done: number, planned: number) => void;
}

export interface XTraceOptions extends SketchOptions {
  /** Diagonal blocks [start, end) (e.g. one per layer) whose traces to estimate from the same sketch. */
  blocks?: Array<[start: number, end: number]>;
  /** Sees each Rademacher test vector ω_i and its product Hω_i (the sketch Y), in order, as each group of products arrives. */
  onProduct?: (omega: Float32Array, y: Float32Array) => void;
}

/** XDiag's estimate of diag(H), with per-entry standard errors (NaN when samples = 1). */
export interface DiagonalEstimate {
  values: Float64Array;
  stderr: Float64Array;
  /** Number k of test vectors (leave-one-out estimates) behind each entry. */
  samples: number;
  matvecs: number;
}

export interface XTraceDiagResult {
  /** XTrace estimate of tr(H). */
  trace: Estimate;
  /** XDiag estimate of diag(H) (from the same sketch and matvecs as `trace`). */
  diagonal: DiagonalEstimate;
  /** Σ_{j∈B} of the XDiag diagonal per requested block, with leave-one-out standard errors. */
  blockTraces: Estimate[];
  /** Rank of the sketch Y = HΩ; below k the sketch holds all of range(H) (see xtraceDiag). */
  sketchRank: number;
  /**
   * XTrace from the first j test vectors alone, j = 2 … k (2j matvecs each): the estimate's convergence,
   * at no extra matvecs (see xtraceDiag). Empty when the sketch is rank-deficient.
   */
  convergence: Array<{ matvecs: number; value: number; stderr: number | null }>;
}

/**
 * XTrace and XDiag (Epperly, Tropp & Webber, "XTrace: making the most of every sample in stochastic
 * trace estimation", SIAM J. Matrix Anal. Appl. 45(1), 2024, arXiv:2301.07825): trace and diagonal of
 * a symmetric operator H (size n) from one sketch, combining Hutch++'s low-rank deflation with the
 * exchangeability principle (every test vector serves both as sketch and as probe).
 *
 * With k = ⌊m/2⌋ Rademacher vectors Ω = [ω_1 … ω_k]:
 *   Y = HΩ, (Q, R) = qr(Y), Z = HQ, M = QᵀZ, S = R^{-T} with unit-norm columns s_i.
 * Leaving out ω_i, the basis of the other k−1 columns has projector P_i = Q(I − s_i s_iᵀ)Qᵀ (s_i is the
 * direction of range(R) orthogonal to the other columns of R). Each i gives an unbiased estimate, since
 * P_i does not depend on ω_i:
 *   XTrace  t_i = tr(P_i H P_i) + ω_iᵀ(I − P_i)H(I − P_i)ω_i = tr M − s_iᵀMs_i + ω_iᵀr_i,
 *           u = Y_i − Z(I − s_i s_iᵀ)Qᵀω_i = H(I − P_i)ω_i,  r_i = u − Q(I − s_i s_iᵀ)Qᵀu;
 *   XDiag   d_i = diag(P_i H) + ω_i ⊙ (I − P_i)Hω_i
 *               = rowsum(Q ⊙ Z) − (Qs_i) ⊙ (Zs_i) + ω_i ⊙ [Y_i − Q(I − s_i s_iᵀ)QᵀY_i],
 * and the estimates are their means, t̂ = mean_i t_i and d̂ = mean_i d_i, i.e.
 *   d̂ = rowsum(Q ⊙ Z) − (1/k) rowsum((QS) ⊙ (ZS)) + (1/k) Σ_i ω_i ⊙ [Y_i − Q(I − s_i s_iᵀ)QᵀY_i].
 * The k×k algebra runs through W = QᵀΩ, B = QᵀY (= R) and T = ZᵀΩ: with c = (I − s_i s_iᵀ)W_i,
 * Qᵀu = B_i − Mc and ω_iᵀr_i = ω_iᵀY_i − T_iᵀc − cᵀ(B_i − Mc).
 * Checked against the exact trace and diagonal of dense matrices in test/estimators-sketch.test.ts.
 *
 * Error bars (the paper's for XTrace): stderr = std(t_1 … t_k)/√k with the unbiased sample std. For
 * XDiag the same per entry, std_i(d_i[j])/√k, and for a block B, std_i(Σ_{j∈B} d_i[j])/√k, where the d_i
 * are the k leave-one-out diagonal estimates above. The t_i (d_i) share the sketch, so they are
 * exchangeable but not independent; this error bar is a heuristic, checked empirically (tests and
 * bench/estimators-results.md): on outliers over a bulk ±2 stderr covered the truth in 95 % of seeds
 * (XTrace) and 93–95 % of entries (XDiag), median |error|/stderr 0.6–0.7; on a power-law spectrum
 * XTrace's covered 85–95 % from m = 30 (70 % at m = 10; median up to 1.3) and XDiag's 89–93 %: read
 * it as good to a factor of ~1.5.
 * Each t_i's variance is the one-probe Hutchinson variance of the deflated matrix, 2 Σ_{a≠b}
 * ((I − P_i)H(I − P_i))_ab², so the error is small when H is close to rank k−1 (outliers over a small
 * bulk): the paper proves O(1/m)-type accuracy for PSD H with decaying spectrum, versus 1/√m for
 * Hutchinson. Block traces are sums of the XDiag diagonal, so they need not add up to the XTrace trace.
 *
 * Cost: k matvecs for Y and k for Z (m in all; fewer when the sketch is rank-deficient), O(nk²)
 * flops for the QR and the k×k products plus O(nk²) for the k leave-one-out diagonals; memory
 * ≈ k·n·(4 + 4 + 4 + 8) bytes (Ω, Y, Z as float32, Q as float64).
 *
 * Rank deficiency (more test vectors than rank(H), e.g. k > n or a low-rank H): when the QR finds
 * rank(Y) < k, Y already spans range(H) (almost surely for Gaussian test vectors), so H = PHP and
 * both estimates become exact: s_i = 0 (leaving one column out loses nothing), t̂ = tr M and
 * d̂ = rowsum(Q ⊙ Z) up to residual terms at rounding level, with error bars ≈ 0. Only the rank(Y)
 * vectors of Q are multiplied by H. (With Rademacher vectors a coincidence of signs can make Y
 * rank-deficient without spanning range(H) when H acts on a few coordinates only, e.g. two ±1 rows of
 * Ω equal up to sign; the probability is exponentially small in k.)
 */
export async function xtraceDiag(matvec: MatVec, n: number, opts: XTraceOptions): Promise<XTraceDiagResult> {
  const who = 'xtraceDiag';
  checkSize(who, n);
  const m = opts.matvecs;
  if (!Number.isSafeInteger(m) || m < 2) throw new RangeError(`${who}: matvecs must be an integer ≥ 2, got ${m}`);
  const blocks = opts.blocks ?? [];
  for (const [s, e] of blocks) {
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < s || e > n) {
      throw new RangeError(`${who}: block [${s}, ${e}) is not inside [0, ${n})`);
    }
  }
  const k = Math.floor(m / 2);
  const apply = operator(who, matvec, n, opts, 2 * k);
  if (opts.signal?.aborted) throw new CancelledError();

  // Ω in the generator's order; the test vectors of a small first group are drawn (and multiplied)
  // before the rest, so that its products come sooner. Same vectors, same results.
  const early = Math.min(k, apply.firstGroup);
  const omega = Array.from({ length: early }, () => opts.rng.rademacher(n));
  const onProduct = opts.onProduct;
  const seen = (offset: number) => (onProduct ? (first: number, hvs: Float32Array[]) => hvs.forEach((hv, j) => onProduct(omega[offset + first + j], hv)) : undefined);
  const y = await apply(omega, seen(0));
  if (early < k) {
    for (let i = early; i < k; i++) omega.push(opts.rng.rademacher(n));
    y.push(...(await apply(omega.slice(early), seen(early))));
  }
  const { q, r, rank } = qrColumns(y);
  apply.replan(k + rank);
  const z = await apply(q);

  // Small matrices (float64): M = QᵀZ (rank×rank), W = QᵀΩ, T = ZᵀΩ, B = QᵀY = R (rank×k), ω_iᵀY_i.
  const M = gram(q, z);
  const W = gram(q, omega);
  const T = gram(z, omega);
  const B = Array.from({ length: rank }, (_, a) => r.subarray(a * k, (a + 1) * k));
  const oy = omega.map((w, i) => dot(w, y[i]));
  let trM = 0;
  for (let a = 0; a < rank; a++) trM += M[a][a];

  // s_i = row i of R⁻¹, normalised (full rank; normalised where used); zero when the sketch is rank-deficient.
  const S: Float64Array[] = Array.from({ length: k }, () => new Float64Array(rank));
  if (rank === k) {
    const rInv = invertUpperTriangular(r, k);
    for (let i = 0; i < k; i++) S[i].set(rInv.subarray(i * k, (i + 1) * k));
  }

  // XTrace from the first j test vectors: t_i = tr M − s_iᵀMs_i + ω_iᵀr_i, i < j, with every matrix cut
  // to its leading j × j block. Gram–Schmidt is nested (Q_j spans Y_j, Z_j = HQ_j, R_j leads R) and the
  // inverse of an upper-triangular R_j is the leading block of R⁻¹, so the prefix is XTrace run with
  // Ω_j alone — a convergence curve from the one sketch.
  const c = new Float64Array(rank);
  const samplesOf = (j: number, count: number): Float64Array => {
    let trMj = 0;
    for (let a = 0; a < j; a++) trMj += M[a][a];
    const t = new Float64Array(count);
    const s = new Float64Array(j);
    for (let i = 0; i < count; i++) {
      let nrm = 0;
      for (let a = 0; a < j; a++) nrm += S[i][a] * S[i][a];
      nrm = Math.sqrt(nrm);
      for (let a = 0; a < j; a++) s[a] = nrm > 0 ? S[i][a] / nrm : 0;
      let sc = 0;
      for (let a = 0; a < j; a++) sc += s[a] * W[a][i];
      for (let a = 0; a < j; a++) c[a] = W[a][i] - s[a] * sc;
      let sMs = 0;
      let tc = 0;
      let cQu = 0;
      for (let a = 0; a < j; a++) {
        let ms = 0;
        let mca = 0;
        for (let b = 0; b < j; b++) {
          ms += M[a][b] * s[b];
          mca += M[a][b] * c[b];
        }
        sMs += s[a] * ms;
        tc += T[a][i] * c[a];
        cQu += c[a] * (B[a][i] - mca);
      }
      t[i] = trMj - sMs + (oy[i] - tc - cQu);
    }
    return t;
  };
  const t = samplesOf(rank, k);
  const matvecs = k + rank;
  const trace: Estimate = { ...meanStderr(t), samples: k, matvecs };
  const convergence = rank === k ? Array.from({ length: k - 1 }, (_, p) => ({ matvecs: 2 * (p + 2), ...meanStderr(samplesOf(p + 2, p + 2)) })) : [];

  for (const row of S) {
    const nrm = Math.sqrt(dot(row, row));
    if (nrm > 0) for (let a = 0; a < row.length; a++) row[a] /= nrm;
  }

  // XDiag: the k leave-one-out diagonals d_i, averaged entry by entry (Welford), with block sums.
  const base = new Float64Array(n);
  for (let a = 0; a < rank; a++) {
    const qa = q[a];
    const za = z[a];
    for (let j = 0; j < n; j++) base[j] += qa[j] * za[j];
  }
  const mean = new Float64Array(n);
  const m2 = new Float64Array(n);
  const blockSums = blocks.map(() => new Float64Array(k));
  const qs = new Float64Array(n);
  const zs = new Float64Array(n);
  const qb = new Float64Array(n);
  const bc = new Float64Array(rank);
  const di = new Float64Array(n);
  for (let i = 0; i < k; i++) {
    const s = S[i];
    let sb = 0;
    for (let a = 0; a < rank; a++) sb += s[a] * B[a][i];
    for (let a = 0; a < rank; a++) bc[a] = B[a][i] - s[a] * sb;
    qs.fill(0);
    zs.fill(0);
    qb.fill(0);
    for (let a = 0; a < rank; a++) {
      const qa = q[a];
      const za = z[a];
      const sa = s[a];
      const ba = bc[a];
      if (sa !== 0) {
        for (let j = 0; j < n; j++) {
          qs[j] += qa[j] * sa;
          zs[j] += za[j] * sa;
        }
      }
      for (let j = 0; j < n; j++) qb[j] += qa[j] * ba;
    }
    const w = omega[i];
    const yi = y[i];
    for (let j = 0; j < n; j++) {
      const d = base[j] - qs[j] * zs[j] + w[j] * (yi[j] - qb[j]);
      di[j] = d;
      const delta = d - mean[j];
      mean[j] += delta / (i + 1);
      m2[j] += delta * (d - mean[j]);
    }
    blocks.forEach(([start, end], b) => {
      let sum = 0;
      for (let j = start; j < end; j++) sum += di[j];
      blockSums[b][i] = sum;
    });
  }
  const stderr = new Float64Array(n);
  for (let j = 0; j < n; j++) stderr[j] = k > 1 ? Math.sqrt(m2[j] / (k - 1) / k) : NaN;
  return {
    trace,
    diagonal: { values: mean, stderr, samples: k, matvecs },
    blockTraces: blockSums.map((sums) => ({ ...meanStderr(sums), samples: k, matvecs })),
    sketchRank: rank,
    convergence,
  };
}

/** XTrace's trace estimate alone (the same sketch, numbers and cost as xtraceDiag's `trace`). */
export async function xtrace(matvec: MatVec, n: number, opts: SketchOptions): Promise<Estimate> {
  return (await xtraceDiag(matvec, n, opts)).trace;
}

/** XDiag's diagonal estimate alone (the same sketch, numbers and cost as xtraceDiag's `diagonal`). */
export async function xdiag(matvec: MatVec, n: number, opts: SketchOptions): Promise<DiagonalEstimate> {
  return (await xtraceDiag(matvec, n, opts)).diagonal;
}

// ---- Shared by the sketching estimators --------------------------------------------------------------

export function checkSize(who: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${who}: n must be a positive integer, got ${n}`);
}

/**
 * The operator applied to a list of vectors: one at a time, or in groups through matvecMany; passes
 * float32 copies (never the caller's buffers), checks lengths, counts matvecs for onProgress, and
 * honours the abort signal before every call and after the last.
 */
export function operator(
  who: string,
  matvec: MatVec,
  n: number,
  opts: SketchOptions,
  planned: number,
): ((vs: ArrayLike<number>[], onGroup?: (first: number, hvs: Float32Array[]) => void) => Promise<Float32Array[]>) & { replan: (p: number) => void; readonly firstGroup: number } {
  const { signal, matvecMany, onProgress } = opts;
  const size = matvecMany ? Math.max(1, Math.floor(opts.batchSize ?? Number.POSITIVE_INFINITY)) : 1;
  let firstSize = matvecMany ? Math.max(1, Math.min(size, Math.floor(opts.firstBatchSize ?? size))) : 1;
  let done = 0;
  const f = async (vs: ArrayLike<number>[], onGroup?: (first: number, hvs: Float32Array[]) => void): Promise<Float32Array[]> => {
    const out: Float32Array[] = [];
    for (let first = 0, step = firstSize; first < vs.length; first += step, step = size) {
      firstSize = size; // only the run's very first group is the small one
      if (signal?.aborted) throw new CancelledError();
      const group = vs.slice(first, first + step).map((v) => new Float32Array(v));
      const res = matvecMany ? await matvecMany(group) : [await matvec(group[0])];
      if (signal?.aborted) throw new CancelledError();
      if (res.length !== group.length) throw new RangeError(`${who}: matvecMany returned ${res.length} vectors, expected ${group.length}`);
      for (const hv of res) {
        if (hv.length !== n) throw new RangeError(`${who}: matvec returned length ${hv.length}, expected ${n}`);
        for (let j = 0; j < n; j++) if (!Number.isFinite(hv[j])) throw new Error(`${who}: the matvec returned a non-finite value`);
        out.push(hv);
      }
      done += group.length;
      onGroup?.(first, res);
      onProgress?.(done, planned);
    }
    return out;
  };
  f.replan = (p: number) => {
    planned = p;
  };
  /** The size of the next call's first group (the run's small first group until it has been taken). */
  Object.defineProperty(f, 'firstGroup', { get: () => firstSize });
  return f as typeof f & { readonly firstGroup: number };
}

/** Mean of the samples with standard error s/√count (null below 2 samples). */
export function meanStderr(xs: ArrayLike<number>): { value: number; stderr: number | null } {
  const c = xs.length;
  let mean = 0;
  for (let i = 0; i < c; i++) mean += xs[i];
  mean /= c;
  let ss = 0;
  for (let i = 0; i < c; i++) ss += (xs[i] - mean) ** 2;
  return { value: mean, stderr: c > 1 ? Math.sqrt(ss / (c - 1) / c) : null };
}

/** G[a][b] = x_a · y_b (float64 accumulation). */
function gram(xs: ArrayLike<number>[], ys: ArrayLike<number>[]): Float64Array[] {
  return xs.map((x) => Float64Array.from(ys, (yv) => dot(x, yv)));
}

