/**
 * A supported model as a pure function of its trainable weights: `logits(weights, x)`. The final
 * softmax/sigmoid is split off as the `head` so that losses can be taken from logits (fused, never
 * through a clipped probability). Layers without trainable weights do not own a block.
 */
import { InputError } from '../errors.js';
import type { RawLayer, TfjsModelFile, WeightTensor } from '../readers/tfjsModel.js';
import { tf } from './tfjs.js';
import { ACTIVATIONS, activate, conv2d, dense, maxPool, windowGeometry, type Activation, type Window2D } from './layers.js';

export interface ParamInfo {
  /** The weight's name in the model file (e.g. "dense/kernel"). */
  name: string;
  layer: string;
  shape: number[];
  size: number;
  /** Offset of this tensor in the flat parameter vector. */
  offset: number;
}

export interface BlockInfo {
  name: string;
  className: string;
  params: ParamInfo[];
  start: number;
  end: number;
}

export interface Network {
  name: string;
  inputShape: number[];
  /** Output shape per example (after the head). */
  outputShape: number[];
  head: Activation;
  params: ParamInfo[];
  blocks: BlockInfo[];
  size: number;
  /** Initial weights, flat, in `params` order. */
  initial: Float32Array;
  /**
   * Pre-head outputs (logits for softmax/sigmoid heads) for a batch; `w` in `params` order. With
   * `copies` = K > 1, every weight has a leading axis of K independent copies and x holds K batches one
   * after another (see layers.ts).
   */
  logits(w: tf.Tensor[], x: tf.Tensor, copies?: number): tf.Tensor;
  /** Bytes of activations per example (forward), for chunk sizing. */
  activationBytesPerExample: number;
}

type Step = (w: tf.Tensor[], x: tf.Tensor, copies: number) => tf.Tensor;

interface Built {
  step: Step;
  outShape: number[];
  activation?: Activation;
}

