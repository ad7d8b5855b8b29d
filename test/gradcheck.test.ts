/**
 * Gradcheck: for every supported op, on every available backend, the gradient and the exact HVP of a
 * scalar objective agree with a float64 reference (torch, test/fixtures/ops.json, made by
 * scripts/make_op_fixtures.py) and with central finite differences of the backend's own gradient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { activateBackend, tf } from '../extension/engine/tfjs.js';
import { hessianVectorProduct, valueAndGrads } from '../extension/engine/autodiff.js';
import { activate, avgPool, batchNorm, conv2d, dense, depthwiseConv2d, embedding, layerNorm, leakyRelu, maxPool, type Activation } from '../extension/engine/layers.js';
import { lossSum, type LossName } from '../extension/engine/loss.js';
import { availableBackends, relL2 } from './helpers.js';

interface Case {
  name: string;
  op: string;
  attrs: Record<string, any>;
  inputs: Record<string, { shape: number[]; values: number[] }>;
  wrt: string[];
  objective: 'half-weighted-square' | 'value';
  c?: { shape: number[]; values: number[] };
  v: Record<string, number[]>;
  expected: { f: number; grad: Record<string, number[]>; hvp: Record<string, number[]> };
}

const cases: Case[] = JSON.parse(readFileSync('test/fixtures/ops.json', 'utf8'));
const ACT = new Set(['relu', 'tanh', 'sigmoid', 'softmax', 'linear', 'elu', 'gelu', 'swish', 'softplus']);
const LOSS: Record<string, LossName> = {
  sparse_softmax_ce: 'sparse-categorical-cross-entropy',
  softmax_ce: 'categorical-cross-entropy',
  sigmoid_bce: 'binary-cross-entropy',
  mse: 'mean-squared-error',
};
const OPS = ['dense', 'conv2d', 'maxpool2d', 'flatten', 'reshape', 'mlp_chain', 'leaky_relu', 'depthwise_conv2d', 'avgpool2d', 'global_avgpool2d', 'batchnorm', 'layernorm', 'embedding', 'add', 'multiply', 'concatenate'];
const supported = (c: Case) => ACT.has(c.op) || OPS.includes(c.op) || c.op in LOSS;

function meanLoss(name: LossName, z: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.div(lossSum({ name, fromLogits: true, reason: '' }, 'linear', z, y), z.shape[0]) as tf.Scalar;
}

function oneHot(labels: tf.Tensor, classes: number): tf.Tensor {
  return tf.cast(tf.oneHot(tf.cast(tf.reshape(labels, [-1]), 'int32'), classes), 'float32');
}

function forward(c: Case, t: Record<string, tf.Tensor>): tf.Tensor {
  const a = c.attrs;
  if (ACT.has(c.op)) return activate(t.x, c.op as Activation);
  switch (c.op) {
    case 'dense':
      return dense(t.x, t.kernel, t.bias);
    case 'leaky_relu':
      return leakyRelu(t.x, a.alpha);
    case 'depthwise_conv2d':
      return depthwiseConv2d(t.x as tf.Tensor4D, t.kernel, t.bias, { strides: a.strides, dilations: a.dilations ?? [1, 1], padding: a.padding });
    case 'avgpool2d':
      return avgPool(t.x as tf.Tensor4D, { kernel: a.poolSize, strides: a.strides, dilations: [1, 1], padding: a.padding });
    case 'global_avgpool2d':
      return tf.mean(t.x, [1, 2]);
    case 'batchnorm':
      return batchNorm(t.x, t.moving_mean, t.moving_variance, t.gamma, t.beta, a.epsilon);
    case 'layernorm':
      return layerNorm(t.x, t.gamma, t.beta, a.epsilon);
    case 'embedding':
      return embedding(t.indices, t.table);
    case 'add':
      return tf.add(t.a, t.b);
    case 'multiply':
      return tf.mul(t.a, t.b);
    case 'concatenate':
      return tf.concat([t.a, t.b], a.axis ?? -1);
    case 'conv2d':
      return conv2d(t.x as tf.Tensor4D, t.kernel as tf.Tensor4D, t.bias, { strides: a.strides, dilations: a.dilations, padding: a.padding });
    case 'maxpool2d':
      return maxPool(t.x as tf.Tensor4D, { kernel: a.poolSize, strides: a.strides, dilations: [1, 1], padding: a.padding });
    case 'flatten':
      return tf.reshape(t.x, [t.x.shape[0], -1]);
    case 'reshape':
      return tf.reshape(t.x, a.shape);
    case 'sparse_softmax_ce':
      return meanLoss(LOSS[c.op], t.logits, oneHot(t.labels, t.logits.shape[1]!));
    case 'softmax_ce':
    case 'sigmoid_bce':
      return meanLoss(LOSS[c.op], t.logits, t.labels);
    case 'mse':
      return meanLoss(LOSS[c.op], t.pred, t.targets);
    case 'mlp_chain':
      return meanLoss('categorical-cross-entropy', dense(tf.tanh(dense(t.x, t.kernel1, t.bias1)), t.kernel2, t.bias2), t.labels);
  }
  throw new Error(`unsupported op ${c.op}`);
}

function run(c: Case, shift?: { by: number; dir: Record<string, number[]> }) {
  return tf.tidy(() => {
    const t: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) {
      const vals = shift && shift.dir[k] ? v.values.map((x, i) => x + shift.by * shift.dir[k][i]) : v.values;
      t[k] = tf.tensor(vals, v.shape);
    }
    const xs = c.wrt.map((k) => t[k]);
    const f = (): tf.Scalar => {
      const y = forward(c, t);
      if (c.objective === 'value') return y as tf.Scalar;
      return tf.mul(0.5, tf.sum(tf.mul(tf.tensor(c.c!.values, c.c!.shape), tf.square(y)))) as tf.Scalar;
    };
    const { value, grads } = valueAndGrads(f, xs);
    const hv = hessianVectorProduct(f, xs, c.wrt.map((k) => tf.tensor(c.v[k], t[k].shape)));
    const flat = (ts: tf.Tensor[]) => Array.from(tf.concat(ts.map((g) => tf.reshape(g, [-1]))).dataSync());
    return { f: value.dataSync()[0], grad: flat(grads), hvp: flat(hv) };
  });
}

const table: string[] = [];

test('gradcheck: every supported op on every available backend', async (t) => {
  const backends = await availableBackends();
  for (const backend of backends) {
    await activateBackend(backend);
    for (const c of cases.filter(supported)) {
      await t.test(`${backend} ${c.name}`, () => {
        const before = tf.memory().numTensors;
        const r = run(c);
        const cat = (m: Record<string, number[]>) => c.wrt.flatMap((k) => m[k]);
        const eps = 1e-3;
        const plus = run(c, { by: eps, dir: c.v });
        const minus = run(c, { by: -eps, dir: c.v });
        const fd = plus.grad.map((g, i) => (g - minus.grad[i]) / (2 * eps));
        const eF = Math.abs(r.f - c.expected.f) / Math.max(Math.abs(c.expected.f), 1e-6);
        const eG = relL2(r.grad, cat(c.expected.grad));
        const eH = relL2(r.hvp, cat(c.expected.hvp));
        const eFd = relL2(r.hvp, fd);
        table.push(`${backend.padEnd(10)} ${c.name.padEnd(24)} f ${eF.toExponential(1)}  grad ${eG.toExponential(1)}  hvp ${eH.toExponential(1)}  hvp-vs-fd ${eFd.toExponential(1)}`);
        assert.ok(eF < 1e-5, `f error ${eF}`);
        assert.ok(eG < 1e-5, `gradient error ${eG}`);
        assert.ok(eH < 1e-4, `HVP error vs float64 ${eH}`);
        assert.ok(eFd < 5e-3, `HVP vs finite differences ${eFd}`);
        assert.equal(tf.memory().numTensors, before, 'tensor leak');
      });
    }
  }
  await activateBackend('cpu');
  console.log(['# relative errors (float32 engine vs float64 torch; HVP vs central differences of the gradient, eps 1e-3)', ...table.map((l) => `#   ${l}`)].join('\n'));
});
