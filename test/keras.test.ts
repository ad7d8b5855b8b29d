/**
 * Keras models (.keras archives in the Keras 3 layout, legacy .h5 in the tf.keras 2.15 layout; made by
 * scripts/make_keras_fixtures.py with the weights of the TF.js fixtures) give, in exact mode, the float64
 * reference numbers of those fixtures; broken files end in an InputError that says what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../extension/errors.js';
import { inspect } from '../extension/engine/inspect.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { kerasSnakeCase, readKerasModel } from '../extension/readers/keras.js';
import { relL2 } from './helpers.js';
import { zip as zipArchive } from './zipWriter.js';

const K = 'test/fixtures/keras';
const ref = (name: string) => JSON.parse(readFileSync(`test/fixtures/models/${name}/reference.json`, 'utf8'));
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/** Layer names in the .keras files (chosen so that they are not Keras 3's weight slots). */
const KERAS3_NAMES: Record<string, string[]> = {
  mlp: ['hidden', 'dense', 'logits'],
  cnn: ['conv2d', 'conv2d_1', 'dense'],
  rescnn: ['stem', 'stem_bn', 'conv2d', 'batch_normalization', 'head'],
};

function rejects(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

const CASES: Array<[string, string]> = [
  ...['mlp', 'cnn', 'rescnn'].flatMap((n) => [[n, `${n}.keras`], [n, `${n}.h5`]] as Array<[string, string]>),
  ['mlp', 'mlp-keras3.h5'], // Keras 3's legacy h5: weight_names are variable paths
];

for (const [name, file] of CASES) {
  const ext = file.endsWith('.keras') ? 'keras' : 'h5';
  test(`${file} --exact matches the float64 reference of the same weights`, async () => {
    const R = ref(name);
    const r = await inspect({ modelPath: `${K}/${file}`, dataPath: `test/fixtures/models/${name}/data.npz`, backend: 'wasm', exact: true, top: 3, bottom: 3 });
    assert.equal(r.model.format, ext === 'keras' ? 'keras' : 'keras-h5');
    // The loss comes from the file's compile/training config, as for model.json.
    assert.equal(r.loss.name, R.lossName);
    assert.ok(rel(r.loss.value, R.loss) < 1e-5, `loss ${r.loss.value} vs ${R.loss}`);
    assert.ok(rel(r.global.gradientNorm, R.gradientNorm) < 1e-3, '|g|');
    assert.ok(rel(r.global.trace.value, R.trace) < 1e-3, `trace ${r.global.trace.value} vs ${R.trace}`);
    const lmax = Math.max(Math.abs(R.top[0]), Math.abs(R.bottom[0]));
    R.top.forEach((w: number, i: number) => assert.ok(Math.abs(r.global.eigenvalues.top[i].value - w) <= 1e-3 * lmax, `top ${i}`));
    R.bottom.forEach((w: number, i: number) => assert.ok(Math.abs(r.global.eigenvalues.bottom[i].value - w) <= 1e-3 * lmax, `bottom ${i}`));
    assert.equal(r.layers.length, R.layers.length);
    r.layers.forEach((l, i) => {
      const L = R.layers[i];
      assert.equal(l.name, ext === 'keras' ? KERAS3_NAMES[name][i] : L.name);
      assert.equal(l.className, L.className);
      assert.equal(l.parameters, L.parameters);
      assert.ok(rel(l.trace.value, L.trace) < 1e-3, `${l.name} trace`);
      l.tensors.forEach((t, j) => {
        assert.deepEqual(t.shape, L.tensors[j].shape);
        assert.equal(t.name.split('/')[1], L.tensors[j].name.split('/')[1]);
        const e = relL2(t.diagonal.values!, L.tensors[j].diagonal);
        assert.ok(e < 1e-3, `${t.name} diagonal rel L2 ${e}`);
      });
    });
  });
}

test('Keras 3 weight slots are class names numbered per class, not layer names', () => {
  assert.equal(kerasSnakeCase('Conv2D'), 'conv2d');
  assert.equal(kerasSnakeCase('MaxPooling2D'), 'max_pooling2d');
  assert.equal(kerasSnakeCase('BatchNormalization'), 'batch_normalization');
  assert.equal(kerasSnakeCase('GlobalAveragePooling2D'), 'global_average_pooling2d');
  assert.equal(kerasSnakeCase('LeakyReLU'), 'leaky_re_lu');
  assert.equal(kerasSnakeCase('InputLayer'), 'input_layer');
  // mlp.keras calls its second Dense "dense" while its weights sit in slot dense_1: by-name lookup would
  // read the first Dense's [5, 12] kernel for a [12, 10] layer.
  const k = loadModel(`${K}/mlp.keras`).net;
  const h = loadModel(`${K}/mlp.h5`).net;
  assert.deepEqual(k.params.map((p) => p.shape), h.params.map((p) => p.shape));
  assert.deepEqual(Array.from(k.initial), Array.from(h.initial));
  assert.deepEqual(k.params.map((p) => p.name), ['hidden/kernel', 'hidden/bias', 'dense/kernel', 'dense/bias', 'logits/kernel', 'logits/bias']);
});

test('a missing weight group names the layer and the group', () => {
  rejects(() => loadModel(`${K}/bad/missing-group.h5`), /missing-group\.h5: weight group "model_weights\/dense_1" of layer "dense_1" \(Dense\) is missing/);
  rejects(() => loadModel(`${K}/bad/missing-group.keras`), /missing-group\.keras: model\.weights\.h5: weight group "layers\/dense_1\/vars" of layer "dense" \(Dense\) is missing/);
});

test('a Lambda layer is refused by name (its function is code, never run)', () => {
  rejects(() => loadModel(`${K}/bad/lambda.keras`), /layer "scale" is a Lambda layer: its function is Python code/);
  rejects(() => loadModel(`${K}/bad/lambda.h5`), /layer "scale" is a Lambda layer/);
});

test('weights without a model config, unsupported layers, and files that are not Keras models', () => {
  rejects(() => loadModel(`${K}/bad/model.weights.h5`), /holds only weights \(no model_config attribute\)/);
  rejects(() => loadModel('test/fixtures/models/mlp/data.npz'), /not a supported model file \(expected one of: model\.json, \.onnx, \.keras, \.h5\)/);
  const dir = mkdtempSync(join(tmpdir(), 'keras-test-'));
  try {
    const notZip = join(dir, 'm.keras');
    writeFileSync(notZip, 'hello');
    rejects(() => loadModel(notZip), /not a \.keras \(zip\) archive/);
    const notH5 = join(dir, 'm.h5');
    writeFileSync(notH5, readFileSync(`${K}/mlp.keras`));
    rejects(() => loadModel(notH5), /not an HDF5 file/);
    // An unsupported layer class in the config is named with its class.
    const cfg = JSON.parse(configOf(readFileSync(`${K}/mlp.keras`)));
    cfg.config.layers[1].class_name = 'GRU';
    const swapped = join(dir, 'gru.keras');
    writeFileSync(swapped, replaceConfig(readFileSync(`${K}/mlp.keras`), JSON.stringify(cfg)));
    rejects(() => loadModel(swapped), /layer "hidden" \(GRU\): this layer class is not supported/);
    // A Sequential built without an InputLayer records its input shape as build_input_shape.
    const bare = JSON.parse(configOf(readFileSync(`${K}/mlp.keras`)));
    bare.config.layers.shift();
    const noInput = join(dir, 'no-input.keras');
    writeFileSync(noInput, replaceConfig(readFileSync(`${K}/mlp.keras`), JSON.stringify(bare)));
    const net = loadModel(noInput).net;
    assert.deepEqual(net.inputShape, [5]);
    assert.deepEqual(Array.from(net.initial), Array.from(loadModel(`${K}/mlp.h5`).net.initial));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupted files end in a clear InputError, never a crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keras-test-'));
  try {
    const keras = readFileSync(`${K}/mlp.keras`);
    const h5 = readFileSync(`${K}/mlp.h5`);
    const cases: Array<[string, Uint8Array]> = [];
    // Truncations at many points, and flipped bytes in the HDF5 metadata and data.
    for (const f of [0.1, 0.3, 0.5, 0.7, 0.9, 0.99]) {
      cases.push([`t${f}.keras`, keras.subarray(0, Math.floor(keras.length * f))]);
      cases.push([`t${f}.h5`, h5.subarray(0, Math.floor(h5.length * f))]);
    }
    for (let i = 0; i < 40; i++) {
      const at = 8 + Math.floor(((i * 7919) % 997) / 997 * (h5.length - 8));
      const b = Uint8Array.from(h5);
      b[at] ^= 0xa5;
      cases.push([`f${i}.h5`, b]);
      const k = Uint8Array.from(keras);
      k[Math.floor(k.length * (i + 0.5) / 40)] ^= 0xa5;
      cases.push([`f${i}.keras`, k]);
    }
    let refused = 0;
    for (const [name, bytes] of cases) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      try {
        loadModel(p);
      } catch (e) {
        assert.ok(e instanceof InputError, `${name}: expected InputError, got ${(e as Error)?.stack ?? String(e)}`);
        assert.ok(e.message.startsWith(p), `${name}: the message names the file`);
        assert.doesNotMatch(e.message, /[\r\n]/, `${name}: one-line message`);
        refused++;
      }
    }
    // Every truncation is refused; a flipped byte may land in padding and change nothing.
    assert.ok(refused >= 12 + 40, `only ${refused} of ${cases.length} corrupted files were refused`);
    // The zip's CRC catches any flipped byte inside a stored member.
    const k = Uint8Array.from(keras);
    k[keras.length >> 1] ^= 0xff;
    writeFileSync(join(dir, 'crc.keras'), k);
    rejects(() => loadModel(join(dir, 'crc.keras')), /CRC-32 mismatch|corrupt/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('size limits are checked before anything is read', () => {
  rejects(() => readKerasModel(`${K}/mlp.keras`, { maxFileBytes: 1000, maxConfigBytes: 2 ** 20, maxWeightBytes: 2 ** 20 }), /above the 1000-byte limit/);
  rejects(() => readKerasModel(`${K}/mlp.keras`, { maxFileBytes: 2 ** 20, maxConfigBytes: 100, maxWeightBytes: 2 ** 20 }), /member 'config\.json': declares an uncompressed size of \d+ bytes, above the limit of 100 bytes/);
  rejects(() => readKerasModel(`${K}/mlp.h5`, { maxFileBytes: 2 ** 20, maxConfigBytes: 100, maxWeightBytes: 2 ** 20 }), /attribute model_config is \d+ bytes, above the 100-byte limit/);
  rejects(() => readKerasModel(`${K}/mlp.h5`, { maxFileBytes: 2 ** 20, maxConfigBytes: 2 ** 20, maxWeightBytes: 500 }), /takes the weights past the size limit/);
  rejects(() => readKerasModel(`${K}/mlp.keras`, { maxFileBytes: 2 ** 20, maxConfigBytes: 2 ** 20, maxWeightBytes: 500 }), /takes the weights past the size limit/);
});

// ---- helpers: rewrite config.json of a stored (uncompressed) .keras archive ----

function configOf(zip: Uint8Array): string {
  const text = Buffer.from(zip).toString('latin1');
  const start = text.indexOf('{"module"');
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return Buffer.from(zip.subarray(start, i + 1)).toString('utf8');
  }
  throw new Error('no config.json in the archive');
}

/** A new stored zip with config.json replaced (the other members copied). */
function replaceConfig(zip: Uint8Array, config: string): Uint8Array {
  const members: Array<[string, Uint8Array]> = [];
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let p = 0;
  while (v.getUint32(p, true) === 0x04034b50) {
    const size = v.getUint32(p + 18, true);
    const n = v.getUint16(p + 26, true);
    const x = v.getUint16(p + 28, true);
    const name = Buffer.from(zip.subarray(p + 30, p + 30 + n)).toString('utf8');
    members.push([name, zip.subarray(p + 30 + n + x, p + 30 + n + x + size)]);
    p += 30 + n + x + size;
  }
  return storedZip(members.map(([n, d]) => [n, n === 'config.json' ? new TextEncoder().encode(config) : d]));
}

function storedZip(members: Array<[string, Uint8Array]>): Uint8Array {
  return zipArchive(members.map(([name, data]) => ({ name, data })));
}
