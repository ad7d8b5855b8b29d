/**
 * Property and fuzz tests of every reader of untrusted files (fast-check, fixed seed and run counts, so
 * CI is reproducible and bounded): valid files the test writes round-trip exactly; byte mutations,
 * truncations, huge/negative/overflowing declared sizes, duplicate names, zip bombs and deep nesting end
 * in the reader's InputError or a valid result — never another exception, a case slower than
 * CASE_MS, or an allocation request whose limit is above the one the test set (every input-sized
 * allocation goes through readers/alloc.ts, which refuses requests above the limit before allocating).
 *
 * .onnx and .keras/.h5 files are fuzzed by mutating the test fixtures and loading them (loadModel).
 * To cover a new reader: add a `fuzzTarget('name', (bytes) => read(bytes))` and properties that feed it
 * valid files and their mutations (see `mutated` and `expectTypedOrValid`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { InputError } from '../extension/errors.js';
import { observeAllocations, type AllocationRequest } from '../extension/readers/alloc.js';
import { parseNpy, type NdArray, type ReadLimits } from '../extension/readers/npy.js';
import { parseNpz } from '../extension/readers/npz.js';
import { parseJsonData } from '../extension/readers/jsonData.js';
import { readCsvData } from '../extension/readers/csv.js';
import { readTfjsModel, type ModelLimits } from '../extension/readers/tfjsModel.js';
import { buildNetwork } from '../extension/engine/network.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { npy } from './npyWriter.js';
import { zip } from './zipWriter.js';
import { modelFiles, type ModelSpec } from './modelWriter.js';

const SEED = 20261128;
/** Runs per property (each property is one family of cases for one reader). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
/** The limit every reader gets here: small, so that declared sizes above it are cheap to try. */
const LIMIT = 1 << 20;
const LIMITS: ReadLimits = { maxBytes: LIMIT, maxDecompressedBytes: LIMIT };
const MODEL_LIMITS: ModelLimits = { maxJsonBytes: LIMIT, maxWeightBytes: LIMIT, maxParameters: LIMIT / 4, maxLayers: 64, maxJsonDepth: 100 };
/** A case slower than this is a hang. */
const CASE_MS = 3000;

const dir = mkdtempSync(join(tmpdir(), 'cl-fuzz-'));
/** A file outside every model folder, for shard links that try to leave it. */
const outside = join(dir, 'outside.bin');
writeFileSync(outside, new Uint8Array(64));
const counts = new Map<string, { cases: number; ok: number; inputError: number; largest: number; refused: number }>();
after(() => {
  rmSync(dir, { recursive: true, force: true });
  const lines = [...counts].map(([r, c]) => `${r}: ${c.cases} cases (${c.ok} valid, ${c.inputError} InputError; largest allocation granted ${c.largest} bytes, ${c.refused} requests above the limit refused)`);
  console.log(`fuzz cases per reader (seed ${SEED}, ${RUNS} runs per property):\n  ${lines.join('\n  ')}`);
});

const check = <T>(arb: fc.Arbitrary<T>, prop: (v: T) => void, runs = RUNS) => fc.assert(fc.property(arb, prop), { numRuns: runs, seed: SEED, endOnFailure: true, includeErrorInReport: true });

/**
 * Runs one case of `reader`: returns the result, or null for an InputError. Anything else thrown, a
 * slow case, or an allocation asked for under a limit above the test's, fails the test.
 */
function expectTypedOrValid<T>(reader: string, run: () => T, limit = LIMIT): T | null {
  const c = counts.get(reader) ?? { cases: 0, ok: 0, inputError: 0, largest: 0, refused: 0 };
  counts.set(reader, c);
  c.cases++;
  const over: AllocationRequest[] = [];
  const t0 = performance.now();
  try {
    const r = observeAllocations((req) => {
      if (req.limit > limit) over.push(req);
      if (req.bytes > req.limit || !Number.isSafeInteger(req.bytes)) c.refused++;
      else c.largest = Math.max(c.largest, req.bytes);
    }, run);
    c.ok++;
    return r;
  } catch (e) {
    if (e instanceof InputError) {
      assert.ok(e.message.length < 2000 && !e.message.includes('\n'), `${reader}: the error is not one line: ${e.message.slice(0, 300)}`);
      c.inputError++;
      return null;
    }
    throw new Error(`${reader}: threw ${(e as Error)?.name}, not an InputError: ${(e as Error)?.stack ?? e}`);
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < CASE_MS, `${reader}: one case took ${ms.toFixed(0)} ms (a hang?)`);
    assert.deepEqual(over, [], `${reader}: an allocation was checked against a limit above the test's ${limit}`);
  }
}

