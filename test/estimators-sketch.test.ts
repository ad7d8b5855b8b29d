import { denseMatVec, fromEigen, haarColumns, mulDense, pinnedMatrix, type Dense } from './matrices.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, derive } from '../extension/estimators/rng.js';
import { hutchinson } from '../extension/estimators/hutchinson.js';
import { hutchpp } from '../extension/estimators/hutchpp.js';
import { xdiag, xtrace, xtraceDiag } from '../extension/estimators/xtrace.js';
import { invertUpperTriangular, qrColumns } from '../extension/linalg/qr.js';
import type { MatVec } from '../extension/estimators/types.js';
import { CancelledError } from '../extension/errors.js';
import { relL2 } from './helpers.js';

// ---- Exact test matrices (dense, float64) -----------------------------------------------------------



/** The pinned acceptance matrix (test/matrices.ts). */
const pinned = (): Dense => pinnedMatrix();

/** Small dense symmetric matrix with outliers and negative eigenvalues. */
function smallMatrix(n: number, seed: number): Dense {
  const rng = new Rng(seed);
  const lambda = Array.from({ length: n }, (_, i) => (i < 3 ? [20, 8, 5][i] : i < 5 ? -2 : 0.5 * rng.normal()));
  return fromEigen(lambda, haarColumns(n, rng));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((p, q) => p - q);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

// ---- QR ---------------------------------------------------------------------------------------------

test('qr: CGS2 is orthonormal, reproduces the columns, and detects exact rank deficiency', () => {
  const rng = new Rng(1);
  const n = 300;
  const cols = Array.from({ length: 12 }, () => Float64Array.from({ length: n }, () => rng.normal()));
  // Make column 5 an exact combination of columns 0 and 3, column 9 an exact copy of column 2.
  cols[5] = cols[0].map((x, i) => 2 * x - cols[3][i]);
  cols[9] = cols[2].slice();
  const { q, r, rank, pivots } = qrColumns(cols);
  assert.equal(rank, 10);
  assert.deepEqual(pivots, [0, 1, 2, 3, 4, 6, 7, 8, 10, 11]);
  for (let a = 0; a < rank; a++) {
    for (let b = 0; b < rank; b++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += q[a][t] * q[b][t];
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-14, `qᵀq[${a}][${b}] = ${s}`);
    }
  }
  for (let j = 0; j < 12; j++) {
    let err = 0;
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let a = 0; a < rank; a++) s += q[a][t] * r[a * 12 + j];
      err = Math.max(err, Math.abs(s - cols[j][t]));
    }
    assert.ok(err < 1e-12, `column ${j} reproduced to ${err}`);
  }
  // Full rank: R is upper triangular with a positive diagonal, and the inverse is right.
  const full = qrColumns(cols.slice(0, 5));
  assert.equal(full.rank, 5);
  const inv = invertUpperTriangular(full.r, 5);
  for (let i = 0; i < 5; i++) {
    assert.ok(full.r[i * 5 + i] > 0, 'positive diagonal');
    for (let j = 0; j < i; j++) assert.equal(full.r[i * 5 + j], 0);
    for (let j = 0; j < 5; j++) {
      let s = 0;
      for (let l = 0; l < 5; l++) s += full.r[i * 5 + l] * inv[l * 5 + j];
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12, `R·R⁻¹[${i}][${j}] = ${s}`);
    }
  }
  assert.equal(qrColumns([new Float64Array(4)]).rank, 0, 'a zero column adds nothing');
});

// ---- XTrace / XDiag against a direct implementation of the definitions ------------------------------

/**
 * Reference: the leave-one-out estimates built from their definitions with explicit n×n projectors,
 * P_i = orth(Y_{−i}) orth(Y_{−i})ᵀ (no s_i trick):
 *   t_i = tr(P_i A P_i) + ω_iᵀ(I − P_i)A(I − P_i)ω_i,   d_i = diag(P_i A) + ω_i ⊙ (I − P_i)Aω_i.
 * Uses the same Rademacher vectors (same seed) and the exact float64 A.
 */
