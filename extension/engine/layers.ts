/**
 * Differentiable building blocks for the supported layers, written so that every op's gradient is
 * itself correctly differentiable in tfjs (see gradients.ts).
 *
 * Convolution and max-pooling are built from their windows: for each kernel offset (a, b) a strided
 * slice of the padded input ("im2col" without a gather). Conv2D is then one matMul; max-pooling a chain
 * of `maximum`s. Slices, pads, reshapes, concats, matMuls and maximum all have input-based gradients that
 * are closed under differentiation, so no stock conv/pool gradient kernel (missing or wrong in tfjs for
 * second order, missing on wasm) is ever used.
 */
import { tf } from './tfjs.js';

export type Activation = 'linear' | 'relu' | 'tanh' | 'softmax' | 'sigmoid';
export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'tanh', 'softmax', 'sigmoid'];

/** log-softmax over the last axis, z − max − log Σ exp(z − max). */
export function logSoftmax(z: tf.Tensor): tf.Tensor {
  const shifted = tf.sub(z, tf.max(z, -1, true));
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
}

export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'softmax':
      return tf.exp(logSoftmax(x));
  }
}

/** x·kernel + bias over the last axis (Keras Dense semantics for any input rank). */
export function dense(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  const [inDim, units] = kernel.shape;
  const lead = x.shape.slice(0, -1);
  let y = tf.matMul(x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]), kernel as tf.Tensor2D) as tf.Tensor;
  if (bias) y = tf.add(y, bias);
  return x.rank === 2 ? y : tf.reshape(y, [...lead, units]);
}

export interface Window2D {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padding: 'valid' | 'same';
}

export interface WindowGeometry {
  outHeight: number;
  outWidth: number;
  pad: { top: number; bottom: number; left: number; right: number };
}

/** Output size and TensorFlow's padding (the extra row/column of "same" goes bottom/right). */
export function windowGeometry(inHeight: number, inWidth: number, w: Window2D): WindowGeometry {
  const dim = (n: number, k: number, s: number, d: number) => {
    const eff = (k - 1) * d + 1;
    if (w.padding === 'valid') return { out: Math.max(Math.floor((n - eff) / s) + 1, 0), before: 0, after: 0 };
    const out = Math.ceil(n / s);
    const total = Math.max((out - 1) * s + eff - n, 0);
    return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
  };
  const h = dim(inHeight, w.kernel[0], w.strides[0], w.dilations[0]);
  const v = dim(inWidth, w.kernel[1], w.strides[1], w.dilations[1]);
  return { outHeight: h.out, outWidth: v.out, pad: { top: h.before, bottom: h.after, left: v.before, right: v.after } };
}

/**
 * The kernel-offset windows of an NHWC tensor: for each (a, b) in row-major kernel order, the tensor
 * [N, outH, outW, C] of x[n, i·s + a·d − padTop, j·s + b·d − padLeft, c] (padValue outside).
 */
export function windows(x: tf.Tensor4D, w: Window2D, padValue: number): tf.Tensor4D[] {
  const [n, h, wd, c] = x.shape;
  const g = windowGeometry(h, wd, w);
  const [kh, kw] = w.kernel;
  const [sh, sw] = w.strides;
  const [dh, dw] = w.dilations;
  const { outHeight: oh, outWidth: ow } = g;
  // Pad so that every strided slice of length out·s starting at a kernel offset fits.
  const needH = (kh - 1) * dh + oh * sh;
  const needW = (kw - 1) * dw + ow * sw;
  const padH = h + g.pad.top + g.pad.bottom;
  const padW = wd + g.pad.left + g.pad.right;
  const extraBottom = Math.max(needH - padH, 0);
  const extraRight = Math.max(needW - padW, 0);
  const pads: Array<[number, number]> = [[0, 0], [g.pad.top, g.pad.bottom + extraBottom], [g.pad.left, g.pad.right + extraRight], [0, 0]];
  const xp = pads.some(([a, b]) => a || b) ? tf.pad(x, pads, padValue) : x;
  const out: tf.Tensor4D[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      let s = tf.slice(xp, [0, a * dh, b * dw, 0], [n, oh * sh, ow * sw, c]);
      if (sh !== 1 || sw !== 1) {
        s = tf.reshape(tf.slice(tf.reshape(s, [n, oh, sh, ow, sw, c]), [0, 0, 0, 0, 0, 0], [n, oh, 1, ow, 1, c]), [n, oh, ow, c]);
      }
      out.push(s as tf.Tensor4D);
    }
  }
  return out;
}

/** Conv2D (NHWC input, HWIO kernel) as patches × kernel. */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor | null, w: Omit<Window2D, 'kernel'>): tf.Tensor4D {
  const [kh, kw, ci, co] = kernel.shape;
  const parts = windows(x, { ...w, kernel: [kh, kw] }, 0);
  const [n, oh, ow] = parts[0].shape;
  const patches = parts.length === 1 ? parts[0] : tf.concat(parts, 3);
  let y = tf.matMul(tf.reshape(patches, [n * oh * ow, kh * kw * ci]), tf.reshape(kernel, [kh * kw * ci, co])) as tf.Tensor;
  if (bias) y = tf.add(y, bias);
  return tf.reshape(y, [n, oh, ow, co]);
}

/** Max-pooling as the elementwise maximum of its windows (padding never wins). */
export function maxPool(x: tf.Tensor4D, w: Window2D): tf.Tensor4D {
  const parts = windows(x, w, -3.0e38);
  return parts.reduce((m, p) => tf.maximum(m, p) as tf.Tensor4D);
}