// ---- mutations -------------------------------------------------------------------------------------

type Mutation = { op: 'set'; at: number; byte: number } | { op: 'truncate'; at: number } | { op: 'insert'; at: number; bytes: Uint8Array } | { op: 'delete'; at: number; n: number } | { op: 'digit'; at: number; text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 12 }) }),
  // Rewrite a number in a text part (a shape, a size, a count) into a huge, negative or overflowing one.
  fc.record({ op: fc.constant('digit' as const), at: fc.nat(), text: fc.constantFrom('-1', '0', '4294967295', '4294967296', '9007199254740993', '1e308', '99999999999999999999', '-9999', '1.5', 'NaN', '[]', '{}', 'null', '"x"') }),
);

function mutate(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.op === 'set') {
      if (b.length) b[at % b.length] = m.byte;
    } else if (m.op === 'truncate') {
      b = b.subarray(0, at);
    } else if (m.op === 'insert') {
      b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    } else if (m.op === 'delete') {
      b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
    } else {
      // the next run of ASCII digits at or after `at`, replaced
      let s = at;
      while (s < b.length && !(b[s] >= 0x30 && b[s] <= 0x39)) s++;
      let e = s;
      while (e < b.length && b[e] >= 0x30 && b[e] <= 0x39) e++;
      if (s < b.length) b = Uint8Array.from([...b.subarray(0, s), ...new TextEncoder().encode(m.text), ...b.subarray(e)]);
    }
  }
  return b;
}

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

// ---- .npy --------------------------------------------------------------------------------------------

const DTYPES = [
  { descr: '<f4', dtype: 'float32', size: 4 },
  { descr: '<f8', dtype: 'float64', size: 8 },
  { descr: '<i4', dtype: 'int32', size: 4 },
  { descr: '<i2', dtype: 'int16', size: 2 },
  { descr: '|i1', dtype: 'int8', size: 1 },
  { descr: '|u1', dtype: 'uint8', size: 1 },
  { descr: '<u2', dtype: 'uint16', size: 2 },
  { descr: '<i8', dtype: 'int64', size: 8 },
  { descr: '|b1', dtype: 'bool', size: 1 },
] as const;

interface NpyCase {
  t: (typeof DTYPES)[number];
  shape: number[];
  data: Uint8Array;
}