function referenceXTrace(A: Dense, k: number, seed: number): { t: number[]; d: Float64Array[] } {
  const { n, a } = A;
  const rng = new Rng(seed);
  const omega = Array.from({ length: k }, () => Float64Array.from(rng.rademacher(n)));
  const mul = (v: Float64Array): Float64Array => mulDense(a, n, v);
  const y = omega.map(mul);
  const t: number[] = [];
  const d: Float64Array[] = [];
  for (let i = 0; i < k; i++) {
    const { q } = qrColumns(y.filter((_, j) => j !== i));
    const proj = (v: Float64Array): Float64Array => {
      const out = new Float64Array(n);
      for (const qa of q) {
        let c = 0;
        for (let j = 0; j < n; j++) c += qa[j] * v[j];
        for (let j = 0; j < n; j++) out[j] += c * qa[j];
      }
      return out;
    };
    // P_i as a matrix (columns P_i e_j), then tr(P_i A P_i) and diag(P_i A).
    const pCols = Array.from({ length: n }, (_, j) => {
      const e = new Float64Array(n);
      e[j] = 1;
      return proj(e);
    });
    let tr = 0;
    const di = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const apj = mul(pCols[j]);
      const papj = proj(apj);
      tr += papj[j];
      // (P_i A)_jj = Σ_l (P_i)_jl A_lj
      let s = 0;
      for (let l = 0; l < n; l++) s += pCols[l][j] * a[l * n + j];
      di[j] = s;
    }
    const w = omega[i];
    const pw = proj(w);
    const cw = w.map((x, j) => x - pw[j]); // (I − P_i)ω
    const acw = mul(cw);
    let quad = 0;
    for (let j = 0; j < n; j++) quad += cw[j] * acw[j];
    const aw = y[i];
    const paw = proj(aw);
    for (let j = 0; j < n; j++) di[j] += w[j] * (aw[j] - paw[j]);
    t.push(tr + quad);
    d.push(di);
  }
  return { t, d };
}

test('xtraceDiag: equals the direct leave-one-out definitions (explicit projectors), n = 40, k = 6', async () => {
  const A = smallMatrix(40, 3);
  for (const seed of [1, 2]) {
    const k = 6;
    const ref = referenceXTrace(A, k, seed);
    const got = await xtraceDiag(denseMatVec(A), A.n, { matvecs: 2 * k, rng: new Rng(seed), blocks: [[0, 13], [13, 40]] });
    const tMean = ref.t.reduce((s, x) => s + x, 0) / k;
    const tSd = Math.sqrt(ref.t.reduce((s, x) => s + (x - tMean) ** 2, 0) / (k - 1) / k);
    const scale = Math.abs(A.trace) + 20; // float32 matvecs: agreement to ~1e-6 of the matrix's size
    assert.ok(Math.abs(got.trace.value - tMean) < 1e-5 * scale, `seed ${seed}: trace ${got.trace.value} vs reference ${tMean}`);
    assert.ok(Math.abs(got.trace.stderr! - tSd) < 1e-5 * scale, `seed ${seed}: stderr ${got.trace.stderr} vs reference ${tSd}`);
    for (let j = 0; j < A.n; j++) {
      const col = ref.d.map((d) => d[j]);
      const m = col.reduce((s, x) => s + x, 0) / k;
      const sd = Math.sqrt(col.reduce((s, x) => s + (x - m) ** 2, 0) / (k - 1) / k);
      assert.ok(Math.abs(got.diagonal.values[j] - m) < 1e-5 * 20, `seed ${seed}, entry ${j}: ${got.diagonal.values[j]} vs ${m}`);
      assert.ok(Math.abs(got.diagonal.stderr[j] - sd) < 1e-5 * 20, `seed ${seed}, entry ${j}: stderr ${got.diagonal.stderr[j]} vs ${sd}`);
    }
    // Block traces: the leave-one-out block sums.
    for (const [b, [s, e]] of [[0, 13], [13, 40]].entries()) {
      const sums = ref.d.map((d) => d.slice(s, e).reduce((p, x) => p + x, 0));
      const m = sums.reduce((p, x) => p + x, 0) / k;
      const sd = Math.sqrt(sums.reduce((p, x) => p + (x - m) ** 2, 0) / (k - 1) / k);
      assert.ok(Math.abs(got.blockTraces[b].value - m) < 1e-4 * 20, `block ${b}: ${got.blockTraces[b].value} vs ${m}`);
      assert.ok(Math.abs(got.blockTraces[b].stderr! - sd) < 1e-4 * 20, `block ${b}: stderr ${got.blockTraces[b].stderr} vs ${sd}`);
    }
    assert.equal(got.trace.matvecs, 2 * k);
    assert.equal(got.trace.samples, k);
    assert.equal(got.sketchRank, k);
  }
});

