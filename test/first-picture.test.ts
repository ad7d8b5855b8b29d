/**
 * The first picture (issue 6): preliminary per-tensor diagonals while a run goes on.
 * - RunningDiagonal is Hutchinson's running mean bit for bit; small first batches and per-group onProduct
 *   leave XDiag's and Hutchinson's numbers unchanged.
 * - Through inspect(): the first preview comes after the first (small) batch, before the result, with
 *   the result's tensor shapes and a stderr; its values are the Hutchinson mean over the probes so far
 *   (checked against an independent run with that many probes); against the exact diagonal of the fixture
 *   MLP its errors match its error bars; the final preview is the result's diagonal; previews do not change
 *   the result; cancelling on a preview still cancels.
 * - Through the real worker process: validated 'preview' messages before the result, and cancellation.
 * - Host validation, host conversion to typed arrays, the panel's label and per-layer grouping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inspect, type InspectOptions } from '../extension/engine/inspect.js';
import { FIRST_PREVIEW_PRODUCTS } from '../extension/engine/diagonalPreview.js';
import { RunningDiagonal } from '../extension/estimators/runningDiagonal.js';
import { hutchinson } from '../extension/estimators/hutchinson.js';
import { xtraceDiag } from '../extension/estimators/xtrace.js';
import { Rng } from '../extension/estimators/rng.js';
import { CancelledError } from '../extension/errors.js';
import { checkWorkerMessage } from '../extension/host/workerMessages.js';
import { panelPreview } from '../extension/host/preview.js';
import { runInWorker, WorkerError } from '../extension/host/workerClient.js';
import type { DiagonalPreview, InspectResult, PanelPreview, Progress } from '../extension/protocol.js';
import { previewKey, previewLabel, previewLayers } from '../webview/preview.js';
import { toSaved } from '../webview/persist.js';
import { liveThreads } from '../extension/engine/hvpPool.js';
import { activateBackend } from '../extension/engine/tfjs.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { Objective } from '../extension/engine/objective.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';

const MLP = { modelPath: 'test/fixtures/models/mlp/model.json', dataPath: 'test/fixtures/models/mlp/data.npz' };
/** An unstacked model (one HVP per worker and batch): convolutional and off the R-operator path (residual Add, BatchNorm). */
const RESCNN = { modelPath: 'test/fixtures/models/rescnn/model.json', dataPath: 'test/fixtures/models/rescnn/data.npz' };

/** A random symmetric n×n matrix with a few large eigen-directions, as a matvec. */
function matrix(n: number, seed: number) {
  const rng = new Rng(seed);
  const A = Array.from({ length: n }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i][j] = A[j][i] = rng.normal() + (i === j ? 3 : 0);
  const mv = async (v: Float32Array) => Float32Array.from(A, (row) => row.reduce((s, a, j) => s + a * v[j], 0));
  return { A, mv };
}

// ---- estimators ---------------------------------------------------------------------------------------

