import { CancelledError } from '../errors.js';
import type { Rng } from './rng.js';
import type { MatVec } from './types.js';

/** One region's share of Frobenius mass on the diagonal, with the two sums behind it. */
export interface ShareResult {
  /** R̂ = N̂ / F̂ (may leave [0, 1] by about its error bar when the probes are few). */
  value: number;
  /** Delete-a-group jackknife standard error; null when exact or with too few probes. */
  stderr: number | null;
  /** N̂: unbiased estimate of Σ_{i∈B} H_ii². */
  diagonalMass: number;
  /** F̂: unbiased estimate of Σ_{i∈B} Σ_j H_ij² (the Frobenius mass of the rows in B). */
  frobeniusMass: number;
  /** Probes behind the estimate; null when exact. */
  samples: number | null;
}

/**
 * How diagonal is H? The share of the Frobenius mass of the rows i ∈ B on the diagonal,
 *   R_B = Σ_{i∈B} H_ii² / Σ_{i∈B} Σ_j H_ij²   (B = all weights: ‖diag H‖² / ‖H‖_F²),
 * from the Rademacher probes z_k of a Hutchinson run and their products Hz_k, at no extra matvec.
 * With x_k = z_k ⊙ Hz_k (E x_k = diag H):
 *   F̂_B = (1/m) Σ_k Σ_{i∈B} (Hz_k)_i²  is unbiased, since E[(Hz)_i²] = Σ_j H_ij² for Rademacher z
 *     (so Σ_i gives E‖Hz‖² = tr H² = ‖H‖_F²);
 *   N̂_B = (1/(m(m−1))) Σ_{k≠l} Σ_{i∈B} x_ki x_li = Σ_{i∈B} (d̂_i² − s_i²/m) is unbiased: the plain
 *     d̂_i² overestimates H_ii² by Var(d̂_i) = σ_i²/m, σ_i² = Σ_{j≠i} H_ij², and the U-statistic (cross
 *     products of distinct probes only) removes exactly that bias.
 * R̂_B = N̂_B / F̂_B is a ratio estimator (bias O(1/m)). Its error bar is the delete-a-group jackknife
 * (Quenouille 1956; Efron & Tibshirani, An Introduction to the Bootstrap, 1993, §11.5): probes go
 * round-robin into G groups, R̂ is recomputed with each group left out (N̂ from the remaining sums,
 * exactly), and se² = (G−1)/G Σ_g (R̂_(g) − mean R̂_(·))². The row sums are per layer but the rows run
 * over all columns j, so cross-layer coupling counts as off-diagonal mass, as it does for a diagonal
 * preconditioner. Hutchinson 1989; Bekas, Kokiopoulou & Saad 2007 (diagonal estimator); the
 * variance of the U-statistic: Hoeffding 1948.
 *
 * Cost: O(n) flops per probe and (G + 1)·n float64 of memory (the per-group sums Σ_{k∈g} x_k).
 */
export class FrobeniusShareAccumulator {
  private readonly total: Float64Array;
  private readonly groupSums: Float64Array[];
  /** Per group, per region: Σ_k Σ_{i∈B} (Hz_k)_i², which is also Σ_k Σ_{i∈B} x_ki² (z_i² = 1). */
  private readonly f: Float64Array[];
  private readonly counts: number[];
  private m = 0;

