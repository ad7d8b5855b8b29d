/**
 * Differentiable building blocks for the supported layers, written so that every op's gradient is
 * itself correctly differentiable in tfjs (see gradients.ts).
 *
 * Conv2D runs on tfjs' kernel with the differentiable gradient of conv.ts. Stacked convolutions and
 * max-pooling are built from their windows: for each kernel offset (a, b) a strided
 * slice of the padded input ("im2col" without a gather). Conv2D is then one matMul; max-pooling a chain
 * of `maximum`s. Slices, pads, reshapes, concats, matMuls and maximum all have input-based gradients that
 * are closed under differentiation, so no stock conv/pool gradient kernel (missing or wrong in tfjs for
 * second order, missing on wasm) is ever used.
 */
import { tf } from './tfjs.js';
import { nativeConv2d, nativeConvSupports, padOrCrop, type ConvGeometry } from './conv.js';

export type Activation = 'linear' | 'relu' | 'tanh' | 'softmax' | 'sigmoid' | 'elu' | 'gelu' | 'swish' | 'softplus' | 'leaky_relu';
export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'tanh', 'softmax', 'sigmoid', 'elu', 'gelu', 'swish', 'softplus', 'leaky_relu'];
/** Keras' other names for the same functions. */
export const ACTIVATION_ALIASES: Record<string, Activation> = { silu: 'swish', leakyrelu: 'leaky_relu', LeakyReLU: 'leaky_relu' };

/** log-softmax over the last axis, z − max − log Σ exp(z − max). */
/** `t` with a leading axis of `copies` identical copies (the stacked-weights layout); unchanged for one copy. */
export function stackCopies(t: tf.Tensor, copies: number): tf.Tensor {
  return copies === 1 ? t : tf.tile(tf.expandDims(t, 0), [copies, ...t.shape.map(() => 1)]);
}

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
    case 'elu':
      // relu(x) + exp(min(x, 0)) − 1: never evaluates exp of a large positive number, whose gradient
      // would be 0·∞ = NaN under a select.
      return tf.sub(tf.add(tf.relu(x), tf.exp(tf.neg(tf.relu(tf.neg(x))))), 1);
    case 'gelu':
      // Keras' default (approximate=False): x·Φ(x) = ½x(1 + erf(x/√2)).
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    case 'softplus':
      return tf.softplus(x);
    case 'leaky_relu':
      return leakyRelu(x, 0.2);
  }
}

/** max(x, 0) + α·min(x, 0) (Keras' default α = 0.2 for the activation, 0.3 for the layer). */
export function leakyRelu(x: tf.Tensor, alpha: number): tf.Tensor {
  return tf.sub(tf.relu(x), tf.mul(alpha, tf.relu(tf.neg(x))));
}

/**
 * x ⊙ scale + shift over the last axis, where with `copies` > 1 scale/shift are [K, C] and x holds the
 * K copies' batches one after another (see dense).
 */
export function channelAffine(x: tf.Tensor, scale: tf.Tensor | null, shift: tf.Tensor | null, copies = 1): tf.Tensor {
  if (copies === 1) {
    let y = scale ? tf.mul(x, scale) : x;
    if (shift) y = tf.add(y, shift);
    return y;
  }
  const c = x.shape[x.rank - 1];
  let y = tf.reshape(x, [copies, -1, c]);
  if (scale) y = tf.mul(y, tf.reshape(scale, [copies, 1, c]));
  if (shift) y = tf.add(y, tf.reshape(shift, [copies, 1, c]));
  return tf.reshape(y, x.shape);
}

/** Inference-mode batch normalisation over the last axis: γ(x − μ)/√(σ² + ε) + β with μ, σ² constants. */
export function batchNorm(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, epsilon: number, copies = 1): tf.Tensor {
  const inv = tf.div(1, tf.sqrt(tf.add(variance, epsilon)));
  const centred = tf.mul(tf.sub(x, mean), inv);
  return channelAffine(centred, gamma, beta, copies);
}

/** Layer normalisation over the last axis: γ(x − mean)/√(var + ε) + β, biased variance (Keras). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, epsilon: number, copies = 1): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const d = tf.sub(x, mean);
  const variance = tf.mean(tf.square(d), -1, true);
  return channelAffine(tf.div(d, tf.sqrt(tf.add(variance, epsilon))), gamma, beta, copies);
}

/**
 * Embedding lookup as one-hot × table: a matMul, whose gradients are correct to any order on every
 * backend (tfjs' gather gradient needs UnsortedSegmentSum, which wasm lacks). Tokens [N, …] → [N, …, D].
 */
export function embedding(tokens: tf.Tensor, table: tf.Tensor, copies = 1): tf.Tensor {
  const [vocab, dim] = table.shape.slice(-2);
  const ids = tf.cast(tf.reshape(tokens, [copies, -1]), 'int32');
  const hot = tf.cast(tf.oneHot(ids, vocab), 'float32');
  const y = copies === 1 ? tf.matMul(tf.reshape(hot, [-1, vocab]), tf.reshape(table, [vocab, dim])) : tf.matMul(hot as tf.Tensor3D, table as tf.Tensor3D);
  return tf.reshape(y, [...tokens.shape, dim]);
}

