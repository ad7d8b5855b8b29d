/**
 * Conv2D on tfjs' native kernel, with a gradient that is again made of forward conv2d ops, so that it
 * can be differentiated to any order (tfjs registers no gradient for Conv2DBackpropInput/Filter, and
 * tfjs-wasm has no Conv2DBackpropFilter kernel at all).
 *
 * For y = conv(x, W) with strides s, dilations d and explicit padding (pₜ, p_b) per spatial axis,
 * x padded to xp (length Hp = H + pₜ + p_b), y[i] = Σₐ xp[i·s + a·d] W[a]:
 *
 *   ∂x: dxp[h] = Σₐ D[h − a·d] W[a], with D the output gradient dilated by s (zeros between rows),
 *       i.e. a stride-1 convolution of D, padded by (k−1)·d before, with the flipped kernel W[k−1−a]
 *       whose in/out channels are swapped; then rows [pₜ, pₜ + H) of dxp.
 *   ∂W: dW[a, c, o] = Σₙ,ᵢ xp[n, i·s + a·d, c] dy[n, i, o]: a convolution of xp with batch and channel
 *       axes swapped (batch c, channels n) by D (spatial filter, in-channels n, out-channels o) with
 *       stride d, keeping the first k outputs.
 *
 * Both are built from conv2d, pad, slice, reshape, transpose and reverse, and registered as kernels of
 * their own whose gradients are again conv, ∂x and ∂W with the same geometry (all three are bilinear), so
 * the construction is closed under differentiation — the identities of TensorFlow's
 * `_Conv2DBackpropInputGrad`/`_Conv2DBackpropFilterGrad` (nn_grad.py). rop.ts calls the raw ∂x and ∂W
 * directly (no tape there).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Per spatial axis: kernel k, stride s, dilation d, padding before/after. */
interface Axis {
  k: number;
  s: number;
  d: number;
  before: number;
  after: number;
}

export interface ConvGeometry {
  strides: [number, number];
  dilations: [number, number];
  /** [[top, bottom], [left, right]]. */
  pads: [[number, number], [number, number]];
}

/** y = conv2d(x, W) (NHWC, HWIO) with explicit padding, differentiable to any order (see above). */
export function nativeConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.conv2d(x, kernel, g.strides, [[0, 0], g.pads[0], g.pads[1], [0, 0]], 'NHWC', g.dilations);
}

/** tfjs runs strided and dilated convolutions only separately. */
export function nativeConvSupports(g: ConvGeometry): boolean {
  return g.strides.every((s) => s === 1) || g.dilations.every((d) => d === 1);
}

function axes(kernel: number[], g: ConvGeometry): [Axis, Axis] {
  const axis = (i: 0 | 1): Axis => ({ k: kernel[i], s: g.strides[i], d: g.dilations[i], before: g.pads[i][0], after: g.pads[i][1] });
  return [axis(0), axis(1)];
}

/** dy with s − 1 zero rows/columns between its rows/columns: [N, (OH−1)·sh + 1, (OW−1)·sw + 1, C]. */
function dilateRows(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.slice(tf.reshape(spread, [n, oh * sh, ow * sw, c]) as tf.Tensor4D, [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c]);
}

/** Pads (positive, with `value`) or crops (negative) the two spatial axes of an NHWC tensor. */
export function padOrCrop(t: tf.Tensor4D, rows: [number, number], cols: [number, number], value = 0): tf.Tensor4D {
  const padded = rows.some((p) => p > 0) || cols.some((p) => p > 0) ? tf.pad(t, [[0, 0], rows.map((p) => Math.max(p, 0)) as [number, number], cols.map((p) => Math.max(p, 0)) as [number, number], [0, 0]], value) : t;
  if (rows.every((p) => p >= 0) && cols.every((p) => p >= 0)) return padded;
  const [n, h, w, c] = padded.shape;
  const top = Math.max(-rows[0], 0);
  const left = Math.max(-cols[0], 0);
  return tf.slice(padded, [0, top, left, 0], [n, h - top - Math.max(-rows[1], 0), w - left - Math.max(-cols[1], 0), c]);
}

