import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, derive } from '../extension/estimators/rng.js';
import { lanczos } from '../extension/estimators/lanczos.js';
import { hutchinson } from '../extension/estimators/hutchinson.js';
import type { MatVec } from '../extension/estimators/types.js';
import { CancelledError } from '../extension/errors.js';

// ---- Exact test matrices ----------------------------------------------------------------------------

/** A dense symmetric matrix (row-major float64) with its exact spectrum. */
interface Dense {
  n: number;
  a: Float64Array;
  eigenvalues: number[]; // ascending
}

/** Q·diag(λ)·Qᵀ with Q a product of `reflectors` random Householder reflections: dense, O(n²) to build. */
function householderMatrix(lambda: number[], seed: number, reflectors = 4): Dense {
  const n = lambda.length;
  const rng = new Rng(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = lambda[i];
  const au = new Float64Array(n);
  for (let r = 0; r < reflectors; r++) {
    // A ← (I − 2uuᵀ) A (I − 2uuᵀ) = A − 2u(Au)ᵀ − 2(Au)uᵀ + 4(uᵀAu) uuᵀ for symmetric A.
    const u = Float64Array.from({ length: n }, () => rng.normal());
    const nu = Math.hypot(...u);
    for (let i = 0; i < n; i++) u[i] /= nu;
    let uau = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * u[j];
      au[i] = s;
      uau += u[i] * s;
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) a[i * n + j] += -2 * u[i] * au[j] - 2 * au[i] * u[j] + 4 * uau * u[i] * u[j];
    }
  }
  return { n, a, eigenvalues: [...lambda].sort((x, y) => x - y) };
}

/** Q·diag(λ)·Qᵀ with Q Haar-random orthogonal (Gram–Schmidt twice on a Gaussian matrix); small n. */
function haarMatrix(lambda: number[], seed: number): Dense {
  const n = lambda.length;
  const rng = new Rng(seed);
  const q: Float64Array[] = [];
  for (let k = 0; k < n; k++) {
    const v = Float64Array.from({ length: n }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const p of q) {
        let d = 0;
        for (let i = 0; i < n; i++) d += p[i] * v[i];
        for (let i = 0; i < n; i++) v[i] -= d * p[i];
      }
    }
    const nv = Math.hypot(...v);
    q.push(v.map((x) => x / nv));
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[k][i] * lambda[k] * q[k][j];
      a[i * n + j] = s;
    }
  }
  // Symmetrise exactly.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
  return { n, a, eigenvalues: [...lambda].sort((x, y) => x - y) };
}

function diagonalMatrix(lambda: number[]): Dense {
  const n = lambda.length;
  const a = new Float64Array(n * n);
  lambda.forEach((l, i) => (a[i * n + i] = l));
  return { n, a, eigenvalues: [...lambda].sort((x, y) => x - y) };
}

/** The float32 matvec of a dense matrix (accumulated in float64, rounded once), with a call log. */
function denseMatVec(m: Dense, log?: Float32Array[]): MatVec & { calls: number } {
  const { n, a } = m;
  const f = async (v: Float32Array): Promise<Float32Array> => {
    f.calls++;
    log?.push(v.slice());
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) s += a[row + j] * v[j];
      out[i] = s;
    }
    return out;
  };
  f.calls = 0;
  return f;
}

