/**
 * The insight estimators against exact matrices: the Frobenius share of the diagonal (unbiased sums,
 * calibrated jackknife error bar), MINRES against a dense solve on indefinite systems, the step-size
 * bounds on quadratics where gradient descent just below / above them converges / diverges, and the
 * quadratic model's predicted decreases against the quadratic itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../extension/estimators/rng.js';
import { exactFrobeniusShare, FrobeniusShareAccumulator, frobeniusShare } from '../extension/estimators/frobeniusShare.js';
import { minres } from '../extension/estimators/minres.js';
import { cosine, dampedInverseDiagonal, lineSearchGradientDecrease, predictedDecrease, rayleighQuotient, stableLearningRate } from '../extension/estimators/directions.js';
import { solveDense } from '../extension/linalg/solve.js';
import { lanczos } from '../extension/estimators/lanczos.js';
import { denseMatVec, fromEigen, haarColumns, mulDense } from './matrices.js';
import { dot } from '../extension/linalg/dot.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));

/** Indefinite, Hessian-like: 4 outliers, a bulk near 0, 3 negative eigenvalues; Haar eigenvectors. */
function testMatrix(n: number, seed: number) {
  const rng = new Rng(seed);
  const lambda = [20, 9, 5, 3, -1.5, -0.7, -0.3, ...Array.from({ length: n - 7 }, () => 0.05 + 0.1 * rng.normal())];
  return fromEigen(lambda, haarColumns(n, rng));
}

test('Frobenius share: exact reference by hand; a diagonal matrix has share 1 with zero error bar', async () => {
  const n = 6;
  const a = new Float64Array(n * n);
  const rng = new Rng(1);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
  const [all, first] = exactFrobeniusShare(a, n, [[0, n], [0, 2]]);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += a[i * n + i] ** 2;
    for (let j = 0; j < n; j++) den += a[i * n + j] ** 2;
  }
  assert.ok(Math.abs(all.value - num / den) < 1e-15);
  assert.equal(all.stderr, null);
  const num2 = a[0] ** 2 + a[n + 1] ** 2;
  let den2 = 0;
  for (let j = 0; j < n; j++) den2 += a[j] ** 2 + a[n + j] ** 2;
  assert.ok(Math.abs(first.value - num2 / den2) < 1e-15);

  const d = new Float64Array(n * n);
  [3, -2, 0.5, 1, 4, -0.1].forEach((x, i) => (d[i * n + i] = x));
  const [r] = await frobeniusShare(denseMatVec({ n, a: d }), n, { samples: 10, rng: new Rng(2) });
  assert.ok(Math.abs(r.value - 1) < 1e-6, `${r.value}`);
  assert.ok(r.stderr! < 1e-6);
});