test('RunningDiagonal: equals Hutchinson’s diagonal and stderr bit for bit; NaN stderr below 2 products', async () => {
  const n = 23;
  const { mv } = matrix(n, 1);
  const run = new RunningDiagonal(n);
  const seen: number[][] = [];
  const h = await hutchinson(mv, n, { samples: 9, rng: new Rng(4), onProduct: (z, hz) => (run.push(z, hz), seen.push([run.count])) });
  assert.deepEqual(seen.flat(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const all = run.slice(0, n);
  assert.deepEqual(all.values, h.diagonal.values);
  assert.deepEqual(all.stderr, h.diagonal.stderr);
  const part = run.slice(5, 9);
  assert.deepEqual(part.values, h.diagonal.values.slice(5, 9));
  const one = new RunningDiagonal(3);
  one.push([1, -1, 1], [2, 3, 4]);
  assert.deepEqual(Array.from(one.slice(0, 3).values), [2, -3, 4]);
  assert.ok(one.slice(0, 3).stderr.every(Number.isNaN));
  assert.throws(() => one.push([1], [1]), RangeError);
});

test('xtraceDiag: onProduct per group (before the second stage), small first group, identical numbers', async () => {
  const n = 30;
  const { mv } = matrix(n, 2);
  const matvecMany = async (vs: Float32Array[]) => Promise.all(vs.map(mv));
  const plain = await xtraceDiag(mv, n, { matvecs: 20, rng: new Rng(9), blocks: [[0, 10]] });
  const sizes: number[] = [];
  const events: string[] = [];
  const multiplied: Float32Array[] = [];
  const many = async (vs: Float32Array[]) => (sizes.push(vs.length), multiplied.push(...vs), events.push(`batch ${vs.length}`), matvecMany(vs));
  const seenOmega: Float32Array[] = [];
  const x = await xtraceDiag(mv, n, {
    matvecs: 20,
    rng: new Rng(9),
    blocks: [[0, 10]],
    matvecMany: many,
    batchSize: 4,
    firstBatchSize: 2,
    onProduct: (w, y) => (seenOmega.push(w), events.push('product')),
  });
  assert.deepEqual(x, plain);
  // Y: 2 + 4 + 4 (k = 10), then Z: 4 + 4 + 2; each Y group's products are seen before the next group starts.
  assert.deepEqual(sizes, [2, 4, 4, 4, 4, 2]);
  assert.deepEqual(events.slice(0, 9), ['batch 2', 'product', 'product', 'batch 4', 'product', 'product', 'product', 'product', 'batch 4']);
  assert.equal(seenOmega.length, 10);
  assert.deepEqual(seenOmega, multiplied.slice(0, 10), 'each product is reported with its own test vector');
  assert.ok(seenOmega.every((w) => w.every((v) => v === 1 || v === -1)), 'the test vectors are Rademacher');
});

test('hutchinson: a small first group gives identical numbers', async () => {
  const n = 17;
  const { mv } = matrix(n, 3);
  const sizes: number[] = [];
  const matvecMany = async (vs: Float32Array[]) => (sizes.push(vs.length), Promise.all(vs.map(mv)));
  const plain = await hutchinson(mv, n, { samples: 11, rng: new Rng(5), blocks: [[2, 9]] });
  const b = await hutchinson(mv, n, { samples: 11, rng: new Rng(5), blocks: [[2, 9]], batch: { size: 4, first: 2, matvecMany } });
  assert.deepEqual(b, plain);
  assert.deepEqual(sizes, [2, 4, 4]); // and one last probe alone through matvec
});

test('stacked HVPs: shares of 2, 4 and 32 give the same bits (the small first batch relies on it)', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await activateBackend(backend);
    const { net } = loadModel(MLP.modelPath);
    const { x, y } = readArrays(MLP.dataPath);
    const { dataset, loss } = prepareData('data.npz', x, y, net, null);
    const obj = new Objective(net, dataset, loss, dataset.examples);
    const rng = new Rng(1);
    const vs = Array.from({ length: 32 }, () => rng.rademacher(net.size));
    const all = obj.hvpMany(vs);
    assert.deepEqual(obj.hvpMany(vs.slice(0, 4)), all.slice(0, 4), backend);
    assert.deepEqual(obj.hvpMany(vs.slice(0, 2)), all.slice(0, 2), backend);
    obj.dispose();
  }
});

// ---- inspect() ----------------------------------------------------------------------------------------

interface Seen {
  result: InspectResult;
  previews: DiagonalPreview[];
  /** Diagonal-phase HVPs done (last progress) when each preview came. */
  doneAt: number[];
}

async function withPreviews(options: InspectOptions): Promise<Seen> {
  const previews: DiagonalPreview[] = [];
  const doneAt: number[] = [];
  let done = 0;
  const result = await inspect({
    backend: 'wasm',
    workers: 1,
    top: 0,
    bottom: 0,
    ...options,
    onProgress: (p: Progress) => {
      if (p.phase === 'diagonal') done = p.done;
    },
    onPreview: (p) => {
      previews.push(p);
      doneAt.push(done);
    },
  });
  return { result, previews, doneAt };
}

const flatTensors = (r: InspectResult) => r.layers.flatMap((l) => l.tensors.map((t) => ({ layer: l.name, ...t })));