/** Small dense symmetric eigensolver (cyclic Jacobi), vectors as columns of the returned rows. */
function jacobi(a0: number[][]): { values: number[]; vectors: number[][] } {
  const n = a0.length;
  const a = a0.map((r) => [...r]);
  const v = a.map((_, i) => a.map((__, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    let all = 0;
    for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) (p === q ? (all += a[p][q] ** 2) : (off += a[p][q] ** 2));
    if (off <= 1e-30 * (all + off)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        if (a[p][q] === 0) continue;
        const th = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = (th >= 0 ? 1 : -1) / (Math.abs(th) + Math.sqrt(th * th + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (const m of [a, v]) {
          for (let k = 0; k < n; k++) {
            const kp = m[k][p];
            const kq = m[k][q];
            m[k][p] = c * kp - s * kq;
            m[k][q] = s * kp + c * kq;
          }
        }
        for (let k = 0; k < n; k++) {
          const pk = a[p][k];
          const qk = a[q][k];
          a[p][k] = c * pk - s * qk;
          a[q][k] = s * pk + c * qk;
        }
      }
    }
  }
  const order = a.map((_, i) => i).sort((i, j) => a[i][i] - a[j][j]);
  return { values: order.map((i) => a[i][i]), vectors: order.map((i) => v.map((row) => row[i])) };
}

/** The "Hessian-like" spectrum: 10 outliers in [10, 100], 3 separated negatives, a bulk near 0. */
function hessianLikeSpectrum(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const outliers = [10, 13, 17, 22, 28, 35, 45, 58, 75, 100];
  const negatives = [-3, -1.5, -0.8];
  const bulk = Array.from({ length: n - outliers.length - negatives.length }, () => -0.05 + 0.55 * rng.uniform());
  return [...bulk, ...outliers, ...negatives];
}

// The n = 1000 matrix is shared by several tests (built once, ~0.1 s).
let big: Dense | null = null;
const bigMatrix = (): Dense => (big ??= householderMatrix(hessianLikeSpectrum(1000, 3), 17));

// ---- Rng --------------------------------------------------------------------------------------------

test('rng: xoshiro128** matches the reference output for state (1, 2, 3, 4)', () => {
  const r = new Rng(0);
  Object.assign(r as unknown as Record<string, number>, { s0: 1, s1: 2, s2: 3, s3: 4 });
  // First outputs of the authors' C reference implementation (prng.di.unimi.it/xoshiro128starstar.c).
  assert.deepEqual(
    Array.from({ length: 6 }, () => r.nextU32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
  );
});

test('rng: seeded streams are deterministic and pinned; derive gives distinct seeds', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.nextU32()));
  // Pinned values: a change here changes every seeded result of the extension.
  const g = new Rng(42);
  assert.equal(g.nextU32(), 1549184434);
  assert.equal(g.uniform(), 0.7054315886126219);
  assert.equal(g.normal(), -0.724043080864504);
  assert.equal(derive(42, 0), 282159431479571);
  assert.notEqual(new Rng(1).nextU32(), new Rng(2).nextU32());
  assert.notEqual(new Rng(2 ** 40).nextU32(), new Rng(0).nextU32()); // high word of the seed counts
  const seeds = new Set(Array.from({ length: 1000 }, (_, s) => derive(7, s)));
  assert.equal(seeds.size, 1000);
  for (const s of seeds) assert.ok(Number.isSafeInteger(s) && s >= 0, 'Number.isSafeInteger(s) && s >= 0');
  assert.throws(() => new Rng(1.5), RangeError);
  assert.throws(() => new Rng(Number.NaN), RangeError);
});

test('rng: uniform, normal and rademacher have the right moments', () => {
  const r = new Rng(123);
  const N = 100_000;
  let su = 0;
  let sn = 0;
  let sn2 = 0;
  let sn4 = 0;
  for (let i = 0; i < N; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1, 'u >= 0 && u < 1');
    su += u;
    const x = r.normal();
    sn += x;
    sn2 += x * x;
    sn4 += x ** 4;
  }
  // Tolerances: 5 standard errors of each sample moment.
  assert.ok(Math.abs(su / N - 0.5) < 5 * Math.sqrt(1 / 12 / N), 'Math.abs(su / N - 0.5) < 5 * Math.sqrt(1 / 12 / N)');
  assert.ok(Math.abs(sn / N) < 5 / Math.sqrt(N), 'Math.abs(sn / N) < 5 / Math.sqrt(N)');
  assert.ok(Math.abs(sn2 / N - 1) < 5 * Math.sqrt(2 / N), 'Math.abs(sn2 / N - 1) < 5 * Math.sqrt(2 / N)');
  assert.ok(Math.abs(sn4 / N - 3) < 5 * Math.sqrt(96 / N), 'Math.abs(sn4 / N - 3) < 5 * Math.sqrt(96 / N)');
  const z = r.rademacher(N + 7);
  let sum = 0;
  let lag = 0;
  for (let i = 0; i < z.length; i++) {
    assert.ok(z[i] === 1 || z[i] === -1, 'z[i] === 1 || z[i] === -1');
    sum += z[i];
    if (i > 0) lag += z[i] * z[i - 1];
  }
  assert.ok(Math.abs(sum) < 5 * Math.sqrt(z.length), 'Math.abs(sum) < 5 * Math.sqrt(z.length)');
  assert.ok(Math.abs(lag) < 5 * Math.sqrt(z.length), 'Math.abs(lag) < 5 * Math.sqrt(z.length)');
});