const npyCase: fc.Arbitrary<NpyCase> = fc
  .record({ t: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }) })
  .chain(({ t, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      t.dtype === 'int64'
        ? fc.array(fc.maxSafeInteger(), { minLength: n, maxLength: n }).map((v) => new Uint8Array(BigInt64Array.from(v, BigInt).buffer))
        : fc.uint8Array({ minLength: n * t.size, maxLength: n * t.size });
    return data.map((d) => ({ t, shape, data: d }));
  });

const npyBytes = (c: NpyCase) => npy(c.t.descr, c.shape, c.data);

/** The values an array must hold after reading `c` back. */
function expectedValues(c: NpyCase): number[] {
  const b = c.data.buffer.slice(c.data.byteOffset, c.data.byteOffset + c.data.byteLength);
  switch (c.t.dtype) {
    case 'float32': return Array.from(new Float32Array(b));
    case 'float64': return Array.from(new Float64Array(b));
    case 'int32': return Array.from(new Int32Array(b));
    case 'int16': return Array.from(new Int16Array(b));
    case 'int8': return Array.from(new Int8Array(b));
    case 'uint8': return Array.from(new Uint8Array(b));
    case 'uint16': return Array.from(new Uint16Array(b));
    case 'int64': return Array.from(new BigInt64Array(b), Number);
    case 'bool': return Array.from(new Uint8Array(b), (v) => (v ? 1 : 0));
  }
}

function assertArray(a: NdArray, c: NpyCase): void {
  assert.equal(a.dtype, c.t.dtype);
  assert.deepEqual(a.shape, c.shape);
  // Object.is: NaN payloads compare equal, -0 and 0 do not.
  const got = Array.from(a.data as ArrayLike<number>);
  const want = expectedValues(c);
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.fail(`value ${i}: ${got[i]} != ${want[i]}`);
}

/** A valid result must be self-consistent: as many values as its shape says. */
function assertConsistent(a: NdArray): void {
  assert.equal(a.data.length, a.shape.reduce((p, d) => p * d, 1));
}

test('npy: valid arrays of every dtype round-trip exactly', () => {
  check(npyCase, (c) => {
    const a = expectTypedOrValid('npy', () => parseNpy(npyBytes(c), 'a.npy', LIMITS));
    assert.ok(a, 'a valid file was refused');
    assertArray(a, c);
  });
});

test('npy: mutated and truncated files end in an InputError or a consistent array', () => {
  check(fc.tuple(npyCase, mutations), ([c, ms]) => {
    const a = expectTypedOrValid('npy', () => parseNpy(mutate(npyBytes(c), ms), 'a.npy', LIMITS));
    if (a) assertConsistent(a);
  });
});

const dimText = fc.oneof(
  fc.integer({ min: 0, max: 6 }).map(String),
  fc.constantFrom('-1', '-4294967296', '4294967296', '9007199254740993', '18446744073709551616', '1e3', '3L', '2**62', '999999999999999999999999999'),
);

test('npy: huge, negative and overflowing declared shapes are refused before allocating', () => {
  check(fc.tuple(fc.constantFrom(...DTYPES), fc.array(dimText, { minLength: 1, maxLength: 6 }), fc.uint8Array({ maxLength: 64 })), ([t, dims, data]) => {
    const header = `{'descr': '${t.descr}', 'fortran_order': False, 'shape': (${dims.join(', ')},), }`;
    const h = new TextEncoder().encode(header.padEnd(118, ' ') + '\n');
    const bytes = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8, ...h, ...data]);
    const a = expectTypedOrValid('npy', () => parseNpy(bytes, 'a.npy', LIMITS));
    if (a) assertConsistent(a);
  });
});

test('npy: a declared shape just above the limit is an InputError naming the limit', () => {
  const bytes = npy('<f4', [LIMIT / 4 + 1], new Uint8Array(0));
  assert.throws(() => parseNpy(bytes, 'a.npy', LIMITS), (e: unknown) => e instanceof InputError && /above the limit of 1048576 bytes/.test(e.message));
});

// ---- .npz --------------------------------------------------------------------------------------------

const npzCase = fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z_][a-z0-9_]{0,7}$/), c: npyCase, deflate: fc.boolean() }), { minLength: 1, maxLength: 4, selector: (m) => m.name });
const npzBytes = (ms: Array<{ name: string; c: NpyCase; deflate: boolean }>) => zip(ms.map((m) => ({ name: `${m.name}.npy`, data: npyBytes(m.c), deflate: m.deflate })));

test('npz: stored and deflated archives round-trip exactly, in order', () => {
  check(npzCase, (ms) => {
    const out = expectTypedOrValid('npz', () => parseNpz(npzBytes(ms), 'a.npz', LIMITS));
    assert.ok(out, 'a valid archive was refused');
    assert.deepEqual([...out.keys()], ms.map((m) => m.name));
    ms.forEach((m) => assertArray(out.get(m.name)!, m.c));
  });
});

test('npz: mutated and truncated archives end in an InputError or consistent arrays', () => {
  check(fc.tuple(npzCase, mutations), ([ms, mu]) => {
    const out = expectTypedOrValid('npz', () => parseNpz(mutate(npzBytes(ms), mu), 'a.npz', LIMITS));
    if (out) for (const a of out.values()) assertConsistent(a);
  });
});

