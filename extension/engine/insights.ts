/**
 * Answers from the curvature already computed by inspect(): how diagonal H is (Frobenius share), the
 * largest stable learning rates, and how the gradient, AdaHessian's inverse-diagonal step and a
 * Newton-type MINRES step compare under the quadratic model. Globally and per layer block.
 *
 * Extra cost: with --exact no HVP (products use the dense Hessian already built, and the Newton-type
 * step is a dense solve, O(P³)); otherwise one HVP
 * per layer (its own gradient, for g_BᵀH_BB g_B), at most `newtonMatvecs` for MINRES and two for sᵀHs.
 * The Frobenius share comes from the diagonal estimator's own probes (see FrobeniusShareAccumulator).
 */
import type { DiagonalEstimate, Directions, LearningRateBound, ShareEstimate } from '../protocol.js';
import { exactFrobeniusShare, FrobeniusShareAccumulator, type ShareResult } from '../estimators/frobeniusShare.js';
import { minres } from '../estimators/minres.js';
import { cosine, dampedInverseDiagonal, lineSearchGradientDecrease, predictedDecrease, rayleighQuotient, stableLearningRate } from '../estimators/directions.js';
import { dot } from '../linalg/dot.js';
import { solveDenseInPlace } from '../linalg/solve.js';

export const INSIGHT_DEFAULTS = { epsilon: 1e-4, newtonMatvecs: 50 };

/**
 * The default λ: max(0, −λ_min) + 10⁻³·max(λ_max, 0) (10⁻³ when neither is known), so that H + λI is
 * positive definite with condition number ≲ 10³ and the Newton-type step minimises the damped quadratic
 * model (Levenberg 1944; Marquardt 1963) instead of heading for one of its saddle points.
 */
export function defaultDamping(lambdaMin: number | undefined, lambdaMax: number | undefined): number {
  const neg = lambdaMin != null && Number.isFinite(lambdaMin) ? Math.max(0, -lambdaMin) : 0;
  const pos = lambdaMax != null && Number.isFinite(lambdaMax) ? Math.max(0, lambdaMax) : 0;
  return neg + pos > 0 ? neg + 1e-3 * pos : 1e-3;
}

/** Most jackknife groups for the Frobenius share; each keeps one float64 vector of size P. */
const SHARE_GROUPS = 20;

export interface InsightInputs {
  P: number;
  /** Layer blocks [start, end). */
  blocks: Array<[number, number]>;
  gradient: Float32Array;
  /** H·g, already computed. */
  hg: Float32Array;
  /** The diagonal estimate (exact with --exact) and how it was made. */
  diag: Float64Array;
  diagMethod: DiagonalEstimate['method'];
  /** The dense Hessian (--exact), else null. */
  dense: Float32Array | null;
  /** The accumulator fed from the diagonal estimator's probes (regions: shareRegions(P, blocks)); null with --exact. */
  share: FrobeniusShareAccumulator | null;
  /** Largest eigenvalue of H and of each block's H_BB (undefined when not computed). */
  globalTop: number | undefined;
  /** Smallest eigenvalue of H (for the default damping). */
  globalBottom?: number;
  layerTops: Array<number | undefined>;
  /** Exact HVPs, several at once, and how many to pass at once (the engine's stacked-copies batch). */
  matvecMany: (vs: Float32Array[]) => Promise<Float32Array[]>;
  batch: number;
  /** λ; undefined: defaultDamping(λ_min, λ_max). */
  damping?: number;
  epsilon: number;
  newtonMatvecs: number;
  signal?: AbortSignal;
}

export interface Insights {
  global: { diagonalShare: ShareEstimate; learningRateBound: LearningRateBound; directions: Directions };
  layers: Array<{ diagonalShare: ShareEstimate; learningRateBound: LearningRateBound; gradientCurvature: number }>;
}

/** The rows over which the share is reported: all of H first, then each block. */
export function shareRegions(P: number, blocks: Array<[number, number]>): Array<[number, number]> {
  return [[0, P], ...blocks];
}

/** An accumulator sized for the run: as many jackknife groups (≤ 20) as 1/8 of the memory budget allows ((G + 1)·P float64), at least 2. */
export function shareAccumulator(P: number, blocks: Array<[number, number]>, probes: number, memoryBudget: number): FrobeniusShareAccumulator {
  const groups = Math.max(2, Math.min(SHARE_GROUPS, probes, Math.floor(memoryBudget / 8 / (8 * P)) - 1));
  return new FrobeniusShareAccumulator(P, shareRegions(P, blocks), groups);
}