// ---- Lanczos ----------------------------------------------------------------------------------------

test('lanczos: n = 1000 Hessian-like matrix, top 10 and bottom 3 to 1e-6·λmax, all converged', async () => {
  const A = bigMatrix();
  const mv = denseMatVec(A);
  const steps: Array<[number, boolean]> = [];
  const res = await lanczos(mv, A.n, { top: 10, bottom: 3, maxIter: 300, rng: new Rng(1), onStep: (i, d) => steps.push([i, d]) });
  const lmax = A.eigenvalues[A.n - 1];
  const want = A.eigenvalues.slice(-10).reverse();
  assert.equal(res.top.length, 10);
  assert.equal(res.bottom.length, 3);
  res.top.forEach((r, i) => {
    assert.ok(Math.abs(r.value - want[i]) <= 1e-6 * lmax, `top ${i}: ${r.value} vs ${want[i]}`);
    assert.ok(r.converged && r.residual <= 1e-6 * lmax, `top ${i}: residual ${r.residual}, converged ${r.converged}`);
  });
  res.bottom.forEach((r, i) => {
    assert.ok(Math.abs(r.value - A.eigenvalues[i]) <= 1e-6 * lmax, `bottom ${i}: ${r.value} vs ${A.eigenvalues[i]}`);
    assert.ok(r.converged, `bottom ${i}: residual ${r.residual} not converged`);
  });
  // Stopped early on convergence, one matvec per step, coefficients and quadrature consistent.
  assert.ok(res.iterations <= 30, `iterations ${res.iterations}`); // 20 when measured
  assert.equal(mv.calls, res.iterations);
  assert.equal(res.alpha.length, res.iterations);
  assert.equal(res.beta.length, res.iterations - 1);
  assert.equal(res.nodes.length, res.iterations);
  assert.ok(Math.abs(res.weights.reduce((s, w) => s + w, 0) - 1) < 1e-12, 'Math.abs(res.weights.reduce((s, w) => s + w, 0) - 1) < 1e-12');
  assert.ok(Math.abs(res.nodes.reduce((s, x, i) => s + x * res.weights[i], 0) - res.alpha[0]) < 1e-10 * lmax, 'Math.abs(res.nodes.reduce((s, x, i) => s + x * res.weights[i], 0) - res.alpha[0]) < 1e-10 * lmax');
  assert.deepEqual(steps.map((s) => s[0]), Array.from({ length: res.iterations }, (_, i) => i + 1));
  assert.deepEqual(steps.map((s) => s[1]), Array.from({ length: res.iterations }, (_, i) => i === res.iterations - 1));
});

test('lanczos: reported residual β|y_m| matches the true ‖Ay − θy‖ of the Ritz vector', async () => {
  const A = bigMatrix();
  const log: Float32Array[] = [];
  const mv = denseMatVec(A, log);
  // Stop early (not converged) so the residuals are large and informative, then also check converged ones.
  for (const maxIter of [12, 60]) {
    log.length = 0;
    const res = await lanczos(mv, A.n, { top: 4, bottom: 2, maxIter, tol: 1e-9, rng: new Rng(2) });
    const m = res.iterations;
    const T = Array.from({ length: m }, (_, i) =>
      Array.from({ length: m }, (_, j) => (i === j ? res.alpha[i] : Math.abs(i - j) === 1 ? res.beta[Math.min(i, j)] : 0)),
    );
    const { values, vectors } = jacobi(T);
    const lmax = A.eigenvalues[A.n - 1];
    const check = (ritz: { value: number; residual: number }, idx: number): void => {
      assert.ok(Math.abs(values[idx] - ritz.value) < 1e-9 * lmax, 'Math.abs(values[idx] - ritz.value) < 1e-9 * lmax');
      // y = Q s (Q = the m vectors Lanczos passed to the matvec, in order).
      const y = new Float64Array(A.n);
      for (let j = 0; j < m; j++) for (let i = 0; i < A.n; i++) y[i] += vectors[idx][j] * log[j][i];
      let r2 = 0;
      for (let i = 0; i < A.n; i++) {
        let s = 0;
        for (let j = 0; j < A.n; j++) s += A.a[i * A.n + j] * y[j];
        r2 += (s - ritz.value * y[i]) ** 2;
      }
      const trueRes = Math.sqrt(r2);
      // Once converged, β|y_m| keeps falling (to 1e-18) while the true residual stays at the float32
      // rounding floor of the basis and matvec (measured ≤ 5e-8·λmax).
      const floor = 1e-6 * lmax; // measured: ≤ 5e-8·λmax
      assert.ok(
        trueRes <= 1.1 * ritz.residual + floor && ritz.residual <= 1.1 * trueRes + floor,
        `maxIter ${maxIter}, θ=${ritz.value}: reported ${ritz.residual}, true ${trueRes}`,
      );
    };
    res.top.forEach((r, i) => check(r, m - 1 - i));
    res.bottom.forEach((r, i) => check(r, i));
    if (maxIter === 12) assert.ok(res.bottom.some((r) => r.residual > 1e-2), 'expected unconverged residuals');
  }
});