test('npz: duplicate member names are an InputError', () => {
  check(npyCase, (c) => {
    const bytes = zip([{ name: 'x.npy', data: npyBytes(c) }, { name: 'x.npy', data: npyBytes(c), deflate: true }]);
    const out = expectTypedOrValid('npz', () => parseNpz(bytes, 'a.npz', LIMITS));
    assert.equal(out, null);
  }, 20);
});

test('npz: zip bombs (lying sizes, one huge member, many members) are refused before inflating past the limit', () => {
  const zeros = (n: number) => npy('|u1', [n], new Uint8Array(n));
  const bomb = fc.oneof(
    // one member that inflates far past what it declares
    fc.integer({ min: 0, max: LIMIT }).map((declared) => [{ name: 'x.npy', data: zeros(4 * LIMIT), deflate: true, declaredSize: declared }]),
    // one member that honestly declares more than the limit
    fc.integer({ min: LIMIT + 1, max: 8 * LIMIT }).map((n) => [{ name: 'x.npy', data: zeros(n), deflate: true }]),
    // many members, each under the limit, together above it
    fc.integer({ min: 3, max: 8 }).map((k) => Array.from({ length: k }, (_, i) => ({ name: `m${i}.npy`, data: zeros(Math.floor(LIMIT / 2.5)), deflate: true }))),
  );
  check(bomb, (members) => {
    const out = expectTypedOrValid('npz', () => parseNpz(zip(members), 'bomb.npz', LIMITS));
    assert.equal(out, null, 'a zip bomb was accepted');
  }, 30);
});

// ---- .json data --------------------------------------------------------------------------------------

const jsonCase = fc
  .record({ shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), seed: fc.integer() })
  .chain(({ shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.record({
      shape: fc.constant(shape),
      x: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n }),
      y: fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: shape[0], maxLength: shape[0] }),
    });
  });

function nest(values: number[], shape: number[]): unknown {
  if (shape.length === 1) return values;
  const step = values.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(values.slice(i * step, (i + 1) * step), shape.slice(1)));
}

const jsonBytes = (c: { shape: number[]; x: number[]; y: number[] }) => new TextEncoder().encode(JSON.stringify({ x: nest(c.x, c.shape), y: c.y }));

test('json: valid data round-trip exactly (x float32, integer y as int64)', () => {
  check(jsonCase, (c) => {
    const r = expectTypedOrValid('json', () => parseJsonData(jsonBytes(c), 'd.json', LIMITS));
    assert.ok(r, 'valid data were refused');
    assert.deepEqual(r.x.shape, c.shape);
    assert.deepEqual(Array.from(r.x.data), c.x.map((v) => Math.fround(v) + 0)); // JSON writes -0 as 0
    assert.equal(r.y.dtype, 'int64');
    assert.deepEqual(Array.from(r.y.data), c.y);
  });
});

test('json: mutated and truncated files end in an InputError or consistent arrays', () => {
  check(fc.tuple(jsonCase, mutations), ([c, mu]) => {
    const r = expectTypedOrValid('json', () => parseJsonData(mutate(jsonBytes(c), mu), 'd.json', LIMITS));
    if (r) {
      assertConsistent(r.x);
      assertConsistent(r.y);
    }
  });
});

test('json: deep nesting, duplicate keys and small files declaring huge arrays', () => {
  const hostile = fc.oneof(
    fc.integer({ min: 1, max: 200_000 }).map((d) => `{"x": ${'['.repeat(d)}1${']'.repeat(d)}, "y": [1]}`),
    fc.integer({ min: 1, max: 200_000 }).map((d) => `{"x": ${'['.repeat(d)}`),
    fc.integer({ min: 1, max: 5000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
    fc.constant('{"x": [[1, 2]], "x": [[3, 4]], "y": [0], "y": [1]}'),
    // The first element at each depth is long, the others are numbers: 1000^k values declared in a few KB.
    fc.tuple(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 1000 })).map(([k, w]) => {
      let s = '1';
      for (let i = 0; i < k; i++) s = `[${s}${',0'.repeat(w - 1)}]`;
      return `{"x": ${s}, "y": [1]}`;
    }),
  );
  check(hostile, (text) => {
    const r = expectTypedOrValid('json', () => parseJsonData(new TextEncoder().encode(text), 'd.json', LIMITS));
    if (r) {
      assertConsistent(r.x);
      assertConsistent(r.y);
    }
  }, 60);
});