test('unbiased over 400 seeds: XTrace, XDiag, Hutch++ means match the exact trace and diagonal', async () => {
  const A = smallMatrix(40, 7);
  const mv = denseMatVec(A);
  const S = 400;
  const tX: number[] = [];
  const tH: number[] = [];
  const dSum = new Float64Array(A.n);
  const dSq = new Float64Array(A.n);
  for (let s = 0; s < S; s++) {
    const r = await xtraceDiag(mv, A.n, { matvecs: 8, rng: new Rng(derive(500, s)) });
    tX.push(r.trace.value);
    for (let j = 0; j < A.n; j++) {
      dSum[j] += r.diagonal.values[j];
      dSq[j] += r.diagonal.values[j] ** 2;
    }
    tH.push((await hutchpp(mv, A.n, { matvecs: 9, rng: new Rng(derive(600, s)) })).value);
  }
  // z-scores of the means against their own spread over the S seeds.
  const z = (xs: number[], truth: number): number => {
    const m = xs.reduce((p, x) => p + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((p, x) => p + (x - m) ** 2, 0) / (xs.length - 1));
    return (m - truth) / (sd / Math.sqrt(xs.length));
  };
  assert.ok(Math.abs(z(tX, A.trace)) < 4, `XTrace mean z = ${z(tX, A.trace)}`);
  assert.ok(Math.abs(z(tH, A.trace)) < 4, `Hutch++ mean z = ${z(tH, A.trace)}`);
  const zd = Array.from(A.diag, (d, j) => {
    const m = dSum[j] / S;
    const sd = Math.sqrt((dSq[j] / S - m * m) * (S / (S - 1)));
    return (m - d) / (sd / Math.sqrt(S));
  });
  const meanZ2 = zd.reduce((p, x) => p + x * x, 0) / zd.length;
  assert.ok(Math.max(...zd.map(Math.abs)) < 4.5, `XDiag max |z| ${Math.max(...zd.map(Math.abs))}`);
  assert.ok(meanZ2 > 0.4 && meanZ2 < 1.8, `XDiag mean z² ${meanZ2} (1 when unbiased)`);
});

// ---- Acceptance: the pinned n = 1000 matrix ---------------------------------------------------------

