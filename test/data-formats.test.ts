/**
 * The data formats give the same numbers: the mlp fixture's examples written as an .npy pair, .json and
 * .csv (with and without a header, label column first and last) give bit-identical loss, trace and
 * diagonal to the .npz run; the cnn's flat [N, 128] rows are reshaped to its [8, 8, 2] input. And the
 * synthetic data used without a data file: flagged as synthetic, 256 examples by default, deterministic
 * per seed, labels in range.
 */
import { f32, i64, npy } from './npyWriter.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect, type InspectOptions } from '../extension/engine/inspect.js';
import { readNpz } from '../extension/readers/npz.js';
import { readArrays } from '../extension/readers/dataset.js';
import type { NdArray } from '../extension/readers/npy.js';
import { readTfjsModel } from '../extension/readers/tfjsModel.js';
import { buildNetwork } from '../extension/engine/network.js';
import { syntheticData } from '../extension/engine/synthetic.js';
import { activateBackend } from '../extension/engine/tfjs.js';
import { markdownReport } from '../extension/report/markdown.js';
import type { InspectResult } from '../extension/protocol.js';

const FIXTURES = resolve('test', 'fixtures', 'models');
const model = (name: string) => join(FIXTURES, name, 'model.json');
const FAST = { backend: 'wasm', samples: 5, top: 1, bottom: 1, seed: 0, loss: 'sparse-categorical-cross-entropy' } as const;
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'curvature-lens-formats-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// ---- writing the same examples in every format ----


function fixture(name: string): { x: NdArray; y: NdArray } {
  const a = readNpz(join(FIXTURES, name, 'data.npz'));
  return { x: a.get('x')!, y: a.get('y')! };
}

/** x as rows of numbers (flattened per example); String(float32 value) reads back to the same float32. */
function rows(x: NdArray): number[][] {
  const n = x.shape[0];
  const per = x.data.length / n;
  return Array.from({ length: n }, (_, i) => Array.from(x.data.subarray(i * per, (i + 1) * per)));
}

/** Nested arrays of x in its own shape. */
function nested(data: ArrayLike<number>, shape: number[]): unknown[] {
  const build = (offset: number, d: number): unknown => {
    if (d === shape.length) return data[offset];
    const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[d] }, (_, i) => build(offset + i * stride, d + 1));
  };
  return build(0, 0) as unknown[];
}

