/**
 * End-to-end bad-input tests of the CLI: each case copies a valid fixture model into a fresh temp
 * folder, breaks one thing, runs `curvature-lens inspect` as a child process and checks that the run
 * ends cleanly: exit code 2, exactly one `curvature-lens: error: <file>: <what>` line on stderr (beside
 * the progress lines), no stack trace, and neither the --json nor the --report file written. A valid
 * run and `--json -` prove the harness itself.
 */
import { f32, i64, npy } from './npyWriter.js';
import { assertBadInput, CLI, ROOT, runInspect, SHARD, useCli, type Run } from './cli.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpz } from '../extension/readers/npz.js';
import type { NdArray } from '../extension/readers/npy.js';
import { zip } from './zipWriter.js';


// ---- fixtures and files ----

/** A fresh temp copy of a fixture model folder (model.json, shard, data.npz). */
const tempCopy = useCli();

function copyFixture(name: 'mlp' | 'cnn' = 'mlp'): string {
  return tempCopy(name, ['model.json', SHARD, 'data.npz'], 'curvature-lens-bad');
}

type Json = Record<string, any>;
const readJson = (dir: string): Json => JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
const writeJson = (dir: string, j: unknown) => writeFileSync(join(dir, 'model.json'), JSON.stringify(j, null, 1));
/** The layer list of a model.json. */
const layersOf = (j: Json): Json[] => j.modelTopology.model_config.config.layers;
const layerNamed = (j: Json, name: string): Json => layersOf(j).find((l) => l.config.name === name)!;

interface NpyMember {
  name: string;
  descr: string;
  shape: number[];
  data: Uint8Array;
}

const npyOf = (m: NpyMember): Uint8Array => npy(m.descr, m.shape, m.data);

/** A stored (uncompressed) zip of .npy members, as np.savez writes it (less zip64). */
function npz(members: NpyMember[]): Uint8Array {
  return zip(members.map((m) => ({ name: `${m.name}.npy`, data: npyOf(m) })));
}

/** The fixture's x (float32) and y (integer labels) arrays. */
function fixtureData(dir: string): { x: NdArray; y: NdArray } {
  const a = readNpz(join(dir, 'data.npz'));
  return { x: a.get('x')!, y: a.get('y')! };
}
const xMember = (shape: number[], values: ArrayLike<number>): NpyMember => ({ name: 'x', descr: '<f4', shape, data: f32(values) });
const yMember = (values: ArrayLike<number>): NpyMember => ({ name: 'y', descr: '<i8', shape: [values.length], data: i64(values) });

// ---- running the CLI ----


/** `inspect <model> --data <data> …` with the fast settings and both result files requested in dir. */
function inspect(dir: string, args: string[], opts: { model?: string; data?: string | null } = {}): Run {
  const data = opts.data === undefined ? ['--data', join(dir, 'data.npz')] : opts.data === null ? [] : ['--data', opts.data];
  return runInspect(dir, opts.model ?? join(dir, 'model.json'), data, args);
}



// ---- the harness itself ----

test('a valid run exits 0 and writes both result files', () => {
  const dir = copyFixture('mlp');
  const { r, out, outMd } = inspect(dir, []);
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(json.schemaVersion, 1);
  assert.equal(json.model.parameters, 246);
  assert.ok(readFileSync(outMd, 'utf8').length > 0);
  assert.doesNotMatch(r.stderr, /error/);
});

test('a valid cnn run exits 0', () => {
  const dir = copyFixture('cnn');
  const { r, out } = inspect(dir, []);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).schemaVersion, 1);
});

test('--json - puts only valid JSON on stdout', () => {
  const dir = copyFixture('mlp');
  const r = spawnSync(
    process.execPath,
    [CLI, 'inspect', join(dir, 'model.json'), '--data', join(dir, 'data.npz'), '--backend', 'cpu', '--samples', '2', '--top', '1', '--bottom', '1', '--json', '-'],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.schemaVersion, 1);
  assert.equal(json.model.parameters, 246);
  assert.deepEqual(readdirSync(dir).sort(), ['data.npz', SHARD, 'model.json'].sort(), 'no files written beside the model');
});

test('--quiet: the error is the only output', () => {
  const dir = copyFixture('mlp');
  rmSync(join(dir, SHARD));
  const run = inspect(dir, ['--quiet']);
  assertBadInput(run, /weight shard is missing/);
  assert.equal(run.r.stderr.trimEnd().split('\n').length, 1, run.r.stderr);
});

// ---- weight shards and manifest ----

test('missing weight shard', () => {
  const dir = copyFixture('mlp');
  rmSync(join(dir, SHARD));
  assertBadInput(inspect(dir, []), /group1-shard1of1\.bin: weight shard is missing \(listed in .*model\.json\)/);
});