test('inspect, Hutchinson: first preview after the first small batch, the running mean of the probes so far, then the final diagonal', async () => {
  const seen = await withPreviews({ ...MLP, samples: 37, seed: 5 });
  const { result, previews, doneAt } = seen;
  assert.ok(result.timing.batch >= 16, `the fixture MLP stacks ${result.timing.batch} HVPs per batch; the first batch should be the small one`);
  assert.ok(previews.length >= 2, `${previews.length} previews`);
  const first = previews[0];
  assert.equal(first.matvecs, FIRST_PREVIEW_PRODUCTS);
  assert.equal(doneAt[0], FIRST_PREVIEW_PRODUCTS, 'sent after the first batch, before the next one');
  assert.equal(first.final, false);
  assert.equal(first.method, 'hutchinson');
  assert.equal(first.estimator, 'hutchinson');
  assert.equal(first.planned, 37);
  // Shapes: the result's tensors, in order.
  const tensors = flatTensors(result);
  assert.deepEqual(first.tensors.map((t) => [t.layer, t.name, t.shape]), tensors.map((t) => [t.layer, t.name, t.shape]));
  for (const t of first.tensors) {
    assert.equal(t.values.length, t.shape.reduce((a, b) => a * b, 1));
    assert.ok(t.stderr && t.stderr.length === t.values.length && t.stderr.every((s) => Number.isFinite(s) && s >= 0), 'a finite stderr per entry');
  }
  // Counts grow (doubling or by time) and stay within the probes; the last one is the final diagonal.
  const counts = previews.map((p) => p.matvecs);
  for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `counts ${counts}`);
  const last = previews[previews.length - 1];
  assert.equal(last.final, true);
  assert.equal(last.matvecs, 37);
  assert.deepEqual(last.tensors.map((t) => t.values), tensors.map((t) => t.diagonal.values));
  assert.deepEqual(last.tensors.map((t) => t.stderr), tensors.map((t) => t.diagonal.stderr));
  // Independently: a run with exactly the preview's probe count has the preview's values (same seed, same probes).
  const short = await inspect({ ...MLP, samples: first.matvecs, seed: 5, backend: 'wasm', workers: 1, top: 0, bottom: 0 });
  const shortTensors = flatTensors(short);
  assert.deepEqual(first.tensors.map((t) => t.values), shortTensors.map((t) => t.diagonal.values));
  assert.deepEqual(first.tensors.map((t) => t.stderr), shortTensors.map((t) => t.diagonal.stderr));
  // Previews change nothing in the result.
  const plain = await inspect({ ...MLP, samples: 37, seed: 5, backend: 'wasm', workers: 1, top: 0, bottom: 0 });
  assert.deepEqual({ ...plain, timing: null }, { ...result, timing: null });
});

test('inspect, XDiag: previews from the sketch’s test vectors match the exact diagonal within their error bars; final = result', async () => {
  const exact = await inspect({ ...MLP, exact: true, backend: 'wasm', workers: 1, top: 0, bottom: 0 });
  const truth = flatTensors(exact).flatMap((t) => t.diagonal.values!);
  const seen = await withPreviews({ ...MLP, estimator: 'xdiag', matvecs: 100, seed: 11 });
  const { result, previews, doneAt } = seen;
  assert.equal(previews[0].matvecs, FIRST_PREVIEW_PRODUCTS);
  assert.equal(doneAt[0], FIRST_PREVIEW_PRODUCTS);
  assert.equal(previews[0].estimator, 'xdiag');
  assert.equal(previews[0].planned, 100);
  const running = previews.filter((p) => !p.final);
  // All k = 50 test vectors are in before the second half of the sketch starts.
  assert.equal(running[running.length - 1].matvecs, 50);
  for (const p of running) {
    const est = p.tensors.flatMap((t) => t.values);
    const se = p.tensors.flatMap((t) => t.stderr!);
    const z = est.map((v, i) => (v === truth[i] ? 0 : Math.abs(v - truth[i]) / se[i]));
    const within3 = z.filter((x) => x <= 3).length / z.length;
    // With few probes the stderr itself is noisy (t-distribution with m − 1 degrees of freedom).
    assert.ok(within3 >= (p.matvecs >= 16 ? 0.93 : 0.8), `${p.matvecs} probes: ${(100 * within3).toFixed(1)} % of entries within 3 stderr`);
    const err = Math.sqrt(est.reduce((s, v, i) => s + (v - truth[i]) ** 2, 0));
    const bar = Math.sqrt(se.reduce((s, x) => s + x * x, 0));
    assert.ok(err < 2 * bar, `${p.matvecs} probes: ‖error‖ ${err} vs ‖stderr‖ ${bar}`);
  }
  // The error shrinks as probes come in (4 → 50: by about √12.5 ≈ 3.5; asking for 1.8).
  const errOf = (p: DiagonalPreview) => Math.sqrt(p.tensors.flatMap((t) => t.values).reduce((s, v, i) => s + (v - truth[i]) ** 2, 0));
  assert.ok(errOf(running[0]) > 1.8 * errOf(running[running.length - 1]), `errors ${running.map(errOf)}`);
  const last = previews[previews.length - 1];
  assert.equal(last.final, true);
  assert.equal(last.method, 'xdiag');
  assert.equal(last.samples, 50);
  assert.deepEqual(last.tensors.map((t) => t.values), flatTensors(result).map((t) => t.diagonal.values));
});

