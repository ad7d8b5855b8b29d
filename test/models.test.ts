/**
 * End-to-end accuracy of `inspect` on tiny models against an independent float64 reference (torch,
 * test/fixtures/models/*, made by scripts/make_model_fixtures.py) and against closed forms; statistical
 * calibration of the Hutchinson error bars; the self-test's power to refuse a broken backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from '../extension/engine/inspect.js';
import { readNpz } from '../extension/readers/npz.js';
import { selfTest } from '../extension/engine/selftest.js';
import { Objective } from '../extension/engine/objective.js';
import { registerSecondOrderGradients } from '../extension/engine/gradients.js';
import { tf } from '../extension/engine/tfjs.js';
import { symmetricEigenvalues } from '../extension/linalg/symmetricEigen.js';
import type { InspectResult } from '../extension/protocol.js';
import { relL2 } from './helpers.js';

const dir = (name: string) => `test/fixtures/models/${name}`;
const ref = (name: string) => JSON.parse(readFileSync(`${dir(name)}/reference.json`, 'utf8'));
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

function run(name: string, extra: Record<string, unknown> = {}): Promise<InspectResult> {
  return inspect({ modelPath: `${dir(name)}/model.json`, dataPath: `${dir(name)}/data.npz`, loss: ref(name).lossName, backend: 'wasm', top: 3, bottom: 3, ...extra });
}

function assertMatchesReference(r: InspectResult, R: any, eigen = true) {
  assert.ok(rel(r.loss.value, R.loss) < 1e-5, `loss ${r.loss.value} vs ${R.loss}`);
  assert.ok(rel(r.global.gradientNorm, R.gradientNorm) < 1e-3, '|g|');
  assert.ok(rel(r.global.hessianGradientNorm, R.hessianGradientNorm) < 1e-3, '|Hg|');
  assert.ok(rel(r.global.gradientCurvature, R.gradientCurvature) < 1e-3, 'gHg/gg');
  const lmax = Math.max(Math.abs(R.top[0]), Math.abs(R.bottom[0]));
  const close = (got: { value: number }[], want: number[], scale: number, what: string) => {
    assert.equal(got.length, want.length, `${what}: count`);
    want.forEach((w, i) => assert.ok(Math.abs(got[i].value - w) <= 1e-3 * scale, `${what}[${i}] ${got[i].value} vs ${w}`));
  };
  if (eigen) {
    close(r.global.eigenvalues.top, R.top, lmax, 'global top');
    close(r.global.eigenvalues.bottom, R.bottom, lmax, 'global bottom');
  }
  assert.equal(r.layers.length, R.layers.length);
  r.layers.forEach((l, i) => {
    const L = R.layers[i];
    assert.equal(l.name, L.name);
    assert.equal(l.parameters, L.parameters);
    if (eigen) {
      const bmax = Math.max(Math.abs(L.top[0]), Math.abs(L.bottom[0]));
      close(l.eigenvalues.top, L.top, bmax, `${l.name} top`);
      close(l.eigenvalues.bottom, L.bottom, bmax, `${l.name} bottom`);
    }
    l.tensors.forEach((t, j) => {
      assert.equal(t.name, L.tensors[j].name);
      assert.deepEqual(t.shape, L.tensors[j].shape);
    });
  });
}

for (const name of ['mlp', 'mlp-tfjs', 'cnn', 'regression', 'logistic', 'rescnn', 'textclf']) {
  test(`--exact matches the float64 reference: ${name}`, async () => {
    const R = ref(name);
    const r = await run(name, { exact: true });
    assertMatchesReference(r, R);
    assert.ok(rel(r.global.trace.value, R.trace) < 1e-3, `trace ${r.global.trace.value} vs ${R.trace}`);
    assert.equal(r.global.trace.stderr, null);
    assert.equal(r.global.trace.matvecs, R.parameters);
    r.layers.forEach((l, i) => {
      assert.ok(rel(l.trace.value, R.layers[i].trace) < 1e-3, `${l.name} trace`);
      l.tensors.forEach((t, j) => {
        const e = relL2(t.diagonal.values!, R.layers[i].tensors[j].diagonal);
        assert.ok(e < 1e-3, `${t.name} diagonal rel L2 ${e}`);
        assert.equal(t.diagonal.stderr, null);
        assert.equal(t.diagonal.samples, null);
      });
    });
  });
}

test('Lanczos on HVPs (no --exact) finds the global extremes of the mlp', async () => {
  const R = ref('mlp');
  const r = await run('mlp', { samples: 10 });
  const lmax = R.top[0];
  R.top.forEach((w: number, i: number) => assert.ok(Math.abs(r.global.eigenvalues.top[i].value - w) <= 1e-3 * lmax, `top ${i}`));
  R.bottom.forEach((w: number, i: number) => assert.ok(Math.abs(r.global.eigenvalues.bottom[i].value - w) <= 1e-3 * lmax, `bottom ${i}`));
  for (const e of [...r.global.eigenvalues.top, ...r.global.eigenvalues.bottom]) assert.ok(e.converged && e.residual < 1e-3 * lmax);
});

test('Hutchinson with 300 probes: unbiased, error bars calibrated (mlp)', async () => {
  const R = ref('mlp');
  const r = await run('mlp', { samples: 300, top: 1, bottom: 1, seed: 7 });
  const t = r.global.trace;
  assert.equal(t.samples, 300);
  assert.ok(Math.abs(t.value - R.trace) < 4.5 * t.stderr!, `trace ${t.value} ± ${t.stderr} vs ${R.trace}`);
  const z: number[] = [];
  r.layers.forEach((l, i) =>
    l.tensors.forEach((tt, j) => {
      const exact = R.layers[i].tensors[j].diagonal as number[];
      tt.diagonal.values!.forEach((v, k) => {
        const se = tt.diagonal.stderr![k];
        if (se > 0) z.push(Math.abs(v - exact[k]) / se);
      });
    }),
  );
  const within3 = z.filter((q) => q <= 3).length / z.length;
  const median = [...z].sort((a, b) => a - b)[Math.floor(z.length / 2)];
  assert.ok(within3 >= 0.9, `only ${within3} of entries within 3 stderr`);
  assert.ok(median >= 0.4 && median <= 1.2, `median |err|/stderr = ${median}`);
});

test('closed form: linear regression MSE, H = (2 / (N·K)) X̃ᵀX̃ per output', async () => {
  const data = readNpz(`${dir('regression')}/data.npz`);
  const x = data.get('x')!;
  const [N, D] = x.shape;
  const K = 2;
  const r = await run('regression', { exact: true, top: 10, bottom: 10 });
  // Per output k, the block over (kernel[:, k], bias[k]) is (2/(N·K)) X̃ᵀX̃ with X̃ = [X, 1]; outputs decouple.
  const A = new Float64Array((D + 1) * (D + 1));
  for (let n = 0; n < N; n++) {
    const row = [...Array.from({ length: D }, (_, d) => Number(x.data[n * D + d])), 1];
    for (let i = 0; i <= D; i++) for (let j = 0; j <= D; j++) A[i * (D + 1) + j] += (2 / (N * K)) * row[i] * row[j];
  }
  const diag = r.layers[0].tensors.flatMap((t) => t.diagonal.values!);
  // kernel is [D, K] row-major: entry (d, k) at d·K + k; bias k at D·K + k.
  for (let k = 0; k < K; k++) {
    for (let d = 0; d < D; d++) assert.ok(rel(diag[d * K + k], A[d * (D + 1) + d]) < 1e-4, `diag kernel[${d},${k}]`);
    assert.ok(rel(diag[D * K + k], A[D * (D + 1) + D]) < 1e-4, `diag bias[${k}]`);
  }
  const ev = Array.from(symmetricEigenvalues(A, D + 1));
  const want = [...ev, ...ev].sort((a, b) => b - a);
  r.global.eigenvalues.top.forEach((e, i) => assert.ok(Math.abs(e.value - want[i]) < 1e-4 * want[0], `λ${i} ${e.value} vs ${want[i]}`));
});

test('closed form: logistic regression, H = (1/N) Σ p(1−p) x̃x̃ᵀ', async () => {
  const data = readNpz(`${dir('logistic')}/data.npz`);
  const x = data.get('x')!;
  const [N, D] = x.shape;
  const r = await run('logistic', { exact: true });
  const buf = readFileSync(`${dir('logistic')}/group1-shard1of1.bin`);
  const w = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  let trace = 0;
  const diag = new Float64Array(D + 1);
  for (let n = 0; n < N; n++) {
    const row = [...Array.from({ length: D }, (_, d) => Number(x.data[n * D + d])), 1];
    const z = row.reduce((s, v, i) => s + v * w[i], 0);
    const p = 1 / (1 + Math.exp(-z));
    row.forEach((v, i) => (diag[i] += (p * (1 - p) * v * v) / N));
  }
  diag.forEach((d) => (trace += d));
  const got = r.layers[0].tensors.flatMap((t) => t.diagonal.values!);
  assert.ok(relL2(got, Array.from(diag)) < 1e-4, `diag ${got} vs ${Array.from(diag)}`);
  assert.ok(rel(r.global.trace.value, trace) < 1e-4);
});

test('the self-test refuses a backend with tfjs stock (wrong) second derivatives, and passes with the fixes', async () => {
  assert.equal(selfTest().ok, true);
  for (const kernel of ['Tanh', 'Exp', 'Sigmoid']) {
    const mod = await import(`@tensorflow/tfjs-core/dist/gradients/${kernel}_grad.js` as string);
    tf.registerGradient(Object.values(mod)[0] as tf.GradConfig);
    try {
      let report;
      try {
        report = selfTest();
      } catch (e) {
        report = { ok: false, detail: String(e) };
      }
      assert.equal(report.ok, false, `stock ${kernel} gradient should fail: ${report.detail}`);
    } finally {
      registerSecondOrderGradients();
    }
  }
  assert.equal(selfTest().ok, true);
});

test('the self-test checks stacked HVPs too: a stacked path that is 1 % off, or returns its directions out of order, fails it', async () => {
  const original = Objective.prototype.hvpMany;
  const faults: Array<(out: Float32Array[]) => Float32Array[]> = [(out) => out.map((h) => h.map((x) => 1.01 * x)), (out) => [...out].reverse()];
  try {
    for (const fault of faults) {
      Objective.prototype.hvpMany = function (this: Objective, vs: Float32Array[]) {
        const out = original.call(this, vs);
        return vs.length > 1 ? fault(out) : out;
      };
      assert.equal(selfTest().ok, false, 'a faulty stacked HVP passed the self-test');
    }
  } finally {
    Objective.prototype.hvpMany = original;
  }
  assert.equal(selfTest().ok, true);
});

test('same seed, same numbers; another seed, other numbers', async () => {
  const a = await run('mlp', { samples: 5, top: 1, bottom: 1, seed: 3 });
  const b = await run('mlp', { samples: 5, top: 1, bottom: 1, seed: 3 });
  const c = await run('mlp', { samples: 5, top: 1, bottom: 1, seed: 4 });
  assert.equal(a.global.trace.value, b.global.trace.value);
  assert.deepEqual(a.layers[0].tensors[0].diagonal.values, b.layers[0].tensors[0].diagonal.values);
  assert.notEqual(a.global.trace.value, c.global.trace.value);
});

test('XDiag beats Hutchinson at the same budget on real models; XTrace and Hutch++ carry honest error bars', async () => {
  for (const name of ['mlp', 'rescnn']) {
    const R = ref(name);
    const exact = R.layers.flatMap((l: any) => l.tensors.flatMap((t: any) => t.diagonal));
    const diagOf = (r: InspectResult) => r.layers.flatMap((l) => l.tensors.flatMap((t) => t.diagonal.values!));
    const h = await run(name, { samples: 60, top: 1, bottom: 1 });
    const x = await run(name, { estimator: 'xdiag', matvecs: 60, top: 1, bottom: 1 });
    const eh = relL2(diagOf(h), exact);
    const ex = relL2(diagOf(x), exact);
    assert.ok(ex <= 0.5 * eh, `${name}: XDiag ${ex} vs Hutchinson ${eh}`);
    assert.equal(x.layers[0].tensors[0].diagonal.method, 'xdiag');
    assert.equal(x.global.trace.method, 'xtrace');
    assert.ok(x.global.trace.matvecs <= 60);
    assert.ok(Math.abs(x.global.trace.value - R.trace) < 4.5 * x.global.trace.stderr!, `${name} xtrace ${x.global.trace.value} ± ${x.global.trace.stderr} vs ${R.trace}`);
    const hp = await run(name, { samples: 2, traceEstimator: 'hutch++', matvecs: 60, top: 1, bottom: 1 });
    assert.equal(hp.global.trace.method, 'hutch++');
    assert.ok(Math.abs(hp.global.trace.value - R.trace) < 4.5 * hp.global.trace.stderr!, `${name} hutch++ ${hp.global.trace.value} ± ${hp.global.trace.stderr} vs ${R.trace}`);
    // Hutchinson runs record their convergence.
    assert.equal(h.global.trace.convergence?.length, 60);
    assert.equal(h.global.trace.convergence![59].value, h.global.trace.value);
  }
});

test('--density: the SLQ density integrates to 1, has its runs and steps, and its mass sits inside [λmin, λmax]', async () => {
  const R = ref('mlp');
  const r = await run('mlp', { samples: 2, density: true, densityRuns: 2, densitySteps: 40, top: 1, bottom: 1 });
  const d = r.global.density!;
  assert.equal(d.runs, 2);
  assert.equal(d.nodes.length, 2);
  let integral = 0;
  for (let i = 1; i < d.grid.length; i++) integral += 0.5 * (d.values[i] + d.values[i - 1]) * (d.grid[i] - d.grid[i - 1]);
  assert.ok(Math.abs(integral - 1) < 1e-6, `integral ${integral}`);
  for (const run of d.nodes) for (const theta of run) assert.ok(theta >= R.bottom[0] - 1e-3 && theta <= R.top[0] + 1e-3, `Ritz value ${theta} outside the spectrum`);
});

test('estimator flags are checked', async () => {
  await assert.rejects(run('mlp', { estimator: 'magic' as never }), /--estimator magic is not one of hutchinson, xdiag/);
  await assert.rejects(run('mlp', { estimator: 'xdiag', traceEstimator: 'hutch++' }), /--estimator xdiag takes its trace from the same sketch/);
  await assert.rejects(run('mlp', { matvecs: 1 }), /--matvecs must be an integer ≥ 2/);
  await assert.rejects(run('mlp', { exact: true, estimator: 'xdiag' }), /--exact computes the diagonal and trace exactly/);
});

test('default estimator: XDiag/XTrace unless --samples implies Hutchinson; a sketch over the memory budget falls back (or, chosen, is refused)', async () => {
  const d = await run('mlp', { matvecs: 20, top: 1, bottom: 1 });
  assert.equal(d.layers[0].tensors[0].diagonal.method, 'xdiag');
  assert.equal(d.global.trace.method, 'xtrace');
  // XTrace's convergence: the estimate from the first j test vectors, at 2j HVPs, ending at the estimate.
  assert.deepEqual(d.global.trace.convergence!.map((p) => p.matvecs), Array.from({ length: 9 }, (_, i) => 2 * (i + 2)));
  assert.equal(d.global.trace.convergence!.at(-1)!.value, d.global.trace.value);
  const s = await run('mlp', { samples: 4, top: 1, bottom: 1 });
  assert.equal(s.layers[0].tensors[0].diagonal.method, 'hutchinson');
  assert.equal(s.global.trace.method, 'hutchinson');
  const hp = await run('mlp', { traceEstimator: 'hutch++', matvecs: 20, top: 1, bottom: 1 });
  assert.equal(hp.layers[0].tensors[0].diagonal.method, 'hutchinson');
  assert.equal(hp.global.trace.method, 'hutch++');
  // The mlp has P parameters: a sketch of m HVPs keeps ≈ 10·m·P bytes; make that exceed the budget.
  const P = d.model.parameters;
  const budget = 16 * 4 * P + 10 * 1000 * P - 1;
  const notes: string[] = [];
  const f = await run('mlp', { matvecs: 1000, samples: undefined, memoryBudget: budget, top: 1, bottom: 1, onProgress: (p: { note?: string }) => p.note && notes.push(p.note) });
  assert.equal(f.layers[0].tensors[0].diagonal.method, 'hutchinson');
  assert.equal(f.global.trace.method, 'hutchinson');
  assert.ok(notes.some((n) => /XDiag\/XTrace sketch of 1000 HVPs needs .* using Hutchinson/.test(n)), notes.join('\n'));
  await assert.rejects(run('mlp', { estimator: 'xdiag', matvecs: 1000, memoryBudget: budget }), /sketch of 1000 HVPs needs .*lower --matvecs, raise --memory-budget, or use --estimator hutchinson/);
});

test('--ggn-diagonal: the exact GGN diagonal matches torch float64 (Jᵀ H_z J built densely); equals the Hessian diagonal for ReLU and linear models, differs for tanh', async () => {
  for (const name of ['rescnn', 'logistic', 'regression', 'mlp', 'cnn', 'textclf']) {
    const R = ref(name);
    const r = await run(name, { exact: true, ggnDiagonal: true, top: 1, bottom: 1 });
    const got = r.layers.flatMap((l) => l.tensors.flatMap((t) => t.ggnDiagonal!.values!));
    const want = R.layers.flatMap((l: any) => l.tensors.flatMap((t: any) => t.ggnDiagonal));
    const hess = r.layers.flatMap((l) => l.tensors.flatMap((t) => t.diagonal.values!));
    const err = relL2(got, want);
    assert.ok(err < 1e-5, `${name}: GGN diagonal rel. error ${err}`);
    assert.equal(r.layers[0].tensors[0].ggnDiagonal!.method, 'exact');
    const gap = relL2(hess, got);
    if (['rescnn', 'logistic', 'regression'].includes(name)) assert.ok(gap < 1e-5, `${name}: H and GGN diagonals differ by ${gap}`);
    else assert.ok(gap > 0.05, `${name}: smooth network, yet GGN ≈ H on the diagonal (${gap})`);
  }
});

test('--ggn-diagonal gives the same numbers whatever the number of stacked copies per pass', async () => {
  const a = await run('cnn', { samples: 2, ggnDiagonal: true, top: 1, bottom: 1 });
  const b = await run('cnn', { samples: 2, ggnDiagonal: true, top: 1, bottom: 1, memoryBudget: 1.2e6 });
  const ga = a.layers.flatMap((l) => l.tensors.flatMap((t) => t.ggnDiagonal!.values!));
  const gb = b.layers.flatMap((l) => l.tensors.flatMap((t) => t.ggnDiagonal!.values!));
  assert.ok(relL2(ga, gb) < 1e-6, `${relL2(ga, gb)}`);
});