test('pinned matrix, 30 matvecs, seeds 0–9: XDiag ≤ 1/10 of Hutchinson diagonal error; XTrace and Hutch++ ≤ 1/10 of its trace error', async () => {
  const A = pinned();
  const mv = denseMatVec(A);
  const errs = { hDiag: [] as number[], xDiag: [] as number[], hTrace: [] as number[], xTrace: [] as number[], ppTrace: [] as number[] };
  for (let seed = 0; seed < 10; seed++) {
    const h = await hutchinson(mv, A.n, { samples: 30, rng: new Rng(seed) });
    const x = await xtraceDiag(mv, A.n, { matvecs: 30, rng: new Rng(seed) });
    const pp = await hutchpp(mv, A.n, { matvecs: 30, rng: new Rng(seed) });
    assert.equal(x.trace.matvecs, 30);
    assert.equal(pp.matvecs, 30);
    errs.hDiag.push(relL2(h.diagonal.values, A.diag));
    errs.xDiag.push(relL2(x.diagonal.values, A.diag));
    errs.hTrace.push(Math.abs(h.trace.value - A.trace) / A.trace);
    errs.xTrace.push(Math.abs(x.trace.value - A.trace) / A.trace);
    errs.ppTrace.push(Math.abs(pp.value - A.trace) / A.trace);
  }
  const med = Object.fromEntries(Object.entries(errs).map(([key, v]) => [key, median(v)])) as Record<keyof typeof errs, number>;
  // Measured: Hutchinson diagonal 1.9, XDiag 0.05; trace Hutchinson 6e-2, XTrace 1e-3, Hutch++ 1.5e-3.
  assert.ok(med.xDiag <= med.hDiag / 10, `XDiag ${med.xDiag} vs Hutchinson ${med.hDiag}`);
  assert.ok(med.xTrace <= med.hTrace / 10, `XTrace ${med.xTrace} vs Hutchinson ${med.hTrace}`);
  assert.ok(med.ppTrace <= med.hTrace / 10, `Hutch++ ${med.ppTrace} vs Hutchinson ${med.hTrace}`);
  assert.ok(med.xDiag < 0.1 && med.xTrace < 5e-3 && med.ppTrace < 5e-3, JSON.stringify(med));
});

test('pinned matrix, seeds 0–39: error bars calibrated (±2 stderr cover ≥ 90 %, median |error|/stderr in [0.4, 1.2])', async () => {
  const A = pinned();
  const mv = denseMatVec(A);
  const blockTruth = A.diag.slice(0, 100).reduce((s, x) => s + x, 0);
  const cases: Record<string, number[]> = { 'xtrace@30': [], 'xtrace@60': [], 'hutch++@60': [], 'xdiag@30': [], 'xdiag@60': [], 'block@60': [] };
  const seedCover: Record<string, number[]> = { 'xdiag@30': [], 'xdiag@60': [] };
  for (let seed = 0; seed < 40; seed++) {
    for (const m of [30, 60]) {
      const x = await xtraceDiag(mv, A.n, { matvecs: m, rng: new Rng(seed), blocks: [[0, 100]] });
      cases[`xtrace@${m}`].push(Math.abs(x.trace.value - A.trace) / x.trace.stderr!);
      const ratios = Array.from(A.diag, (d, j) => Math.abs(x.diagonal.values[j] - d) / x.diagonal.stderr[j]);
      cases[`xdiag@${m}`].push(...ratios);
      seedCover[`xdiag@${m}`].push(ratios.filter((r) => r <= 2).length / ratios.length);
      if (m === 60) cases['block@60'].push(Math.abs(x.blockTraces[0].value - blockTruth) / x.blockTraces[0].stderr!);
    }
    const pp = await hutchpp(mv, A.n, { matvecs: 60, rng: new Rng(seed) });
    cases['hutch++@60'].push(Math.abs(pp.value - A.trace) / pp.stderr!);
  }
  for (const [name, ratios] of Object.entries(cases)) {
    const cover = ratios.filter((r) => r <= 2).length / ratios.length;
    const med = median(ratios);
    assert.ok(cover >= 0.9, `${name}: ${(cover * 100).toFixed(1)} % within ±2 stderr`);
    assert.ok(med >= 0.4 && med <= 1.2, `${name}: median |error|/stderr ${med}`);
  }
  // Per seed, XDiag's per-entry error bars cover ≥ 85 % of the 1000 entries (measured ≥ 90 %).
  for (const [name, covers] of Object.entries(seedCover)) assert.ok(Math.min(...covers) >= 0.85, `${name}: worst seed covers ${Math.min(...covers)}`);
});