test('inspect: exact mode sends its diagonal once, when the Hessian is built', async () => {
  const { result, previews } = await withPreviews({ ...MLP, exact: true });
  assert.equal(previews.length, 1);
  assert.equal(previews[0].method, 'exact');
  assert.equal(previews[0].final, true);
  assert.ok(previews[0].tensors.every((t) => t.stderr === null));
  assert.deepEqual(previews[0].tensors.map((t) => t.values), flatTensors(result).map((t) => t.diagonal.values));
});

test('inspect: an unstacked model (rescnn) with 2 workers previews after 4 HVPs; cancelling on a preview cancels and stops the threads', async () => {
  const controller = new AbortController();
  const previews: DiagonalPreview[] = [];
  await assert.rejects(
    inspect({
      ...RESCNN,
      samples: 40,
      backend: 'wasm',
      workers: 2,
      top: 0,
      bottom: 0,
      signal: controller.signal,
      onPreview: (p) => {
        previews.push(p);
        controller.abort();
      },
    }),
    CancelledError,
  );
  assert.equal(previews.length, 1);
  assert.equal(previews[0].matvecs, FIRST_PREVIEW_PRODUCTS, 'one HVP per worker and batch: the first preview after 2 batches');
  for (let i = 0; i < 200 && liveThreads() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(liveThreads(), 0, 'worker threads still running after the cancelled run');
});

// ---- worker process -------------------------------------------------------------------------------------

const WORKER = 'dist/worker.js';
const never = { onCancellationRequested: () => ({ dispose() {} }) };

test('the real worker sends validated previews before the result; cancel on the first preview ends the run', async () => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'ignore' }); // dist/ must have this branch's worker
  assert.ok(existsSync(WORKER));
  const options = { ...MLP, loss: null, top: 2, bottom: 2, seed: 0, backend: 'wasm' as const, workers: 1 };
  const events: string[] = [];
  const previews: DiagonalPreview[] = [];
  const r = await runInWorker({
    workerPath: WORKER,
    options,
    onProgress: () => {},
    onPreview: (p) => (previews.push(p), events.push('preview')),
    log: () => {},
    cancel: never,
  });
  events.push('result');
  assert.ok(previews.length >= 2);
  assert.equal(events[events.length - 1], 'result');
  assert.equal(previews[0].matvecs, FIRST_PREVIEW_PRODUCTS);
  assert.equal(previews[previews.length - 1].final, true);
  assert.deepEqual(previews[previews.length - 1].tensors.map((t) => t.values), flatTensors(r).map((t) => t.diagonal.values));

  const listeners: Array<() => void> = [];
  const cancel = { onCancellationRequested: (l: () => void) => (listeners.push(l), { dispose() {} }) };
  await assert.rejects(
    runInWorker({ workerPath: WORKER, options: { ...options, samples: 100000 }, onProgress: () => {}, onPreview: () => listeners.forEach((l) => l()), log: () => {}, cancel }),
    (e: unknown) => e instanceof WorkerError && e.kind === 'cancelled',
  );
});

// ---- host and panel -------------------------------------------------------------------------------------

