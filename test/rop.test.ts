/**
 * rop.ts: the R-operator HVP of Dense chains must equal reverse-over-reverse (autodiff.ts, itself tied
 * to torch float64 and finite differences in gradcheck/models tests) for every activation, head and
 * loss, for one and several stacked directions and several chunks, on every available backend; and
 * buildNetwork must offer the chain only where the R-operator's model of the network is the network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activateBackend } from '../extension/engine/tfjs.js';
import { buildNetwork } from '../extension/engine/network.js';
import { Objective, type Dataset } from '../extension/engine/objective.js';
import type { LossSpec, LossName } from '../extension/engine/loss.js';
import type { RawLayer, TfjsModelFile } from '../extension/readers/tfjsModel.js';
import { Rng } from '../extension/estimators/rng.js';
import { data, model, type L } from './chainModel.js';
import { availableBackends, relL2 } from './helpers.js';

const loss = (name: LossName): LossSpec => ({ name, fromLogits: true, reason: 'test' });

const HIDDEN = ['linear', 'relu', 'tanh', 'sigmoid', 'softplus', 'elu', 'gelu', 'swish', 'leaky_relu'];
const CASES: Array<{ name: string; layers: L[]; loss: LossName; kind: 'onehot' | 'binary' | 'real' }> = [
  ...HIDDEN.map((act) => ({
    name: `hidden ${act}, softmax cross-entropy`,
    layers: [{ className: 'Dense', units: 6, activation: act }, { className: 'Dense', units: 5, activation: act }, { className: 'Dense', units: 4, activation: 'softmax' }],
    loss: 'categorical-cross-entropy' as LossName,
    kind: 'onehot' as const,
  })),
  { name: 'sigmoid head, binary cross-entropy, Dropout and Activation layers, a bias-less layer', layers: [{ className: 'Dense', units: 7, useBias: false }, { className: 'Activation', activation: 'tanh' }, { className: 'Dropout' }, { className: 'Dense', units: 3, activation: 'sigmoid' }], loss: 'binary-cross-entropy', kind: 'binary' },
  { name: 'linear head, mean squared error', layers: [{ className: 'Dense', units: 8, activation: 'relu' }, { className: 'Dense', units: 2 }], loss: 'mean-squared-error', kind: 'real' },
  { name: 'tanh head, mean squared error', layers: [{ className: 'Dense', units: 5, activation: 'gelu' }, { className: 'Dense', units: 3, activation: 'tanh' }], loss: 'mean-squared-error', kind: 'real' },
  { name: 'sigmoid head, mean squared error', layers: [{ className: 'Dense', units: 5, activation: 'swish' }, { className: 'Dense', units: 3, activation: 'sigmoid' }], loss: 'mean-squared-error', kind: 'real' },
  { name: 'one layer (logistic regression)', layers: [{ className: 'Dense', units: 3, activation: 'softmax' }], loss: 'categorical-cross-entropy', kind: 'onehot' },
];

test('R-operator HVPs equal reverse-over-reverse (every activation, head, loss; 1 and 3 directions; 3 chunks)', async (t) => {
  for (const backend of await availableBackends()) {
    await activateBackend(backend);
    for (const c of CASES) {
      await t.test(`${backend}: ${c.name}`, () => {
        const net = buildNetwork(model(4, c.layers));
        assert.ok(net.chain, 'the chain is recognised');
        const outputs = net.outputShape[0];
        const obj = new Objective(net, data(4, outputs, 21, c.kind), loss(c.loss), 8);
        try {
          assert.equal(obj.rop, true, 'the R-operator covers it');
          const rng = new Rng(5);
          const vs = [0, 1, 2].map(() => new Float32Array(obj.size).map(() => rng.normal()));
          const rop = obj.hvpMany(vs);
          const one = obj.hvp(vs[1]);
          obj.rop = false;
          const ref = obj.hvpMany(vs);
          for (let k = 0; k < 3; k++) assert.ok(relL2(rop[k], ref[k]) < 2e-5, `direction ${k}: relative error ${relL2(rop[k], ref[k])}`);
          assert.ok(relL2(one, ref[1]) < 2e-5, `single direction: ${relL2(one, ref[1])}`);
          assert.ok(Math.max(...ref[0].map(Math.abs)) > 1e-3, 'a non-trivial Hessian');
        } finally {
          obj.dispose();
        }
      });
    }
  }
});

type C = { className: 'Conv2D'; filters: number; kernel: number; strides?: number; padding?: string; dilation?: number; activation?: string } | { className: 'MaxPooling2D'; pool: number; strides?: number } | { className: 'Flatten' } | { className: 'Dense'; units: number; activation?: string };

function cnn(input: [number, number, number], spec: C[], seed = 3): TfjsModelFile {
  const rng = new Rng(seed);
  const layers: RawLayer[] = [{ className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, ...input] } }];
  const weights: TfjsModelFile['weights'] = [];
  let shape: number[] = [...input];
  const normal = (n: number, scale: number) => new Float32Array(n).map(() => scale * rng.normal());
  spec.forEach((l, i) => {
    const name = `c${i}`;
    if (l.className === 'Conv2D') {
      const st = l.strides ?? 1;
      const dil = l.dilation ?? 1;
      const pad = l.padding ?? 'valid';
      layers.push({ className: 'Conv2D', name, config: { filters: l.filters, kernel_size: [l.kernel, l.kernel], strides: [st, st], dilation_rate: [dil, dil], padding: pad, activation: l.activation ?? 'linear' } });
      weights.push({ name: `${name}/kernel`, shape: [l.kernel, l.kernel, shape[2], l.filters], values: normal(l.kernel * l.kernel * shape[2] * l.filters, 1 / Math.sqrt(l.kernel * l.kernel * shape[2])) });
      weights.push({ name: `${name}/bias`, shape: [l.filters], values: normal(l.filters, 0.2) });
      const eff = (l.kernel - 1) * dil + 1;
      const out = (n: number) => (pad === 'same' ? Math.ceil(n / st) : Math.floor((n - eff) / st) + 1);
      shape = [out(shape[0]), out(shape[1]), l.filters];
    } else if (l.className === 'MaxPooling2D') {
      const st = l.strides ?? l.pool;
      layers.push({ className: 'MaxPooling2D', name, config: { pool_size: [l.pool, l.pool], strides: [st, st], padding: 'valid' } });
      shape = [Math.floor((shape[0] - l.pool) / st) + 1, Math.floor((shape[1] - l.pool) / st) + 1, shape[2]];
    } else if (l.className === 'Flatten') {
      layers.push({ className: 'Flatten', name, config: {} });
      shape = [shape.reduce((a, b) => a * b, 1)];
    } else {
      layers.push({ className: 'Dense', name, config: { units: l.units, activation: l.activation ?? 'linear' } });
      weights.push({ name: `${name}/kernel`, shape: [shape[0], l.units], values: normal(shape[0] * l.units, 1 / Math.sqrt(shape[0])) });
      weights.push({ name: `${name}/bias`, shape: [l.units], values: normal(l.units, 0.2) });
      shape = [l.units];
    }
  });
  return { path: '<test>', name: 'rop-cnn', topologyClass: 'Sequential', layers, inputShape: input, weights, trainingLoss: null };
}

const CNNS: Array<{ name: string; input: [number, number, number]; layers: C[] }> = [
  {
    name: 'conv relu → 2×2 pool → conv tanh (same) → pool → dense',
    input: [10, 10, 2],
    layers: [{ className: 'Conv2D', filters: 3, kernel: 3, activation: 'relu' }, { className: 'MaxPooling2D', pool: 2 }, { className: 'Conv2D', filters: 4, kernel: 3, padding: 'same', activation: 'tanh' }, { className: 'MaxPooling2D', pool: 2 }, { className: 'Flatten' }, { className: 'Dense', units: 3, activation: 'softmax' }],
  },
  {
    name: 'strided conv, overlapping 3×3/2 pool, dilated conv, hidden dense',
    input: [13, 12, 1],
    layers: [{ className: 'Conv2D', filters: 3, kernel: 3, strides: 2, padding: 'same', activation: 'swish' }, { className: 'MaxPooling2D', pool: 3, strides: 2 }, { className: 'Conv2D', filters: 2, kernel: 2, dilation: 1, activation: 'sigmoid' }, { className: 'Flatten' }, { className: 'Dense', units: 5, activation: 'tanh' }, { className: 'Dense', units: 3, activation: 'softmax' }],
  },
  {
    name: 'dilated conv, pool with a remainder',
    input: [11, 11, 2],
    layers: [{ className: 'Conv2D', filters: 3, kernel: 3, dilation: 2, activation: 'elu' }, { className: 'MaxPooling2D', pool: 2 }, { className: 'Flatten' }, { className: 'Dense', units: 3, activation: 'softmax' }],
  },
  {
    // Tiling windows of 9 (rop.ts sums them by an average pool times 9) that leave a row and a column out.
    name: 'relu conv, 3×3/3 pool with a remainder',
    input: [12, 12, 1],
    layers: [{ className: 'Conv2D', filters: 3, kernel: 3, activation: 'relu' }, { className: 'MaxPooling2D', pool: 3 }, { className: 'Flatten' }, { className: 'Dense', units: 3, activation: 'softmax' }],
  },
];

test('R-operator HVPs of CNNs equal reverse-over-reverse (conv geometries, tiling and overlapping pools; 1 and 3 directions)', async (t) => {
  for (const backend of await availableBackends()) {
    await activateBackend(backend);
    for (const c of CNNS) {
      await t.test(`${backend}: ${c.name}`, () => {
        const net = buildNetwork(cnn(c.input, c.layers));
        assert.ok(net.chain, 'the chain is recognised');
        const rng = new Rng(11);
        const n = 7;
        const size = c.input.reduce((a, b) => a * b, 1);
        const y = new Float32Array(n * 3);
        for (let i = 0; i < n; i++) y[i * 3 + (i % 3)] = 1;
        const dataset: Dataset = { x: new Float32Array(n * size).map(() => rng.normal()), xShape: c.input, y, yShape: [3], examples: n };
        const obj = new Objective(net, dataset, loss('categorical-cross-entropy'), 4);
        try {
          assert.equal(obj.rop, true);
          const vs = [0, 1, 2].map(() => new Float32Array(obj.size).map(() => rng.normal()));
          const rop = obj.hvpMany(vs);
          obj.rop = false;
          const ref = obj.hvpMany(vs);
          for (let k = 0; k < 3; k++) assert.ok(relL2(rop[k], ref[k]) < 3e-5, `direction ${k}: relative error ${relL2(rop[k], ref[k])}`);
          assert.ok(Math.max(...ref[0].map(Math.abs)) > 1e-3, 'a non-trivial Hessian');
        } finally {
          obj.dispose();
        }
      });
    }
  }
});

test('R-operator HVP of a fully convolutional model (image-shaped outputs, mean squared error) equals reverse-over-reverse', async () => {
  for (const backend of await availableBackends()) {
    await activateBackend(backend);
    const net = buildNetwork(cnn([6, 6, 2], [{ className: 'Conv2D', filters: 3, kernel: 3, padding: 'same', activation: 'tanh' }, { className: 'Conv2D', filters: 2, kernel: 3, activation: 'sigmoid' }]));
    const rng = new Rng(4);
    const n = 5;
    const outSize = net.outputShape.reduce((a, b) => a * b, 1);
    const dataset: Dataset = { x: new Float32Array(n * 72).map(() => rng.normal()), xShape: [6, 6, 2], y: new Float32Array(n * outSize).map(() => rng.uniform()), yShape: net.outputShape, examples: n };
    const obj = new Objective(net, dataset, loss('mean-squared-error'), 5);
    try {
      assert.equal(obj.rop, true);
      const v = new Float32Array(obj.size).map(() => rng.normal());
      const rop = obj.hvp(v);
      obj.rop = false;
      const ref = obj.hvp(v);
      assert.ok(relL2(rop, ref) < 3e-5, `${backend}: relative error ${relL2(rop, ref)}`);
    } finally {
      obj.dispose();
    }
  }
});

test('the chain is offered only where it is the whole network, and mirrors how it runs', () => {
  const chain = (layers: L[], inputs = 3) => buildNetwork(model(inputs, layers)).chain?.map((l) => (l.kind === 'act' ? `act:${l.activation}` : l.kind));
  assert.deepEqual(chain([{ className: 'Dense', units: 4, activation: 'relu' }, { className: 'Dense', units: 2, activation: 'softmax' }]), ['dense', 'act:relu', 'dense']);
  // Activation layers add links; Dropout is the identity; the output layer's activation is the head.
  assert.deepEqual(chain([{ className: 'Dense', units: 4, activation: 'relu' }, { className: 'Activation', activation: 'tanh' }, { className: 'Dropout' }, { className: 'Dense', units: 2 }]), ['dense', 'act:relu', 'act:tanh', 'dense']);
  // A Dropout after the output Dense: its softmax is then a hidden activation, which rop.ts does not cover.
  assert.deepEqual(chain([{ className: 'Dense', units: 4 }, { className: 'Dense', units: 2, activation: 'softmax' }, { className: 'Dropout' }]), ['dense', 'dense', 'act:softmax']);
  const net = buildNetwork(model(3, [{ className: 'Dense', units: 4, activation: 'softmax' }, { className: 'Dense', units: 2 }]));
  const obj = new Objective(net, data(3, 2, 4, 'real'), loss('mean-squared-error'), 4);
  assert.equal(obj.rop, false);
  obj.dispose();
});