// ---- Exactness when the sketch captures the operator ----------------------------------------------

test('exact on low-rank operators: rank 5 (float32 rounding only), exact rank deficiency, and k > n', async () => {
  // (a) Dense rank-5 matrix, n = 200, m = 20 (k = 10 > 5): the float32 matvec's rounding makes Y
  //     numerically full rank, so this exercises the ordinary path.
  const rng = new Rng(11);
  const low = fromEigen([40, -7, 3, 1.5, 0.2], haarColumns(200, rng, 5));
  for (const seed of [0, 1, 2]) {
    const x = await xtraceDiag(denseMatVec(low), low.n, { matvecs: 20, rng: new Rng(seed) });
    assert.ok(Math.abs(x.trace.value - low.trace) < 1e-5 * 40, `seed ${seed}: XTrace ${x.trace.value} vs ${low.trace}`);
    assert.ok(x.trace.stderr! < 1e-5 * 40, `stderr ${x.trace.stderr}`);
    assert.ok(relL2(x.diagonal.values, low.diag) < 1e-5, `XDiag error ${relL2(x.diagonal.values, low.diag)}`);
    const pp = await hutchpp(denseMatVec(low), low.n, { matvecs: 21, rng: new Rng(seed) });
    assert.ok(Math.abs(pp.value - low.trace) < 1e-5 * 40, `Hutch++ ${pp.value} vs ${low.trace}`);
  }
  // (b) Exactly rank 3 in float32 arithmetic (integer diagonal): the QR finds rank 3 < k, so only 3
  //     vectors of Q are multiplied by H, and the results are exact up to the float32 rounding of those
  //     vectors (measured 4.5e-9 on the trace).
  const d = new Float64Array(300);
  d[4] = 3;
  d[100] = -1;
  d[299] = 2.5;
  const diagOp: MatVec = async (v) => v.map((x, i) => d[i] * x);
  const r = await xtraceDiag(diagOp, 300, { matvecs: 20, rng: new Rng(5), blocks: [[0, 50], [50, 300]] });
  assert.equal(r.sketchRank, 3);
  assert.equal(r.trace.matvecs, 13);
  assert.ok(Math.abs(r.trace.value - 4.5) < 1e-7, `trace ${r.trace.value}`);
  assert.ok(r.trace.stderr! < 1e-7, `stderr ${r.trace.stderr}`);
  for (let j = 0; j < 300; j++) assert.ok(Math.abs(r.diagonal.values[j] - d[j]) < 1e-7, `entry ${j}: ${r.diagonal.values[j]}`);
  assert.ok(r.diagonal.stderr.every((x) => x < 1e-7), 'diagonal error bars ≈ 0');
  assert.ok(Math.abs(r.blockTraces[0].value - 3) < 1e-7 && Math.abs(r.blockTraces[1].value - 1.5) < 1e-7, 'block traces');
  const pp = await hutchpp(diagOp, 300, { matvecs: 30, rng: new Rng(5) });
  assert.equal(pp.matvecs, 10 + 3 + 10);
  assert.ok(Math.abs(pp.value - 4.5) < 1e-7, `Hutch++ ${pp.value}`);
  // (c) More test vectors than rows: n = 6, k = 10.
  const tiny = smallMatrix(6, 4);
  const t = await xtraceDiag(denseMatVec(tiny), 6, { matvecs: 20, rng: new Rng(1) });
  assert.equal(t.sketchRank, 6);
  assert.ok(Math.abs(t.trace.value - tiny.trace) < 1e-5 * 20, `k > n: trace ${t.trace.value} vs ${tiny.trace}`);
  assert.ok(relL2(t.diagonal.values, tiny.diag) < 1e-5, `k > n: diagonal error ${relL2(t.diagonal.values, tiny.diag)}`);
  // The zero operator.
  const zero = await xtraceDiag(async (v) => new Float32Array(v.length), 10, { matvecs: 4, rng: new Rng(1) });
  assert.deepEqual([zero.trace.value, zero.trace.matvecs, zero.sketchRank], [0, 2, 0]);
});