function samplePreview(over: Partial<DiagonalPreview> = {}): DiagonalPreview {
  return {
    method: 'hutchinson',
    estimator: 'xdiag',
    matvecs: 8,
    samples: 8,
    planned: 100,
    final: false,
    tensors: [
      { layer: 'dense', name: 'dense/kernel', shape: [2, 3], values: [1, -2, 3, 0.5, 0, 4], stderr: [0.1, 0.2, 0.3, 0.4, 0.5, null as unknown as number] },
      { layer: 'dense', name: 'dense/bias', shape: [3], values: [7, 8, 9], stderr: [1, 1, 1] },
      { layer: 'out', name: 'out/kernel', shape: [3, 1], values: [-1, -2, -3], stderr: [1, 1, 1] },
    ],
    ...over,
  };
}

test('host: preview messages are checked (shapes, counts) before the panel sees them', () => {
  const ok = { type: 'preview', id: 1, preview: samplePreview() };
  assert.equal(typeof checkWorkerMessage(ok), 'object');
  assert.equal(typeof checkWorkerMessage({ ...ok, preview: { ...samplePreview(), final: true, method: 'exact', samples: null, tensors: [{ layer: 'l', name: 'b', shape: [2], values: [1, 2], stderr: null }] } }), 'object');
  const bad = (p: unknown) => checkWorkerMessage({ type: 'preview', id: 1, preview: p });
  assert.match(bad(null) as string, /preview/);
  assert.match(bad({ ...samplePreview(), method: 'magic' }) as string, /method/);
  assert.match(bad({ ...samplePreview(), matvecs: '8' }) as string, /counts/);
  assert.match(bad({ ...samplePreview(), samples: 'x' }) as string, /sample/);
  assert.match(bad({ ...samplePreview(), tensors: [{ layer: 'l', name: 'b', shape: [3], values: [1, 2], stderr: null }] }) as string, /shapes/);
  assert.match(bad({ ...samplePreview(), tensors: [{ layer: 'l', name: 'b', shape: [2], values: [1, 2], stderr: [1] }] }) as string, /shapes/);
  assert.match(bad({ ...samplePreview(), tensors: 'x' }) as string, /shapes/);
});

test('host: panelPreview gives typed arrays (null from JSON becomes NaN)', () => {
  const p = panelPreview(samplePreview());
  assert.ok(p.tensors[0].values instanceof Float32Array);
  assert.deepEqual(Array.from(p.tensors[0].values), [1, -2, 3, 0.5, 0, 4]);
  assert.ok(Number.isNaN(p.tensors[0].stderr![5]));
  assert.equal(p.matvecs, 8);
  assert.equal(p.tensors[2].layer, 'out');
});

test('panel: the preview is labelled preliminary with its HVP count, grouped by layer, and never saved', () => {
  const p: PanelPreview = panelPreview(samplePreview());
  const label = previewLabel(p);
  assert.match(label, /^Preliminary — 8 HVPs of 100/);
  assert.match(label, /XDiag sketch’s first 8 test vectors/);
  assert.match(label, /final XDiag result replaces it/);
  assert.match(previewLabel(panelPreview(samplePreview({ estimator: 'hutchinson', planned: 40 }))), /Hutchinson running mean over 8 probes/);
  assert.match(previewLabel(panelPreview(samplePreview({ method: 'xdiag', final: true, matvecs: 100, samples: 50 }))), /^Diagonal final \(XDiag, 100 HVPs\)/);
  const layers = previewLayers(p);
  assert.deepEqual(layers.map((l) => [l.layer, l.tensors.map((t) => t.tensor.name)]), [['dense', ['dense/kernel', 'dense/bias']], ['out', ['out/kernel']]]);
  const k = layers[0].tensors[0].tensor.diagonal;
  assert.deepEqual([k.min, k.max, k.mean, k.method, k.matvecs], [-2, 4, 6.5 / 6, 'hutchinson', 8]);
  assert.notEqual(previewKey(p), previewKey(panelPreview(samplePreview({ matvecs: 16, samples: 16 }))));
  assert.equal(previewKey(null), '');
  const saved = toSaved({ status: 'running', title: 't', banner: null, progress: null, result: null, tensors: [], convergence: [], error: null, stale: false, focusLayer: null, preview: p }, 'linear');
  assert.equal(saved.state.preview, null);
});