test('truncated weight shard', () => {
  const dir = copyFixture('mlp');
  const bin = readFileSync(join(dir, SHARD));
  writeFileSync(join(dir, SHARD), bin.subarray(0, bin.length - 10));
  assertBadInput(inspect(dir, []), /model\.json: weight shards of group 0 hold 974 bytes but the manifest's shapes need 984: a shard is truncated/);
});

test('extra bytes in the weight shard', () => {
  const dir = copyFixture('mlp');
  writeFileSync(join(dir, SHARD), Buffer.concat([readFileSync(join(dir, SHARD)), Buffer.alloc(8)]));
  assertBadInput(inspect(dir, []), /group1-shard1of1\.bin: weight shards of group 0 hold more bytes than the manifest's 984/);
});

test('manifest shape changed (shard no longer matches)', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  j.weightsManifest[0].weights[0].shape = [5, 11];
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /group1-shard1of1\.bin: .*more bytes than the manifest's 964/);
});

test('manifest shape disagreeing with the layer (shard consistent with the manifest)', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  j.weightsManifest[0].weights[0].shape = [5, 11];
  writeJson(dir, j);
  const bin = readFileSync(join(dir, SHARD));
  writeFileSync(join(dir, SHARD), bin.subarray(0, bin.length - 20));
  assertBadInput(inspect(dir, []), /model\.json: layer "dense" \(Dense\): weight "dense\/kernel" has shape \[5,11\] but the layer needs \[5,12\]/);
});

test('manifest path leaving the model folder', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  j.weightsManifest[0].paths = ['../x.bin'];
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: weight shard path "\.\.\/x\.bin" leaves the model's folder/);
});

test('absolute manifest path', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  const abs = join(dir, SHARD); // exists, and even inside the folder: absolute paths are refused anyway
  j.weightsManifest[0].paths = [abs];
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: weight shard path ".*group1-shard1of1\.bin" leaves the model's folder/);
});

// ---- model.json ----

test('model.json that is not JSON', () => {
  const dir = copyFixture('mlp');
  writeFileSync(join(dir, 'model.json'), '{"format": "layers-model", "modelTopology": {');
  assertBadInput(inspect(dir, []), /model\.json: is not valid JSON/);
});

test('model.json that is a JSON array', () => {
  const dir = copyFixture('mlp');
  writeFileSync(join(dir, 'model.json'), '[1, 2, 3]');
  assertBadInput(inspect(dir, []), /model\.json: is not a TF\.js model\.json \(expected a JSON object\)/);
});

test('model.json without modelTopology', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  delete j.modelTopology;
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: has no "modelTopology" object/);
});

test('model.json without weightsManifest', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  delete j.weightsManifest;
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: has no "weightsManifest" array/);
});

test('a graph-model json', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  writeJson(dir, {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: { node: [{ name: 'x', op: 'Placeholder', attr: {} }], library: {}, versions: {} },
    weightsManifest: j.weightsManifest,
  });
  assertBadInput(inspect(dir, []), /model\.json: is a TF\.js graph model; Curvature Lens needs a LayersModel/);
});

test('an unsupported layer class', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  layerNamed(j, 'dense_1').class_name = 'LSTM';
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: layer "dense_1" \(LSTM\): this layer class is not supported/);
});

test('an unsupported activation', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  layerNamed(j, 'dense').config.activation = 'selu';
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: layer "dense" \(Dense\): activation "selu" is not supported/);
});

test('an unsupported topology class', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  j.modelTopology.model_config.class_name = 'MySubclassedModel';
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: the model's topology is "MySubclassedModel"; supported: Sequential, Functional/);
});

test('a Functional topology without output_layers', () => {
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  j.modelTopology.model_config.class_name = 'Functional';
  writeJson(dir, j);
  assertBadInput(inspect(dir, []), /model\.json: model_config\.config\.output_layers is missing or not a list/);
});

test('NaN in a weight', () => {
  const dir = copyFixture('mlp');
  const bin = readFileSync(join(dir, SHARD));
  bin.writeFloatLE(NaN, 4 * 7); // dense/kernel, flat index 7
  writeFileSync(join(dir, SHARD), bin);
  assertBadInput(inspect(dir, []), /model\.json: weight "dense\/kernel" has a non-finite value \(NaN\) at flat index 7/);
});

test('-Infinity in a weight of the cnn', () => {
  const dir = copyFixture('cnn');
  const bin = readFileSync(join(dir, SHARD));
  bin.writeFloatLE(-Infinity, bin.length - 4); // the last weight: dense/bias
  writeFileSync(join(dir, SHARD), bin);
  assertBadInput(inspect(dir, []), /model\.json: weight "dense\/bias" has a non-finite value \(-Infinity\)/);
});

