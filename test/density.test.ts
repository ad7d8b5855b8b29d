import { denseMatVec, haarColumns, pinnedMatrix } from './matrices.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../extension/estimators/rng.js';
import { spectralDensity, type SpectralDensity } from '../extension/estimators/density.js';
import type { MatVec } from '../extension/estimators/types.js';
import { CancelledError } from '../extension/errors.js';

// ---- The pinned acceptance matrix (test/matrices.ts) ------------------------------------------------

const pinned = pinnedMatrix;



function mulExact(m: { n: number; a: Float64Array }, z: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) {
    let s = 0;
    for (let j = 0; j < m.n; j++) s += m.a[i * m.n + j] * z[j];
    out[i] = s;
  }
  return out;
}

function trapezoid(d: SpectralDensity, from = Number.NEGATIVE_INFINITY): number {
  let s = 0;
  for (let j = 0; j + 1 < d.grid.length; j++) {
    if (d.grid[j] >= from) s += ((d.values[j] + d.values[j + 1]) / 2) * (d.grid[j + 1] - d.grid[j]);
  }
  return s;
}

// ---- Tests ------------------------------------------------------------------------------------------

test('spectralDensity: pinned matrix, 3 runs × 80 steps: all steps, unit integral, exact first two moments, peaks at the outliers', async () => {
  const A = pinned();
  const mv = denseMatVec(A);
  const d = await spectralDensity(mv, A.n, { runs: 3, steps: 80, rng: new Rng(7) });
  assert.equal(d.runs, 3);
  assert.equal(d.steps, 80);
  assert.equal(d.matvecs, 240);
  assert.equal(mv.calls, 240);
  assert.ok(d.nodes.every((r) => r.length === 80) && d.weights.every((r) => r.length === 80), 'every run takes all 80 steps');
  assert.equal(d.grid.length, 1000);
  assert.equal(d.values.length, 1000);

  // Default kernel width and grid range.
  const lo = Math.min(...d.nodes.map((r) => r[0]));
  const hi = Math.max(...d.nodes.map((r) => r[r.length - 1]));
  assert.ok(Math.abs(d.sigma - Math.sqrt(1e-5 * (hi - lo))) < 1e-15, `sigma ${d.sigma}`);
  assert.ok(Math.abs(d.grid[0] - (lo - 3 * d.sigma)) < 1e-12 && d.grid[999] === hi + 3 * d.sigma, 'grid covers [λmin − 3σ, λmax + 3σ]');
  assert.ok(Math.abs(trapezoid(d) - 1) < 1e-12, `integral ${trapezoid(d)}`);
  assert.ok(d.values.every((x) => x >= 0), 'density ≥ 0');

  // Per run: Σ τθ = zᵀHz/n and Σ τθ² = ‖Hz‖²/n for that run's Rademacher start z (replayed from the seed).
  const replay = new Rng(7);
  for (let v = 0; v < 3; v++) {
    const z = replay.rademacher(A.n);
    const hz = mulExact(A, z);
    let zhz = 0;
    let hz2 = 0;
    for (let i = 0; i < A.n; i++) {
      zhz += z[i] * hz[i];
      hz2 += hz[i] * hz[i];
    }
    const w = d.weights[v];
    const m0 = w.reduce((s, x) => s + x, 0);
    const m1 = d.nodes[v].reduce((s, x, k) => s + w[k] * x, 0);
    const m2 = d.nodes[v].reduce((s, x, k) => s + w[k] * x * x, 0);
    assert.ok(Math.abs(m0 - 1) < 1e-12, `run ${v}: weights sum to ${m0}`);
    assert.ok(Math.abs(m1 - zhz / A.n) < 1e-4 * Math.abs(zhz / A.n), `run ${v}: Σ τθ = ${m1} vs zᵀHz/n = ${zhz / A.n}`);
    assert.ok(Math.abs(m2 - hz2 / A.n) < 1e-4 * (hz2 / A.n), `run ${v}: Σ τθ² = ${m2} vs ‖Hz‖²/n = ${hz2 / A.n}`);
  }

  // Peaks: a local maximum within one grid step of each outlier, and no other peak above 9.
  const h = d.grid[1] - d.grid[0];
  const peaks: number[] = [];
  for (let j = 1; j < 999; j++) if (d.values[j] > d.values[j - 1] && d.values[j] >= d.values[j + 1] && d.grid[j] > 9) peaks.push(d.grid[j]);
  const outliers = A.lambda.slice(0, 10);
  for (const lam of outliers) assert.ok(peaks.some((p) => Math.abs(p - lam) <= h), `no peak near ${lam} (peaks ${peaks.map((p) => p.toFixed(2))})`);
  assert.equal(peaks.length, 10, `peaks above 9: ${peaks.map((p) => p.toFixed(2))}`);
  // The bulk holds almost all of the mass.
  assert.ok(trapezoid(d, 5) < 0.05, `mass above 5: ${trapezoid(d, 5)}`);
});

test('spectralDensity: on a fine grid the outlier mass equals Σ_v Σ_i (u_iᵀz_v)²/(n·runs) exactly', async () => {
  const A = pinned();
  const d = await spectralDensity(denseMatVec(A), A.n, { runs: 2, steps: 60, rng: new Rng(3), gridPoints: 20_000 });
  const replay = new Rng(3);
  let want = 0;
  for (let v = 0; v < 2; v++) {
    const z = replay.rademacher(A.n);
    for (let k = 0; k < 10; k++) {
      let c = 0;
      for (let i = 0; i < A.n; i++) c += A.vectors[k][i] * z[i];
      want += (c * c) / A.n / 2;
    }
  }
  // Converged Ritz pairs carry exactly the start vector's weight on their eigenvectors; the grid
  // (spacing σ/6) integrates each Gaussian to ≈1e-15.
  const got = trapezoid(d, 5);
  assert.ok(Math.abs(got - want) < 1e-6, `mass above 5: ${got} vs exact ${want}`);
});