// ---- API behaviour ----------------------------------------------------------------------------------

test('same seed, same output; matvecMany (any batch size) gives identical results to matvec', async () => {
  const A = smallMatrix(60, 9);
  const mv = denseMatVec(A);
  const blocks: Array<[number, number]> = [[0, 20], [20, 60]];
  const plainX = await xtraceDiag(mv, A.n, { matvecs: 16, rng: new Rng(3), blocks });
  const plainP = await hutchpp(mv, A.n, { matvecs: 17, rng: new Rng(3) });
  assert.deepEqual(await xtraceDiag(mv, A.n, { matvecs: 16, rng: new Rng(3), blocks }), plainX);
  assert.deepEqual(await hutchpp(mv, A.n, { matvecs: 17, rng: new Rng(3) }), plainP);
  assert.notDeepEqual((await xtraceDiag(mv, A.n, { matvecs: 16, rng: new Rng(4) })).trace, plainX.trace);
  // The wrappers are the same numbers.
  assert.deepEqual(await xtrace(mv, A.n, { matvecs: 16, rng: new Rng(3) }), plainX.trace);
  assert.deepEqual(await xdiag(mv, A.n, { matvecs: 16, rng: new Rng(3) }), plainX.diagonal);
  for (const batchSize of [undefined, 1, 3, 100]) {
    const sizes: number[] = [];
    const matvecMany = async (vs: Float32Array[]): Promise<Float32Array[]> => {
      sizes.push(vs.length);
      return Promise.all(vs.map((v) => mv(v)));
    };
    const before = mv.calls;
    assert.deepEqual(await xtraceDiag(mv, A.n, { matvecs: 16, rng: new Rng(3), blocks, matvecMany, batchSize }), plainX, `batch ${batchSize}`);
    assert.deepEqual(await hutchpp(mv, A.n, { matvecs: 17, rng: new Rng(3), matvecMany, batchSize }), plainP, `batch ${batchSize}`);
    assert.equal(mv.calls - before, 16 + 17, 'every product through matvecMany');
    if (batchSize === undefined) assert.deepEqual(sizes, [8, 8, 5, 5, 7], 'one call per stage');
    else assert.ok(sizes.every((s) => s <= batchSize), `sizes ${sizes}`);
  }
  // Progress: done counts up to matvecs.
  const seen: number[] = [];
  await xtraceDiag(mv, A.n, { matvecs: 6, rng: new Rng(1), onProgress: (done, planned) => seen.push(done * 100 + planned) });
  assert.deepEqual(seen, [106, 206, 306, 406, 506, 606]);
});