test('lanczos: no ghost eigenvalues when run long past convergence', async () => {
  const A = bigMatrix();
  // tol 0: never stop early; 100 steps is 5× what convergence needs (20 steps).
  const res = await lanczos(denseMatVec(A), A.n, { top: 10, bottom: 3, maxIter: 100, tol: 0, rng: new Rng(3) });
  assert.equal(res.iterations, 100);
  const above = res.nodes.filter((x) => x > 9).length;
  const below = res.nodes.filter((x) => x < -0.5).length;
  assert.equal(above, 10, `Ritz values above 9: ${above} (true count 10)`);
  assert.equal(below, 3, `Ritz values below −0.5: ${below} (true count 3)`);
  // Cauchy interlacing: every Ritz value lies inside [λmin, λmax].
  const lmin = A.eigenvalues[0];
  const lmax = A.eigenvalues[A.n - 1];
  for (const x of res.nodes) assert.ok(x >= lmin - 1e-5 * lmax && x <= lmax + 1e-5 * lmax, 'x >= lmin - 1e-5 * lmax && x <= lmax + 1e-5 * lmax');
  res.top.forEach((r, i) => assert.ok(Math.abs(r.value - A.eigenvalues[A.n - 1 - i]) < 1e-6 * lmax, `top ${i}: ${r.value} vs ${A.eigenvalues[A.n - 1 - i]}`));
});

test('lanczos: diagonal matrix with a dense bulk and negative eigenvalues', async () => {
  const rng = new Rng(5);
  const lambda = Array.from({ length: 400 }, (_, i) => (i < 5 ? [50, 30, 20, 12, 8][i] : i < 8 ? [-10, -6, -4][i - 5] : rng.uniform() - 0.2));
  const A = diagonalMatrix(lambda);
  const res = await lanczos(denseMatVec(A), A.n, { top: 5, bottom: 3, maxIter: 200, rng: new Rng(6) });
  res.top.forEach((r, i) => assert.ok(Math.abs(r.value - A.eigenvalues[399 - i]) <= 50e-6 && r.converged, `top ${i}: ${r.value} vs ${A.eigenvalues[399 - i]}`));
  res.bottom.forEach((r, i) => assert.ok(Math.abs(r.value - A.eigenvalues[i]) <= 50e-6 && r.converged, `bottom ${i}: ${r.value} vs ${A.eigenvalues[i]}`));
  assert.ok(res.bottom[0].value < 0, 'λmin must come out negative');
});

test('lanczos: tiny n = 3, 5, 7 give all eigenvalues; top and bottom may overlap', async () => {
  for (const [n, seed] of [
    [3, 1],
    [5, 2],
    [7, 3],
  ]) {
    const lambda = Array.from({ length: n }, (_, i) => (i - 1.5) * (i + 1));
    const A = haarMatrix(lambda, seed);
    const mv = denseMatVec(A);
    const res = await lanczos(mv, n, { top: n, bottom: 2, maxIter: 50, rng: new Rng(seed) });
    assert.ok(res.iterations <= n && mv.calls === res.iterations, 'res.iterations <= n && mv.calls === res.iterations');
    const lmax = Math.max(...lambda.map(Math.abs));
    assert.equal(res.top.length, n);
    res.top.forEach((r, i) => assert.ok(Math.abs(r.value - A.eigenvalues[n - 1 - i]) <= 1e-6 * lmax, `n=${n} top ${i}`));
    res.bottom.forEach((r, i) => assert.ok(Math.abs(r.value - A.eigenvalues[i]) <= 1e-6 * lmax, `n=${n} bottom ${i}`));
    assert.ok([...res.top, ...res.bottom].every((r) => r.converged), '[...res.top, ...res.bottom].every((r) => r.converged)');
    // Overlap: the bottom values are the last entries of top.
    assert.equal(res.bottom[0].value, res.top[n - 1].value);
  }
  // n = 1: the only eigenvalue after one matvec.
  const one = await lanczos(async (v) => v.map((x) => -4 * x), 1, { top: 3, bottom: 3, maxIter: 9, rng: new Rng(0) });
  assert.equal(one.iterations, 1);
  assert.deepEqual(one.top.map((r) => r.value), [-4]);
  assert.deepEqual(one.bottom.map((r) => r.value), [-4]);
});