/** ∂L/∂x of y = conv(x, W), given dy = ∂L/∂y as plain ops (under a tape use convInputGrad, whose gradient is cheap). */
export function rawInputGrad(dy: tf.Tensor4D, kernel: tf.Tensor4D, inShape: number[], g: ConvGeometry): tf.Tensor4D {
  return inputGradOf(inputGradDy(dy, kernel.shape, inShape, g), inputGradKernel(kernel), g);
}

/** ∂x's dy side: dy dilated by the strides and padded (or cropped) for a stride-1 full convolution. */
export function inputGradDy(dy: tf.Tensor4D, kernelShape: number[], inShape: number[], g: ConvGeometry): tf.Tensor4D {
  const [rows, cols] = axes(kernelShape, g);
  const dil = dilateRows(dy, rows.s, cols.s);
  const [, lh, lw] = dil.shape;
  const [, h, w] = inShape;
  // Rows of dxp are h' ∈ [0, Hp); keep [pₜ, pₜ + H): pad D by (k−1)d − pₜ before and H + pₜ − L after.
  const before = (a: Axis) => (a.k - 1) * a.d - a.before;
  return padOrCrop(dil, [before(rows), h + rows.before - lh], [before(cols), w + cols.before - lw]);
}

/** ∂x's kernel side: W flipped in space, in/out channels swapped. */
export function inputGradKernel(kernel: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
}

/** ∂x from its two prepared sides (inputGradDy, inputGradKernel). */
export function inputGradOf(dy: tf.Tensor4D, kernel: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.conv2d(dy, kernel, 1, 'valid', 'NHWC', g.dilations);
}

/** ∂L/∂W of y = conv(x, W), given dy = ∂L/∂y as plain ops (under a tape use convFilterGrad, whose gradient is cheap). */
export function rawFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, kernelShape: number[], g: ConvGeometry): tf.Tensor4D {
  return filterGradOf(filterGradX(x, g), filterGradDy(dy, g), kernelShape, g);
}

/** ∂W's x side: x padded, batch and channel axes swapped, [C, Hp, Wp, N]. */
export function filterGradX(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const xp = padOrCrop(x, g.pads[0], g.pads[1]);
  return tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
}

/** ∂W's dy side: dy dilated by the strides, as a filter [L, L', N, O]. */
export function filterGradDy(dy: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.transpose(dilateRows(dy, g.strides[0], g.strides[1]), [1, 2, 0, 3]) as tf.Tensor4D;
}

/** ∂W from its two prepared sides (filterGradX, filterGradDy). */
export function filterGradOf(x: tf.Tensor4D, dy: tf.Tensor4D, kernelShape: number[], g: ConvGeometry): tf.Tensor4D {
  const [kh, kw] = kernelShape;
  const full = tf.conv2d(x, dy, g.dilations, 'valid'); // [C, ≥ kh, ≥ kw, O]
  const [c, fh, fw, o] = full.shape;
  const kept = fh === kh && fw === kw ? full : tf.slice(full, [0, 0, 0, 0], [c, kh, kw, o]);
  return tf.transpose(kept, [1, 2, 0, 3]) as tf.Tensor4D;
}

/**
 * The two gradients as kernels of their own (so that tfjs records one tape node each, on every
 * backend) whose gradients are again conv, inputGrad and filterGrad with the same geometry — both
 * are bilinear:
 *   ⟨ḡ, inputGrad(dy, W)⟩ = ⟨conv(ḡ, W), dy⟩ = ⟨filterGrad(ḡ, dy), W⟩,
 *   ⟨Ḡ, filterGrad(x, dy)⟩ = ⟨inputGrad(dy, Ḡ), x⟩ = ⟨conv(x, Ḡ), dy⟩.
 * Differentiating the conv-made raw gradients instead would run the second-order product as a
 * convolution with a filter as large as the image (20× the work, measured on a 28×28 CNN). As
 * registered gradients, each part is computed only when its input needs it (not for the data).
 */
const INPUT_GRAD = 'CurvatureLensConv2DInputGrad';
const FILTER_GRAD = 'CurvatureLensConv2DFilterGrad';