// ---- .csv --------------------------------------------------------------------------------------------

const csvCase = fc.record({
  header: fc.boolean(),
  delimiter: fc.constantFrom(',', '\t', ';'),
  rows: fc.integer({ min: 1, max: 6 }).chain((features) =>
    fc.array(fc.tuple(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: features, maxLength: features }), fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 12 }),
  ),
});

let csvFile = 0;
function csvPath(bytes: Uint8Array): string {
  const p = join(dir, `d${csvFile++ % 8}.csv`);
  writeFileSync(p, bytes);
  return p;
}

function csvText(c: { header: boolean; delimiter: string; rows: Array<[number[], number]> }): string {
  const features = c.rows[0][0].length;
  const lines = c.rows.map(([x, y]) => [...x.map((v) => String(Math.fround(v))), String(y)].join(c.delimiter));
  if (c.header) lines.unshift([...Array.from({ length: features }, (_, i) => `f${i}`), 'label'].join(c.delimiter));
  return `${lines.join('\n')}\n`;
}

test('csv: valid files round-trip exactly (header or not, any delimiter)', () => {
  check(csvCase, (c) => {
    const r = expectTypedOrValid('csv', () => readCsvData(csvPath(new TextEncoder().encode(csvText(c))), null, LIMITS));
    assert.ok(r, 'a valid file was refused');
    assert.deepEqual(r.x.shape, [c.rows.length, c.rows[0][0].length]);
    assert.deepEqual(Array.from(r.x.data), c.rows.flatMap(([x]) => x.map((v) => Math.fround(v) + 0))); // String(-0) is '0'
    assert.deepEqual(Array.from(r.y.data), c.rows.map(([, y]) => y));
  });
});

test('csv: mutated and truncated files end in an InputError or consistent arrays', () => {
  check(fc.tuple(csvCase, mutations), ([c, mu]) => {
    const r = expectTypedOrValid('csv', () => readCsvData(csvPath(mutate(new TextEncoder().encode(csvText(c)), mu)), null, LIMITS));
    if (r) {
      assertConsistent(r.x);
      assertConsistent(r.y);
      assert.equal(r.x.shape[0], r.y.shape[0]);
    }
  });
});

test('csv: duplicate header names, a label column by name or index, rows above the limit', () => {
  const cases = fc.oneof(
    fc.constant({ text: 'a,a,label\n1,2,0\n', label: 'a' as string | number | null, limits: LIMITS }),
    fc.constant({ text: 'a,label,label\n1,2,0\n', label: 'label' as string | number | null, limits: LIMITS }),
    fc.integer({ min: -10, max: 10 }).map((i) => ({ text: 'a,b,c\n1,2,0\n3,4,1\n', label: i as string | number | null, limits: LIMITS })),
    // 200 rows × 3 features of float32 = 2400 bytes, above a 2000-byte limit
    fc.constant({ text: '1,2,3,0\n'.repeat(200), label: null as string | number | null, limits: { maxBytes: 2000 } }),
  );
  check(cases, ({ text, label, limits }) => {
    const r = expectTypedOrValid('csv', () => readCsvData(csvPath(new TextEncoder().encode(text)), label, limits), limits.maxBytes);
    if (r) assertConsistent(r.x);
  }, 40);
});

// ---- model.json + shards -----------------------------------------------------------------------------

const modelCase: fc.Arbitrary<ModelSpec> = fc.record({
  inputs: fc.integer({ min: 1, max: 4 }),
  functional: fc.boolean(),
  layers: fc.array(fc.record({ units: fc.integer({ min: 1, max: 4 }), activation: fc.constantFrom('relu', 'linear', 'tanh', 'sigmoid', 'softmax') }), { minLength: 1, maxLength: 3 }).map((ls) => ls.map((l, i) => ({ ...l, name: `dense_${i}` }))),
});