test('spectralDensity: 3 distinct eigenvalues give the exact quadrature after 3 steps (weights = multiplicities / n)', async () => {
  // Rademacher z has z_i² = 1, so the weight of each eigenspace of a diagonal matrix is its size / n.
  const counts = [50, 30, 20];
  const values = [2, -1, 7];
  const diag = Float64Array.from({ length: 100 }, (_, i) => (i < 50 ? 2 : i < 80 ? -1 : 7));
  let calls = 0;
  const mv: MatVec = async (v) => {
    calls++;
    return v.map((x, i) => diag[i] * x);
  };
  const d = await spectralDensity(mv, 100, { runs: 2, steps: 40, rng: new Rng(1), gridPoints: 5000, sigma: 0.05 });
  assert.equal(d.matvecs, 6);
  assert.equal(calls, 6);
  for (let v = 0; v < 2; v++) {
    assert.deepEqual(d.nodes[v].map((x) => Math.round(x * 1e6) / 1e6), [-1, 2, 7]);
    const w = d.nodes[v].map((x) => d.weights[v][d.nodes[v].indexOf(x)]);
    [-1, 2, 7].forEach((lam, i) => {
      const c = counts[values.indexOf(lam)];
      assert.ok(Math.abs(w[i] - c / 100) < 1e-6, `run ${v}: weight of ${lam} is ${w[i]}, expected ${c / 100}`);
    });
  }
  assert.equal(d.sigma, 0.05);
  assert.equal(d.grid.length, 5000);
  assert.ok(Math.abs(d.grid[0] - (-1 - 0.15)) < 1e-6 && Math.abs(d.grid[4999] - 7.15) < 1e-6, `grid [${d.grid[0]}, ${d.grid[4999]}]`);
  // Mass near each eigenvalue = its multiplicity / n.
  const massNear = (lam: number): number => {
    let s = 0;
    for (let j = 0; j + 1 < d.grid.length; j++) if (Math.abs(d.grid[j] - lam) < 0.5) s += ((d.values[j] + d.values[j + 1]) / 2) * (d.grid[j + 1] - d.grid[j]);
    return s;
  };
  assert.ok(Math.abs(massNear(2) - 0.5) < 1e-3 && Math.abs(massNear(-1) - 0.3) < 1e-3 && Math.abs(massNear(7) - 0.2) < 1e-3, 'masses');
  // n = 1: one node, weight 1.
  const one = await spectralDensity(async (v) => v.map((x) => -4 * x), 1, { runs: 1, steps: 10, rng: new Rng(0) });
  assert.deepEqual([one.nodes, one.weights, one.matvecs, one.steps], [[[-4]], [[1]], 1, 1]);
  assert.ok(Math.abs(trapezoid(one) - 1) < 1e-12);
});

test('spectralDensity: same seed, same output; cancellation; bad input', async () => {
  // A dense matrix: for a diagonal one the quadrature does not depend on the signs of z at all.
  const rng = new Rng(4);
  const lambda = Array.from({ length: 300 }, (_, i) => (i < 5 ? 10 * (i + 1) : rng.normal() * 0.1));
  const q = haarColumns(300, rng);
  const a = new Float64Array(300 * 300);
  lambda.forEach((l, k) => {
    for (let i = 0; i < 300; i++) for (let j = 0; j < 300; j++) a[i * 300 + j] += l * q[k][i] * q[k][j];
  });
  const mk = () => denseMatVec({ n: 300, a });
  const run = (seed: number) => spectralDensity(mk(), 300, { runs: 2, steps: 30, rng: new Rng(seed) });
  assert.deepEqual(await run(5), await run(5));
  assert.notDeepEqual((await run(5)).weights, (await run(6)).weights);

  const seen: number[] = [];
  await spectralDensity(mk(), 300, { runs: 3, steps: 5, rng: new Rng(1), onRun: (done) => seen.push(done) });
  assert.deepEqual(seen, [1, 2, 3]);

  const ac = new AbortController();
  const mv = mk();
  const aborting: MatVec = async (v) => {
    if (mv.calls === 40) ac.abort(); // during the second run
    return mv(v);
  };
  await assert.rejects(spectralDensity(aborting, 300, { runs: 3, steps: 30, rng: new Rng(1), signal: ac.signal }), CancelledError);
  assert.equal(mv.calls, 41, 'no matvec after the abort');
  const pre = new AbortController();
  pre.abort();
  const mv2 = mk();
  await assert.rejects(spectralDensity(mv2, 300, { runs: 1, steps: 30, rng: new Rng(1), signal: pre.signal }), CancelledError);
  assert.equal(mv2.calls, 0);

  const ok = { runs: 1, steps: 5, rng: new Rng(1) };
  await assert.rejects(spectralDensity(mk(), 0, ok), RangeError);
  await assert.rejects(spectralDensity(mk(), 300, { ...ok, runs: 0 }), RangeError);
  await assert.rejects(spectralDensity(mk(), 300, { ...ok, steps: 0 }), RangeError);
  await assert.rejects(spectralDensity(mk(), 300, { ...ok, gridPoints: 1 }), RangeError);
  await assert.rejects(spectralDensity(mk(), 300, { ...ok, sigma: 0 }), RangeError);
});