type GeometryAttrs = { strides: [number, number]; dilations: [number, number]; pads: [number, number, number, number]; shape: number[] };
const toAttrs = (g: ConvGeometry, shape: number[]): GeometryAttrs => ({ strides: g.strides, dilations: g.dilations, pads: [...g.pads[0], ...g.pads[1]], shape });
const fromAttrs = (a: unknown): { g: ConvGeometry; shape: number[] } => {
  const { strides, dilations, pads, shape } = a as GeometryAttrs;
  return { g: { strides, dilations, pads: [[pads[0], pads[1]], [pads[2], pads[3]]] }, shape };
};

export function convInputGrad(dy: tf.Tensor4D, kernel: tf.Tensor4D, inShape: number[], g: ConvGeometry): tf.Tensor4D {
  return tf.engine().runKernel(INPUT_GRAD, { dy, filter: kernel }, toAttrs(g, inShape) as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

export function convFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, kernelShape: number[], g: ConvGeometry): tf.Tensor4D {
  return tf.engine().runKernel(FILTER_GRAD, { x, dy }, toAttrs(g, kernelShape) as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** Registers the two kernels (built from tfjs ops, so for any backend) and their gradients. */
export function registerConvGradients(backends: readonly string[]): void {
  const kernels: Array<[string, (t: Record<string, T4>, shape: number[], g: ConvGeometry) => T4]> = [
    [INPUT_GRAD, (t, shape, g) => rawInputGrad(t.dy, t.filter, shape, g)],
    [FILTER_GRAD, (t, shape, g) => rawFilterGrad(t.x, t.dy, shape, g)],
  ];
  for (const backendName of backends) {
    for (const [kernelName, f] of kernels) {
      if (tf.getKernel(kernelName, backendName)) continue;
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: ({ inputs, attrs }) => {
          const { g, shape } = fromAttrs(attrs);
          return tf.tidy(() => f(inputs as Record<string, T4>, shape, g));
        },
      });
    }
  }
  tf.registerGradient({
    kernelName: INPUT_GRAD,
    inputsToSave: ['dy', 'filter'],
    gradFunc: (up, saved, attrs) => {
      const [dy, filter] = saved as [T4, T4];
      const { g } = fromAttrs(attrs);
      return { dy: () => nativeConv2d(up as T4, filter, g), filter: () => convFilterGrad(up as T4, dy, filter.shape, g) };
    },
  });
  tf.registerGradient({
    kernelName: FILTER_GRAD,
    inputsToSave: ['x', 'dy'],
    gradFunc: (up, saved, attrs) => {
      const [x, dy] = saved as [T4, T4];
      const { g } = fromAttrs(attrs);
      return { x: () => convInputGrad(dy, up as T4, x.shape, g), dy: () => nativeConv2d(x, up as T4, g) };
    },
  });
}

type T4 = tf.Tensor4D;

/** Replaces tfjs' Conv2D gradient (Conv2DBackpropInput/Filter, not differentiable) with the above. */
export const conv2dGradConfig: tf.GradConfig = {
  kernelName: 'Conv2D',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const a = attrs as unknown as { strides: number | [number, number]; pad: tf.backend_util.ExplicitPadding | 'same' | 'valid' | number; dilations: number | [number, number]; dataFormat: string; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
    if (a.dataFormat !== 'NHWC') throw new Error(`Conv2D gradient: only NHWC is supported (got ${a.dataFormat})`);
    const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, a.strides, a.dilations, a.pad, a.dimRoundingMode);
    const { top, bottom, left, right } = info.padInfo;
    // The padding that actually reaches the last output row (TensorFlow's "valid" drops a remainder).
    const used = (n: number, before: number, out: number, k: number, s: number, d: number) => (out - 1) * s + (k - 1) * d + 1 - n - before;
    const g: ConvGeometry = {
      strides: [info.strideHeight, info.strideWidth],
      dilations: [info.dilationHeight, info.dilationWidth],
      pads: [
        [top, Math.min(bottom, used(x.shape[1], top, info.outHeight, info.filterHeight, info.strideHeight, info.dilationHeight))],
        [left, Math.min(right, used(x.shape[2], left, info.outWidth, info.filterWidth, info.strideWidth, info.dilationWidth))],
      ],
    };
    const d = dy as tf.Tensor4D;
    return { x: () => convInputGrad(d, filter, x.shape, g), filter: () => convFilterGrad(x, d, filter.shape, g) };
  },
};