test('lanczos: invariant subspace stops early with exact values', async () => {
  // 3 distinct eigenvalues: the Krylov space has dimension 3 whatever n is.
  const lambda = Array.from({ length: 300 }, (_, i) => [2, -1, 7][i % 3]);
  const A = diagonalMatrix(lambda);
  const mv = denseMatVec(A);
  const res = await lanczos(mv, 300, { top: 5, bottom: 5, maxIter: 100, rng: new Rng(4) });
  assert.equal(res.iterations, 3);
  assert.deepEqual(res.top.map((r) => Math.round(r.value * 1e5) / 1e5), [7, 2, -1]);
  assert.ok(res.top.every((r) => r.converged), 'res.top.every((r) => r.converged)');
  // Start vector = an eigenvector: one step.
  const e = new Float32Array(300);
  e[2] = 3;
  const one = await lanczos(mv, 300, { top: 1, bottom: 1, maxIter: 100, rng: new Rng(4), start: e });
  assert.equal(one.iterations, 1);
  assert.equal(one.top[0].value, 7);
  assert.equal(e[2], 3, 'start vector not modified');
  // The zero operator.
  const zero = await lanczos(async (v) => new Float32Array(v.length), 10, { top: 1, bottom: 1, maxIter: 10, rng: new Rng(1) });
  assert.equal(zero.iterations, 1);
  assert.equal(zero.top[0].value, 0);
});

test('lanczos: same seed gives identical results; maxIter is respected', async () => {
  const A = haarMatrix(hessianLikeSpectrum(60, 8), 9);
  const run = (seed: number, maxIter: number) => lanczos(denseMatVec(A), A.n, { top: 3, bottom: 3, maxIter, rng: new Rng(seed) });
  assert.deepEqual(await run(10, 40), await run(10, 40));
  assert.notDeepEqual((await run(10, 40)).alpha, (await run(11, 40)).alpha);
  const short = await run(10, 4);
  assert.equal(short.iterations, 4);
  assert.ok(short.bottom.some((r) => !r.converged), 'not converged after 4 steps');
});

test('lanczos: cancellation and bad input', async () => {
  const A = bigMatrix();
  const ac = new AbortController();
  const mv = denseMatVec(A);
  const abortingMv: MatVec = async (v) => {
    if (mv.calls === 5) ac.abort();
    return mv(v);
  };
  await assert.rejects(
    lanczos(abortingMv, A.n, { top: 1, bottom: 1, maxIter: 100, rng: new Rng(1), signal: ac.signal }),
    CancelledError,
  );
  assert.equal(mv.calls, 6, 'no matvec after the abort');
  const pre = new AbortController();
  pre.abort();
  const mv2 = denseMatVec(A);
  await assert.rejects(lanczos(mv2, A.n, { top: 1, bottom: 1, maxIter: 10, rng: new Rng(1), signal: pre.signal }), CancelledError);
  assert.equal(mv2.calls, 0);

  const opts = { top: 1, bottom: 1, maxIter: 10, rng: new Rng(1) };
  await assert.rejects(lanczos(async () => new Float32Array(3), 4, opts), RangeError);
  await assert.rejects(lanczos(async (v) => v, 4, { ...opts, start: new Float32Array(4) }), RangeError);
  await assert.rejects(lanczos(async (v) => v.map(() => NaN), 4, opts), /non-finite/);
  await assert.rejects(lanczos(async (v) => v, 0, opts), RangeError);
});

// ---- Hutchinson -------------------------------------------------------------------------------------

