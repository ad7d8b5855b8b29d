/**
 * A supported model as a pure function of its trainable weights: `logits(weights, x)`. Sequential and
 * functional (graph) topologies, with one input and one output. The output layer's softmax/sigmoid is
 * split off as the `head` so that losses can be taken from logits (fused, never through a clipped
 * probability). Layers without trainable weights own no block; non-trainable weights (batch norm's
 * moving statistics, frozen layers) are constants.
 */
import { InputError } from '../errors.js';
import type { ChainLink } from './rop.js';
import { nativeConvSupports } from './conv.js';
import type { RawLayer, TfjsModelFile, WeightTensor } from '../readers/tfjsModel.js';
import { tf } from './tfjs.js';
import {
  ACTIVATION_ALIASES,
  ACTIVATIONS,
  activate,
  avgPool,
  batchNorm,
  conv2d,
  convGeometry,
  dense,
  depthwiseConv2d,
  embedding,
  layerNorm,
  leakyRelu,
  maxPool,
  stackCopies,
  windowGeometry,
  type Activation,
  type Window2D,
} from './layers.js';

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
  /** 'tokens' when the input feeds an Embedding (integer ids in [0, vocabulary)). */
  inputKind: 'float' | 'tokens';
  vocabulary: number | null;
  /** Layout of image inputs, for messages: 'NHWC' (TF.js, Keras) unless the format says otherwise. */
  inputLayout?: 'NHWC' | 'NCHW';
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
  /** Frees the tensors the network keeps on the backend (moving statistics, frozen weights, ONNX constants); the network is not used after. */
  dispose(): void;
  /**
   * Every layer's output for a batch (single copy), in evaluation order, after the layer's activation
   * (the output layer's before its head). For locating where a NaN/Inf first appears (nonFinite.ts).
   */
  layerOutputs?(w: tf.Tensor[], x: tf.Tensor): Array<{ name: string; className: string; output: tf.Tensor }>;
  /** When the model is a chain of layers rop.ts models (Dense, Conv2D, MaxPooling2D, Flatten, …): the chain. */
  chain?: ChainLink[];
}

type Apply = (w: tf.Tensor[], inputs: tf.Tensor[], copies: number) => tf.Tensor;

interface Built {
  apply: Apply;
  outShape: number[];
  /** The layer's own activation, kept apart so the output layer's can become the head. */
  activation: Activation;
}

interface GraphNode {
  layer: RawLayer;
  inputs: string[];
}

const SUPPORTED = [
  'InputLayer', 'Dense', 'Conv2D', 'DepthwiseConv2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'Flatten', 'Reshape',
  'Dropout', 'BatchNormalization', 'LayerNormalization', 'Activation', 'LeakyReLU', 'Embedding', 'Add', 'Multiply', 'Concatenate',
];