test('cancellation and bad input', async () => {
  const A = smallMatrix(50, 2);
  for (const run of [
    (mv: MatVec, signal: AbortSignal) => xtraceDiag(mv, A.n, { matvecs: 20, rng: new Rng(1), signal }),
    (mv: MatVec, signal: AbortSignal) => hutchpp(mv, A.n, { matvecs: 20, rng: new Rng(1), signal }),
  ]) {
    const ac = new AbortController();
    const mv = denseMatVec(A);
    const aborting: MatVec = async (v) => {
      if (mv.calls === 4) ac.abort();
      return mv(v);
    };
    await assert.rejects(run(aborting, ac.signal), CancelledError);
    assert.equal(mv.calls, 5, 'no matvec after the abort');
    const pre = new AbortController();
    pre.abort();
    const mv2 = denseMatVec(A);
    await assert.rejects(run(mv2, pre.signal), CancelledError);
    assert.equal(mv2.calls, 0);
  }
  const mv = denseMatVec(A);
  await assert.rejects(xtraceDiag(mv, A.n, { matvecs: 1, rng: new Rng(1) }), RangeError);
  await assert.rejects(xtraceDiag(mv, 0, { matvecs: 4, rng: new Rng(1) }), RangeError);
  await assert.rejects(xtraceDiag(mv, A.n, { matvecs: 4, rng: new Rng(1), blocks: [[40, 51]] }), RangeError);
  await assert.rejects(hutchpp(mv, A.n, { matvecs: 0, rng: new Rng(1) }), RangeError);
  await assert.rejects(hutchpp(async () => new Float32Array(3), A.n, { matvecs: 6, rng: new Rng(1) }), RangeError);
  await assert.rejects(xtraceDiag(async (v) => v.map(() => NaN), A.n, { matvecs: 4, rng: new Rng(1) }), /non-finite/);
  await assert.rejects(
    xtraceDiag(mv, A.n, { matvecs: 4, rng: new Rng(1), matvecMany: async (vs) => vs.slice(1) }),
    /matvecMany returned/,
  );
  // Small budgets: odd m spends 2⌊m/2⌋; k = 1 and g = 1 have no error bar; m < 3 is plain Hutchinson.
  const odd = await xtraceDiag(mv, A.n, { matvecs: 7, rng: new Rng(1) });
  assert.equal(odd.trace.matvecs, 6);
  const k1 = await xtraceDiag(mv, A.n, { matvecs: 2, rng: new Rng(1) });
  assert.equal(k1.trace.stderr, null);
  assert.ok(k1.diagonal.stderr.every(Number.isNaN));
  const p2 = await hutchpp(mv, A.n, { matvecs: 2, rng: new Rng(1) });
  const h2 = await hutchinson(mv, A.n, { samples: 2, rng: new Rng(1) });
  assert.equal(p2.matvecs, 2);
  assert.ok(Math.abs(p2.value - h2.trace.value) < 1e-9 * Math.abs(h2.trace.value), `m = 2: ${p2.value} vs Hutchinson ${h2.trace.value}`);
});

test('xtraceDiag convergence: the estimate from the first j test vectors equals XTrace run with 2j matvecs (same Ω prefix); empty when rank-deficient', async () => {
  const A = smallMatrix(60, 5);
  const mv = denseMatVec(A);
  const full = await xtraceDiag(mv, A.n, { matvecs: 24, rng: new Rng(11) });
  assert.equal(full.convergence.length, 11);
  assert.deepEqual(full.convergence.map((p) => p.matvecs), Array.from({ length: 11 }, (_, i) => 2 * (i + 2)));
  const last = full.convergence[full.convergence.length - 1];
  assert.ok(Math.abs(last.value - full.trace.value) <= 1e-12 * Math.abs(full.trace.value), `${last.value} vs ${full.trace.value}`);
  for (const j of [2, 5, 9]) {
    const alone = await xtraceDiag(mv, A.n, { matvecs: 2 * j, rng: new Rng(11) });
    const p = full.convergence[j - 2];
    assert.ok(Math.abs(p.value - alone.trace.value) <= 1e-9 * Math.abs(alone.trace.value), `j = ${j}: ${p.value} vs ${alone.trace.value}`);
    assert.ok(Math.abs(p.stderr! - alone.trace.stderr!) <= 1e-6 * alone.trace.stderr!, `j = ${j}: stderr ${p.stderr} vs ${alone.trace.stderr}`);
  }
  // diag(5, 2, 1, 0, …) with k = 6: the sketch is exactly rank-deficient, no prefix curve.
  const low: MatVec = async (v) => Float32Array.from(v, (x, i) => (i < 3 ? [5, 2, 1][i] * x : 0));
  const r = await xtraceDiag(low, 30, { matvecs: 12, rng: new Rng(1) });
  assert.ok(r.sketchRank < 6);
  assert.deepEqual(r.convergence, []);
});