test('Frobenius share: N̂ and F̂ unbiased, d̂² biased without the correction, error bar calibrated over 400 seeds', async () => {
  const n = 40;
  const H = testMatrix(n, 3);
  const regions: Array<[number, number]> = [[0, n], [0, 15], [15, n]];
  const exact = exactFrobeniusShare(H.a, n, regions);
  // The per-region shares should be neither ~0 nor ~1 for the test to mean something.
  for (const e of exact) assert.ok(e.value > 0.02 && e.value < 0.8, `exact share ${e.value}`);
  const seeds = 400;
  const m = 40;
  const N: number[][] = regions.map(() => []);
  const F: number[][] = regions.map(() => []);
  const R: number[][] = regions.map(() => []);
  const Z: number[] = [];
  const naive: number[] = [];
  const mv = denseMatVec(H);
  for (let s = 0; s < seeds; s++) {
    const rng = new Rng(1000 + s);
    const acc = new FrobeniusShareAccumulator(n, regions, 20);
    const dhat = new Float64Array(n);
    for (let k = 0; k < m; k++) {
      const z = rng.rademacher(n);
      const hz = await mv(z.slice());
      acc.push(z, hz);
      for (let i = 0; i < n; i++) dhat[i] += (z[i] * hz[i]) / m;
    }
    naive.push(dot(dhat, dhat));
    acc.result().forEach((r, i) => {
      N[i].push(r.diagonalMass);
      F[i].push(r.frobeniusMass);
      R[i].push(r.value);
      Z.push((r.value - exact[i].value) / r.stderr!);
    });
  }
  regions.forEach((_, i) => {
    const e = exact[i];
    assert.ok(Math.abs(mean(N[i]) - e.diagonalMass) < 4 * (sd(N[i]) / Math.sqrt(seeds)), `N̂[${i}] mean ${mean(N[i])} vs ${e.diagonalMass}`);
    assert.ok(Math.abs(mean(F[i]) - e.frobeniusMass) < 4 * (sd(F[i]) / Math.sqrt(seeds)), `F̂[${i}] mean ${mean(F[i])} vs ${e.frobeniusMass}`);
    // The ratio's bias is O(1/m): small against its spread.
    assert.ok(Math.abs(mean(R[i]) - e.value) < 0.25 * sd(R[i]), `R̂[${i}] mean ${mean(R[i])} vs ${e.value} (sd ${sd(R[i])})`);
  });
  // Without the correction Σ d̂_i² overestimates Σ H_ii² by Σ_i Var(d̂_i) = (‖H‖_F² − ‖diag H‖²)/m.
  const bias = (exact[0].frobeniusMass - exact[0].diagonalMass) / m;
  const seNaive = sd(naive) / Math.sqrt(seeds);
  assert.ok(Math.abs(mean(naive) - exact[0].diagonalMass - bias) < 4 * seNaive, `naive ${mean(naive)} vs ${exact[0].diagonalMass} + ${bias}`);
  assert.ok(bias > 4 * seNaive, `bias ${bias} vs se ${seNaive}`);
  const abs = Z.map(Math.abs).sort((a, b) => a - b);
  const within2 = abs.filter((z) => z <= 2).length / abs.length;
  const median = abs[Math.floor(abs.length / 2)];
  assert.ok(within2 >= 0.88 && within2 <= 0.99, `${within2} of |R̂ − R| within 2 stderr`);
  assert.ok(median >= 0.5 && median <= 0.9, `median |R̂ − R|/stderr ${median}`);
});

test('Frobenius share: too few probes give no error bar; bad arguments are refused', async () => {
  const acc = new FrobeniusShareAccumulator(3, [[0, 3]], 2);
  acc.push([1, -1, 1], [1, 2, 3]);
  acc.push([1, 1, 1], [1, 0, 3]);
  assert.equal(acc.result()[0].stderr, null);
  assert.throws(() => new FrobeniusShareAccumulator(3, [[0, 4]]), /not inside/);
  assert.throws(() => new FrobeniusShareAccumulator(3, [[0, 3]], 1), /groups/);
  assert.throws(() => acc.push([1], [1]), /length/);
});

test('MINRES matches a dense solve on indefinite systems, with and without damping; the residual estimate is honest', async () => {
  for (const [seed, shift] of [[5, 0], [6, 0.2], [7, -0.1]] as const) {
    const n = 30;
    const H = testMatrix(n, seed);
    const rng = new Rng(seed + 50);
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const shifted = Float64Array.from(H.a);
    for (let i = 0; i < n; i++) shifted[i * n + i] += shift;
    const want = solveDense(shifted, n, b);
    const r = await minres(async (v) => mulDense(H.a, n, v), b, { shift, maxIter: 200, tol: 1e-12 });
    assert.equal(r.stop, 'converged');
    assert.ok(r.iterations <= 120, `${r.iterations} iterations`);
    const err = Math.sqrt(want.reduce((s, w, i) => s + (w - r.solution[i]) ** 2, 0) / dot(want, want));
    assert.ok(err < 1e-8, `shift ${shift}: rel error ${err}`);
    const res = mulDense(shifted, n, r.solution).map((x, i) => b[i] - x);
    assert.ok(Math.abs(Math.sqrt(dot(res, res)) - r.residualEstimate) < 1e-8 * Math.sqrt(dot(b, b)));
    // The dense solve itself: A x = b.
    const back = mulDense(shifted, n, want);
    assert.ok(Math.sqrt(back.reduce((s, x, i) => s + (x - b[i]) ** 2, 0)) < 1e-10 * Math.sqrt(dot(b, b)));
  }
});