/**
 * x·kernel + bias over the last axis (Keras Dense semantics for any input rank).
 *
 * `copies` > 1 evaluates K independent copies of the layer in the same ops (a "vmap"): kernel [K, in, out],
 * bias [K, out], and x holds the K copies' batches one after another along axis 0. Used to compute K
 * Hessian-vector products at the price of one set of op dispatches.
 */
export function dense(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null, copies = 1): tf.Tensor {
  const [inDim, units] = kernel.shape.slice(-2);
  const lead = x.shape.slice(0, -1);
  let y: tf.Tensor;
  if (copies === 1) {
    y = tf.matMul(x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]), kernel as tf.Tensor2D);
    if (bias) y = tf.add(y, bias);
  } else {
    y = tf.matMul(tf.reshape(x, [copies, -1, inDim]) as tf.Tensor3D, kernel as tf.Tensor3D);
    if (bias) y = tf.add(y, tf.reshape(bias, [copies, 1, units]));
  }
  return x.rank === 2 && copies === 1 ? y : tf.reshape(y, [...lead, units]);
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

/** A convolution's strides, dilations and explicit padding (conv.ts) for a window on an input of this size. */
export function convGeometry(inHeight: number, inWidth: number, w: Window2D): ConvGeometry {
  const { pad } = windowGeometry(inHeight, inWidth, w);
  return { strides: w.strides, dilations: w.dilations, pads: [[pad.top, pad.bottom], [pad.left, pad.right]] };
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
  // Row a·d of a window is row q = ⌊a·d/s⌋ of phase r = a·d mod s (the rows ≡ r mod s); every phase
  // needs rowsP = ⌊(k−1)·d/s⌋ + out rows, so the padded input is cut or padded to exactly rowsP·s.
  const rowsP = Math.floor(((kh - 1) * dh) / sh) + oh;
  const colsP = Math.floor(((kw - 1) * dw) / sw) + ow;
  const full = padOrCrop(x, [g.pad.top, rowsP * sh - h - g.pad.top], [g.pad.left, colsP * sw - wd - g.pad.left], padValue);
  // Windows are cut with 2-D slices of reshaped views so that every copied run is as long as possible
  // (tfjs-wasm's Slice copies one innermost run per JS call).
  const rowsOf = (t: tf.Tensor4D, from: number, len: number): tf.Tensor4D => {
    const [tn, th, tw, tc] = t.shape;
    if (from === 0 && len === th) return t;
    return tf.reshape(tf.slice(tf.reshape(t, [tn, th * tw * tc]), [0, from * tw * tc], [tn, len * tw * tc]), [tn, len, tw, tc]);
  };
  const colsOf = (t: tf.Tensor4D, from: number, len: number): tf.Tensor4D => {
    const [tn, th, tw, tc] = t.shape;
    if (from === 0 && len === tw) return t;
    return tf.reshape(tf.slice(tf.reshape(t, [tn * th, tw * tc]), [0, from * tc], [tn * th, len * tc]), [tn, th, len, tc]);
  };
  // Strided windows: two 3-D transposes (tfjs-wasm's fast ones; its 5-D transpose is ~20× slower)
  // [n·rowsP, sh, colsP·sw·c] → [sh, …] and [sh·n·rowsP·colsP, sw, c] → [sw, …] make every phase (r, rc)
  // a contiguous block, index rc·sh + r; split cuts them out (and its gradient is one concat).
  const swap = (t: tf.Tensor, outer: number, s: number, inner: number) => (s === 1 ? t : tf.transpose(tf.reshape(t, [outer, s, inner]), [1, 0, 2]));
  const byPhase =
    sh === 1 && sw === 1
      ? [full]
      : tf.split(tf.reshape(swap(swap(full, n * rowsP, sh, colsP * sw * c), sh * n * rowsP * colsP, sw, c), [sw * sh, n * rowsP * colsP * c]), sw * sh).map((t) => tf.reshape(t, [n, rowsP, colsP, c]) as tf.Tensor4D);
  const phase = (r: number, rc: number): tf.Tensor4D => byPhase[rc * sh + r];
  const rowCache = new Map<string, tf.Tensor4D>();
  const out: tf.Tensor4D[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const [qa, ra] = [Math.floor((a * dh) / sh), (a * dh) % sh];
      const [qb, rb] = [Math.floor((b * dw) / sw), (b * dw) % sw];
      const key = `${qa},${ra},${rb}`;
      if (!rowCache.has(key)) rowCache.set(key, rowsOf(phase(ra, rb), qa, oh));
      out.push(colsOf(rowCache.get(key)!, qb, ow));
    }
  }
  return out;
}

