/** The editor's notion of a model file and of the files that belong to it (extension/host/modelFiles.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { companionFiles, isModelFile } from '../extension/host/modelFiles.js';

test('model files: model.json, .keras, .h5, .onnx; not weights-only .weights.h5 or other json', () => {
  for (const f of ['a/model.json', 'b/net.keras', 'c/MODEL.H5', 'd/resnet.onnx']) assert.equal(isModelFile(f), true, f);
  for (const f of ['a/data.json', 'b/model.weights.h5', 'c/data.npz', 'd/model.onnx.data', 'e/group1-shard1of1.bin']) assert.equal(isModelFile(f), false, f);
});

test('the files that hold a model\'s weights are watched with it', () => {
  const siblings = ['model.json', 'group1-shard1of2.bin', 'group1-shard2of2.bin', 'data.npz', 'net.onnx', 'net.onnx.data', 'other.onnx', 'm.keras'];
  assert.deepEqual(companionFiles('/w/model.json', siblings), ['group1-shard1of2.bin', 'group1-shard2of2.bin']);
  assert.deepEqual(companionFiles('/w/net.onnx', siblings), ['net.onnx.data']);
  assert.deepEqual(companionFiles('/w/m.keras', siblings), []);
  assert.deepEqual(companionFiles('/w/m.h5', siblings), []);
});

test('package.json offers Inspect Hessian on the same extensions', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  for (const menu of ['explorer/context', 'editor/title']) {
    const when: string = pkg.contributes.menus[menu].find((m: { command: string }) => m.command === 'curvatureLens.inspect').when;
    for (const clause of ['resourceFilename == model.json', 'resourceExtname == .keras', 'resourceExtname == .h5', 'resourceExtname == .onnx']) {
      assert.ok(when.split(' || ').includes(clause), `${menu}: ${clause}`);
    }
  }
});