test('MINRES: residuals fall monotonically with the budget, which it respects; a zero right-hand side is solved by zero', async () => {
  const n = 60;
  const H = testMatrix(n, 9);
  const rng = new Rng(10);
  const b = Float64Array.from({ length: n }, () => rng.normal());
  let last = Infinity;
  for (const k of [1, 3, 6, 10, 20]) {
    let calls = 0;
    const r = await minres(async (v) => (calls++, mulDense(H.a, n, v)), b, { maxIter: k, tol: 1e-14 });
    assert.equal(r.iterations, k);
    assert.equal(calls, k);
    assert.equal(r.stop, 'budget');
    const res = mulDense(H.a, n, r.solution).map((x, i) => b[i] - x);
    const true_ = Math.sqrt(dot(res, res));
    assert.ok(true_ <= last + 1e-12, `residual ${true_} after ${k} > ${last}`);
    assert.ok(Math.abs(true_ - r.residualEstimate) < 1e-9 * Math.sqrt(dot(b, b)));
    last = true_;
  }
  const zero = await minres(async (v) => mulDense(H.a, n, v), new Float64Array(n), { maxIter: 5 });
  assert.equal(zero.iterations, 0);
  assert.ok(zero.solution.every((x) => x === 0));
});

test('step sizes: gradient descent on a quadratic converges just below 2/λ_max (found by Lanczos) and diverges just above', async () => {
  const n = 25;
  const rng = new Rng(11);
  const lambda = [7.5, 3, 1, ...Array.from({ length: n - 3 }, () => 0.1 + 0.5 * rng.uniform())];
  const A = fromEigen(lambda, haarColumns(n, rng));
  const l = await lanczos(denseMatVec(A), n, { top: 1, bottom: 1, maxIter: n, rng: new Rng(12) });
  const bound = stableLearningRate(l.top[0].value)!;
  assert.ok(Math.abs(bound - 2 / 7.5) < 1e-5, `bound ${bound}`);
  const b = Float64Array.from({ length: n }, () => rng.normal());
  const wStar = solveDense(A.a, n, b);
  const distance = (lr: number) => {
    const w = new Float64Array(n);
    for (let t = 0; t < 3000; t++) {
      const g = mulDense(A.a, n, w).map((x, i) => x - b[i]);
      for (let i = 0; i < n; i++) w[i] -= lr * g[i];
    }
    return Math.sqrt(w.reduce((s, x, i) => s + (x - wStar[i]) ** 2, 0));
  };
  const start = Math.sqrt(dot(wStar, wStar));
  assert.ok(distance(0.99 * bound) < 1e-6 * start, `below: ${distance(0.99 * bound)}`);
  assert.ok(distance(1.01 * bound) > 1e6 * start, `above: ${distance(1.01 * bound)}`);
  assert.equal(stableLearningRate(0), null);
  assert.equal(stableLearningRate(-2), null);
  assert.equal(stableLearningRate(NaN), null);
  assert.equal(stableLearningRate(undefined), null);
});

