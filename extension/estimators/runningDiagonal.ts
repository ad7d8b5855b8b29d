/**
 * The running Hutchinson-type estimate of diag(H) from the Rademacher vectors seen so far and their
 * products, for a first look at the diagonal while an estimator is still collecting products:
 *   d̂_m = (1/m) Σ_{k≤m} z_k ⊙ Hz_k,   stderr_i = s_i/√m,
 * with s_i² the unbiased sample variance of the m values (z_k ⊙ Hz_k)_i (Welford's streaming update,
 * memory O(n)). For independent Rademacher z_k the estimate is unbiased, E[(z ⊙ Hz)_i] = H_ii, with
 * per-probe variance Σ_{j≠i} H_ij² (Bekas, Kokiopoulou & Saad, "An estimator for the diagonal of a
 * matrix", Appl. Numer. Math. 57, 2007).
 *
 * It fits both stochastic diagonal estimators of the engine:
 * - Hutchinson (hutchinson.ts): it is that estimator's own running mean (the same arithmetic, so after
 *   all probes it equals the final diagonal bit for bit).
 * - XDiag (xtrace.ts): the sketch's test vectors ω_i are independent Rademacher vectors and Y_i = Hω_i
 *   are its first k products. Before the deflation basis Q exists, XDiag's leave-one-out estimate
 *   d_i = diag(P_i H) + ω_i ⊙ (I − P_i)Hω_i reduces, with no basis (P_i = 0), to ω_i ⊙ Hω_i, so the mean
 *   over the test vectors seen so far is the undeflated (Hutchinson) form of XDiag (Epperly, Tropp &
 *   Webber, "XTrace: making the most of every sample in stochastic trace estimation", SIAM J. Matrix
 *   Anal. Appl. 45(1), 2024, §2, §5). It is unbiased like Hutchinson's but does not have XDiag's
 *   O(1/m)-type accuracy on low-rank-dominated H; the final XDiag diagonal replaces it.
 * The error bar is the plain standard error of independent samples (exact in expectation for the
 * variance, unlike XDiag's leave-one-out heuristic). Cost: O(n) flops per product.
 */
export class RunningDiagonal {
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private m = 0;

  constructor(readonly n: number) {
    this.mean = new Float64Array(n);
    this.m2 = new Float64Array(n);
  }

  /** Products seen so far. */
  get count(): number {
    return this.m;
  }

  /** Adds one Rademacher vector z and its product Hz. */
  push(z: ArrayLike<number>, hz: ArrayLike<number>): void {
    if (z.length !== this.n || hz.length !== this.n) throw new RangeError(`RunningDiagonal: vectors of length ${z.length} and ${hz.length}, expected ${this.n}`);
    const k = ++this.m;
    const { mean, m2 } = this;
    for (let i = 0; i < this.n; i++) {
      const x = z[i] * hz[i];
      const delta = x - mean[i];
      mean[i] += delta / k;
      m2[i] += delta * (x - mean[i]);
    }
  }

  /** The estimate entries [start, end) and their standard errors (NaN below 2 products). */
  slice(start: number, end: number): { values: Float64Array; stderr: Float64Array } {
    const m = this.m;
    const values = this.mean.slice(start, end);
    const stderr = new Float64Array(end - start);
    for (let i = start; i < end; i++) stderr[i - start] = m > 1 ? Math.sqrt(this.m2[i] / (m - 1) / m) : NaN;
    return { values, stderr };
  }
}