  /**
   * @param n size of H
   * @param regions the row ranges [start, end) to report (e.g. [0, n) and one per layer)
   * @param groups jackknife groups G ≥ 2 (more: a steadier error bar; each costs n float64)
   */
  constructor(
    readonly n: number,
    readonly regions: Array<[start: number, end: number]>,
    groups = 20,
  ) {
    if (!Number.isSafeInteger(groups) || groups < 2) throw new RangeError(`frobeniusShare: groups must be an integer ≥ 2, got ${groups}`);
    for (const [s, e] of regions) {
      if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < s || e > n) throw new RangeError(`frobeniusShare: region [${s}, ${e}) is not inside [0, ${n})`);
    }
    this.total = new Float64Array(n);
    this.groupSums = Array.from({ length: groups }, () => new Float64Array(n));
    this.f = Array.from({ length: groups }, () => new Float64Array(regions.length));
    this.counts = new Array(groups).fill(0);
  }

  /** One Rademacher probe z and its product Hz (not kept). */
  push(z: ArrayLike<number>, hz: ArrayLike<number>): void {
    const n = this.n;
    if (z.length !== n || hz.length !== n) throw new RangeError(`frobeniusShare: probe length ${z.length}/${hz.length}, expected ${n}`);
    const g = this.m % this.groupSums.length;
    const sums = this.groupSums[g];
    for (let i = 0; i < n; i++) {
      const x = z[i] * hz[i];
      this.total[i] += x;
      sums[i] += x;
    }
    this.regions.forEach(([s, e], r) => {
      let ff = 0;
      for (let i = s; i < e; i++) ff += hz[i] * hz[i];
      this.f[g][r] += ff;
    });
    this.counts[g]++;
    this.m++;
  }

  get samples(): number {
    return this.m;
  }

  /** The estimate per region, in the order the regions were given. */
  result(): ShareResult[] {
    const m = this.m;
    return this.regions.map(([s, e], r) => {
      let ss = 0;
      for (let i = s; i < e; i++) ss += this.total[i] * this.total[i];
      const fTot = this.f.reduce((a, fg) => a + fg[r], 0);
      const N = m > 1 ? (ss - fTot) / (m * (m - 1)) : NaN;
      const F = m > 0 ? fTot / m : NaN;
      const value = N / F;
      let stderr: number | null = null;
      const used = this.counts.map((_, g) => g).filter((g) => this.counts[g] > 0);
      if (used.length >= 2 && used.every((g) => m - this.counts[g] >= 2)) {
        const loo = used.map((g) => {
          const sg = this.groupSums[g];
          let cross = 0;
          let own = 0;
          for (let i = s; i < e; i++) {
            cross += this.total[i] * sg[i];
            own += sg[i] * sg[i];
          }
          const mm = m - this.counts[g];
          const n2 = (ss - 2 * cross + own - (fTot - this.f[g][r])) / (mm * (mm - 1));
          return n2 / ((fTot - this.f[g][r]) / mm);
        });
        const k = loo.length;
        const mean = loo.reduce((a, b) => a + b, 0) / k;
        const v = ((k - 1) / k) * loo.reduce((a, b) => a + (b - mean) ** 2, 0);
        stderr = Number.isFinite(v) ? Math.sqrt(v) : null;
      }
      return { value, stderr, diagonalMass: N, frobeniusMass: F, samples: m };
    });
  }
}

/**
 * The same share from m fresh Rademacher probes (m matvecs); see FrobeniusShareAccumulator. The
 * engine feeds the accumulator from its Hutchinson probes instead, so there it costs no matvec.
 */
export async function frobeniusShare(
  matvec: MatVec,
  n: number,
  opts: { samples: number; rng: Rng; regions?: Array<[number, number]>; groups?: number; signal?: AbortSignal },
): Promise<ShareResult[]> {
  const m = opts.samples;
  if (!Number.isSafeInteger(m) || m < 2) throw new RangeError(`frobeniusShare: samples must be an integer ≥ 2, got ${m}`);
  const acc = new FrobeniusShareAccumulator(n, opts.regions ?? [[0, n]], Math.min(opts.groups ?? 20, m));
  for (let k = 0; k < m; k++) {
    if (opts.signal?.aborted) throw new CancelledError();
    const z = opts.rng.rademacher(n);
    acc.push(z, await matvec(z.slice()));
  }
  return acc.result();
}

/** The exact share per region from the dense symmetric H (row-major n×n). */
export function exactFrobeniusShare(H: ArrayLike<number>, n: number, regions: Array<[number, number]>): ShareResult[] {
  return regions.map(([s, e]) => {
    let N = 0;
    let F = 0;
    for (let i = s; i < e; i++) {
      const d = H[i * n + i];
      N += d * d;
      for (let j = 0; j < n; j++) F += H[i * n + j] * H[i * n + j];
    }
    return { value: N / F, stderr: null, diagonalMass: N, frobeniusMass: F, samples: null };
  });
}