/**
 * Conv2D (NHWC input, HWIO kernel); `copies` as in dense (kernel [K, kh, kw, in, out]). One copy runs on
 * tfjs' own kernel with conv.ts' gradient; stacked copies (and strided dilated kernels) as patches × kernel.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor, bias: tf.Tensor | null, w: Omit<Window2D, 'kernel'>, copies = 1): tf.Tensor4D {
  const [kh, kw] = kernel.shape.slice(-4);
  if (copies === 1) {
    const g = convGeometry(x.shape[1], x.shape[2], { ...w, kernel: [kh, kw] });
    if (nativeConvSupports(g)) {
      const y = nativeConv2d(x, kernel as tf.Tensor4D, g);
      return bias ? tf.add(y, bias) : y;
    }
  }
  return windowConv2d(x, kernel, bias, w, copies);
}

/** Conv2D as patches (windows) × kernel, for any stride, dilation and number of stacked copies. */
export function windowConv2d(x: tf.Tensor4D, kernel: tf.Tensor, bias: tf.Tensor | null, w: Omit<Window2D, 'kernel'>, copies = 1): tf.Tensor4D {
  const [kh, kw, ci, co] = kernel.shape.slice(-4);
  const parts = windows(x, { ...w, kernel: [kh, kw] }, 0);
  const [n, oh, ow] = parts[0].shape;
  const patches = parts.length === 1 ? parts[0] : tf.concat(parts, 3);
  let y: tf.Tensor;
  if (copies === 1) {
    y = tf.matMul(tf.reshape(patches, [n * oh * ow, kh * kw * ci]), tf.reshape(kernel, [kh * kw * ci, co]));
    if (bias) y = tf.add(y, bias);
  } else {
    y = tf.matMul(tf.reshape(patches, [copies, (n / copies) * oh * ow, kh * kw * ci]) as tf.Tensor3D, tf.reshape(kernel, [copies, kh * kw * ci, co]) as tf.Tensor3D);
    if (bias) y = tf.add(y, tf.reshape(bias, [copies, 1, co]));
  }
  return tf.reshape(y, [n, oh, ow, co]);
}

/**
 * DepthwiseConv2D (kernel [kh, kw, C, M], output channel c·M + m) as one batched matMul over channels:
 * windows [N·OH·OW, kk, C] → [C, N·OH·OW, kk] × [C, kk, M]. `copies` as in dense (kernel [K, kh, kw, C, M]).
 */
export function depthwiseConv2d(x: tf.Tensor4D, kernel: tf.Tensor, bias: tf.Tensor | null, w: Omit<Window2D, 'kernel'>, copies = 1): tf.Tensor4D {
  const [kh, kw, c, m] = kernel.shape.slice(-4);
  const parts = windows(x, { ...w, kernel: [kh, kw] }, 0);
  const [n, oh, ow] = parts[0].shape;
  const kk = kh * kw;
  const per = (n / copies) * oh * ow;
  const patches = tf.reshape(parts.length === 1 ? parts[0] : tf.concat(parts, 3), [copies, per, kk, c]);
  const lhs = tf.reshape(tf.transpose(patches, [0, 3, 1, 2]), [copies * c, per, kk]);
  const rhs = tf.reshape(tf.transpose(tf.reshape(kernel, [copies, kk, c, m]), [0, 2, 1, 3]), [copies * c, kk, m]);
  const prod = tf.matMul(lhs as tf.Tensor3D, rhs as tf.Tensor3D); // [K·C, per, M]
  const y = tf.reshape(tf.transpose(tf.reshape(prod, [copies, c, per, m]), [0, 2, 1, 3]), [n * oh * ow, c * m]);
  return tf.reshape(bias ? channelAffine(y, null, bias, copies) : y, [n, oh, ow, c * m]);
}

/** Average pooling over the valid (unpadded) entries of each window, as TensorFlow does. */
export function avgPool(x: tf.Tensor4D, w: Window2D): tf.Tensor4D {
  const parts = windows(x, w, 0);
  const sum = parts.length === 1 ? parts[0] : (tf.addN(parts) as tf.Tensor4D);
  if (w.padding === 'valid') return tf.div(sum, parts.length);
  // Counts of real entries per window: the same windows over ones (a constant, not differentiated).
  const counts = tf.tidy(() => {
    const ones = tf.ones([1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D;
    return tf.addN(windows(ones, w, 0));
  });
  return tf.div(sum, counts);
}

/**
 * Max-pooling as the elementwise maximum of its windows (padding never wins; ties go to the first
 * window, as in TensorFlow). Without padding, max(m, p) is written m + relu(p − m): the same value to
 * rounding and the same gradient, at a quarter of the time of tfjs-wasm's maximum and its mask ops.
 */
export function maxPool(x: tf.Tensor4D, w: Window2D, prePadded = false): tf.Tensor4D {
  const { pad } = windowGeometry(x.shape[1], x.shape[2], w);
  const parts = windows(x, w, -3.0e38);
  // With padding (here, or by the caller: `prePadded`), m − p could be ~3e38 and m + relu(p − m) would
  // lose p entirely.
  const padded = prePadded || pad.top || pad.bottom || pad.left || pad.right;
  return parts.reduce((m, p) => (padded ? tf.maximum(m, p) : tf.add(m, tf.relu(tf.sub(p, m)))) as tf.Tensor4D);
}
