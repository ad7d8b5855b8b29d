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
import { availableBackends, relL2 } from './helpers.js';

type L = { className: string; units?: number; activation?: string; useBias?: boolean };

function model(inputs: number, spec: L[], seed = 1): TfjsModelFile {
  const rng = new Rng(seed);
  const layers: RawLayer[] = [{ className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, inputs] } }];
  const weights: TfjsModelFile['weights'] = [];
  let width = inputs;
  spec.forEach((l, i) => {
    const name = `l${i}`;
    if (l.className === 'Dense') {
      const useBias = l.useBias !== false;
      layers.push({ className: 'Dense', name, config: { units: l.units, activation: l.activation ?? 'linear', use_bias: useBias } });
      weights.push({ name: `${name}/kernel`, shape: [width, l.units!], values: new Float32Array(width * l.units!).map(() => (1.3 * rng.normal()) / Math.sqrt(width)) });
      if (useBias) weights.push({ name: `${name}/bias`, shape: [l.units!], values: new Float32Array(l.units!).map(() => 0.3 * rng.normal()) });
      width = l.units!;
    } else {
      layers.push({ className: l.className, name, config: l.className === 'Activation' ? { activation: l.activation } : { rate: 0.5 } });
    }
  });
  return { path: '<test>', name: 'rop', topologyClass: 'Sequential', layers, inputShape: [inputs], weights, trainingLoss: null };
}

function data(inputs: number, outputs: number, n: number, kind: 'onehot' | 'binary' | 'real', seed = 2): Dataset {
  const rng = new Rng(seed);
  const y = new Float32Array(n * outputs);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < outputs; j++) y[i * outputs + j] = kind === 'real' ? rng.normal() : kind === 'binary' ? Number(rng.uniform() < 0.5) : Number(j === i % outputs);
  }
  return { x: new Float32Array(n * inputs).map(() => rng.normal()), xShape: [inputs], y, yShape: [outputs], examples: n };
}

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
        assert.ok(net.denseChain, 'the chain is recognised');
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

test('the Dense chain is offered only where it is the whole network', () => {
  const chain = (layers: L[], inputs = 3) => buildNetwork(model(inputs, layers)).denseChain;
  assert.deepEqual(
    chain([{ className: 'Dense', units: 4, activation: 'relu' }, { className: 'Dense', units: 2, activation: 'softmax' }])?.map((l) => l.activation),
    ['relu', 'softmax'],
  );
  // An Activation layer merges into the Dense before it; Dropout is the identity.
  assert.deepEqual(chain([{ className: 'Dense', units: 4 }, { className: 'Activation', activation: 'tanh' }, { className: 'Dropout' }, { className: 'Dense', units: 2 }])?.map((l) => l.activation), ['tanh', 'linear']);
  // A second activation in a row, or a Dropout that hides the head, is not a chain the R-operator models.
  assert.equal(chain([{ className: 'Dense', units: 4, activation: 'relu' }, { className: 'Activation', activation: 'tanh' }, { className: 'Dense', units: 2 }]), undefined);
  assert.equal(chain([{ className: 'Dense', units: 4 }, { className: 'Dense', units: 2, activation: 'softmax' }, { className: 'Dropout' }]), undefined);
  // Softmax as a hidden activation: a chain, but not one rop.ts covers (not elementwise).
  const net = buildNetwork(model(3, [{ className: 'Dense', units: 4, activation: 'softmax' }, { className: 'Dense', units: 2 }]));
  const obj = new Objective(net, data(3, 2, 4, 'real'), loss('mean-squared-error'), 4);
  assert.equal(obj.rop, false);
  obj.dispose();
});