export function buildNetwork(model: TfjsModelFile): Network {
  const file = model.path;
  const fail = (l: RawLayer, what: string): never => {
    throw new InputError(file, `layer "${l.name}" (${l.className}): ${what}`);
  };
  const { nodes, input, output } = graphOf(model);
  const weightsLeft = new Map(model.weights.map((w) => [w.name, w]));
  const ordered = [...model.weights];
  const params: ParamInfo[] = [];
  const blocks: BlockInfo[] = [];
  const initial: Float32Array[] = [];
  const constants: tf.Tensor[] = [];
  let offset = 0;

  // Weights by their last two name components ("<layer>/<weight>"), in manifest order: finding a layer's
  // weight is then not a scan of the whole manifest (which made a 20000-layer model take 80 s).
  const lastTwo = (name: string) => name.slice(name.lastIndexOf('/', name.lastIndexOf('/') - 1) + 1);
  const byKey = new Map<string, WeightTensor[]>();
  for (const t of ordered) {
    const k = lastTwo(t.name);
    const list = byKey.get(k);
    if (list) list.push(t);
    else byKey.set(k, [t]);
  }
  let nextInOrder = 0;
  const takeWeight = (l: RawLayer, suffix: string, shape: number[]): WeightTensor => {
    const key = `${l.name}/${suffix}`;
    const list = byKey.get(lastTwo(key)) ?? [];
    while (list.length && !weightsLeft.has(list[0].name)) list.shift();
    let w = list.find((t) => weightsLeft.has(t.name) && (t.name === key || t.name.endsWith(`/${key}`)));
    // Fall back to manifest order for files whose names do not follow Keras' "<layer>/<weight>".
    if (!w) {
      while (nextInOrder < ordered.length && !weightsLeft.has(ordered[nextInOrder].name)) nextInOrder++;
      w = ordered[nextInOrder];
    }
    if (!w) fail(l, `its ${suffix} is missing from the weights manifest`);
    const got = w!;
    if (got.shape.length !== shape.length || got.shape.some((d, i) => d !== shape[i])) {
      fail(l, `weight "${got.name}" has shape [${got.shape}] but the layer needs [${shape}]`);
    }
    weightsLeft.delete(got.name);
    return got;
  };

  const shapes = new Map<string, number[]>([[input.name, input.shape]]);
  const built = new Map<string, Built>();
  let actBytes = 0;
  /** Per layer, its links for rop.ts (without its activation); absent: a layer rop.ts does not model. */
  const links = new Map<string, ChainLink[]>();
  let inputKind: Network['inputKind'] = 'float';
  let vocabulary: number | null = null;

  for (const node of nodes) {
    const l = node.layer;
    const c = l.config;
    if (node.inputs.length === 0) fail(l, 'has no inputs (its inbound_nodes name no layer)');
    const inShapes = node.inputs.map((n) => shapes.get(n)!);
    const shape = inShapes[0];
    const trainable = c.trainable !== false;
    const act = (key = 'activation', fallback: unknown = 'linear'): Activation => {
      const raw = c[key] ?? fallback;
      const a = typeof raw === 'string' ? (ACTIVATION_ALIASES[raw] ?? raw) : raw;
      if (typeof a !== 'string' || !ACTIVATIONS.includes(a as Activation)) {
        fail(l, `activation ${JSON.stringify(raw)} is not supported (supported: ${ACTIVATIONS.join(', ')})`);
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
    const rank3 = () => {
      if (shape.length !== 3) fail(l, `expects an input of rank 3 per example (H, W, C), got [${shape}]`);
    };
    const lastAxis = (what: string) => {
      const ax = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
      if (ax.length !== 1 || !(ax[0] === -1 || ax[0] === shape.length)) fail(l, `${what} over axis ${JSON.stringify(c.axis)} is not supported (last axis only)`);
    };
    /** Registers weights: trainable ones form the layer's block, the others become constants. */
    const own = (ws: Array<[WeightTensor, boolean]>): number[] => {
      const idx: number[] = [];
      const infos: ParamInfo[] = [];
      const start = offset;
      for (const [w, train] of ws) {
        if (train && trainable) {
          const info = { name: w.name, layer: l.name, shape: w.shape, size: w.values.length, offset };
          offset += info.size;
          params.push(info);
          infos.push(info);
          initial.push(w.values);
          idx.push(params.length - 1);
        } else {
          constants.push(tf.keep(tf.tensor(w.values, w.shape)));
          idx.push(-constants.length);
        }
      }
      if (infos.length) blocks.push({ name: l.name, className: l.className, params: infos, start, end: offset });
      return idx;
    };
    /** A weight by index; constants are tiled across copies. `null` index = absent. */
    const pick = (w: tf.Tensor[], i: number | null, copies: number): tf.Tensor | null => {
      if (i === null) return null;
      if (i >= 0) return w[i];
      const t = constants[-i - 1];
      return stackCopies(t, copies);
    };
    const constant = (i: number): tf.Tensor => constants[-i - 1];
    let b: Built;
    switch (l.className) {
      case 'InputLayer':
        throw new Error('unreachable: inputs are not graph nodes');
      case 'Dense': {
        const units = c.units as number;
        if (!Number.isInteger(units) || units <= 0) fail(l, `units ${JSON.stringify(c.units)} is invalid`);
        const useBias = c.use_bias !== false;
        const ws: Array<[WeightTensor, boolean]> = [[takeWeight(l, 'kernel', [shape[shape.length - 1], units]), true]];
        if (useBias) ws.push([takeWeight(l, 'bias', [units]), true]);
        const [k, bi] = own(ws);
        if (shape.length === 1 && k >= 0 && (!useBias || bi >= 0)) links.set(l.name, [{ kind: 'dense', kernel: k, bias: useBias ? bi : null }]);
        b = { apply: (w, [x], n) => dense(x, pick(w, k, n)!, useBias ? pick(w, bi, n) : null, n), outShape: [...shape.slice(0, -1), units], activation: act() };
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        channelsLast();
        rank3();
        if (c.groups !== undefined && c.groups !== 1) fail(l, `groups=${c.groups} is not supported`);
        const depthwise = l.className === 'DepthwiseConv2D';
        const [kh, kw] = pair(c.kernel_size, 'kernel_size');
        const strides = pair(c.strides ?? 1, 'strides');
        const dilations = pair(c.dilation_rate ?? 1, 'dilation_rate');
        const padding = c.padding ?? 'valid';
        if (padding !== 'valid' && padding !== 'same') fail(l, `padding ${JSON.stringify(padding)} is not supported (valid, same)`);
        if (strides.some((s) => s > 1) && dilations.some((d) => d > 1)) fail(l, 'strides > 1 together with dilation_rate > 1 is not supported');
        const win: Window2D = { kernel: [kh, kw], strides, dilations, padding: padding as 'valid' | 'same' };
        const g = windowGeometry(shape[0], shape[1], win);
        if (g.outHeight <= 0 || g.outWidth <= 0) fail(l, `its output would be empty for input [${shape}]`);
        const mult = depthwise ? (c.depth_multiplier ?? 1) : 0;
        if (depthwise && (!Number.isInteger(mult) || (mult as number) <= 0)) fail(l, `depth_multiplier ${JSON.stringify(mult)} is invalid`);
        const filters = depthwise ? shape[2] * (mult as number) : (c.filters as number);
        if (!Number.isInteger(filters) || filters <= 0) fail(l, `filters ${JSON.stringify(c.filters)} is invalid`);
        const useBias = c.use_bias !== false;
        const ws: Array<[WeightTensor, boolean]> = [
          [depthwise ? takeWeight(l, 'depthwise_kernel', [kh, kw, shape[2], mult as number]) : takeWeight(l, 'kernel', [kh, kw, shape[2], filters]), true],
        ];
        if (useBias) ws.push([takeWeight(l, 'bias', [filters]), true]);
        const [k, bi] = own(ws);
        const geom = { strides, dilations, padding: win.padding };
        const geometry = convGeometry(shape[0], shape[1], win);
        if (!depthwise && nativeConvSupports(geometry) && k >= 0 && (!useBias || bi >= 0)) links.set(l.name, [{ kind: 'conv', kernel: k, bias: useBias ? bi : null, geometry }]);
        const op = depthwise ? depthwiseConv2d : conv2d;
        actBytes += 4 * g.outHeight * g.outWidth * kh * kw * shape[2];
        b = { apply: (w, [x], n) => op(x as tf.Tensor4D, pick(w, k, n)!, useBias ? pick(w, bi, n) : null, geom, n), outShape: [g.outHeight, g.outWidth, filters], activation: act() };
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        channelsLast();
        rank3();
        const pool = pair(c.pool_size ?? 2, 'pool_size');
        const strides = pair(c.strides ?? pool, 'strides');
        const padding = c.padding ?? 'valid';
        if (padding !== 'valid' && padding !== 'same') fail(l, `padding ${JSON.stringify(padding)} is not supported (valid, same)`);
        const win: Window2D = { kernel: pool, strides, dilations: [1, 1], padding: padding as 'valid' | 'same' };
        const g = windowGeometry(shape[0], shape[1], win);
        if (g.outHeight <= 0 || g.outWidth <= 0) fail(l, `its output would be empty for input [${shape}]`);
        actBytes += 4 * g.outHeight * g.outWidth * shape[2] * pool[0] * pool[1];
        const op = l.className === 'MaxPooling2D' ? maxPool : avgPool;
        if (op === maxPool && !(g.pad.top || g.pad.bottom || g.pad.left || g.pad.right)) links.set(l.name, [{ kind: 'maxpool', window: win }]);
        b = { apply: (_w, [x]) => op(x as tf.Tensor4D, win), outShape: [g.outHeight, g.outWidth, shape[2]], activation: 'linear' };
        break;
      }
      case 'GlobalAveragePooling2D': {
        channelsLast();
        rank3();
        const keep = c.keepdims === true;
        b = { apply: (_w, [x]) => tf.mean(x, [1, 2], keep), outShape: keep ? [1, 1, shape[2]] : [shape[2]], activation: 'linear' };
        break;
      }
      case 'Flatten': {
        channelsLast();
        const size: number = shape.reduce((a, d) => a * d, 1);
        b = { apply: (_w, [x]) => tf.reshape(x, [x.shape[0], size]), outShape: [size], activation: 'linear' };
        links.set(l.name, [{ kind: 'reshape', shape: [size] }]);
        break;
      }
      case 'Reshape': {
        const target = c.target_shape;
        const size: number = shape.reduce((a, d) => a * d, 1);
        if (!Array.isArray(target) || !target.every((d) => Number.isInteger(d) && (d > 0 || d === -1))) fail(l, `target_shape ${JSON.stringify(target)} is invalid`);
        const t = target as number[];
        const known = t.filter((d) => d > 0).reduce((a, d) => a * d, 1);
        const out = t.map((d) => (d === -1 ? size / known : d));
        if (out.reduce((a, d) => a * d, 1) !== size || t.filter((d) => d === -1).length > 1) fail(l, `cannot reshape [${shape}] to ${JSON.stringify(target)}`);
        b = { apply: (_w, [x]) => tf.reshape(x, [x.shape[0], ...out]), outShape: out, activation: 'linear' };
        break;
      }
      case 'Dropout':
        b = { apply: (_w, [x]) => x, outShape: shape, activation: 'linear' }; // identity: randomness off
        links.set(l.name, []);
        break;
      case 'Activation':
        b = { apply: (_w, [x]) => x, outShape: shape, activation: act() };
        links.set(l.name, []);
        break;
      case 'LeakyReLU': {
        const alpha = (c.negative_slope ?? c.alpha ?? 0.3) as number;
        if (typeof alpha !== 'number' || !Number.isFinite(alpha)) fail(l, `negative_slope ${JSON.stringify(alpha)} is invalid`);
        b = { apply: (_w, [x]) => leakyRelu(x, alpha), outShape: shape, activation: 'linear' };
        break;
      }
      case 'BatchNormalization':
      case 'LayerNormalization': {
        lastAxis(l.className);
        const ch = shape[shape.length - 1];
        const eps = (c.epsilon ?? 1e-3) as number;
        if (typeof eps !== 'number' || !(eps >= 0)) fail(l, `epsilon ${JSON.stringify(c.epsilon)} is invalid`);
        const scale = c.scale !== false;
        const center = c.center !== false;
        const ws: Array<[WeightTensor, boolean]> = [];
        if (scale) ws.push([takeWeight(l, 'gamma', [ch]), true]);
        if (center) ws.push([takeWeight(l, 'beta', [ch]), true]);
        const bn = l.className === 'BatchNormalization';
        if (bn) ws.push([takeWeight(l, 'moving_mean', [ch]), false], [takeWeight(l, 'moving_variance', [ch]), false]);
        const idx = own(ws);
        const gi = scale ? idx[0] : null;
        const be = center ? idx[scale ? 1 : 0] : null;
        if (bn) {
          const [mi, vi] = idx.slice(-2);
          b = { apply: (w, [x], n) => batchNorm(x, constant(mi), constant(vi), pick(w, gi, n), pick(w, be, n), eps, n), outShape: shape, activation: 'linear' };
        } else {
          b = { apply: (w, [x], n) => layerNorm(x, pick(w, gi, n), pick(w, be, n), eps, n), outShape: shape, activation: 'linear' };
        }
        break;
      }
      case 'Embedding': {
        const vocab = c.input_dim as number;
        const dim = c.output_dim as number;
        if (!Number.isInteger(vocab) || vocab <= 0 || !Number.isInteger(dim) || dim <= 0) fail(l, `input_dim/output_dim ${c.input_dim}/${c.output_dim} are invalid`);
        if (c.mask_zero === true) fail(l, 'mask_zero=true is not supported');
        if (node.inputs[0] !== input.name) fail(l, 'an Embedding must read the model input directly');
        inputKind = 'tokens';
        vocabulary = vocab;
        const [k] = own([[takeWeight(l, 'embeddings', [vocab, dim]), true]]);
        b = { apply: (w, [x], n) => embedding(x, pick(w, k, n)!, n), outShape: [...shape, dim], activation: 'linear' };
        break;
      }
      case 'Add':
      case 'Multiply':
      case 'Concatenate': {
        if (inShapes.length < 2) fail(l, `needs at least two inputs, got ${inShapes.length}`);
        if (l.className === 'Concatenate') {
          const axisRaw = (c.axis ?? -1) as number;
          const rank = shape.length;
          const axis = axisRaw < 0 ? rank + axisRaw : axisRaw - 1; // Keras counts the batch axis
          if (!Number.isInteger(axisRaw) || axis < 0 || axis >= rank) fail(l, `axis ${JSON.stringify(c.axis)} is invalid for inputs of rank ${rank}`);
          const ok = inShapes.every((s) => s.length === rank && s.every((d, i) => i === axis || d === shape[i]));
          if (!ok) fail(l, `input shapes ${inShapes.map((s) => `[${s}]`).join(', ')} do not match off axis ${axisRaw}`);
          const out = [...shape];
          out[axis] = inShapes.reduce((a, s) => a + s[axis], 0);
          b = { apply: (_w, xs) => tf.concat(xs, axis + 1), outShape: out, activation: 'linear' };
        } else {
          if (!inShapes.every((s) => s.length === shape.length && s.every((d, i) => d === shape[i]))) {
            fail(l, `input shapes ${inShapes.map((s) => `[${s}]`).join(', ')} differ (broadcasting is not supported)`);
          }
          const add = l.className === 'Add';
          b = { apply: (_w, xs) => (add ? tf.addN(xs) : xs.reduce((a, x) => tf.mul(a, x))), outShape: shape, activation: 'linear' };
        }
        break;
      }
      default:
        fail(l, `this layer class is not supported (supported: ${SUPPORTED.join(', ')})`);
    }
    const bb = b!;
    if (node.inputs.length !== 1 && !['Add', 'Multiply', 'Concatenate'].includes(l.className)) fail(l, `takes one input, got ${node.inputs.length}`);
    built.set(l.name, bb);
    shapes.set(l.name, bb.outShape);
    actBytes += 4 * bb.outShape.reduce((a, d) => a * d, 1);
  }
  if (weightsLeft.size) {
    throw new InputError(file, `weights not used by any layer: ${[...weightsLeft.keys()].slice(0, 5).join(', ')}`);
  }
  if (nodes.length === 0) throw new InputError(file, 'the model has no layers');
  if (params.length === 0) throw new InputError(file, 'the model has no trainable weights');

  const outBuilt = built.get(output)!;
  const head = outBuilt.activation;
  const run = (w: tf.Tensor[], x: tf.Tensor, copies: number, record?: (node: GraphNode, y: tf.Tensor) => void): tf.Tensor => {
    const values = new Map<string, tf.Tensor>([[input.name, x]]);
    for (const node of nodes) {
      const bb = built.get(node.layer.name)!;
      const y = bb.apply(w, node.inputs.map((n) => values.get(n)!), copies);
      const out = node.layer.name === output || bb.activation === 'linear' ? y : activate(y, bb.activation);
      values.set(node.layer.name, out);
      record?.(node, out);
    }
    return values.get(output)!;
  };
  /** The chain for rop.ts (see Network.chain): every layer modelled, one after another, as run() applies them. */
  const chain = (): ChainLink[] | undefined => {
    const out: ChainLink[] = [];
    let prev = input.name;
    for (const node of nodes) {
      const { name } = node.layer;
      const own = links.get(name);
      if (!own || node.inputs.length !== 1 || node.inputs[0] !== prev) return undefined;
      out.push(...own);
      const activation = built.get(name)!.activation;
      if (name !== output && activation !== 'linear') out.push({ kind: 'act', activation });
      prev = name;
    }
    return out;
  };
  return {
    name: model.name,
    inputShape: input.shape,
    inputKind,
    vocabulary,
    outputShape: outBuilt.outShape,
    head,
    params,
    blocks,
    size: offset,
    initial: concatenated(initial, offset),
    logits: (w, x, copies = 1) => run(w, x, copies),
    activationBytesPerExample: actBytes,
    dispose: () => constants.splice(0).forEach((t) => t.dispose()),
    chain: chain(),
    layerOutputs: (w, x) => {
      const outs: Array<{ name: string; className: string; output: tf.Tensor }> = [];
      run(w, x, 1, (node, y) => outs.push({ name: node.layer.name, className: node.layer.className, output: y }));
      return outs;
    },
  };

  function graphOf(m: TfjsModelFile): { nodes: GraphNode[]; input: { name: string; shape: number[] }; output: string } {
    return m.topologyClass === 'Sequential' ? sequentialGraph(m) : functionalGraph(m);
  }
}

/** The parts one after another in one array of `length` values. */
export function concatenated(parts: Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  let o = 0;
  for (const v of parts) {
    out.set(v, o);
    o += v.length;
  }
  return out;
}

function fullShape(file: string, where: string, s: Array<number | null> | null): number[] {
  if (!s || !s.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
    throw new InputError(file, `${where} does not declare a full input shape (${JSON.stringify(s)}); it is needed to check the data`);
  }
  return s as number[];
}

function sequentialGraph(m: TfjsModelFile): { nodes: GraphNode[]; input: { name: string; shape: number[] }; output: string } {
  const input = { name: '__input__', shape: fullShape(m.path, 'the first layer', m.inputShape) };
  const nodes: GraphNode[] = [];
  let prev = input.name;
  for (const layer of m.layers) {
    if (layer.className === 'InputLayer') continue;
    nodes.push({ layer, inputs: [prev] });
    prev = layer.name;
  }
  return { nodes, input, output: prev };
}

/** Keras 2 (`inbound_nodes: [[["name", 0, 0, {}], …]]`) and Keras 3 (`{"args": […keras_history…]}`) graphs. */
function functionalGraph(m: TfjsModelFile): { nodes: GraphNode[]; input: { name: string; shape: number[] }; output: string } {
  const file = m.path;
  const names = new Set<string>();
  for (const l of m.layers) {
    if (names.has(l.name)) throw new InputError(file, `layer name "${l.name}" appears twice`);
    names.add(l.name);
  }
  const inputs = m.layers.filter((l) => l.className === 'InputLayer');
  if (inputs.length !== 1) throw new InputError(file, `the model has ${inputs.length} input layers; exactly one is supported`);
  const inputLayer = inputs[0];
  const cfgShape = inputLayer.config.batch_input_shape ?? inputLayer.config.batch_shape ?? inputLayer.config.batchInputShape;
  const input = { name: inputLayer.name, shape: fullShape(file, `input layer "${inputLayer.name}"`, Array.isArray(cfgShape) ? (cfgShape.slice(1) as Array<number | null>) : null) };
  const outputs = m.outputLayers ?? [];
  if (outputs.length !== 1) throw new InputError(file, `the model has ${outputs.length} outputs; exactly one is supported`);
  const byName = new Map(m.layers.map((l) => [l.name, l]));
  const deps = new Map<string, string[]>();
  for (const l of m.layers) {
    if (l.className === 'InputLayer') continue;
    const calls = l.inbound ?? [];
    if (calls.length === 0) throw new InputError(file, `layer "${l.name}" (${l.className}) is not connected to anything`);
    if (calls.length > 1) throw new InputError(file, `layer "${l.name}" (${l.className}) is called ${calls.length} times; shared layers are not supported`);
    for (const d of calls[0]) if (!byName.has(d)) throw new InputError(file, `layer "${l.name}" reads from "${d}", which is not a layer of the model`);
    deps.set(l.name, calls[0]);
  }
  if (!byName.has(outputs[0])) throw new InputError(file, `the output layer "${outputs[0]}" is not a layer of the model`);
  // Topological order by depth-first search from the output; a cycle is an error. Iterative (an explicit
  // stack), so that a chain of many thousands of layers cannot overflow the call stack.
  const order: GraphNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: Array<{ name: string; next: number }> = [];
  const enter = (name: string) => {
    if (name === input.name || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new InputError(file, `the layer graph has a cycle through "${name}"`);
    state.set(name, 'visiting');
    stack.push({ name, next: 0 });
  };
  enter(outputs[0]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const ds = deps.get(top.name) ?? [];
    if (top.next < ds.length) {
      enter(ds[top.next++]);
      continue;
    }
    stack.pop();
    state.set(top.name, 'done');
    const layer = byName.get(top.name)!;
    if (layer.className === 'InputLayer') throw new InputError(file, `input layer "${top.name}" is not the model's input`);
    order.push({ layer, inputs: ds });
  }
  return { nodes: order, input, output: outputs[0] };
}