/** n = 50 dense test matrix with a few outliers and negative eigenvalues, plus its exact statistics. */
function hutchMatrix(): Dense & { diag: number[]; trace: number; diagVar: number[]; traceVar: number } {
  const rng = new Rng(77);
  const lambda = Array.from({ length: 50 }, (_, i) => (i < 3 ? [20, 8, 5][i] : i < 5 ? -2 : rng.normal() * 0.5));
  const A = haarMatrix(lambda, 78);
  const n = A.n;
  const diag = Array.from({ length: n }, (_, i) => A.a[i * n + i]);
  // Exact per-probe variances for Rademacher probes.
  const diagVar = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < n; j++) if (j !== i) s += A.a[i * n + j] ** 2;
    return s;
  });
  return { ...A, diag, trace: diag.reduce((s, x) => s + x, 0), diagVar, traceVar: 2 * diagVar.reduce((s, x) => s + x, 0) };
}

test('hutchinson: unbiased over 400 independent seeds (tolerance from the exact variance)', async () => {
  const A = hutchMatrix();
  const mv = denseMatVec(A);
  const S = 400;
  const m = 5;
  const sumDiag = new Float64Array(A.n);
  let sumTrace = 0;
  let sumVarEst = 0;
  for (let s = 0; s < S; s++) {
    const r = await hutchinson(mv, A.n, { samples: m, rng: new Rng(derive(1000, s)) });
    for (let i = 0; i < A.n; i++) sumDiag[i] += r.diagonal.values[i];
    sumTrace += r.trace.value;
    sumVarEst += r.trace.stderr! ** 2 * m;
  }
  // Trace: the mean of S·m probes has standard deviation √(Var/(S·m)).
  const traceSd = Math.sqrt(A.traceVar / (S * m));
  assert.ok(Math.abs(sumTrace / S - A.trace) < 4.5 * traceSd, `trace mean ${sumTrace / S} vs ${A.trace} (sd ${traceSd})`);
  // The reported variance is an unbiased estimate of the exact per-probe variance.
  assert.ok(Math.abs(sumVarEst / S / A.traceVar - 1) < 0.15, `variance ratio ${sumVarEst / S / A.traceVar}`);
  // Diagonal: z-scores against the exact variance.
  const z = A.diag.map((d, i) => (sumDiag[i] / S - d) / Math.sqrt(A.diagVar[i] / (S * m)));
  const maxZ = Math.max(...z.map(Math.abs));
  const meanZ2 = z.reduce((s, x) => s + x * x, 0) / z.length;
  assert.ok(maxZ < 4.5, `max |z| ${maxZ}`);
  assert.ok(meanZ2 > 0.4 && meanZ2 < 1.8, `mean z² ${meanZ2}`);
});

test('hutchinson: calibrated error bars with 300 probes', async () => {
  const A = hutchMatrix();
  const r = await hutchinson(denseMatVec(A), A.n, { samples: 300, rng: new Rng(2024) });
  assert.equal(r.trace.samples, 300);
  assert.equal(r.trace.matvecs, 300);
  assert.equal(r.diagonal.samples, 300);
  const tz = (r.trace.value - A.trace) / r.trace.stderr!;
  assert.ok(Math.abs(tz) < 4.5, `trace ${r.trace.value} ± ${r.trace.stderr} vs ${A.trace}`);
  // Reported stderr close to the exact one, √(Var/m).
  const exactSe = Math.sqrt(A.traceVar / 300);
  assert.ok(r.trace.stderr! > 0.8 * exactSe && r.trace.stderr! < 1.25 * exactSe, `stderr ${r.trace.stderr} vs ${exactSe}`);
  const ratios = A.diag.map((d, i) => Math.abs(r.diagonal.values[i] - d) / r.diagonal.stderr[i]).sort((x, y) => x - y);
  const within3 = ratios.filter((x) => x <= 3).length / ratios.length;
  const median = (ratios[24] + ratios[25]) / 2;
  assert.ok(within3 >= 0.9, `${within3 * 100}% within 3 stderr`);
  assert.ok(median > 0.4 && median < 1.2, `median |err|/stderr ${median}`);
});

