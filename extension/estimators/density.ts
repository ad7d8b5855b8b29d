import { CancelledError } from '../errors.js';
import { lanczos } from './lanczos.js';
import type { Rng } from './rng.js';
import type { MatVec } from './types.js';

export interface SpectralDensityOptions {
  /** Number n_v of Lanczos runs, each from its own normalised Rademacher start (≥ 1). */
  runs: number;
  /** Lanczos steps per run (= matvecs per run; capped at n). 80–100 is typical. */
  steps: number;
  /** Source of the start vectors; the same seed gives bit-identical results. */
  rng: Rng;
  /** Number of grid points (≥ 2, default 1000). */
  gridPoints?: number;
  /** Standard deviation σ of the Gaussian kernel; default √(1e-5·max(1, λmax − λmin)) (PyHessian's variance). */
  sigma?: number;
  /** Cancels the run: the promise rejects with CancelledError before the next matvec. */
  signal?: AbortSignal;
  /** Called after each Lanczos run with the number of runs done. */
  onRun?: (done: number) => void;
}

export interface SpectralDensity {
  runs: number;
  /** Lanczos steps per run requested (capped at n); a run stops early only on an invariant subspace (β ≤ 1e-6·max|θ|). */
  steps: number;
  /** Per run: the quadrature nodes θ_k (Ritz values, ascending). */
  nodes: number[][];
  /** Per run: the quadrature weights τ_k (squared first components of T's eigenvectors, sum 1). */
  weights: number[][];
  /** Evenly spaced points covering [min θ − 3σ, max θ + 3σ]. */
  grid: number[];
  /** φ on the grid, normalised so its trapezoid integral over the grid is 1. */
  values: number[];
  /** The kernel's standard deviation σ used. */
  sigma: number;
  matvecs: number;
}

/**
 * Spectral density of a symmetric operator H (size n) by stochastic Lanczos quadrature (Golub & Meurant,
 * "Matrices, moments and quadrature", 1994; Lin, Saad & Yang, "Approximating spectral densities of large
 * matrices", SIAM Review 58(1), 2016; Ubaru, Chen & Saad, "Fast estimation of tr(f(A)) via stochastic
 * Lanczos quadrature", SIAM J. Matrix Anal. Appl. 38(4), 2017; for neural-network Hessians: Ghorbani,
 * Krishnan & Xiao, "An investigation into neural net optimization via Hessian eigenvalue density",
 * ICML 2019, and PyHessian, Yao et al. 2020).
 *
 * Each run v takes a Rademacher z_v, runs `steps` Lanczos steps (full reorthogonalisation, see
 * lanczos.ts; fewer only when the Krylov space is invariant to float32 rounding, β_m ≤ 1e-6·max|θ|,
 * where the quadrature is already exact to that level) from q₁ = z_v/‖z_v‖ and takes the Gauss quadrature of T: nodes θ_k (Ritz values) and
 * weights τ_k = (e₁ᵀy_k)², which reproduce q₁ᵀ p(H) q₁ = Σ_k τ_k p(θ_k) exactly for polynomials p of
 * degree ≤ 2·steps − 1 (in particular Σ τ_k θ_k = zᵀHz/‖z‖² and Σ τ_k θ_k² = ‖Hz‖²/‖z‖²). Since
 * E[q₁ᵀ f(H) q₁] = tr f(H)/n for Rademacher z, the spectral measure (1/n) Σ_i δ(t − λ_i) is estimated by
 *   φ(t) = (1/n_v) Σ_v Σ_k τ_{v,k} g_σ(t − θ_{v,k}),   g_σ(x) = exp(−x²/2σ²)/(σ√(2π)),
 * evaluated on `gridPoints` evenly spaced points over [λmin − 3σ, λmax + 3σ] (λmin, λmax: the extreme
 * nodes of all runs) and renormalised so that its trapezoid integral over the grid is 1.
 *
 * Error: per run, ∫ f φ estimates tr f(H)/n with the one-probe Hutchinson variance
 * (2/n²) Σ_{a≠b} f(H)_ab² (for smooth f, once the quadrature has converged), so it falls as 1/√n_v
 * and, for large n, is already small for a single run (concentration); the quadrature error falls
 * with the steps as for Gauss quadrature. Outliers (isolated eigenvalues) converge first and appear as
 * peaks of mass ≈ (q₁ᵀu_i)² ≈ 1/n each; the bulk is smoothed at the scale σ. The grid must resolve σ:
 * with spacing h = (range + 6σ)/(gridPoints − 1) > σ a peak is sampled coarsely (its mass stays about
 * right, its height does not); PyHessian uses 10,000 points for this reason.
 *
 * Cost: runs·min(steps, n) matvecs; memory steps·n float32 per run (one run at a time);
 * O(gridPoints + runs·steps·σ/h) kernel evaluations (each node touches the grid within 12σ).
 */
