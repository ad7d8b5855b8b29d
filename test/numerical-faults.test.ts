/**
 * NaN/Inf appearing mid-computation is detected and reported naming the layer where it first appears
 * (a forward pass layer by layer), never returned as estimates (or drawn as a heatmap) made of NaNs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../extension/errors.js';
import { inspect } from '../extension/engine/inspect.js';
import { writeModel, type ModelSpec } from './modelWriter.js';

const root = mkdtempSync(join(tmpdir(), 'cl-nan-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function files(spec: ModelSpec, data: { x: number[][]; y: number[] }): { modelPath: string; dataPath: string } {
  const d = mkdtempSync(join(root, `m${n++}-`));
  writeFileSync(join(d, 'data.json'), JSON.stringify(data));
  return { modelPath: writeModel(d, spec), dataPath: join(d, 'data.json') };
}

const run = (f: { modelPath: string; dataPath: string }, exact = false) =>
  inspect({ ...f, backend: 'cpu', samples: 4, top: 1, bottom: 1, exact, ...(exact ? {} : { estimator: 'hutchinson' as const }) });

const fault = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test(e.message);

test('overflowing logits: the error names the output layer and the first example that overflows', async () => {
  const f = files(
    { inputs: 2, layers: [{ name: 'hidden', units: 3, activation: 'relu', kernel: [1, 0, 1, 0, 1, 1], bias: [0, 0, 0] }, { name: 'logits', units: 2, activation: 'softmax', kernel: Array(6).fill(1e30), bias: [0, 0] }] },
    { x: [[1e-9, 1e-9], [0, 0], [1e10, 1e10], [1e10, 1]], y: [0, 1, 0, 1] },
  );
  for (const exact of [false, true]) {
    await assert.rejects(run(f, exact), fault(/model\.json: the loss is NaN: the forward pass first produces Infinity in layer "logits" \(Dense\), at example 2\. Overflowing activations/));
  }
});

test('zero-variance BatchNormalization (moving_variance 0, epsilon 0): the error names the batch norm layer', async () => {
  const f = files(
    { inputs: 2, layers: [{ name: 'dense', units: 2, activation: 'linear', kernel: [1, 0, 0, 1], bias: [0, 0] }, { name: 'bn', batchNorm: true, epsilon: 0, variance: [1, 0] }, { name: 'out', units: 2, activation: 'softmax' }] },
    { x: [[1, 0], [2, 3], [0.5, 0]], y: [0, 1, 0] },
  );
  await assert.rejects(run(f), fault(/produces (Infinity|NaN) in layer "bn" \(BatchNormalization\), at example 0\. .*moving_variance 0 and epsilon 0/));
});

test('an overflow only in the backward pass names the weight whose gradient is not finite', async () => {
  // hidden = 1e-27 and logits = ±1e11 are finite, but d loss / d hidden kernel ≈ 1e38 · 1e3 overflows
  const f = files(
    { inputs: 1, layers: [{ name: 'hidden', units: 1, activation: 'linear', kernel: [1e-30], bias: [0] }, { name: 'out', units: 2, activation: 'softmax', kernel: [1e38, -1e38], bias: [0, 0] }] },
    { x: [[1e3], [1e3]], y: [0, 1] },
  );
  await assert.rejects(run(f), fault(/the gradient is -?Infinity at weight "hidden\/kernel" of layer "hidden", though every layer's output is finite/));
});

test('a model whose numbers are finite is not affected (no false alarm at large but finite values)', async () => {
  const f = files(
    { inputs: 2, layers: [{ name: 'hidden', units: 3, activation: 'tanh' }, { name: 'out', units: 2, activation: 'softmax', kernel: Array(6).fill(1e3), bias: [0, 0] }] },
    { x: [[1e3, -1e3], [0.1, 0.2], [3, 4]], y: [0, 1, 0] },
  );
  const r = await run(f);
  assert.ok(Number.isFinite(r.loss.value) && Number.isFinite(r.global.trace.value));
  for (const l of r.layers) for (const t of l.tensors) assert.ok(t.diagonal.values!.every(Number.isFinite));
});
