/**
 * The insight fields of `inspect` end to end: with --exact every number against its exact value
 * (logistic regression in closed form; the mlp fixture against a dense float64 Hessian built here from
 * HVP columns on the cpu backend while the engine runs on wasm); in stochastic mode against those exact
 * values within their error bars; and `--checkpoints` on a logistic model trained in the test and saved
 * at several epochs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from '../extension/engine/inspect.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { Objective } from '../extension/engine/objective.js';
import { activateBackend } from '../extension/engine/tfjs.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import { readNpz } from '../extension/readers/npz.js';
import { symmetricEigenvalues } from '../extension/linalg/symmetricEigen.js';
import { markdownReport } from '../extension/report/markdown.js';
import { expandGlob } from '../extension/cli/glob.js';
import { layerShareSentence, layerStepText, meaningItems } from '../webview/insights.js';
import type { InspectResult } from '../extension/protocol.js';
import { CLI, ROOT, useCli } from './cli.js';

const dir = (name: string) => `test/fixtures/models/${name}`;
const ref = (name: string) => JSON.parse(readFileSync(`${dir(name)}/reference.json`, 'utf8'));
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const mul = (a: Float64Array, n: number, v: ArrayLike<number>) => Float64Array.from({ length: n }, (_, i) => dot(a.subarray(i * n, (i + 1) * n), v));
const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));

/** Gauss–Jordan with partial pivoting (deliberately not the engine's solver). */
function gaussJordan(a: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const m = Array.from({ length: n }, (_, i) => [...Array.from(a.subarray(i * n, (i + 1) * n)), b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return Float64Array.from(m, (row, i) => row[n] / row[i]);
}

interface Exact {
  H: Float64Array;
  g: Float64Array;
  P: number;
  blocks: Array<[number, number]>;
}

/** Every insight number from the exact H and g, computed here. */
function expected(e: Exact, diag: ArrayLike<number>, damping: number, epsilon: number) {
  const { H, g, P, blocks } = e;
  const share = (s: number, t: number) => {
    let N = 0;
    let F = 0;
    for (let i = s; i < t; i++) {
      N += H[i * P + i] ** 2;
      for (let j = 0; j < P; j++) F += H[i * P + j] ** 2;
    }
    return N / F;
  };
  const top = (s: number, t: number) => {
    const n = t - s;
    const b = Float64Array.from({ length: n * n }, (_, k) => H[(s + Math.floor(k / n)) * P + s + (k % n)]);
    const ev = symmetricEigenvalues(b, n);
    return { max: ev[n - 1], min: ev[0] };
  };
  const bound = (c: number) => (c > 0 ? 2 / c : null);
  const hg = mul(H, P, g);
  const sD = Float64Array.from(g, (x, i) => x / (Math.abs(diag[i]) + epsilon));
  const shifted = Float64Array.from(H);
  for (let i = 0; i < P; i++) shifted[i * P + i] += damping;
  const sN = gaussJordan(shifted, P, g);
  const dec = (s: Float64Array) => dot(g, s) - 0.5 * dot(s, mul(H, P, s));
  const gg = dot(g, g);
  const ghg = dot(g, hg);
  return {
    share: share(0, P),
    layerShares: blocks.map(([s, t]) => share(s, t)),
    lr: { topEigenvector: bound(top(0, P).max), gradient: bound(ghg / gg) },
    layerLr: blocks.map(([s, t]) => {
      const gb = g.subarray(s, t);
      const hb = mul(Float64Array.from({ length: (t - s) ** 2 }, (_, k) => H[(s + Math.floor(k / (t - s))) * P + s + (k % (t - s))]), t - s, gb);
      return { topEigenvector: bound(top(s, t).max), gradient: bound(dot(gb, hb) / dot(gb, gb)) };
    }),
    cosine: { gradientVsDiagonal: cos(g, sD), gradientVsNewton: cos(g, sN), diagonalVsNewton: cos(sD, sN) },
    predictedDecrease: { gradient: ghg > 0 ? (0.5 * gg * gg) / ghg : null, diagonal: dec(sD), newton: dec(sN) },
  };
}

function assertInsights(r: InspectResult, want: ReturnType<typeof expected>, tol: number, what: string) {
  const g = r.global;
  const close = (got: number | null | undefined, w: number | null, name: string) => {
    if (w == null) return assert.equal(got, null, `${what} ${name}: ${got} vs null`);
    assert.ok(got != null && rel(got, w) < tol, `${what} ${name}: ${got} vs ${w}`);
  };
  close(g.diagonalShare!.value, want.share, 'share');
  assert.equal(g.diagonalShare!.stderr, null);
  assert.equal(g.diagonalShare!.method, 'exact');
  close(g.learningRateBound!.topEigenvector, want.lr.topEigenvector, 'lr top');
  close(g.learningRateBound!.gradient, want.lr.gradient, 'lr gradient');
  r.layers.forEach((l, i) => {
    close(l.diagonalShare!.value, want.layerShares[i], `${l.name} share`);
    close(l.learningRateBound!.topEigenvector, want.layerLr[i].topEigenvector, `${l.name} lr top`);
    close(l.learningRateBound!.gradient, want.layerLr[i].gradient, `${l.name} lr gradient`);
  });
  const d = g.directions!;
  for (const k of ['gradientVsDiagonal', 'gradientVsNewton', 'diagonalVsNewton'] as const) close(d.cosine[k], want.cosine[k], `cosine ${k}`);
  for (const k of ['gradient', 'diagonal', 'newton'] as const) close(d.predictedDecrease[k], want.predictedDecrease[k], `decrease ${k}`);
  assert.equal(d.newtonMethod, 'dense');
  assert.ok(d.newtonResidual < 1e-6, `residual ${d.newtonResidual}`);
}

/** Logistic regression with sigmoid output and binary cross-entropy: H, g in closed form (float64). */
function logisticExact(w: Float32Array, x: { shape: number[]; data: ArrayLike<number | bigint> }, y: ArrayLike<number | bigint>): Exact & { loss: number } {
  const [N, D] = x.shape;
  const P = D + 1;
  const H = new Float64Array(P * P);
  const g = new Float64Array(P);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const row = [...Array.from({ length: D }, (_, d) => Number(x.data[n * D + d])), 1];
    const z = row.reduce((s, v, i) => s + v * w[i], 0);
    const p = 1 / (1 + Math.exp(-z));
    const t = Number(y[n]);
    loss -= (t * Math.log(p) + (1 - t) * Math.log(1 - p)) / N;
    for (let i = 0; i < P; i++) {
      g[i] += ((p - t) * row[i]) / N;
      for (let j = 0; j < P; j++) H[i * P + j] += (p * (1 - p) * row[i] * row[j]) / N;
    }
  }
  return { H, g, P, blocks: [[0, P]], loss };
}

const readWeights = (path: string) => {
  const buf = readFileSync(path);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
};

test('--exact, logistic regression: share, step sizes, directions equal their closed forms', async () => {
  const data = readNpz(`${dir('logistic')}/data.npz`);
  const e = logisticExact(readWeights(`${dir('logistic')}/group1-shard1of1.bin`), data.get('x')!, data.get('y')!.data as ArrayLike<number>);
  const ev = symmetricEigenvalues(e.H, e.P);
  for (const [given, epsilon] of [[undefined, 1e-4], [1e-3, 1e-4], [0.5, 0.01]] as const) {
    // Default λ: H is positive semi-definite here, so 10⁻³·λ_max.
    const damping = given ?? 1e-3 * ev[e.P - 1];
    const r = await inspect({ modelPath: `${dir('logistic')}/model.json`, dataPath: `${dir('logistic')}/data.npz`, loss: 'binary-cross-entropy', backend: 'wasm', exact: true, top: 1, bottom: 1, damping: given, epsilon });
    assert.ok(rel(r.loss.value, e.loss) < 1e-5);
    assert.ok(rel(r.global.directions!.damping, damping) < 1e-5, `damping ${r.global.directions!.damping} vs ${damping}`);
    const diag = Array.from({ length: e.P }, (_, i) => e.H[i * e.P + i]);
    assertInsights(r, expected(e, diag, damping, epsilon), 1e-4, `logistic λ=${damping}`);
    assert.equal(r.global.directions!.epsilon, epsilon);
  }
});

/** A fixture's exact Hessian from P HVP columns on the cpu backend, float64, symmetrised. */
async function mlpExact(name = 'mlp'): Promise<Exact> {
  await activateBackend('cpu');
  const { net } = loadModel(`${dir(name)}/model.json`);
  const arrays = readArrays(`${dir(name)}/data.npz`);
  const { dataset, loss } = prepareData('data', arrays.x, arrays.y, net, { name: ref(name).lossName, reason: 'test' });
  const obj = new Objective(net, dataset, loss, dataset.examples);
  try {
    const P = net.size;
    const H = new Float64Array(P * P);
    for (let j = 0; j < P; j++) {
      const e = new Float32Array(P);
      e[j] = 1;
      obj.hvp(e).forEach((v, i) => (H[i * P + j] = v));
    }
    for (let i = 0; i < P; i++) for (let j = i + 1; j < P; j++) H[i * P + j] = H[j * P + i] = 0.5 * (H[i * P + j] + H[j * P + i]);
    return { H, g: Float64Array.from(obj.lossAndGradient().gradient), P, blocks: net.blocks.map((b) => [b.start, b.end]) };
  } finally {
    obj.dispose();
  }
}

const runMlp = (extra: Record<string, unknown>) =>
  inspect({ modelPath: `${dir('mlp')}/model.json`, dataPath: `${dir('mlp')}/data.npz`, loss: ref('mlp').lossName, backend: 'wasm', top: 1, bottom: 1, ...extra });

test('mlp: --exact matches the dense Hessian built here; stochastic runs match it within their error bars; the report says what it means', async () => {
  const e = await mlpExact();
  assert.ok(e.blocks.length >= 2);
  const damping = 0.05;
  const exact = await runMlp({ exact: true, damping });
  const diag = Array.from({ length: e.P }, (_, i) => e.H[i * e.P + i]);
  const want = expected(e, diag, damping, 1e-4);
  assertInsights(exact, want, 2e-3, 'mlp exact');
  // The quantities the report compares: λ_min ≤ min H_ii.
  assert.ok(exact.global.eigenvalues.bottom[0].value <= Math.min(...diag) + 1e-6);
  // The default damping makes H + λI positive definite: −λ_min + 10⁻³·λ_max (λ_min < 0 on this model).
  const ev = symmetricEigenvalues(e.H, e.P);
  assert.ok(ev[0] < 0);
  const auto = await runMlp({ exact: true });
  const lambda = -ev[0] + 1e-3 * ev[e.P - 1];
  assert.ok(rel(auto.global.directions!.damping, lambda) < 1e-3, `default damping ${auto.global.directions!.damping} vs ${lambda}`);
  assertInsights(auto, expected(e, diag, auto.global.directions!.damping, 1e-4), 2e-3, 'mlp exact, default damping');

  for (const opts of [{ samples: 200, seed: 1 }, { estimator: 'xdiag', matvecs: 200, seed: 2 }]) {
    const r = await runMlp({ ...opts, damping, newtonMatvecs: 300, top: 1, bottom: 1 });
    const s = r.global.diagonalShare!;
    assert.equal(s.method, 'hutchinson');
    assert.equal(s.samples, 'estimator' in opts ? 100 : 200);
    assert.ok(s.stderr! > 0 && Math.abs(s.value - want.share) < 4 * s.stderr!, `share ${s.value} ± ${s.stderr} vs ${want.share}`);
    r.layers.forEach((l, i) => assert.ok(Math.abs(l.diagonalShare!.value - want.layerShares[i]) < 4.5 * l.diagonalShare!.stderr!, `${l.name} share ${l.diagonalShare!.value} ± ${l.diagonalShare!.stderr} vs ${want.layerShares[i]}`));
    // Deterministic given the converged Lanczos and exact HVPs: step sizes as exact.
    assert.ok(rel(r.global.learningRateBound!.topEigenvector!, want.lr.topEigenvector!) < 1e-3);
    assert.ok(rel(r.global.learningRateBound!.gradient!, want.lr.gradient!) < 1e-4);
    r.layers.forEach((l, i) => assert.ok(rel(l.learningRateBound!.gradient!, want.layerLr[i].gradient!) < 1e-4, `${l.name} lr gradient`));
    // MINRES on HVPs reaches the dense solve's Newton step.
    const d = r.global.directions!;
    assert.equal(d.newtonMethod, 'minres');
    assert.ok(d.newtonIterations! <= 300);
    assert.ok(d.newtonResidual < 1e-4, `MINRES residual ${d.newtonResidual}`);
    assert.ok(Math.abs(d.cosine.gradientVsNewton - want.cosine.gradientVsNewton) < 1e-3);
    assert.ok(rel(d.predictedDecrease.newton, want.predictedDecrease.newton) < 1e-3);
    assert.ok(rel(d.predictedDecrease.gradient!, want.predictedDecrease.gradient!) < 1e-4);
  }

  const md = markdownReport(exact);
  assert.match(md, /## What this means/);
  assert.match(md, new RegExp(`The diagonal carries ${(100 * want.share).toFixed(want.share < 0.2 ? 1 : 0)} % \\(exact\\)`));
  assert.match(md, new RegExp(`SGD with lr > ${want.lr.topEigenvector!.toPrecision(3).replace('.', '\\.')} diverges along the top eigenvector`));
  assert.match(md, /λ_min ≤ min_i H_ii; here the gap is/);
  assert.match(md, /\| Newton-type \| \(H \+ λI\)⁻¹ g, λ = 0\.050 \(dense solve/);

  // The panel's sentences (pure functions behind render.ts).
  const items = meaningItems(exact);
  assert.deepEqual(items.map((i) => i.key), ['diagonalShare', 'lambdaVsDiagonal', 'stepSize', 'directions']);
  assert.match(items[0].text, /^The diagonal carries \d+(\.\d)? % \(exact\) of the Hessian's curvature/);
  assert.match(items[1].text, /λ_min ≤ min H_ii always, here by /);
  assert.match(items[2].text, /^SGD with lr > 0\.\d+ diverges along the top eigenvector/);
  exact.layers.forEach((l, i) => {
    const pct = (100 * want.layerShares[i]).toFixed(want.layerShares[i] < 0.2 ? 1 : 0);
    assert.equal(layerShareSentence(l), `The diagonal carries ${pct} % (exact) of this layer's curvature — ${want.layerShares[i] < 0.2 ? 'a diagonal preconditioner sees little of it' : want.layerShares[i] < 0.6 ? 'a diagonal preconditioner sees part of it' : 'a diagonal preconditioner sees most of it'}.`);
    assert.match(layerStepText(l)!, /^lr < \S+ \(2\/λ_max\) · < \S+ \(along this layer's gradient\)$/);
  });
  // A result saved before these fields existed: no insight sentences beyond λ_min vs the diagonal, no report section.
  const old = structuredClone(exact);
  delete old.global.diagonalShare;
  delete old.global.learningRateBound;
  delete old.global.directions;
  old.layers.forEach((l) => (delete l.diagonalShare, delete l.learningRateBound));
  assert.deepEqual(meaningItems(old).map((i) => i.key), ['lambdaVsDiagonal']);
  assert.equal(layerShareSentence(old.layers[0]), null);
  assert.doesNotMatch(markdownReport(old), /What this means/);
});

test('--checkpoints: a logistic model trained here and saved at epochs 1, 2, 10 is inspected in natural order, each as on its own', async () => {
  const make = useCli();
  const root = make('logistic', ['data.npz'], 'ckpt');
  const data = readNpz(`${dir('logistic')}/data.npz`);
  const x = data.get('x')!;
  const y = data.get('y')!.data as ArrayLike<number>;
  let w = readWeights(`${dir('logistic')}/group1-shard1of1.bin`);
  const traces: Record<number, number> = {};
  for (let epoch = 1; epoch <= 10; epoch++) {
    const e = logisticExact(w, x, y);
    w = Float32Array.from(w, (v, i) => v - 2.0 * e.g[i]);
    if (epoch === 1 || epoch === 2 || epoch === 10) {
      const d = join(root, `epoch-${epoch}`);
      mkdirSync(d);
      cpSync(`${dir('logistic')}/model.json`, join(d, 'model.json'));
      writeFileSync(join(d, 'group1-shard1of1.bin'), Buffer.from(w.buffer));
      const h = logisticExact(w, x, y).H;
      traces[epoch] = Array.from({ length: 4 }, (_, i) => h[i * 4 + i]).reduce((a, b) => a + b, 0);
    }
  }
  mkdirSync(join(root, '.hidden-epoch-0'));
  assert.deepEqual(expandGlob(join(root, 'epoch-*/model.json')), [1, 2, 10].map((k) => join(root, `epoch-${k}`, 'model.json')));
  assert.deepEqual(expandGlob(join(root, 'epoch-?/model.json')), [1, 2].map((k) => join(root, `epoch-${k}`, 'model.json')));
  assert.throws(() => expandGlob(join(root, '**/model.json')), /not supported/);

  const out = join(root, 'ckpt.json');
  const args = [CLI, 'inspect', '--checkpoints', join(root, 'epoch-*', 'model.json'), '--data', join(root, 'data.npz'), '--loss', 'binary-cross-entropy', '--exact', '--backend', 'cpu', '--top', '1', '--bottom', '1', '--json', out, '--report', join(root, 'ckpt.md'), '--quiet'];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(Object.keys(c), ['checkpoints']);
  assert.deepEqual(c.checkpoints.map((row: { path: string }) => row.path), [1, 2, 10].map((k) => join(root, `epoch-${k}`, 'model.json')));
  for (const [i, k] of [1, 2, 10].entries()) {
    const row = c.checkpoints[i];
    assert.deepEqual(Object.keys(row), ['path', 'topEigenvalue', 'bottomEigenvalue', 'trace', 'diagonalShare']);
    assert.ok(rel(row.trace.value, traces[k]) < 1e-4, `epoch ${k}: trace ${row.trace.value} vs ${traces[k]}`);
    const single = await inspect({ modelPath: row.path, dataPath: join(root, 'data.npz'), loss: 'binary-cross-entropy', exact: true, backend: 'cpu', top: 1, bottom: 1 });
    assert.equal(row.topEigenvalue, single.global.eigenvalues.top[0].value);
    assert.equal(row.bottomEigenvalue, single.global.eigenvalues.bottom[0].value);
    assert.equal(row.diagonalShare.value, single.global.diagonalShare!.value);
  }
  assert.notEqual(c.checkpoints[0].trace.value, c.checkpoints[2].trace.value);
  const md = readFileSync(join(root, 'ckpt.md'), 'utf8');
  assert.match(md, /\| 3 \| .*epoch-10.*model\.json \|/);

  // An unquoted pattern expanded by the shell arrives as one flag value plus positionals: same result.
  const shellArgs = [...args.slice(0, 3), join(root, 'epoch-10', 'model.json'), join(root, 'epoch-1', 'model.json'), join(root, 'epoch-2', 'model.json'), ...args.slice(4)];
  const r2 = spawnSync(process.execPath, [...shellArgs.slice(0, shellArgs.indexOf('--json')), '--json', '-'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual(JSON.parse(r2.stdout), c);

  // A checkpoint of another architecture, a pattern matching nothing: one clear error line each.
  const bad = spawnSync(process.execPath, [CLI, 'inspect', '--checkpoints', join(root, 'nothing-*', 'model.json'), '--data', join(root, 'data.npz')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /matched no model file/);
  mkdirSync(join(root, 'epoch-3'));
  // Same input and weights, another layer name: not the same architecture.
  writeFileSync(join(root, 'epoch-3', 'model.json'), readFileSync(`${dir('logistic')}/model.json`, 'utf8').replace(/"dense(\/|")/g, '"renamed$1'));
  cpSync(`${dir('logistic')}/group1-shard1of1.bin`, join(root, 'epoch-3', 'group1-shard1of1.bin'));
  const mixed = spawnSync(process.execPath, [CLI, 'inspect', '--checkpoints', join(root, 'epoch-*', 'model.json'), '--data', join(root, 'data.npz'), '--samples', '2', '--top', '1', '--bottom', '1', '--backend', 'cpu'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(mixed.status, 2, mixed.stderr);
  assert.match(mixed.stderr, /curvature-lens: error: .*epoch-3.*model\.json: its layers \(renamed:4\) differ from those of .*epoch-1/);
});

for (const name of ['rescnn', 'textclf']) {
  test(`--exact on other architectures (${name}: residual/BatchNorm or embedding/LayerNorm): every insight number as from the dense Hessian`, async () => {
    const e = await mlpExact(name);
    const r = await inspect({ modelPath: `${dir(name)}/model.json`, dataPath: `${dir(name)}/data.npz`, loss: ref(name).lossName, backend: 'wasm', exact: true, top: 1, bottom: 1, damping: 0.1 });
    const diag = Array.from({ length: e.P }, (_, i) => e.H[i * e.P + i]);
    assertInsights(r, expected(e, diag, 0.1, 1e-4), 2e-3, name);
  });
}

test('insight flags are checked', async () => {
  await assert.rejects(runMlp({ damping: -1 }), /--damping must be a finite number ≥ 0/);
  await assert.rejects(runMlp({ epsilon: NaN }), /--epsilon must be a finite number ≥ 0/);
  await assert.rejects(runMlp({ newtonMatvecs: 0 }), /--newton-matvecs must be an integer ≥ 1/);
  const r = spawnSync(process.execPath, [CLI, 'inspect', `${dir('mlp')}/model.json`, '--epsilon', '1e-3x'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--epsilon must be a non-negative number, got "1e-3x"/);
});