test('missing model file', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, [], { model: join(dir, 'nope', 'model.json') }), /nope\/model\.json: model file not found/);
});

test('model path that is a folder', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, [], { model: dir }), /: is not a file; pass the path of a TF\.js model\.json/);
});

// ---- data ----

test('NaN in x', () => {
  const dir = copyFixture('mlp');
  const { x, y } = fixtureData(dir);
  const xs = Float32Array.from(x.data);
  xs[3 * 5 + 2] = NaN; // example 3
  writeFileSync(join(dir, 'data.npz'), npz([xMember(x.shape, xs), yMember(y.data)]));
  assertBadInput(inspect(dir, []), /data\.npz: x has a non-finite value at example 3/);
});

test('Inf in x (cnn)', () => {
  const dir = copyFixture('cnn');
  const { x, y } = fixtureData(dir);
  const xs = Float32Array.from(x.data);
  const per = xs.length / x.shape[0];
  xs[5 * per + 1] = Infinity; // example 5
  writeFileSync(join(dir, 'data.npz'), npz([xMember(x.shape, xs), yMember(y.data)]));
  assertBadInput(inspect(dir, []), /data\.npz: x has a non-finite value at example 5/);
});

test('x with the wrong shape names both shapes', () => {
  const dir = copyFixture('mlp');
  const { x, y } = fixtureData(dir);
  const n = x.shape[0];
  writeFileSync(join(dir, 'data.npz'), npz([xMember([n, 6], new Float32Array(n * 6)), yMember(y.data)]));
  assertBadInput(inspect(dir, []), new RegExp(`data\\.npz: x has shape \\[${n},6\\] but the model expects \\[N, 5\\]`));
});

test('x of the cnn in NCHW instead of NHWC', () => {
  const dir = copyFixture('cnn');
  const { x, y } = fixtureData(dir);
  const n = x.shape[0];
  writeFileSync(join(dir, 'data.npz'), npz([xMember([n, 2, 8, 8], x.data), yMember(y.data)]));
  assertBadInput(inspect(dir, []), new RegExp(`data\\.npz: x has shape \\[${n},2,8,8\\] but the model expects \\[N, 8,8,2\\] \\(NHWC`));
});

test('label out of range', () => {
  const dir = copyFixture('mlp');
  const { x, y } = fixtureData(dir);
  const ys = Array.from(y.data);
  ys[2] = 7;
  writeFileSync(join(dir, 'data.npz'), npz([xMember(x.shape, x.data), yMember(ys)]));
  assertBadInput(inspect(dir, []), /data\.npz: label 7 of example 2 is out of range: the model has 4 classes \(0…3\)/);
});

test('x of a string dtype', () => {
  const dir = copyFixture('mlp');
  const { y } = fixtureData(dir);
  const n = y.shape[0];
  const text = new Uint8Array(n * 5 * 12); // '<U3': 3 UCS-4 characters per element
  writeFileSync(join(dir, 'data.npz'), npz([{ name: 'x', descr: '<U3', shape: [n, 5], data: text }, yMember(y.data)]));
  assertBadInput(inspect(dir, []), /data\.npz: member 'x\.npy': unsupported dtype '<U3'/);
});

test('x of object dtype', () => {
  const dir = copyFixture('mlp');
  const { y } = fixtureData(dir);
  writeFileSync(join(dir, 'data.npz'), npz([{ name: 'x', descr: '|O', shape: [2], data: new Uint8Array(16) }, yMember(y.data)]));
  assertBadInput(inspect(dir, []), /data\.npz: member 'x\.npy': object arrays .* are not supported/);
});

test('a data file that is not .npz', () => {
  const dir = copyFixture('mlp');
  const txt = join(dir, 'data.txt');
  writeFileSync(txt, '1,2,3,4,5,0\n');
  assertBadInput(inspect(dir, [], { data: txt }), /data\.txt: unsupported data format; use a \.npz file/);
});

test('a truncated .npz', () => {
  const dir = copyFixture('mlp');
  const bytes = readFileSync(join(dir, 'data.npz'));
  writeFileSync(join(dir, 'data.npz'), bytes.subarray(0, Math.floor(bytes.length / 2)));
  assertBadInput(inspect(dir, []), /data\.npz: not an \.npz \(zip\) archive, or truncated/);
});

test('a .npz of garbage bytes', () => {
  const dir = copyFixture('mlp');
  const garbage = Buffer.alloc(4096);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24;
  writeFileSync(join(dir, 'data.npz'), garbage);
  assertBadInput(inspect(dir, []), /data\.npz: not an \.npz \(zip\) archive/);
});