test('step sizes along the gradient: a step −ηg lowers an (indefinite) quadratic iff η < 2/(gᵀHg/gᵀg); predicted decreases are exact on quadratics', () => {
  const n = 20;
  const H = testMatrix(n, 13);
  const rng = new Rng(14);
  const b = Float64Array.from({ length: n }, () => rng.normal());
  const f = (w: ArrayLike<number>) => 0.5 * dot(w, mulDense(H.a, n, w)) - dot(b, w);
  for (let trial = 0; trial < 20; trial++) {
    const w = Float64Array.from({ length: n }, () => rng.normal());
    const g = mulDense(H.a, n, w).map((x, i) => x - b[i]);
    const hg = mulDense(H.a, n, g);
    const c = rayleighQuotient(g, hg);
    const bound = stableLearningRate(c);
    const step = (eta: number) => f(w.map((x, i) => x - eta * g[i])) - f(w);
    if (bound == null) {
      assert.ok(step(1e3) < 0, 'no bound: every step lowers the quadratic');
      assert.equal(lineSearchGradientDecrease(dot(g, g), dot(g, hg)), null);
    } else {
      assert.ok(step(0.99 * bound) < 0 && step(1.01 * bound) > 0, `trial ${trial}`);
      const best = lineSearchGradientDecrease(dot(g, g), dot(g, hg))!;
      const alpha = dot(g, g) / dot(g, hg);
      assert.ok(Math.abs(-step(alpha) - best) < 1e-9 * Math.max(1, best));
      assert.ok(-step(0.9 * alpha) < best && -step(1.1 * alpha) < best);
    }
    for (const s of [dampedInverseDiagonal(g, H.diag, 0.1), solveDense(H.a.map((x, k) => (k % (n + 1) === 0 ? x + 0.5 : x)), n, g)]) {
      const actual = f(w) - f(w.map((x, i) => x - s[i]));
      const predicted = predictedDecrease(g, s, mulDense(H.a, n, s));
      assert.ok(Math.abs(actual - predicted) < 1e-9 * Math.max(1, Math.abs(actual)), `${actual} vs ${predicted}`);
    }
  }
  const some = Array.from({ length: n }, () => rng.normal());
  assert.ok(Math.abs(cosine(some, some) - 1) < 1e-15);
  assert.ok(Math.abs(cosine(some, some.map((x) => -2 * x)) + 1) < 1e-15);
  assert.ok(Number.isNaN(cosine(some, new Float64Array(n))));
  const inv = dampedInverseDiagonal([1, -2, 3], [-0.5, 0, 2], 0.5);
  assert.deepEqual(Array.from(inv), [1, -4, 1.2]);
});

test('computeInsights on an operator: never more than `batch` vectors at once, same numbers for any batch, per-layer curvature exact', async () => {
  const { computeInsights, shareAccumulator } = await import('../extension/engine/insights.js');
  const n = 30;
  const H = testMatrix(n, 21);
  const blocks: Array<[number, number]> = [[0, 10], [10, 25], [25, 30]];
  const rng = new Rng(22);
  const gradient = Float32Array.from({ length: n }, () => rng.normal());
  const mv = denseMatVec(H);
  const hg = await mv(gradient.slice());
  const run = async (batch: number) => {
    const share = shareAccumulator(n, blocks, 50, 2 ** 30);
    const prng = new Rng(23);
    for (let k = 0; k < 50; k++) {
      const z = prng.rademacher(n);
      share.push(z, await mv(z.slice()));
    }
    let most = 0;
    const matvecMany = async (vs: Float32Array[]) => {
      most = Math.max(most, vs.length);
      return Promise.all(vs.map((v) => mv(v)));
    };
    const r = await computeInsights({ P: n, blocks, gradient, hg, diag: H.diag, diagMethod: 'exact', dense: null, share, globalTop: 20, globalBottom: -1.5, layerTops: [1, 2, 3], matvecMany, batch, epsilon: 1e-4, newtonMatvecs: 200 });
    assert.ok(most <= batch, `${most} vectors at once with batch ${batch}`);
    return r;
  };
  const a = await run(1);
  const b = await run(8);
  assert.deepEqual(a, b);
  blocks.forEach(([s, e], i) => {
    const gb = Float64Array.from(gradient.subarray(s, e));
    const sub = Float64Array.from({ length: (e - s) ** 2 }, (_, k) => H.a[(s + Math.floor(k / (e - s))) * n + s + (k % (e - s))]);
    const want = dot(gb, mulDense(sub, e - s, gb)) / dot(gb, gb);
    assert.ok(Math.abs(a.layers[i].gradientCurvature - want) < 1e-5 * Math.abs(want) + 1e-6, `layer ${i}: ${a.layers[i].gradientCurvature} vs ${want}`);
    assert.equal(a.layers[i].learningRateBound.topEigenvector, 2 / (i + 1));
  });
  // Default damping: −λ_min + 10⁻³·λ_max with the eigenvalues given.
  assert.ok(Math.abs(a.global.directions.damping - (1.5 + 0.02)) < 1e-12);
  assert.equal(a.global.directions.newtonMethod, 'minres');
  assert.ok(a.global.directions.newtonResidual < 1e-5, `${a.global.directions.newtonResidual}`);
});