export async function spectralDensity(matvec: MatVec, n: number, opts: SpectralDensityOptions): Promise<SpectralDensity> {
  const who = 'spectralDensity';
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${who}: n must be a positive integer, got ${n}`);
  const { runs, steps, signal } = opts;
  if (!Number.isSafeInteger(runs) || runs < 1) throw new RangeError(`${who}: runs must be a positive integer, got ${runs}`);
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`${who}: steps must be a positive integer, got ${steps}`);
  const gridPoints = opts.gridPoints ?? 1000;
  if (!Number.isSafeInteger(gridPoints) || gridPoints < 2) throw new RangeError(`${who}: gridPoints must be an integer ≥ 2, got ${gridPoints}`);
  if (opts.sigma !== undefined && !(opts.sigma > 0 && Number.isFinite(opts.sigma))) {
    throw new RangeError(`${who}: sigma must be positive and finite, got ${opts.sigma}`);
  }

  const nodes: number[][] = [];
  const weights: number[][] = [];
  let matvecs = 0;
  for (let v = 0; v < runs; v++) {
    if (signal?.aborted) throw new CancelledError();
    const start = opts.rng.rademacher(n);
    // Asking for `steps` top and bottom Ritz pairs means convergence can never end a run before its
    // last step; the only early stop is an invariant Krylov space, β_m ≤ 1e-6·max|θ| (the float32
    // rounding floor of the matvec, see lanczos.ts), where the quadrature is exact to that level and
    // further steps would only add nodes of weight ≈ 0 from rounding noise.
    const res = await lanczos(matvec, n, { top: steps, bottom: steps, maxIter: steps, tol: 1e-6, rng: opts.rng, start, signal });
    nodes.push(res.nodes);
    weights.push(res.weights);
    matvecs += res.iterations;
    opts.onRun?.(v + 1);
  }

  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const run of nodes) {
    lo = Math.min(lo, run[0]);
    hi = Math.max(hi, run[run.length - 1]);
  }
  const sigma = opts.sigma ?? Math.sqrt(1e-5 * Math.max(1, hi - lo));
  const a = lo - 3 * sigma;
  const b = hi + 3 * sigma;
  const h = (b - a) / (gridPoints - 1);
  const grid = Array.from({ length: gridPoints }, (_, j) => (j === gridPoints - 1 ? b : a + j * h));
  const values = new Float64Array(gridPoints);
  const norm = 1 / (runs * sigma * Math.sqrt(2 * Math.PI));
  const reach = 12 * sigma; // exp(−72) ≈ 5e-32: nothing beyond
  nodes.forEach((run, v) => {
    run.forEach((theta, i) => {
      const tau = weights[v][i] * norm;
      const j0 = Math.max(0, Math.ceil((theta - reach - a) / h));
      const j1 = Math.min(gridPoints - 1, Math.floor((theta + reach - a) / h));
      for (let j = j0; j <= j1; j++) {
        const x = (grid[j] - theta) / sigma;
        values[j] += tau * Math.exp(-0.5 * x * x);
      }
    });
  });
  let integral = 0;
  for (let j = 0; j < gridPoints - 1; j++) integral += ((values[j] + values[j + 1]) / 2) * (grid[j + 1] - grid[j]);
  if (integral > 0) for (let j = 0; j < gridPoints; j++) values[j] /= integral;
  return { runs, steps: Math.min(steps, n), nodes, weights, grid, values: Array.from(values), sigma, matvecs };
}