test('a .npz with a damaged member (CRC)', () => {
  const dir = copyFixture('mlp');
  const x = xMember([2, 5], new Float32Array(10));
  const built = npz([x, yMember([0, 1])]);
  built[30 + 'x.npy'.length + npyOf(x).length - 1] ^= 0xff; // the last data byte of x
  writeFileSync(join(dir, 'data.npz'), built);
  assertBadInput(inspect(dir, []), /data\.npz: member 'x\.npy': CRC-32 mismatch/);
});

test('missing data file', () => {
  const dir = copyFixture('mlp');
  rmSync(join(dir, 'data.npz'));
  assertBadInput(inspect(dir, []), /data\.npz: file not found/);
});

test('no --data and --examples 0: synthetic data needs at least one example', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, ['--examples', '0'], { data: null }), /^curvature-lens: error: .*examples/);
});

// ---- limits ----

test('a model beyond the memory budget', () => {
  // One Dense 2000→2000 layer (4,002,000 parameters, ~16 MB of zero weights): its HVP vectors alone need 244 MB.
  const dir = copyFixture('mlp');
  const j = readJson(dir);
  const [input, dense] = layersOf(j);
  input.config.batch_input_shape = [null, 2000];
  dense.config.units = 2000;
  dense.config.activation = 'softmax';
  j.modelTopology.model_config.config.layers = [input, dense];
  j.weightsManifest = [{ paths: [SHARD], weights: [{ name: 'dense/kernel', shape: [2000, 2000], dtype: 'float32' }, { name: 'dense/bias', shape: [2000], dtype: 'float32' }] }];
  writeJson(dir, j);
  writeFileSync(join(dir, SHARD), Buffer.alloc(4 * 2000 * 2001));
  writeFileSync(join(dir, 'data.npz'), npz([xMember([2, 2000], new Float32Array(4000)), yMember([0, 1])]));
  assertBadInput(inspect(dir, ['--memory-budget', '64']), /model\.json: the model has 4002000 parameters; its HVP vectors alone need \d+ MB, above the memory budget of 64 MB/);
});

test('--exact above --exact-limit', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, ['--exact', '--exact-limit', '10']), /model\.json: --exact needs one HVP per parameter and the model has 246, above --exact-limit 10/);
});

// ---- flags ----

test('--samples 0', () => {
  // The fast settings come last and would win: put the bad value in place of them.
  const dir = copyFixture('mlp');
  assertBadInput(runFlags(dir, ['--samples', '0']), /^curvature-lens: error: --samples must be an integer ≥ 1, got 0$/);
});

test('--samples abc', () => {
  const dir = copyFixture('mlp');
  assertBadInput(runFlags(dir, ['--samples', 'abc']), /^curvature-lens: error: --samples must be a non-negative integer, got "abc"$/);
});

test('--backend gpu', () => {
  const dir = copyFixture('mlp');
  assertBadInput(runFlags(dir, ['--backend', 'gpu']), /^curvature-lens: error: --backend gpu is not one of auto, /);
});

test('--loss huber', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, ['--loss', 'huber']), /^curvature-lens: error: --loss huber is not one of sparse-categorical-cross-entropy, /);
});

test('an unknown flag', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, ['--frobnicate']), /^curvature-lens: error: unknown option '--frobnicate'; see curvature-lens --help$/);
});

test('--memory-budget with a unit', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, ['--memory-budget', '64MB']), /^curvature-lens: error: --memory-budget must be a non-negative integer, got "64MB"$/);
});

/** Like inspect(), but with `args` replacing the fast settings they name (parseArgs keeps the last value). */
function runFlags(dir: string, args: string[]): Run {
  const out = join(dir, 'out.json');
  const outMd = join(dir, 'out.md');
  const fast: Record<string, string> = { '--backend': 'cpu', '--samples': '2', '--top': '1', '--bottom': '1' };
  for (let i = 0; i < args.length; i += 2) fast[args[i]] = args[i + 1];
  const r = spawnSync(
    process.execPath,
    [CLI, 'inspect', join(dir, 'model.json'), '--data', join(dir, 'data.npz'), ...Object.entries(fast).flat(), '--json', out, '--report', outMd],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  return { r, out, outMd, dir };
}

test('a flag without its value', () => {
  const dir = copyFixture('mlp');
  const r = spawnSync(process.execPath, [CLI, 'inspect', join(dir, 'model.json'), '--data', join(dir, 'data.npz'), '--json', join(dir, 'out.json'), '--report', join(dir, 'out.md'), '--samples'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assertBadInput({ r, out: join(dir, 'out.json'), outMd: join(dir, 'out.md'), dir }, /^curvature-lens: error: Option '--samples <value>' argument missing; see curvature-lens --help$/);
});

test('two model paths', () => {
  const dir = copyFixture('mlp');
  assertBadInput(inspect(dir, [join(dir, 'model.json')]), /^curvature-lens: error: expected: curvature-lens inspect <model\.json> \[options\]/);
});