let modelDir = 0;
/** Writes model.json (text) and its shard (bytes) into a fresh folder; returns the model.json path. */
function writeModelFiles(json: Uint8Array | string, bin: Uint8Array): string {
  const d = join(dir, `m${modelDir++}`);
  mkdirSync(d);
  writeFileSync(join(d, 'model.json'), json);
  writeFileSync(join(d, 'group1-shard1of1.bin'), bin);
  return join(d, 'model.json');
}

/** The reader and the network builder together: what loadModel does with a TF.js model. */
const loadTfjs = (path: string) => {
  const m = readTfjsModel(path, MODEL_LIMITS);
  const net = buildNetwork(m);
  return { m, net };
};

test('model.json + shard: valid models round-trip their weights exactly and build', () => {
  check(modelCase, (spec) => {
    const { json, bin } = modelFiles(spec);
    const r = expectTypedOrValid('model.json', () => loadTfjs(writeModelFiles(JSON.stringify(json), bin)));
    assert.ok(r, 'a valid model was refused');
    const flat = new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4);
    assert.deepEqual(Array.from(r.net.initial), Array.from(flat));
    assert.equal(r.m.layers.filter((l) => l.className === 'Dense').length, spec.layers.length);
  }, 60);
});

test('model.json + shard: mutated JSON and shards end in an InputError or a model', () => {
  check(fc.tuple(modelCase, mutations, fc.option(mutations)), ([spec, mj, mb]) => {
    const { json, bin } = modelFiles(spec);
    const text = new TextEncoder().encode(JSON.stringify(json));
    expectTypedOrValid('model.json', () => loadTfjs(writeModelFiles(mutate(text, mj), mb ? mutate(bin, mb) : bin)));
  }, 100);
});

test('model.json + shard: hostile manifests (shapes, paths, names, nesting, counts)', () => {
  type Edit = (j: any) => void;
  const edits: fc.Arbitrary<Edit> = fc.oneof(
    fc.constantFrom<unknown>(-1, 2 ** 31, 2 ** 53, 1e308, 1.5, '3', null, [2]).map((d): Edit => (j) => (j.weightsManifest[0].weights[0].shape[0] = d)),
    fc.array(fc.integer({ min: 1, max: 2 ** 30 }), { minLength: 1, maxLength: 6 }).map((shape): Edit => (j) => (j.weightsManifest[0].weights[0].shape = shape)),
    fc.constantFrom('../x.bin', '/etc/passwd', '.', '', 'sub', '..', 'link.bin', 'group1-shard1of1.bin/..', 'model.json').map((p): Edit => (j) => (j.weightsManifest[0].paths = [p])),
    fc.constant<Edit>((j) => (j.weightsManifest[0].weights[1].name = j.weightsManifest[0].weights[0].name)),
    fc.constant<Edit>((j) => j.weightsManifest.push({ paths: ['group1-shard1of1.bin'], weights: j.weightsManifest[0].weights })),
    fc.constantFrom('float16', 'int8', 'string', 'complex64').map((d): Edit => (j) => (j.weightsManifest[0].weights[0].dtype = d)),
    fc.constantFrom<unknown>({ dtype: 'uint8', scale: 1, min: 0 }, { dtype: 'float16' }, { dtype: 'bogus' }, 7).map((q): Edit => (j) => (j.weightsManifest[0].weights[0].quantization = q)),
    fc.integer({ min: 65, max: 3000 }).map((n): Edit => (j) => {
      const layers = j.modelTopology.model_config.config.layers;
      for (let i = 0; i < n; i++) layers.push({ class_name: 'Dropout', name: `drop${i}`, config: { name: `drop${i}` }, inbound_nodes: [[[`drop${i - 1}`, 0, 0, {}]]] });
    }),
    // deep nesting, spliced into the text after JSON.stringify (which would overflow on it)
    fc.integer({ min: 90, max: 100_000 }).map((d): Edit => (j) => (j.modelTopology.model_config.config.layers[0].config.deep = `__DEEP_${d}__`)),
    fc.constant<Edit>((j) => (j.modelTopology.model_config.config.layers[1] = j.modelTopology.model_config.config.layers[0])),
    fc.constantFrom<unknown>(null, 'x', [], {}, [['nope', 0, 0]], [[1, 2]]).map((o): Edit => (j) => (j.modelTopology.model_config.config.output_layers = o)),
    fc.constantFrom<unknown>(null, 'x', {}, [[['missing', 0, 0, {}]]], [[['dense_0', 1, 0, {}]]], [{ args: [] }], [7]).map((o): Edit => (j) => {
      const ls = j.modelTopology.model_config.config.layers;
      ls[ls.length - 1].inbound_nodes = o;
    }),
  );
  check(fc.tuple(fc.record({ inputs: fc.integer({ min: 1, max: 3 }), functional: fc.boolean(), layers: fc.constant<ModelSpec['layers']>([{ name: 'dense_0', units: 2 }, { name: 'dense_1', units: 2 }]) }), edits), ([spec, edit]) => {
    const { json, bin } = modelFiles(spec);
    edit(json);
    const text = JSON.stringify(json).replace(/"__DEEP_(\d+)__"/, (_, d) => `${'['.repeat(Number(d))}${']'.repeat(Number(d))}`);
    const path = writeModelFiles(text, bin);
    mkdirSync(join(path, '..', 'sub'));
    symlinkSync(outside, join(path, '..', 'link.bin'));
    const r = expectTypedOrValid('model.json', () => loadTfjs(path));
    if (r) assert.equal(r.net.initial.length, r.net.size);
  }, 200);
});