function writeCsv(file: string, x: NdArray, y: NdArray, o: { header: boolean; labelFirst: boolean }): string {
  const xs = rows(x);
  const F = xs[0].length;
  const names = Array.from({ length: F }, (_, i) => `f${i}`);
  const line = (features: (string | number)[], label: string | number) => (o.labelFirst ? [label, ...features] : [...features, label]).join(',');
  const lines = [...(o.header ? [line(names, 'label')] : []), ...xs.map((r, i) => line(r.map(String), String(y.data[i])))];
  const path = join(dir, file);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

// ---- comparing runs ----

async function run(modelName: string, options: Partial<InspectOptions>): Promise<InspectResult> {
  return inspect({ modelPath: model(modelName), dataPath: null, ...FAST, ...options });
}

function assertSame(r: InspectResult, ref: InspectResult, what: string): void {
  assert.equal(r.data.examples, ref.data.examples, `${what}: examples`);
  assert.equal(r.data.synthetic, false, `${what}: not synthetic`);
  assert.equal(r.loss.name, ref.loss.name, `${what}: loss`);
  assert.ok(Object.is(r.loss.value, ref.loss.value), `${what}: loss value ${r.loss.value} vs ${ref.loss.value}`);
  assert.ok(Object.is(r.global.trace.value, ref.global.trace.value), `${what}: trace ${r.global.trace.value} vs ${ref.global.trace.value}`);
  assert.deepEqual(r.layers[0].tensors[0].diagonal.values, ref.layers[0].tensors[0].diagonal.values, `${what}: first tensor's diagonal`);
}

let mlpRef: InspectResult;
async function mlpReference(): Promise<InspectResult> {
  mlpRef ??= await run('mlp', { dataPath: join(FIXTURES, 'mlp', 'data.npz') });
  return mlpRef;
}

test('.npy pair: y.npy found beside x.npy', async () => {
  const { x, y } = fixture('mlp');
  const sub = mkdtempSync(join(dir, 'npy-'));
  writeFileSync(join(sub, 'x.npy'), npy('<f4', x.shape, f32(x.data)));
  writeFileSync(join(sub, 'y.npy'), npy('<i8', y.shape, i64(y.data)));
  assertSame(await run('mlp', { dataPath: join(sub, 'x.npy') }), await mlpReference(), 'x.npy + y.npy');
});

test('.npy pair: explicit labels file of any name', async () => {
  const { x, y } = fixture('mlp');
  writeFileSync(join(dir, 'features.npy'), npy('<f4', x.shape, f32(x.data)));
  writeFileSync(join(dir, 'targets.npy'), npy('<i8', y.shape, i64(y.data)));
  const r = await run('mlp', { dataPath: join(dir, 'features.npy'), labelsPath: join(dir, 'targets.npy') });
  assertSame(r, await mlpReference(), 'features.npy --labels targets.npy');
});

test('.json: nested x, integer y', async () => {
  const { x, y } = fixture('mlp');
  const path = join(dir, 'data.json');
  writeFileSync(path, JSON.stringify({ x: nested(x.data, x.shape), y: Array.from(y.data) }));
  const a = readArrays(path);
  assert.equal(a.y.dtype, 'int64', 'integer-valued labels stay integer');
  assert.deepEqual(a.x.shape, x.shape);
  assertSame(await run('mlp', { dataPath: path }), await mlpReference(), '.json');
  // Inferred loss too: integer labels of shape [N] with a softmax head are sparse.
  const inferred = await run('mlp', { dataPath: path, loss: null });
  assert.equal(inferred.loss.name, 'sparse-categorical-cross-entropy');
});

for (const header of [true, false]) {
  for (const labelFirst of [false, true]) {
    test(`.csv ${header ? 'with' : 'without'} a header, label column ${labelFirst ? 'first' : 'last'}`, async () => {
      const { x, y } = fixture('mlp');
      const path = writeCsv(`data-${header}-${labelFirst}.csv`, x, y, { header, labelFirst });
      const labelColumn = labelFirst ? (header ? 'label' : '0') : header ? null : '-1';
      const a = readArrays(path, { labelColumn });
      assert.equal(a.y.dtype, 'int64');
      assert.deepEqual(a.x.shape, x.shape);
      assertSame(await run('mlp', { dataPath: path, labelColumn }), await mlpReference(), path);
    });
  }
}

test('.csv and .json with flat rows are reshaped to the cnn input (NHWC)', async () => {
  const { x, y } = fixture('cnn');
  assert.deepEqual(x.shape.slice(1), [8, 8, 2]);
  const ref = await run('cnn', { dataPath: join(FIXTURES, 'cnn', 'data.npz') });
  const csv = writeCsv('cnn.csv', x, y, { header: false, labelFirst: false });
  assert.deepEqual(readArrays(csv).x.shape, [x.shape[0], 128]);
  assertSame(await run('cnn', { dataPath: csv }), ref, 'cnn .csv');
  const json = join(dir, 'cnn.json');
  writeFileSync(json, JSON.stringify({ x: rows(x), y: Array.from(y.data) }));
  assertSame(await run('cnn', { dataPath: json }), ref, 'cnn flat .json');
});

test('0/1 labels (logistic, .csv) and float labels (regression, .json) give the .npz results', async () => {
  const logistic = fixture('logistic'); // y float32 [N, 1] of 0/1: read back as integers [N], same loss
  const ref = await run('logistic', { dataPath: join(FIXTURES, 'logistic', 'data.npz'), loss: null });
  const csv = writeCsv('logistic.csv', logistic.x, logistic.y, { header: true, labelFirst: false });
  assertSame(await run('logistic', { dataPath: csv, loss: null }), ref, 'logistic .csv');

  const regression = fixture('regression'); // y float32 [N, 2]
  const json = join(dir, 'regression.json');
  writeFileSync(json, JSON.stringify({ x: nested(regression.x.data, regression.x.shape), y: nested(regression.y.data, regression.y.shape) }));
  assert.equal(readArrays(json).y.dtype, 'float64');
  const regRef = await run('regression', { dataPath: join(FIXTURES, 'regression', 'data.npz'), loss: null });
  assertSame(await run('regression', { dataPath: json, loss: null }), regRef, 'regression .json');
});

// ---- synthetic data ----

test('no data: synthetic, 256 examples by default, described', async () => {
  const r = await run('mlp', { loss: null });
  assert.equal(r.data.synthetic, true);
  assert.equal(r.data.path, null);
  assert.equal(r.data.examples, 256);
  assert.match(r.data.description ?? '', /256 synthetic examples \(seed 0\): inputs drawn from a standard normal, shape \[5\]; labels sampled from the model's own softmax predictions/);
  assert.equal(r.loss.name, 'sparse-categorical-cross-entropy');
  assert.ok(Number.isFinite(r.loss.value) && Number.isFinite(r.global.trace.value));
  assert.match(markdownReport(r), /^> \*\*Synthetic data\*\*: no data file was given; 256 synthetic examples/m);
  const real = markdownReport(await mlpReference());
  assert.doesNotMatch(real, /Synthetic data/);
});

test('synthetic data is deterministic per seed, and --examples sets its size', async () => {
  const a = await run('mlp', { seed: 3 });
  const b = await run('mlp', { seed: 3 });
  const c = await run('mlp', { seed: 4 });
  assert.ok(Object.is(a.loss.value, b.loss.value));
  assert.ok(Object.is(a.global.trace.value, b.global.trace.value));
  assert.deepEqual(a.layers[0].tensors[0].diagonal.values, b.layers[0].tensors[0].diagonal.values);
  assert.notEqual(a.loss.value, c.loss.value);
  const small = await run('mlp', { syntheticExamples: 17 });
  assert.equal(small.data.examples, 17);
  assert.match(small.data.description ?? '', /^17 synthetic examples/);
});

test('syntheticData: shapes, label ranges and kinds per head', async () => {
  await activateBackend('cpu');
  const mlp = buildNetwork(readTfjsModel(model('mlp')));
  const s = syntheticData(mlp, 256, 0);
  assert.deepEqual(s.x.shape, [256, 5]);
  assert.equal(s.y.dtype, 'int64');
  assert.deepEqual(s.y.shape, [256]);
  const classes = mlp.outputShape[0];
  const seen = new Set<number>();
  for (const v of s.y.data) {
    assert.ok(Number.isInteger(v) && v >= 0 && v < classes, `label ${v} out of 0…${classes - 1}`);
    seen.add(v);
  }
  assert.ok(seen.size > 1, 'labels are sampled, not all one class');
  const again = syntheticData(mlp, 256, 0);
  assert.deepEqual(again.x.data, s.x.data);
  assert.deepEqual(again.y.data, s.y.data);
  assert.notDeepEqual(syntheticData(mlp, 256, 1).x.data, s.x.data);
  // x is standard normal: mean near 0, variance near 1.
  const xs = Array.from(s.x.data);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(variance - 1) < 0.15, `mean ${mean}, variance ${variance}`);
  // categorical cross-entropy asked for: one-hot rows.
  const hot = syntheticData(mlp, 20, 0, { loss: 'categorical-cross-entropy' });
  assert.deepEqual(hot.y.shape, [20, classes]);
  for (let i = 0; i < 20; i++) assert.equal(Array.from(hot.y.data.subarray(i * classes, (i + 1) * classes)).reduce((a, b) => a + b, 0), 1);

  const logistic = buildNetwork(readTfjsModel(model('logistic')));
  const b = syntheticData(logistic, 100, 0);
  assert.deepEqual(b.y.shape, [100, ...logistic.outputShape]);
  assert.ok(Array.from(b.y.data).every((v) => v === 0 || v === 1), 'Bernoulli labels');
  assert.match(b.description, /Bernoulli/);

  const regression = buildNetwork(readTfjsModel(model('regression')));
  const r = syntheticData(regression, 30, 0);
  assert.deepEqual(r.y.shape, [30, ...regression.outputShape]);
  assert.ok(Array.from(r.y.data).every(Number.isFinite));
  assert.match(r.description, /the model's own predictions \(no noise\)/);
  assert.throws(() => syntheticData(mlp, 0, 0), /--examples must be an integer ≥ 1/);
});

test('syntheticData: token inputs for a network that takes token ids', async () => {
  await activateBackend('cpu');
  const mlp = buildNetwork(readTfjsModel(model('mlp')));
  // A network that says it takes tokens (as one starting with an Embedding does); the forward pass only
  // needs numbers, so the mlp's own stands in.
  const tokens = { ...mlp, inputKind: 'tokens' as const, vocabulary: 7 };
  const s = syntheticData(tokens, 64, 0);
  assert.ok(Array.from(s.x.data).every((v) => Number.isInteger(v) && v >= 0 && v < 7), 'token ids in [0, 7)');
  assert.ok(new Set(s.x.data).size === 7, 'every token id drawn');
  assert.match(s.description, /token ids drawn uniformly from 0…6/);
  assert.throws(() => syntheticData({ ...mlp, inputKind: 'tokens' as const, vocabulary: null }, 4, 0), /vocabulary size is unknown/);
});
