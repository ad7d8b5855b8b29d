/**
 * ONNX models (exported by PyTorch 1.13's torch.onnx.export; test/fixtures/onnx, made by
 * scripts/make_onnx_fixtures.py): --exact against PyTorch's float64 Hessian with PyTorch's tensor names
 * and layouts; external data; a gradcheck of every mapped op (loss, gradient and HVP of a tiny model
 * per op group vs float64, the HVP also vs central differences of the engine's gradient, single and
 * stacked-copies HVPs); and the bad-file contract (malformed protobuf, unknown op, external data
 * outside the folder or of the wrong size, size limits) with the messages users see.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from '../extension/engine/inspect.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { ONNX_OPS } from '../extension/engine/onnxNetwork.js';
import { Objective } from '../extension/engine/objective.js';
import { activateBackend, tf } from '../extension/engine/tfjs.js';
import { readOnnxModel, DEFAULT_ONNX_LIMITS } from '../extension/readers/onnxModel.js';
import { InputError } from '../extension/errors.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import type { InspectResult } from '../extension/protocol.js';
import { availableBackends, relL2 } from './helpers.js';
import { assertBadInput, runInspect, useCli } from './cli.js';

const DIR = 'test/fixtures/onnx';
useCli();
const ref = (name: string) => JSON.parse(readFileSync(`${DIR}/${name}/reference.json`, 'utf8'));
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

function checkExact(r: InspectResult, R: any) {
  assert.equal(r.model.format, 'onnx');
  assert.equal(r.model.parameters, R.parameters);
  assert.ok(rel(r.loss.value, R.loss) < 1e-5, `loss ${r.loss.value} vs ${R.loss}`);
  assert.ok(rel(r.global.gradientNorm, R.gradientNorm) < 1e-3, '|g|');
  assert.ok(rel(r.global.hessianGradientNorm, R.hessianGradientNorm) < 1e-3, '|Hg|');
  assert.ok(rel(r.global.gradientCurvature, R.gradientCurvature) < 1e-3, 'gHg/gg');
  assert.ok(rel(r.global.trace.value, R.trace) < 1e-3, `trace ${r.global.trace.value} vs ${R.trace}`);
  const lmax = Math.max(Math.abs(R.top[0]), Math.abs(R.bottom[0]));
  const close = (got: { value: number }[], want: number[], scale: number, what: string) => {
    assert.equal(got.length, want.length, `${what}: count`);
    want.forEach((w, i) => assert.ok(Math.abs(got[i].value - w) <= 1e-3 * scale, `${what}[${i}] ${got[i].value} vs ${w}`));
  };
  close(r.global.eigenvalues.top, R.top, lmax, 'global top');
  close(r.global.eigenvalues.bottom, R.bottom, lmax, 'global bottom');
  // Layers are PyTorch's modules, tensors PyTorch's parameters, in PyTorch's layout.
  assert.deepEqual(r.layers.map((l) => l.name), R.layers.map((l: any) => l.name));
  r.layers.forEach((l, i) => {
    const L = R.layers[i];
    assert.equal(l.className, L.className, `${l.name} className`);
    assert.equal(l.parameters, L.parameters);
    assert.ok(rel(l.trace.value, L.trace) < 1e-3, `${l.name} trace ${l.trace.value} vs ${L.trace}`);
    const bmax = Math.max(Math.abs(L.top[0]), Math.abs(L.bottom[0]));
    close(l.eigenvalues.top, L.top, bmax, `${l.name} top`);
    close(l.eigenvalues.bottom, L.bottom, bmax, `${l.name} bottom`);
    assert.deepEqual(l.tensors.map((t) => [t.name, t.shape]), L.tensors.map((t: any) => [t.name, t.shape]));
    l.tensors.forEach((t, j) => {
      const e = relL2(t.diagonal.values!, L.tensors[j].diagonal);
      assert.ok(e < 1e-3, `${t.name} diagonal rel L2 ${e}`);
    });
  });
}

for (const [name, model, refName] of [
  ['mlp', 'mlp/model.onnx', 'mlp'],
  ['cnn', 'cnn/model.onnx', 'cnn'],
  ['cnn with external data', 'cnn-external/model.onnx', 'cnn'],
] as const) {
  test(`ONNX --exact matches PyTorch's float64 Hessian: ${name}`, async () => {
    const R = ref(refName);
    const r = await inspect({ modelPath: `${DIR}/${model}`, dataPath: `${DIR}/${refName}/data.npz`, exact: true, backend: 'wasm', top: 3, bottom: 3 });
    checkExact(r, R);
    assert.equal(r.loss.name, R.lossName);
    assert.equal(r.loss.fromLogits, true);
  });
}

test('ONNX heads: final LogSoftmax and Softmax are fused into cross-entropy; the mlp flattens with shape arithmetic', () => {
  const mlp = loadModel(`${DIR}/mlp/model.onnx`).net;
  assert.equal(mlp.head, 'softmax');
  assert.deepEqual(mlp.inputShape, [2, 3]);
  assert.deepEqual(mlp.outputShape, [4]);
  const cnn = loadModel(`${DIR}/cnn/model.onnx`).net;
  assert.equal(cnn.head, 'softmax');
  assert.deepEqual(cnn.inputShape, [2, 8, 8]);
  // BatchNorm's running statistics are constants, its weight and bias parameters.
  assert.deepEqual(cnn.blocks.map((b) => b.className), ['Conv', 'BatchNormalization', 'Conv', 'Gemm']);
  assert.ok(!cnn.params.some((p) => p.name.includes('running')));
  // Images are NCHW, and a wrong layout says so.
  const { x, y } = readArrays(`${DIR}/cnn/data.npz`);
  const nhwc = { ...x, shape: [x.shape[0], 8, 8, 2] };
  assert.throws(() => prepareData('data.npz', nhwc, y, cnn, null), /x has shape \[40,8,8,2\] but the model expects \[N, 2,8,8\] \(NCHW for images\)/);
  // Unnamed initializers (a Linear on 3-D data exports a transposed MatMul weight) take their node's module scope.
  const mm = loadModel(`${DIR}/ops/matmul_bias_3d.onnx`).net;
  assert.deepEqual(mm.blocks.map((b) => [b.name, b.className, b.params.map((p) => p.name.replace(/_\d+$/, '_*'))]), [['a', 'MatMul', ['onnx::MatMul_*', 'a.bias']], ['b', 'MatMul', ['onnx::MatMul_*']]]);
  const emb = loadModel(`${DIR}/ops/embedding.onnx`).net;
  assert.equal(emb.inputKind, 'tokens');
  assert.equal(emb.vocabulary, 7);
});

// ---------------------------------------------------------------------------------------------
// Gradcheck of every mapped op
// ---------------------------------------------------------------------------------------------

interface OpCase {
  name: string;
  file: string;
  opset: number;
  ops: string[];
  x: { shape: number[]; values: number[]; dtype: string };
  y: { shape: number[]; values: number[] };
  loss: number;
  v: Record<string, number[]>;
  grad: Record<string, number[]>;
  hvp: Record<string, number[]>;
}
const cases: OpCase[] = JSON.parse(readFileSync(`${DIR}/ops.json`, 'utf8'));
const MSE = { name: 'mean-squared-error' as const, fromLogits: false, reason: 'test' };

test('the op fixtures cover every mapped op that computes on data', () => {
  const covered = new Set(cases.flatMap((c) => c.ops));
  for (const m of ['mlp', 'cnn']) for (const op of readOnnxModel(`${DIR}/${m}/model.onnx`).nodes.map((n) => n.opType)) covered.add(op);
  // Folded at build time only (shape arithmetic, constants) or the identity at inference.
  const foldedOnly = new Set(['Shape', 'Cast', 'Identity', 'Dropout', 'Constant', 'ConstantOfShape']);
  const missing = ONNX_OPS.filter((op) => !foldedOnly.has(op) && !covered.has(op));
  assert.deepEqual(missing, []);
});

test('gradcheck: every ONNX op group on every available backend (loss, gradient, HVP vs float64; HVP vs central differences; stacked copies)', async (t) => {
  const table: string[] = [];
  for (const backend of await availableBackends()) {
    await activateBackend(backend);
    for (const c of cases) {
      await t.test(`${backend} ${c.name}`, () => {
        const start = tf.memory().numTensors;
        const { net } = loadModel(`${DIR}/${c.file}`);
        const n = c.x.shape[0];
        const data = { x: Float32Array.from(c.x.values), xShape: c.x.shape.slice(1), y: Float32Array.from(c.y.values), yShape: c.y.shape.slice(1), examples: n };
        const flat = (m: Record<string, number[]>) => {
          const out = new Float32Array(net.size);
          for (const p of net.params) {
            assert.ok(m[p.name], `parameter ${p.name} not in the reference (${Object.keys(m)})`);
            assert.equal(m[p.name].length, p.size, `${p.name} size`);
            out.set(m[p.name], p.offset);
          }
          return out;
        };
        assert.deepEqual(net.params.map((p) => p.name).sort(), Object.keys(c.grad).sort(), 'parameters');
        const v = flat(c.v);
        const obj = new Objective(net, data, MSE, n);
        const { loss, gradient } = obj.lossAndGradient();
        const hv = obj.hvp(v);
        // Two stacked copies (the batched-HVP path): v and 2v.
        const [h1, h2] = obj.hvpMany([v, v.map((q) => 2 * q)]);
        obj.dispose();
        // The network keeps its constants (made on first use); nothing else may stay behind.
        const before = tf.memory().numTensors;
        // The fixtures' max-pool winners lead by ≥ 1e-2 (make_onnx_fixtures.py); a step of 1e-4 along v
        // moves a pool input by ~1e-3, so no winner switches (1e-3 would move it by ~1e-2).
        const eps = c.ops.includes('MaxPool') ? 1e-4 : 1e-3;
        const gradAt = (s: number) => {
          const o = new Objective(net, data, MSE, n, net.initial.map((w, i) => w + s * eps * v[i]));
          const g = o.lossAndGradient().gradient;
          o.dispose();
          return g;
        };
        const gp = gradAt(1);
        const gm = gradAt(-1);
        const fd = gp.map((g, i) => (g - gm[i]) / (2 * eps));
        const eF = rel(loss, c.loss);
        const eG = relL2(gradient, flat(c.grad));
        const eH = relL2(hv, flat(c.hvp));
        const eFd = relL2(hv, fd);
        const eK = Math.max(relL2(h1, hv), relL2(h2, hv.map((q) => 2 * q)));
        table.push(`${backend.padEnd(5)} ${c.name.padEnd(30)} f ${eF.toExponential(1)}  grad ${eG.toExponential(1)}  hvp ${eH.toExponential(1)}  hvp-vs-fd ${eFd.toExponential(1)}  copies ${eK.toExponential(1)}`);
        assert.ok(eF < 1e-5, `loss error ${eF}`);
        assert.ok(eG < 1e-4, `gradient error ${eG}`);
        assert.ok(eH < 1e-4, `HVP error vs float64 ${eH}`);
        assert.ok(eFd < 5e-3, `HVP vs finite differences ${eFd}`);
        assert.ok(eK < 1e-5, `stacked-copies HVP differs from the single HVP by ${eK}`);
        assert.equal(tf.memory().numTensors, before, 'tensor leak');
        net.dispose();
        assert.equal(tf.memory().numTensors, start, 'the network kept constants after dispose()');
      });
    }
  }
  await activateBackend('cpu');
  console.log(['# ONNX op gradcheck, relative errors (float32 engine vs float64 torch; HVP vs central differences, eps 1e-3 (1e-4 with MaxPool); copies: hvpMany vs hvp)', ...table.map((l) => `#   ${l}`)].join('\n'));
});

// ---------------------------------------------------------------------------------------------
// Bad files
// ---------------------------------------------------------------------------------------------

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'onnx-test-'));
}

function refuses(path: string, pattern: RegExp) {
  assert.throws(
    () => loadModel(path),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('malformed protobuf, empty and non-ONNX files are clear errors naming the file', () => {
  const d = tmp();
  try {
    const good = readFileSync(`${DIR}/mlp/model.onnx`);
    const cut = join(d, 'truncated.onnx');
    writeFileSync(cut, good.subarray(0, Math.floor(good.length / 2)));
    refuses(cut, /truncated\.onnx: is not a valid ONNX protobuf \(.*(runs past the end|truncated)/);
    const junk = join(d, 'junk.onnx');
    writeFileSync(junk, Buffer.from('{"this": "is json, not protobuf"}'));
    refuses(junk, /junk\.onnx: is not (a valid ONNX protobuf|an ONNX model)/);
    const empty = join(d, 'empty.onnx');
    writeFileSync(empty, '');
    refuses(empty, /empty\.onnx: is empty/);
    // Random bytes never crash: always an InputError.
    let seed = 12345;
    for (let k = 0; k < 200; k++) {
      const bytes = Buffer.from(good);
      for (let i = 0; i < 8; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        bytes[seed % bytes.length] = seed & 0xff;
      }
      const f = join(d, `fuzz.onnx`);
      writeFileSync(f, bytes);
      try {
        loadModel(f);
      } catch (e) {
        assert.ok(e instanceof InputError, `fuzz case ${k}: ${(e as Error).stack}`);
      }
    }
    refuses(join(d, 'missing.onnx'), /missing\.onnx: model file not found/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('an unsupported op names the op, the node and the opset', () => {
  refuses(`${DIR}/bad/unknown-op.onnx`, /unknown-op\.onnx: node "\/Hardmax" \(Hardmax, opset 13\): this op is not supported \(supported: Add, Sub/);
});

test('external data: outside the folder, wrong length, truncated, missing, or a link out of the folder are refused', () => {
  refuses(`${DIR}/bad/ext-outside.onnx`, /ext-outside\.onnx: initializer ".*": external data location "\.\.\/cnn-external\/model\.onnx\.data" leaves the model's folder/);
  refuses(`${DIR}/bad/ext-length.onnx`, /ext-length\.onnx: initializer ".*": external data length \d+ disagrees with the \d+ bytes its dims need/);
  const d = tmp();
  try {
    const m = join(d, 'model.onnx');
    copyFileSync(`${DIR}/cnn-external/model.onnx`, m);
    refuses(m, /model\.onnx\.data: external data file is missing/);
    copyFileSync(`${DIR}/cnn-external/model.onnx.data`, join(d, 'model.onnx.data'));
    assert.equal(loadModel(m).net.size, ref('cnn').parameters);
    truncateSync(join(d, 'model.onnx.data'), 100);
    refuses(m, /model\.onnx\.data: external data for initializer ".*" would span bytes \d+–\d+ but the file has 100: the data file is truncated/);
    // A symlink beside the model that points outside its folder.
    const outside = join(d, 'elsewhere');
    mkdirSync(outside);
    const inner = join(d, 'inner');
    mkdirSync(inner);
    copyFileSync(`${DIR}/cnn-external/model.onnx.data`, join(outside, 'model.onnx.data'));
    copyFileSync(`${DIR}/cnn-external/model.onnx`, join(inner, 'model.onnx'));
    symlinkSync(join(outside, 'model.onnx.data'), join(inner, 'model.onnx.data'));
    refuses(join(inner, 'model.onnx'), /external data "model\.onnx\.data" is a link to a file outside the model's folder/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('size limits are checked before allocating', () => {
  assert.throws(() => readOnnxModel(`${DIR}/mlp/model.onnx`, { ...DEFAULT_ONNX_LIMITS, maxFileBytes: 100 }), /is \d+ bytes, above the 100-byte limit/);
  assert.throws(() => readOnnxModel(`${DIR}/mlp/model.onnx`, { ...DEFAULT_ONNX_LIMITS, maxTensorBytes: 200 }), /would bring the model's tensors above the 200-byte limit/);
  assert.throws(() => readOnnxModel(`${DIR}/cnn-external/model.onnx`, { ...DEFAULT_ONNX_LIMITS, maxTensorBytes: 200 }), /above the 200-byte limit/);
});

test('CLI: an .onnx model runs end to end; an unsupported op is one clean error line (exit 2)', () => {
  const d = tmp();
  try {
    const ok = runInspect(d, `${DIR}/mlp/model.onnx`, ['--data', `${DIR}/mlp/data.npz`], []);
    assert.equal(ok.r.status, 0, ok.r.stderr);
    const r = JSON.parse(readFileSync(ok.out, 'utf8')) as InspectResult;
    assert.equal(r.model.format, 'onnx');
    assert.deepEqual(r.layers.map((l) => l.name), ['fc1', 'fc2', 'fc3']);
    assert.ok(rel(r.loss.value, ref('mlp').loss) < 1e-5);
    assert.match(readFileSync(ok.outMd, 'utf8'), /fc1\.weight/);
    rmSync(ok.out);
    rmSync(ok.outMd, { force: true });
    rmSync(join(d, 'out-assets'), { recursive: true, force: true });
    const bad = mkdtempSync(join(tmpdir(), 'onnx-cli-'));
    try {
      assertBadInput(runInspect(bad, `${DIR}/bad/unknown-op.onnx`, [], []), /unknown-op\.onnx: node "\/Hardmax" \(Hardmax, opset 13\): this op is not supported/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