test('model.json: a functional chain thousands of layers deep is refused or built without a stack overflow', () => {
  for (const n of [63, 20_000]) {
    const spec: ModelSpec = { inputs: 1, functional: true, layers: Array.from({ length: n }, (_, i) => ({ name: `d${i}`, units: 1 })) };
    const { json, bin } = modelFiles(spec);
    const path = writeModelFiles(JSON.stringify(json), bin);
    const r = expectTypedOrValid('model.json', () => loadTfjs(path));
    if (n > MODEL_LIMITS.maxLayers!) assert.equal(r, null);
    else assert.ok(r);
    // with the default layer limit (100000) the deep chain is built, iteratively
    if (n === 20_000) {
      const built = expectTypedOrValid('model.json (default limits)', () => buildNetwork(readTfjsModel(path)), 2 * 2 ** 30);
      assert.ok(built);
      assert.equal(built.size, 2 * n);
    }
  }
});

// ---- .onnx, .keras, .h5 (model files of the other formats, through loadModel: read and build) ------------

/** Mutations of a real model file, written under its own name in a fresh folder and loaded. */
function fuzzModelFile(reader: string, fixture: string, runs: number): void {
  const original = new Uint8Array(readFileSync(fixture));
  const name = fixture.slice(fixture.lastIndexOf('/') + 1);
  let k = 0;
  check(
    mutations,
    (ms) => {
      const folder = join(dir, `${reader}-${k++}`);
      mkdirSync(folder, { recursive: true });
      const path = join(folder, name);
      writeFileSync(path, mutate(original, ms));
      const got = expectTypedOrValid(reader, () => loadModel(path, MODEL_LIMITS));
      if (got) assert.ok(got.net.size > 0 && got.net.initial.every(Number.isFinite), `${reader}: a loaded model has finite weights`);
    },
    runs,
  );
}

test('onnx: mutated and truncated models end in an InputError or a model that builds', () => {
  fuzzModelFile('onnx', 'test/fixtures/onnx/mlp/model.onnx', RUNS);
  fuzzModelFile('onnx', 'test/fixtures/onnx/cnn/model.onnx', Math.ceil(RUNS / 3));
});

test('keras: mutated and truncated .keras and .h5 files end in an InputError or a model that builds', () => {
  // Fewer runs: every case parses HDF5 in pure JavaScript.
  fuzzModelFile('keras (.keras)', 'test/fixtures/keras/mlp.keras', Math.ceil(RUNS / 3));
  fuzzModelFile('keras (.h5)', 'test/fixtures/keras/mlp.h5', Math.ceil(RUNS / 3));
});
