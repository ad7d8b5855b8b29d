/**
 * Regression tests for the bugs the reader fuzz tests (fuzz-readers.test.ts) found, each as the smallest
 * input that showed it. Before the fixes each threw something other than an InputError, was accepted, or
 * took minutes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../extension/errors.js';
import { parseJsonData } from '../extension/readers/jsonData.js';
import { parseNpz } from '../extension/readers/npz.js';
import { readTfjsModel } from '../extension/readers/tfjsModel.js';
import { buildNetwork } from '../extension/engine/network.js';
import { npy } from './npyWriter.js';
import { zip } from './zipWriter.js';
import { modelFiles, type ModelSpec } from './modelWriter.js';

const root = mkdtempSync(join(tmpdir(), 'cl-regress-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function model(spec: ModelSpec, edit: (j: any) => void = () => {}): string {
  const d = join(root, `m${n++}`);
  mkdirSync(d);
  const { json, bin } = modelFiles(spec);
  edit(json);
  writeFileSync(join(d, 'model.json'), JSON.stringify(json));
  writeFileSync(join(d, 'group1-shard1of1.bin'), bin);
  return join(d, 'model.json');
}

const load = (p: string) => buildNetwork(readTfjsModel(p));
const inputError = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test(e.message);
const two: ModelSpec = { inputs: 2, functional: true, layers: [{ name: 'a', units: 2 }, { name: 'b', units: 2 }] };

test('json data: a 6 KB file whose first elements declare 1000^4 values is an InputError, not a RangeError', () => {
  let s = '1';
  for (let i = 0; i < 4; i++) s = `[${s}${',0'.repeat(999)}]`;
  assert.throws(() => parseJsonData(new TextEncoder().encode(`{"x": ${s}, "y": [1]}`), 'd.json'), inputError(/not rectangular/));
});

test('model.json: a functional chain of 20000 layers builds (was a stack overflow) in seconds (was 80 s)', () => {
  const p = model({ inputs: 1, functional: true, layers: Array.from({ length: 20_000 }, (_, i) => ({ name: `d${i}`, units: 1 })) });
  const t0 = Date.now();
  const net = load(p);
  assert.equal(net.size, 40_000);
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
});

test('model.json: a layer whose inbound node names no layer is an InputError (was a TypeError)', () => {
  const p = model(two, (j) => (j.modelTopology.model_config.config.layers[2].inbound_nodes = [{ args: [] }]));
  assert.throws(() => load(p), inputError(/layer "b" \(Dense\): has no inputs/));
});

test('model.json: an output layer that does not exist is an InputError (was a TypeError)', () => {
  const p = model(two, (j) => (j.modelTopology.model_config.config.output_layers = [['nope', 0, 0]]));
  assert.throws(() => load(p), inputError(/output layer "nope" is not a layer/));
});

test('model.json: a repeated weight name within one group is an InputError (was "Tensor is disposed")', () => {
  const p = model(two, (j) => (j.weightsManifest[0].weights[1].name = j.weightsManifest[0].weights[0].name));
  assert.throws(() => readTfjsModel(p), inputError(/appears twice/));
});

test('model.json: a shard path naming a folder is an InputError (was EISDIR)', () => {
  // weights larger than a folder's st.size (4096), so that the size check does not catch it first
  const big: ModelSpec = { inputs: 40, layers: [{ name: 'a', units: 40 }] };
  for (const path of ['.', '']) {
    const p = model(big, (j) => (j.weightsManifest[0].paths = [path]));
    assert.throws(() => readTfjsModel(p), inputError(/not a file/));
  }
});

test('model.json: a shard that is a link out of the model folder is refused (was read)', () => {
  const outside = join(root, 'secret.bin');
  writeFileSync(outside, new Uint8Array(48)); // exactly the weights' size
  const p = model(two, (j) => (j.weightsManifest[0].paths = ['link.bin']));
  symlinkSync(outside, join(p, '..', 'link.bin'));
  assert.throws(() => readTfjsModel(p), inputError(/link that leaves the model's folder/));
});

test('npz: many deflated members, each under the limit, together above it are refused (were all inflated)', () => {
  const limit = 1 << 20;
  const member = (i: number) => ({ name: `m${i}.npy`, data: npy('|u1', [400_000], new Uint8Array(400_000)), deflate: true });
  const bytes = zip([0, 1, 2, 3].map(member));
  assert.ok(bytes.length < 10_000);
  assert.throws(() => parseNpz(bytes, 'bomb.npz', { maxBytes: limit }), inputError(/member 'm2\.npy': unpacking the archive's members .* above the limit of 1048576 bytes/));
  assert.equal(parseNpz(zip([0, 1].map(member)), 'ok.npz', { maxBytes: limit }).size, 2);
});
