/**
 * Second-order-correct gradients for TensorFlow.js 4.22.
 *
 * tfjs records the copy of a kernel's *saved output* on the tape before the kernel itself, so a gradient
 * that reads its own op's output (tanh, sigmoid, exp, max, softmax, …) silently loses a dependency when it
 * is differentiated again (tensorflow/tfjs#3252; measured 21–69 % error on single ops). Each gradient
 * registered here recomputes what it needs from the saved *inputs*, which the tape orders correctly, and
 * uses only ops whose own gradients are again correct. Comparison ops get their (zero almost everywhere)
 * gradient, so masks such as max's can be differentiated through.
 *
 * Conv2D's gradient is conv.ts' (forward convolutions, closed under differentiation). Pooling and the
 * stacked or depthwise convolutions are built from slices, pads and matMuls (see layers.ts), whose
 * stock gradients are input-based and closed under differentiation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dGradConfig, registerConvGradients } from './conv.js';

type Saved = tf.Tensor[];

function unary(kernelName: string, d: (x: tf.Tensor) => tf.Tensor): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as Saved;
      return { x: () => tf.mul(dy as tf.Tensor, d(x)) };
    },
  };
}

function zeroGrad(kernelName: string): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, saved) => {
      const [a, b] = saved as Saved;
      return { a: () => tf.zeros(a.shape), b: () => tf.zeros(b.shape) };
    },
  };
}

const maxGrad: tf.GradConfig = {
  kernelName: 'Max',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as Saved;
    const { reductionIndices } = attrs as { reductionIndices: number | number[] };
    const axes = tf.util.parseAxisParam(reductionIndices, x.shape);
    const d = dy as tf.Tensor;
    const kept = d.rank < x.rank ? tf.reshape(d, tf.backend_util.expandShapeToKeepDim(d.shape, axes)) : d;
    const mask = tf.cast(tf.equal(x, tf.max(x, axes, true)), 'float32');
    return { x: () => tf.mul(kept, mask) };
  },
};

/** softmax(x) = exp(log-softmax(x)); dx = s ⊙ (dy − Σ dy ⊙ s), with s recomputed from x. */
const softmaxGrad: tf.GradConfig = {
  kernelName: 'Softmax',
  inputsToSave: ['logits'],
  gradFunc: (dy, saved) => {
    const [x] = saved as Saved;
    const shifted = tf.sub(x, tf.max(x, -1, true));
    const s = tf.exp(tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true))));
    const d = dy as tf.Tensor;
    return { logits: () => tf.mul(s, tf.sub(d, tf.sum(tf.mul(d, s), -1, true))) };
  },
};

/** Swaps the last two axes (a materialised transpose). */
function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tf.transpose(t, perm);
}

/**
 * matMul's gradient with the transposes materialised instead of passed as flags: the same products
 * (the stock gradient's), but tfjs-wasm's BatchMatMul with transposeA is ~10× slower than a transpose
 * followed by a plain product. Input-based, so second order stays correct.
 */
const batchMatMulGrad: tf.GradConfig = {
  kernelName: 'BatchMatMul',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved as Saved;
    const d = dy as tf.Tensor;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const mm = (x: tf.Tensor, tx: boolean, y: tf.Tensor, ty: boolean) => tf.matMul(tx ? swapLast(x) : x, ty ? swapLast(y) : y);
    if (!transposeA && !transposeB) return { a: () => mm(d, false, b, true), b: () => mm(a, true, d, false) };
    if (!transposeA && transposeB) return { a: () => mm(d, false, b, false), b: () => mm(d, true, a, false) };
    if (transposeA && !transposeB) return { a: () => mm(b, false, d, true), b: () => mm(a, false, d, false) };
    return { a: () => mm(b, true, d, true), b: () => mm(d, true, a, true) };
  },
};

/** Registers (again, if called again) the second-order-correct gradients over tfjs' own. */
export function registerSecondOrderGradients(): void {
  const configs: tf.GradConfig[] = [
    unary('Tanh', (x) => tf.sub(1, tf.square(tf.tanh(x)))),
    unary('Sigmoid', (x) => {
      const s = tf.sigmoid(x);
      return tf.mul(s, tf.sub(1, s));
    }),
    unary('Exp', (x) => tf.exp(x)),
    maxGrad,
    softmaxGrad,
    batchMatMulGrad,
    conv2dGradConfig,
    ...['Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual'].map(zeroGrad),
  ];
  for (const c of configs) tf.registerGradient(c);
  registerConvGradients(['cpu', 'wasm', 'tensorflow']);
}