export async function computeInsights(x: InsightInputs): Promise<Insights> {
  const { P, blocks, dense } = x;
  // Products in float64 for the small dense algebra; HVPs take float32.
  const many = dense
    ? async (vs: ArrayLike<number>[]): Promise<Array<Float32Array | Float64Array>> => vs.map((v) => denseProduct(dense, P, v))
    : async (vs: ArrayLike<number>[]): Promise<Array<Float32Array | Float64Array>> => {
        const out: Float32Array[] = [];
        for (let i = 0; i < vs.length; i += x.batch) out.push(...(await x.matvecMany(vs.slice(i, i + x.batch).map((v) => Float32Array.from(v)))));
        return out;
      };

  // How diagonal is H.
  const shares: ShareResult[] = dense ? exactFrobeniusShare(dense, P, shareRegions(P, blocks)) : x.share!.result();
  const shareOf = (s: ShareResult): ShareEstimate => ({ value: s.value, stderr: s.stderr, method: dense ? 'exact' : 'hutchinson', samples: s.samples });

  // Curvature along each layer's own gradient, the other weights fixed: g_BᵀH_BB g_B / g_Bᵀg_B.
  // Masked gradients are made `batch` at a time (float32, P each), never all at once.
  const whole = blocks.length === 1 && blocks[0][0] === 0 && blocks[0][1] === P;
  const layerCurvature: number[] = [];
  for (let b0 = 0; b0 < blocks.length; b0 += x.batch) {
    const group = blocks.slice(b0, b0 + x.batch);
    const masked = group.map(([s, e]) => {
      const v = new Float32Array(P);
      v.set(x.gradient.subarray(s, e), s);
      return v;
    });
    const products = whole ? [x.hg] : await many(masked);
    group.forEach(([s, e], k) => layerCurvature.push(rayleighQuotient(x.gradient.subarray(s, e), products[k].subarray(s, e))));
  }

  // Directions.
  const g = Float64Array.from(x.gradient);
  const gg = dot(g, g);
  const ghg = dot(g, x.hg);
  const sDiag = dampedInverseDiagonal(g, x.diag, x.epsilon);
  const damping = x.damping ?? defaultDamping(x.globalBottom, x.globalTop);
  // With --exact the Newton-type step is the dense solve (exact); otherwise MINRES on HVPs.
  const newton = dense ? null : await minres(async (v) => (await many([v]))[0], g, { shift: damping, maxIter: x.newtonMatvecs, signal: x.signal });
  const sNewton = newton ? newton.solution : solveDenseInPlace(shifted(dense!, P, damping), P, g);
  const [hsDiag, hsNewton] = await many([sDiag, sNewton]);
  let r2 = 0;
  for (let i = 0; i < P; i++) r2 += (g[i] - hsNewton[i] - damping * sNewton[i]) ** 2;
  const directions: Directions = {
    damping,
    epsilon: x.epsilon,
    diagonalMethod: x.diagMethod,
    cosine: { gradientVsDiagonal: cosine(g, sDiag), gradientVsNewton: cosine(g, sNewton), diagonalVsNewton: cosine(sDiag, sNewton) },
    predictedDecrease: { gradient: lineSearchGradientDecrease(gg, ghg), diagonal: predictedDecrease(g, sDiag, hsDiag), newton: predictedDecrease(g, sNewton, hsNewton) },
    newtonResidual: gg > 0 ? Math.sqrt(r2 / gg) : 0,
    newtonMethod: newton ? 'minres' : 'dense',
    ...(newton ? { newtonIterations: newton.iterations, newtonMatvecs: x.newtonMatvecs } : {}),
  };
  return {
    global: {
      diagonalShare: shareOf(shares[0]),
      learningRateBound: { topEigenvector: stableLearningRate(x.globalTop), gradient: stableLearningRate(gg > 0 ? ghg / gg : NaN) },
      directions,
    },
    layers: blocks.map((_, b) => ({
      diagonalShare: shareOf(shares[b + 1]),
      learningRateBound: { topEigenvector: stableLearningRate(x.layerTops[b]), gradient: stableLearningRate(layerCurvature[b]) },
      gradientCurvature: layerCurvature[b],
    })),
  };
}

/** H + λI as float64 (8P² bytes, within inspect's 12P² budget for --exact: the eigensolver's copy is gone by now). */
function shifted(H: Float32Array, P: number, damping: number): Float64Array {
  const a = Float64Array.from(H);
  for (let i = 0; i < P; i++) a[i * P + i] += damping;
  return a;
}

/** H v for the dense row-major H (float32 entries), in float64. */
function denseProduct(H: Float32Array, P: number, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(P);
  for (let i = 0; i < P; i++) out[i] = dot(H.subarray(i * P, (i + 1) * P), v);
  return out;
}
