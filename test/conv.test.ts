/**
 * conv.ts: Conv2D on tfjs' kernel with forward-conv gradients must give the same value, gradient and
 * exact HVP as the independent window (im2col) construction, which gradcheck.test.ts ties to torch
 * float64, for every stride, dilation, padding and kernel shape, on every available backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activateBackend, tf } from '../extension/engine/tfjs.js';
import { hessianVectorProduct, valueAndGrads } from '../extension/engine/autodiff.js';
import { conv2d, maxPool, windowConv2d, windows, type Window2D } from '../extension/engine/layers.js';
import { Rng } from '../extension/estimators/rng.js';
import { availableBackends, relL2 } from './helpers.js';

type Geo = Omit<Window2D, 'kernel'> & { input: [number, number, number, number]; kernel: [number, number, number, number] };

const CASES: Geo[] = [
  { input: [2, 7, 7, 2], kernel: [3, 3, 2, 3], strides: [1, 1], dilations: [1, 1], padding: 'valid' },
  { input: [2, 6, 5, 3], kernel: [3, 3, 3, 2], strides: [1, 1], dilations: [1, 1], padding: 'same' },
  { input: [2, 7, 8, 2], kernel: [3, 3, 2, 4], strides: [2, 2], dilations: [1, 1], padding: 'same' },
  { input: [1, 9, 7, 2], kernel: [3, 2, 2, 3], strides: [2, 3], dilations: [1, 1], padding: 'valid' },
  { input: [2, 8, 8, 1], kernel: [2, 2, 1, 3], strides: [1, 1], dilations: [1, 1], padding: 'same' },
  { input: [1, 9, 9, 2], kernel: [3, 3, 2, 2], strides: [1, 1], dilations: [2, 2], padding: 'same' },
  { input: [1, 9, 8, 2], kernel: [2, 3, 2, 2], strides: [1, 1], dilations: [2, 1], padding: 'valid' },
  { input: [2, 5, 5, 3], kernel: [1, 1, 3, 4], strides: [2, 2], dilations: [1, 1], padding: 'valid' },
  { input: [1, 10, 9, 2], kernel: [4, 4, 2, 2], strides: [3, 3], dilations: [1, 1], padding: 'same' },
  { input: [1, 4, 4, 2], kernel: [4, 4, 2, 3], strides: [1, 1], dilations: [1, 1], padding: 'valid' },
  // Strided and dilated at once: tfjs' kernel cannot, so both paths are windows (a consistency check).
  { input: [1, 11, 11, 1], kernel: [3, 3, 1, 2], strides: [2, 2], dilations: [2, 2], padding: 'same' },
];

function randn(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

/** f(x, W, b) = Σ c ⊙ tanh(conv(x, W) + b): curvature from both the conv (bilinear) and the tanh. */
function objective(op: typeof conv2d, c: Geo, coef: tf.Tensor, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) {
  return () => tf.sum(tf.mul(coef, tf.tanh(op(x as tf.Tensor4D, w, b, c)))) as tf.Scalar;
}

test('native Conv2D: value, gradient and HVP equal the window construction (every geometry, every backend)', async (t) => {
  for (const backend of await availableBackends()) {
    await activateBackend(backend);
    for (const c of CASES) {
      await t.test(`${backend} ${JSON.stringify(c)}`, () => {
        tf.tidy(() => {
          const rng = new Rng(7);
          const x = randn(rng, c.input);
          const w = tf.mul(randn(rng, c.kernel), 0.4);
          const b = randn(rng, [c.kernel[3]]);
          const out = tf.tidy(() => windowConv2d(x as tf.Tensor4D, w, b, c));
          const coef = randn(rng, out.shape);
          const vs = [randn(rng, c.input), randn(rng, c.kernel), randn(rng, [c.kernel[3]])];
          const results = [conv2d, windowConv2d].map((op) => {
            const f = objective(op, c, coef, x, w, b);
            const { value, grads } = valueAndGrads(f, [x, w, b]);
            const hv = hessianVectorProduct(f, [x, w, b], vs);
            return { value: value.dataSync()[0], grads: grads.map((g) => g.dataSync()), hv: hv.map((h) => h.dataSync()) };
          });
          const [nat, win] = results;
          assert.ok(Math.abs(nat.value - win.value) <= 1e-5 * (1 + Math.abs(win.value)), `value ${nat.value} vs ${win.value}`);
          for (let i = 0; i < 3; i++) {
            const ge = relL2(nat.grads[i], win.grads[i]);
            const he = relL2(nat.hv[i], win.hv[i]);
            assert.ok(ge < 2e-5, `gradient ${i} relative error ${ge}`);
            assert.ok(he < 2e-5, `HVP ${i} relative error ${he}`);
          }
          // And the HVP is not trivially zero in any block (all three get curvature).
          for (let i = 0; i < 3; i++) assert.ok(Math.max(...win.hv[i].map(Math.abs)) > 1e-3);
        });
      });
    }
  }
});

test('max-pooling without padding (m + relu(p − m)) equals the maximum and sends ties to the first window', async () => {
  for (const backend of await availableBackends()) {
    await activateBackend(backend);
    tf.tidy(() => {
      // Ties everywhere (zeros, as after a relu) and exact values to compare.
      const x = tf.tensor4d([0, 0, 3, 1, 0, 0, 1, 3, 5, 2, 0, 0, 2, 5, 0, 0], [1, 4, 4, 1]);
      const w: Window2D = { kernel: [2, 2], strides: [2, 2], dilations: [1, 1], padding: 'valid' };
      assert.deepEqual([...maxPool(x, w).dataSync()], [0, 3, 5, 0]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(maxPool(t as tf.Tensor4D, w)))(x);
      // Window order is row-major over the kernel: the first zero of a tied window gets the gradient.
      assert.deepEqual([...g.dataSync()], [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
      // The same value as a plain maximum of the windows for random input.
      const r = randn(new Rng(3), [2, 6, 6, 3]) as tf.Tensor4D;
      const ref = windows(r, w, -3e38).reduce((m, p) => tf.maximum(m, p) as tf.Tensor4D);
      assert.ok(relL2(maxPool(r, w).dataSync(), ref.dataSync()) < 1e-7);
    });
  }
});