test('hutchinson: block traces come from the same probes and sum to the trace', async () => {
  const A = hutchMatrix();
  const blocks: Array<[number, number]> = [
    [0, 10],
    [10, 11],
    [11, 37],
    [37, 50],
  ];
  const r = await hutchinson(denseMatVec(A), A.n, { samples: 40, rng: new Rng(5), blocks: [...blocks, [20, 20]] });
  assert.equal(r.blockTraces.length, 5);
  const sum = r.blockTraces.slice(0, 4).reduce((s, b) => s + b.value, 0);
  assert.ok(Math.abs(sum - r.trace.value) <= 1e-10 * (1 + Math.abs(r.trace.value)), `blocks sum to ${sum}, trace ${r.trace.value}`);
  blocks.forEach(([s, e], b) => {
    let d = 0;
    for (let i = s; i < e; i++) d += r.diagonal.values[i];
    assert.ok(Math.abs(r.blockTraces[b].value - d) <= 1e-10 * (1 + Math.abs(d)), `block ${b}: ${r.blockTraces[b].value} vs Σ diagonal ${d}`);
    assert.ok(r.blockTraces[b].stderr! > 0, 'r.blockTraces[b].stderr! > 0');
    assert.equal(r.blockTraces[b].matvecs, 40);
  });
  assert.deepEqual(r.blockTraces[4], { value: 0, stderr: 0, samples: 40, matvecs: 40 });
  await assert.rejects(hutchinson(denseMatVec(A), A.n, { samples: 2, rng: new Rng(1), blocks: [[40, 51]] }), RangeError);
});

test('hutchinson: same seed, identical output; exact on a diagonal matrix; m = 1', async () => {
  const A = hutchMatrix();
  const run = (seed: number, samples: number) => hutchinson(denseMatVec(A), A.n, { samples, rng: new Rng(seed), blocks: [[0, 7]] });
  const [a, b, c] = [await run(9, 20), await run(9, 20), await run(10, 20)];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.diagonal.values, c.diagonal.values);

  const D = diagonalMatrix([3, -1, 0.5, 7, -2.25]);
  const d = await hutchinson(denseMatVec(D), 5, { samples: 3, rng: new Rng(1) });
  assert.deepEqual([...d.diagonal.values], [3, -1, 0.5, 7, -2.25]);
  assert.deepEqual([...d.diagonal.stderr], [0, 0, 0, 0, 0]);
  assert.deepEqual(d.trace, { value: 7.25, stderr: 0, samples: 3, matvecs: 3 });

  const one = await run(3, 1);
  assert.ok(one.diagonal.stderr.every((x) => Number.isNaN(x)), 'one.diagonal.stderr.every((x) => Number.isNaN(x))');
  assert.equal(one.trace.stderr, null);
  assert.equal(one.blockTraces[0].stderr, null);
});

test('hutchinson: progress, cancellation and bad input', async () => {
  const A = hutchMatrix();
  const seen: number[] = [];
  let last = NaN;
  const r = await hutchinson(denseMatVec(A), A.n, {
    samples: 7,
    rng: new Rng(1),
    onProbe: (done, running) => {
      seen.push(done);
      last = running.trace.value;
      assert.equal(running.trace.samples, done);
    },
  });
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(last, r.trace.value);

  const ac = new AbortController();
  const mv = denseMatVec(A);
  await assert.rejects(
    hutchinson(mv, A.n, { samples: 50, rng: new Rng(1), signal: ac.signal, onProbe: (done) => done === 3 && ac.abort() }),
    CancelledError,
  );
  assert.equal(mv.calls, 3);
  await assert.rejects(hutchinson(mv, A.n, { samples: 0, rng: new Rng(1) }), RangeError);
  await assert.rejects(hutchinson(async () => new Float32Array(2), A.n, { samples: 2, rng: new Rng(1) }), RangeError);
});

test('hutchinson: batching probes (matvecMany) gives bit-identical results for any batch size', async () => {
  const A = hutchMatrix();
  const mv = denseMatVec(A);
  let calls = 0;
  const matvecMany = async (vs: Float32Array[]) => {
    calls++;
    return Promise.all(vs.map((v) => mv(v)));
  };
  const plain = await hutchinson(mv, A.n, { samples: 23, rng: new Rng(5), blocks: [[0, 7]] });
  for (const size of [2, 7, 23, 64]) {
    calls = 0;
    const batched = await hutchinson(mv, A.n, { samples: 23, rng: new Rng(5), blocks: [[0, 7]], batch: { size, matvecMany } });
    assert.deepEqual(batched, plain, `batch size ${size}`);
    assert.equal(calls, Math.ceil(23 / size) - (23 % size === 1 ? 1 : 0), `matvecMany calls for batch size ${size}`);
  }
});
