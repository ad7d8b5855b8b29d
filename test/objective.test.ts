/**
 * The Objective: chunking never changes the answer (each example weighted once), K stacked HVPs equal
 * K single ones, and no tensor leaks across HVPs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activateBackend, tf } from '../extension/engine/tfjs.js';
import { readTfjsModel } from '../extension/readers/tfjsModel.js';
import { buildNetwork } from '../extension/engine/network.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import { Objective } from '../extension/engine/objective.js';
import { relL2 } from './helpers.js';
import { selfTest } from '../extension/engine/selftest.js';
import { inspect } from '../extension/engine/inspect.js';

function load(name: string) {
  const dir = `test/fixtures/models/${name}`;
  const net = buildNetwork(readTfjsModel(`${dir}/model.json`));
  const { x, y } = readArrays(`${dir}/data.npz`);
  return { net, ...prepareData(`${dir}/data.npz`, x, y, net, null) };
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: chunk sizes 7 (uneven last chunk) and 64 give the same loss, gradient and HVP`, async () => {
    await activateBackend(backend);
    const { net, dataset, loss } = load('mlp');
    const a = new Objective(net, dataset, loss, 64);
    const b = new Objective(net, dataset, loss, 7);
    try {
      assert.equal(b.chunkCount, 10);
      const v = new Float32Array(net.size).map((_, i) => Math.cos(i));
      const [la, lb] = [a.lossAndGradient(), b.lossAndGradient()];
      assert.ok(Math.abs(la.loss - lb.loss) < 1e-6 * la.loss, `${la.loss} vs ${lb.loss}`);
      assert.ok(relL2(lb.gradient, la.gradient) < 1e-5);
      assert.ok(relL2(b.hvp(v), a.hvp(v)) < 1e-5);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test(`${backend}: hvpMany (stacked weight copies) equals single HVPs, and no tensors leak`, async () => {
    await activateBackend(backend);
    const { net, dataset, loss } = load('cnn');
    const obj = new Objective(net, dataset, loss, 13);
    try {
      const vs = [0, 1, 2, 3, 4].map((k) => new Float32Array(net.size).map((_, i) => Math.sin(0.37 * i + k)));
      const single = vs.map((v) => obj.hvp(v));
      const before = tf.memory().numTensors;
      const many = obj.hvpMany(vs);
      obj.hvpMany(vs);
      obj.hvp(vs[0]);
      obj.lossAndGradient();
      assert.equal(tf.memory().numTensors, before, 'tensor count grew across HVPs');
      many.forEach((m, k) => assert.ok(relL2(m, single[k]) < 1e-6, `copy ${k}: ${relL2(m, single[k])}`));
    } finally {
      obj.dispose();
    }
  });
}

test('no tensor outlives the self-test or a run, also of a model with kept constants (BatchNormalization statistics)', async () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    await activateBackend(backend);
    const before = tf.memory().numTensors;
    assert.ok(selfTest().ok);
    assert.equal(tf.memory().numTensors, before, `${backend}: the self-test left tensors behind`);
    const dir = 'test/fixtures/models/rescnn';
    await inspect({ modelPath: `${dir}/model.json`, dataPath: `${dir}/data.npz`, backend, workers: 1, estimator: 'hutchinson', samples: 2, top: 0, bottom: 0 });
    assert.equal(tf.memory().numTensors, before, `${backend}: inspect left tensors behind`);
  }
});