export function buildNetwork(model: TfjsModelFile): Network {
  const file = model.path;
  const fail = (l: RawLayer, what: string): never => {
    throw new InputError(file, `layer "${l.name}" (${l.className}): ${what}`);
  };
  const weightsLeft = new Map(model.weights.map((w) => [w.name, w]));
  const ordered = [...model.weights];
  const params: ParamInfo[] = [];
  const blocks: BlockInfo[] = [];
  const initial: number[][] = [];
  const constants: tf.Tensor[] = [];
  let offset = 0;

  const takeWeight = (l: RawLayer, suffix: string, shape: number[]): WeightTensor => {
    let w = ordered.find((t) => weightsLeft.has(t.name) && (t.name === `${l.name}/${suffix}` || t.name.endsWith(`/${l.name}/${suffix}`)));
    // Fall back to manifest order for files whose names do not follow Keras' "<layer>/<weight>".
    w ??= ordered.find((t) => weightsLeft.has(t.name));
    if (!w) fail(l, `its ${suffix} is missing from the weights manifest`);
    const got = w!;
    if (got.shape.length !== shape.length || got.shape.some((d, i) => d !== shape[i])) {
      fail(l, `weight "${got.name}" has shape [${got.shape}] but the layer needs [${shape}]`);
    }
    weightsLeft.delete(got.name);
    return got;
  };

  let shape: number[] | null = model.inputShape && model.inputShape.every((d) => typeof d === 'number') ? (model.inputShape as number[]) : null;
  if (!shape) throw new InputError(file, 'the first layer does not declare a full input shape (batch_input_shape); it is needed to check the data');
  const inputShape = [...shape];
  const steps: Built[] = [];
  let actBytes = 0;

  for (const l of model.layers) {
    const c = l.config;
    const act = (): Activation => {
      const a = c.activation ?? 'linear';
      if (typeof a !== 'string' || !ACTIVATIONS.includes(a as Activation)) {
        fail(l, `activation ${JSON.stringify(a)} is not supported (supported: ${ACTIVATIONS.join(', ')})`);
      }
      return a as Activation;
    };
    const pair = (v: unknown, what: string): [number, number] => {
      const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
      if (!p || !p.every((d) => Number.isInteger(d) && d > 0)) fail(l, `${what} ${JSON.stringify(v)} is invalid`);
      return p as [number, number];
    };
    const channelsLast = () => {
      if (c.data_format !== undefined && c.data_format !== 'channels_last' && c.data_format !== 'channelsLast') {
        fail(l, `data_format ${JSON.stringify(c.data_format)} is not supported (channels_last only)`);
      }
    };
    const trainable = c.trainable !== false;
    /** Registers a layer's weights as a block (or as constants when the layer is frozen). */
    const own = (ws: WeightTensor[]): number[] => {
      const idx: number[] = [];
      const infos: ParamInfo[] = [];
      const start = offset;
      for (const w of ws) {
        if (trainable) {
          const info = { name: w.name, layer: l.name, shape: w.shape, size: w.values.length, offset };
          offset += info.size;
          params.push(info);
          infos.push(info);
          initial.push(Array.from(w.values));
          idx.push(params.length - 1);
        } else {
          constants.push(tf.keep(tf.tensor(w.values, w.shape)));
          idx.push(-constants.length);
        }
      }
      if (trainable && infos.length) blocks.push({ name: l.name, className: l.className, params: infos, start, end: offset });
      return idx;
    };
    const pick = (w: tf.Tensor[], i: number, copies: number) => {
      if (i >= 0) return w[i];
      const c = constants[-i - 1];
      return copies === 1 ? c : tf.tile(tf.expandDims(c, 0), [copies, ...c.shape.map(() => 1)]);
    };

    switch (l.className) {
      case 'InputLayer':
        break;
      case 'Dense': {
        const units = c.units;
        if (!Number.isInteger(units) || (units as number) <= 0) fail(l, `units ${JSON.stringify(units)} is invalid`);
        const inDim = shape[shape.length - 1];
        const useBias = c.use_bias !== false;
        const ws = [takeWeight(l, 'kernel', [inDim, units as number])];
        if (useBias) ws.push(takeWeight(l, 'bias', [units as number]));
        const [k, b] = own(ws);
        const a = act();
        shape = [...shape.slice(0, -1), units as number];
        steps.push({ step: (w, x, n) => dense(x, pick(w, k, n), useBias ? pick(w, b, n) : null, n), outShape: shape, activation: a });
        break;
      }
      case 'Conv2D': {
        channelsLast();
        if (shape.length !== 3) fail(l, `expects an input of rank 3 per example (H, W, C), got [${shape}]`);
        if (c.groups !== undefined && c.groups !== 1) fail(l, `groups=${c.groups} is not supported`);
        const filters = c.filters as number;
        if (!Number.isInteger(filters) || filters <= 0) fail(l, `filters ${JSON.stringify(filters)} is invalid`);
        const [kh, kw] = pair(c.kernel_size, 'kernel_size');
        const strides = pair(c.strides ?? 1, 'strides');
        const dilations = pair(c.dilation_rate ?? 1, 'dilation_rate');
        const padding = c.padding ?? 'valid';
        if (padding !== 'valid' && padding !== 'same') fail(l, `padding ${JSON.stringify(padding)} is not supported (valid, same)`);
        const win: Window2D = { kernel: [kh, kw], strides, dilations, padding: padding as 'valid' | 'same' };
        const g = windowGeometry(shape[0], shape[1], win);
        if (g.outHeight <= 0 || g.outWidth <= 0) fail(l, `its output would be empty for input [${shape}]`);
        const useBias = c.use_bias !== false;
        const ws = [takeWeight(l, 'kernel', [kh, kw, shape[2], filters])];
        if (useBias) ws.push(takeWeight(l, 'bias', [filters]));
        const [k, b] = own(ws);
        const a = act();
        actBytes += 4 * g.outHeight * g.outWidth * kh * kw * shape[2]; // patches
        shape = [g.outHeight, g.outWidth, filters];
        steps.push({
          step: (w, x, n) => conv2d(x as tf.Tensor4D, pick(w, k, n), useBias ? pick(w, b, n) : null, { strides, dilations, padding: win.padding }, n),
          outShape: shape,
          activation: a,
        });
        break;
      }
      case 'MaxPooling2D': {
        channelsLast();
        if (shape.length !== 3) fail(l, `expects an input of rank 3 per example (H, W, C), got [${shape}]`);
        const pool = pair(c.pool_size ?? 2, 'pool_size');
        const strides = pair(c.strides ?? pool, 'strides');
        const padding = c.padding ?? 'valid';
        if (padding !== 'valid' && padding !== 'same') fail(l, `padding ${JSON.stringify(padding)} is not supported (valid, same)`);
        const win: Window2D = { kernel: pool, strides, dilations: [1, 1], padding: padding as 'valid' | 'same' };
        const g = windowGeometry(shape[0], shape[1], win);
        if (g.outHeight <= 0 || g.outWidth <= 0) fail(l, `its output would be empty for input [${shape}]`);
        actBytes += 4 * g.outHeight * g.outWidth * shape[2] * pool[0] * pool[1];
        shape = [g.outHeight, g.outWidth, shape[2]];
        steps.push({ step: (_w, x) => maxPool(x as tf.Tensor4D, win), outShape: shape });
        break;
      }
      case 'Flatten': {
        channelsLast();
        const n: number = shape.reduce((a, b) => a * b, 1);
        shape = [n];
        steps.push({ step: (_w, x) => tf.reshape(x, [x.shape[0], n]), outShape: shape });
        break;
      }
      case 'Dropout':
        break; // identity at inference and for the loss's curvature (randomness off)
      default:
        fail(l, 'this layer class is not supported (supported: Dense, Conv2D, MaxPooling2D, Flatten, Dropout, InputLayer)');
    }
    actBytes += 4 * shape.reduce((a, b) => a * b, 1);
  }
  if (weightsLeft.size) {
    throw new InputError(file, `weights not used by any layer: ${[...weightsLeft.keys()].slice(0, 5).join(', ')}`);
  }
  if (steps.length === 0) throw new InputError(file, 'the model has no layers');
  if (params.length === 0) throw new InputError(file, 'the model has no trainable weights');

  // Split the final activation off as the head.
  const last = steps[steps.length - 1];
  const head: Activation = last.activation ?? 'linear';
  const outputShape = last.outShape;
  const fns: Step[] = steps.map((s, i) => {
    const a = i === steps.length - 1 ? 'linear' : s.activation ?? 'linear';
    return a === 'linear' ? s.step : (w, x, n) => activate(s.step(w, x, n), a);
  });
  const flat = new Float32Array(offset);
  let o = 0;
  for (const v of initial) {
    flat.set(v, o);
    o += v.length;
  }
  return {
    name: model.name,
    inputShape,
    outputShape,
    head,
    params,
    blocks,
    size: offset,
    initial: flat,
    logits: (w, x, copies = 1) => fns.reduce((h, f) => f(w, h, copies), x),
    activationBytesPerExample: actBytes,
  };
}
