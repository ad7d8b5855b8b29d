/**
 * An ONNX graph (as exported by torch.onnx.export, opsets 7–20) as a `Network`: a differentiable tfjs
 * function of its parameters built from the second-order-safe layer functions of layers.ts.
 *
 * Every value of the graph is classified when the network is built:
 *   - constant ('C'): known now (initializers that are not parameters, Constant nodes, and everything
 *     computed from them only; shape arithmetic such as Shape → Gather → Unsqueeze → Concat → Reshape
 *     folds here, with the batch size kept as a symbol);
 *   - weight ('W'): a parameter, or computed from parameters and constants only; with `copies` = K > 1
 *     it carries a leading axis of K copies (see layers.ts);
 *   - activation ('A'): depends on the input; has the batch axis first (K batches one after another
 *     with copies) and a static per-example shape.
 * Parameters are the floating-point initializers that feed the weight or bias inputs of Gemm, MatMul,
 * Conv, Gather (embeddings), BatchNormalization and LayerNormalization, plus initializers named like
 * PyTorch parameters (`*.weight`, `*.bias`) that feed Add/Sub/Mul/Div (a decomposed LayerNorm, a MatMul's
 * bias). They are reported in the file's own layout and names (PyTorch's: conv weights out×in×kh×kw,
 * linear weights out×in); layers are named by PyTorch module path (`fc1.weight` → `fc1`, or the scope of
 * the consuming node, `/features/features.0/Conv` → `features.0`). Conv and pooling run channels-last
 * inside the graph (transposes in and out), so inputs stay in the model's NCHW layout.
 *
 * A final Softmax or Sigmoid on the last axis becomes the head (fused into cross-entropy); a final
 * LogSoftmax becomes a softmax head too (cross-entropy from its input is the negative log-likelihood of
 * its output). Any other op, domain or attribute value is an InputError naming op, node and opset.
 */
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import { dtypeName, type OnnxAttribute, type OnnxModelFile, type OnnxNode, type OnnxTensor } from '../readers/onnxModel.js';
import { readAndDispose, tf } from './tfjs.js';
import { activate, avgPool, conv2d, dense, depthwiseConv2d, embedding, leakyRelu, logSoftmax, maxPool, stackCopies, windows, type Activation } from './layers.js';
import { concatenated, type BlockInfo, type Network, type ParamInfo } from './network.js';

/** The ops this builder maps (for messages and the README). */
export const ONNX_OPS = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Neg', 'Sqrt', 'Exp', 'Log', 'Erf', 'Abs',
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Gelu', 'Softmax', 'LogSoftmax',
  'Gemm', 'MatMul', 'Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'LayerNormalization',
  'ReduceMean', 'ReduceSum', 'Flatten', 'Reshape', 'Transpose', 'Concat', 'Gather', 'Slice', 'Squeeze', 'Unsqueeze',
  'Pad', 'Shape', 'Cast', 'Identity', 'Dropout', 'Constant', 'ConstantOfShape',
] as const;

/** The batch size, symbolically, inside folded shape arithmetic. */
const BATCH = 'N' as const;
type Num = number | typeof BATCH;

type Value =
  | { cat: 'C'; dims: number[]; data: ArrayLike<Num>; float: boolean }
  | { cat: 'W'; dims: number[] }
  | { cat: 'A'; shape: number[]; float: boolean };
type Tensors = Map<string, tf.Tensor>;
type Run = (env: Tensors, w: tf.Tensor[], copies: number) => void;
interface Step {
  ins: string[];
  out: string;
  run: Run;
}

const PARAM_INPUTS: Record<string, number[]> = {
  Gemm: [1, 2],
  MatMul: [0, 1],
  Conv: [1, 2],
  Gather: [0],
  BatchNormalization: [1, 2],
  LayerNormalization: [1, 2],
};
const PYTORCH_PARAM = /\.(weight|bias)$/;
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div']);

const prod = (s: number[]) => s.reduce((a, d) => a * d, 1);

export function buildOnnxNetwork(model: OnnxModelFile): Network {
  const file = model.path;
  const opset = model.opset;
  const fail = (n: OnnxNode, what: string): never => {
    throw new InputError(file, `node "${n.name || n.outputs[0]}" (${n.opType}, opset ${opset}): ${what}`);
  };

  // Identity chains over initializers resolve to the initializer (torch writes them when it deduplicates).
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const alias = new Map<string, string>();
  for (const n of model.nodes) if (n.opType === 'Identity' && n.inputs[0] && inits.has(resolveName(n.inputs[0]))) alias.set(n.outputs[0], resolveName(n.inputs[0]));
  function resolveName(s: string): string {
    for (let i = 0; alias.has(s) && i < 1000; i++) s = alias.get(s)!;
    return s;
  }

  // Parameters, in order of first use.
  const isParam = new Set<string>();
  const firstUse: Array<{ name: string; node: OnnxNode }> = [];
  for (const n of model.nodes) {
    n.inputs.forEach((raw, i) => {
      const name = resolveName(raw);
      const t = inits.get(name);
      if (!t || t.kind !== 'float' || isParam.has(name)) return;
      const byPosition = PARAM_INPUTS[n.opType]?.includes(i) && !(n.opType === 'Gather' && inits.has(resolveName(n.inputs[1])));
      const byName = ELEMENTWISE.has(n.opType) && PYTORCH_PARAM.test(name);
      if (byPosition || byName) {
        isParam.add(name);
        firstUse.push({ name, node: n });
      }
    });
  }
  const layerOf = (name: string, n: OnnxNode): string => {
    if (PYTORCH_PARAM.test(name)) return name.replace(PYTORCH_PARAM, '');
    const scope = n.name.split('/').filter(Boolean);
    if (scope.length >= 2) return scope[scope.length - 2];
    return n.name || name;
  };
  const layerNames: string[] = [];
  const byLayer = new Map<string, Array<{ name: string; node: OnnxNode }>>();
  for (const u of firstUse) {
    const l = layerOf(u.name, u.node);
    if (!byLayer.has(l)) (byLayer.set(l, []), layerNames.push(l));
    byLayer.get(l)!.push(u);
  }
  const params: ParamInfo[] = [];
  const blocks: BlockInfo[] = [];
  const paramIndex = new Map<string, number>();
  const initial: Float32Array[] = [];
  let offset = 0;
  for (const l of layerNames) {
    const start = offset;
    const infos: ParamInfo[] = [];
    for (const u of byLayer.get(l)!) {
      const t = inits.get(u.name)!;
      const info: ParamInfo = { name: u.name, layer: l, shape: [...t.dims], size: t.values.length, offset };
      offset += info.size;
      paramIndex.set(u.name, params.length);
      params.push(info);
      infos.push(info);
      initial.push(t.values as Float32Array);
    }
    blocks.push({ name: l, className: byLayer.get(l)![0].node.opType, params: infos, start, end: offset });
  }
  if (params.length === 0) throw new InputError(file, 'the model has no trainable parameters (no float initializer feeds a Gemm, MatMul, Conv, Gather, BatchNormalization or LayerNormalization)');

  // The input.
  const graphInputs = model.inputs.filter((i) => !inits.has(i.name));
  if (graphInputs.length !== 1) throw new InputError(file, `the graph has ${graphInputs.length} inputs (${graphInputs.map((i) => i.name).join(', ')}); exactly one is supported`);
  const input = graphInputs[0];
  if (!input.shape || input.shape.length < 2) throw new InputError(file, `input "${input.name}" has shape ${JSON.stringify(input.shape)}; a batch axis and at least one more are needed`);
  const inputShape = input.shape.slice(1);
  if (!inputShape.every((d) => typeof d === 'number' && d > 0)) {
    throw new InputError(file, `input "${input.name}" has shape [${input.shape.map((d) => d ?? '?')}]: only the batch (first) axis may be dynamic; export with a fixed example shape`);
  }
  const isIntInput = [2, 3, 4, 5, 6, 7, 12, 13].includes(input.elemType);
  if (!isIntInput && input.elemType !== 1 && input.elemType !== 11) throw new InputError(file, `input "${input.name}" has element type ${dtypeName(input.elemType)}; float or integer (token id) inputs are supported`);

  const values = new Map<string, Value>();
  const consts = new Map<string, tf.Tensor>();
  values.set(input.name, { cat: 'A', shape: inputShape as number[], float: !isIntInput });
  for (const t of model.initializers) {
    values.set(t.name, isParam.has(t.name) ? { cat: 'W', dims: t.dims } : { cat: 'C', dims: t.dims, data: t.values, float: t.kind === 'float' });
  }
  let inputKind: Network['inputKind'] = 'float';
  let vocabulary: number | null = null;
  let actBytes = 0;
  const steps: Step[] = [];

  /** A runtime tensor of a value: activations and weights from the environment, constants as kept tensors. */
  const constTensor = (name: string, v: Extract<Value, { cat: 'C' }>): tf.Tensor => {
    if (!consts.has(name)) {
      if (!v.float && Array.from(v.data).some((d) => d === BATCH)) throw new Error(`unreachable: symbolic constant ${name} at run time`);
      consts.set(name, tf.keep(tf.tensor(Float32Array.from(v.data as ArrayLike<number>), v.dims, 'float32')));
    }
    return consts.get(name)!;
  };
  const get = (env: Tensors, w: tf.Tensor[], name: string): tf.Tensor => {
    const r = resolveName(name);
    const p = paramIndex.get(r);
    if (p !== undefined) return w[p];
    const t = env.get(r);
    if (t) return t;
    const v = values.get(r)!;
    if (v.cat === 'C') return constTensor(r, v);
    throw new Error(`unreachable: value ${name} missing at run time`);
  };
  /** A weight or constant with the copies axis (constants tiled) for ops that need one per copy. */
  const perCopy = (env: Tensors, w: tf.Tensor[], name: string, copies: number): tf.Tensor => {
    const t = get(env, w, name);
    return values.get(resolveName(name))!.cat === 'W' ? t : stackCopies(t, copies);
  };

  for (const n of model.nodes) {
    if (n.domain && n.domain !== 'ai.onnx') fail(n, `domain "${n.domain}" is not supported (default ONNX ops only)`);
    const ins = n.inputs.map((s) => (s ? resolveName(s) : ''));
    const vin = ins.map((s) => (s ? values.get(s) : undefined));
    ins.forEach((s, i) => {
      if (s && !vin[i]) fail(n, `input "${s}" is not produced by any earlier node (the graph is not topologically sorted or is missing a value)`);
    });
    const out = n.outputs[0];
    if (n.opType === 'Identity' && alias.has(out)) continue;
    const set = (v: Value, run?: Run) => {
      values.set(out, v);
      if (v.cat === 'A') actBytes += 4 * prod(v.shape);
      if (run) steps.push({ ins: ins.filter(Boolean), out, run });
    };
    const attr = (k: string) => n.attributes.get(k);
    const int = (k: string, d: number): number => {
      const a = attr(k);
      if (!a) return d;
      if (a.type !== 'int') fail(n, `attribute ${k} should be an int`);
      return (a as { value: number }).value;
    };
    const float = (k: string, d: number): number => {
      const a = attr(k);
      if (!a) return d;
      if (a.type !== 'float') fail(n, `attribute ${k} should be a float`);
      return (a as { value: number }).value;
    };
    const ints = (k: string): number[] | null => {
      const a = attr(k);
      if (!a) return null;
      if (a.type !== 'ints') fail(n, `attribute ${k} should be a list of ints`);
      return (a as { value: number[] }).value;
    };
    const str = (k: string, d: string): string => {
      const a = attr(k);
      if (!a) return d;
      if (a.type !== 'string') fail(n, `attribute ${k} should be a string`);
      return (a as { value: string }).value;
    };
    /** Static (folded) integer values of an input, e.g. a shape or axes; null input → null. */
    const staticInts = (i: number, what: string): Num[] | null => {
      if (!ins[i]) return null;
      const v = vin[i]!;
      if (v.cat !== 'C') fail(n, `its ${what} input must be a constant (it depends on ${v.cat === 'A' ? 'the input data' : 'the parameters'})`);
      return Array.from((v as Extract<Value, { cat: 'C' }>).data);
    };
    const numbers = (xs: Num[] | null, what: string): number[] | null => {
      if (xs && xs.some((x) => x === BATCH)) fail(n, `its ${what} depends on the batch size, which is not supported here`);
      return xs as number[] | null;
    };
    const act = (i: number) => {
      const v = vin[i];
      if (!v || v.cat !== 'A') fail(n, `input ${i} must depend on the model input`);
      return v as Extract<Value, { cat: 'A' }>;
    };
    /** A per-example axis from an ONNX axis over the full rank (batch axis 0 is not allowed). */
    const exampleAxis = (axis: number, rank: number, what = 'axis'): number => {
      const a = axis < 0 ? axis + rank + 1 : axis;
      if (!Number.isInteger(a) || a < 0 || a > rank) fail(n, `${what} ${axis} is out of range for rank ${rank + 1}`);
      if (a === 0) fail(n, `${what} 0 is the batch axis; ops across examples are not supported`);
      return a - 1;
    };
    const allConst = vin.every((v) => !v || v.cat === 'C');
    const op = n.opType;

    // Constant folding (shape arithmetic and other constant subgraphs).
    if (op === 'Constant') {
      set(constantNode(n, fail));
      continue;
    }
    if (allConst && vin.length > 0 && op !== 'Dropout') {
      set(fold(n, vin as Array<Extract<Value, { cat: 'C' }> | undefined>, opset, fail));
      continue;
    }
    if (op === 'Shape') {
      const v = vin[0]!;
      const full: Num[] = v.cat === 'A' ? [BATCH, ...v.shape] : v.cat === 'W' ? v.dims : v.dims;
      const r = full.length;
      const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + r : x, 0), r);
      const sliced = full.slice(clamp(int('start', 0)), clamp(int('end', r)));
      set({ cat: 'C', dims: [sliced.length], data: sliced, float: false });
      continue;
    }

    switch (op) {
      case 'Identity':
      case 'Dropout': {
        if (op === 'Dropout' && ins[2] && staticInts(2, 'training_mode')![0] !== 0) fail(n, 'training mode is not supported');
        const v = vin[0]!;
        if (n.outputs[1] && op === 'Dropout') values.set(n.outputs[1], { cat: 'C', dims: [], data: [1], float: false });
        set(v, (env, w) => env.set(out, get(env, w, ins[0])));
        break;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const f = { Add: tf.add, Sub: tf.sub, Mul: tf.mul, Div: tf.div }[op];
        const [v, s] = binary(n, vin[0]!, vin[1]!, fail);
        set(v, (env, w, k) => env.set(out, s(get(env, w, ins[0]), get(env, w, ins[1]), k, f)));
        break;
      }
      case 'Pow': {
        const e = vin[1]!;
        if (e.cat !== 'C' || prod(e.dims) !== 1) fail(n, 'only a constant scalar exponent is supported');
        const p = Number((e as Extract<Value, { cat: 'C' }>).data[0]);
        const ok = p === 0.5 || (Number.isInteger(p) && p >= 1 && p <= 8);
        if (!ok) fail(n, `exponent ${p} is not supported (0.5 or an integer 1–8)`);
        set(vin[0]!, (env, w) => {
          const x = get(env, w, ins[0]);
          let y: tf.Tensor = p === 0.5 ? tf.sqrt(x) : x;
          if (p !== 0.5) for (let i = 1; i < p; i++) y = p === 2 ? tf.square(x) : tf.mul(y, x);
          env.set(out, y);
        });
        break;
      }
      case 'Neg':
      case 'Sqrt':
      case 'Exp':
      case 'Log':
      case 'Erf':
      case 'Abs':
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'LeakyRelu':
      case 'Gelu': {
        const alpha = float('alpha', 0.01);
        const approx = str('approximate', 'none');
        if (op === 'Gelu' && approx !== 'none' && approx !== 'tanh') fail(n, `approximate="${approx}" is not supported`);
        const f: (x: tf.Tensor) => tf.Tensor = {
          Neg: tf.neg,
          Sqrt: tf.sqrt,
          Exp: tf.exp,
          Log: tf.log,
          Erf: tf.erf,
          Abs: tf.abs,
          Relu: tf.relu,
          Sigmoid: tf.sigmoid,
          Tanh: tf.tanh,
          LeakyRelu: (x: tf.Tensor) => leakyRelu(x, alpha),
          Gelu: (x: tf.Tensor) => (approx === 'tanh' ? geluTanh(x) : activate(x, 'gelu')),
        }[op] as (x: tf.Tensor) => tf.Tensor;
        set(vin[0]!, (env, w) => env.set(out, f(get(env, w, ins[0]))));
        break;
      }
      case 'Softmax':
      case 'LogSoftmax': {
        const a = act(0);
        const rank = a.shape.length;
        const axis = exampleAxis(int('axis', opset >= 13 ? -1 : 1), rank);
        if (opset < 13 && axis !== rank - 1) fail(n, `axis ${int('axis', 1)} (before opset 13, flattening all axes from it) is only supported as the last axis`);
        const f = op === 'Softmax' ? (x: tf.Tensor) => activate(x, 'softmax') : logSoftmax;
        set(a, (env, w) => env.set(out, lastAxisApply(get(env, w, ins[0]), axis + 1, f)));
        break;
      }
      case 'Gemm': {
        const a = act(0);
        if (a.shape.length !== 1) fail(n, `input A must be a matrix [batch, features], got per-example shape [${a.shape}]`);
        if (int('transA', 0)) fail(n, 'transA=1 on the data input is not supported');
        const bv = vin[1]!;
        if (bv.cat === 'A') fail(n, 'B depending on the input data is not supported');
        const bd = (bv as { dims: number[] }).dims;
        const transB = int('transB', 0) === 1;
        const alpha = float('alpha', 1);
        const beta = float('beta', 1);
        if (bd.length !== 2) fail(n, `B must be a matrix, got dims [${bd}]`);
        const [kIn, units] = transB ? [bd[1], bd[0]] : bd;
        if (kIn !== a.shape[0]) fail(n, `A has ${a.shape[0]} columns but B needs ${kIn}`);
        let bias: ((x: tf.Tensor, env: Tensors, w: tf.Tensor[], k: number) => tf.Tensor) | null = null;
        if (ins[2]) {
          const [, s] = binary(n, { cat: 'A', shape: [units], float: true }, vin[2]!, fail);
          bias = (x, env, w, k) => s(x, beta === 1 ? get(env, w, ins[2]) : tf.mul(get(env, w, ins[2]), beta), k, tf.add);
        }
        set({ cat: 'A', shape: [units], float: true }, (env, w, k) => {
          const B = perCopy(env, w, ins[1], k);
          const kernel = transB ? tf.transpose(B, k === 1 ? [1, 0] : [0, 2, 1]) : B;
          let y = dense(get(env, w, ins[0]), kernel, null, k);
          if (alpha !== 1) y = tf.mul(y, alpha);
          env.set(out, bias ? bias(y, env, w, k) : y);
        });
        break;
      }
      case 'MatMul': {
        const [av, bv] = [vin[0]!, vin[1]!];
        if (av.cat === 'A' && bv.cat !== 'A') {
          const bd = bv.dims;
          if (bd.length !== 2) fail(n, `a constant or weight right operand must be a matrix, got dims [${bd}]`);
          if (av.shape.length < 1 || av.shape[av.shape.length - 1] !== bd[0]) fail(n, `shapes [N, ${av.shape}] and [${bd}] do not match`);
          set({ cat: 'A', shape: [...av.shape.slice(0, -1), bd[1]], float: true }, (env, w, k) => env.set(out, dense(get(env, w, ins[0]), perCopy(env, w, ins[1], k), null, k)));
        } else if (av.cat === 'A' && bv.cat === 'A') {
          const [sa, sb] = [av.shape, bv.shape];
          if (sa.length < 2 || sa.length !== sb.length || sa[sa.length - 1] !== sb[sb.length - 2] || !sa.slice(0, -2).every((d, i) => d === sb[i])) {
            fail(n, `shapes [N, ${sa}] and [N, ${sb}] are not supported (equal leading axes needed)`);
          }
          set({ cat: 'A', shape: [...sa.slice(0, -1), sb[sb.length - 1]], float: true }, (env, w) => env.set(out, tf.matMul(get(env, w, ins[0]), get(env, w, ins[1]))));
        } else fail(n, 'the left operand must depend on the input data');
        break;
      }
      case 'Conv': {
        const a = act(0);
        if (a.shape.length !== 3) fail(n, `only 2-D convolution is supported (input per example [C, H, W]), got [${a.shape}]`);
        const wv = vin[1]!;
        if (wv.cat === 'A') fail(n, 'a weight depending on the input data is not supported');
        const wd = (wv as { dims: number[] }).dims;
        const [C, H, Wd] = a.shape;
        const group = int('group', 1);
        if (wd.length !== 4 || !(group >= 1) || C % group !== 0 || wd[1] * group !== C || wd[0] % group !== 0) {
          fail(n, `weight dims [${wd}] with group=${group} do not fit an input of ${C} channels`);
        }
        const [O, , kh, kw] = wd;
        const ks = ints('kernel_shape');
        if (ks && (ks[0] !== kh || ks[1] !== kw)) fail(n, `kernel_shape [${ks}] disagrees with the weight's [${kh}, ${kw}]`);
        const geo = windowAttrs(n, [H, Wd], [kh, kw], false, fail, ints, int, str);
        if (geo.strides.some((s) => s > 1) && geo.dilations.some((d) => d > 1)) fail(n, 'strides > 1 together with dilations > 1 is not supported');
        actBytes += 4 * geo.out[0] * geo.out[1] * kh * kw * C;
        const hasBias = !!ins[2];
        const depthwise = group > 1 && group === C;
        set({ cat: 'A', shape: [O, ...geo.out], float: true }, (env, w, k) => {
          const x = padNHWC(tf.transpose(get(env, w, ins[0]), [0, 2, 3, 1]) as tf.Tensor4D, geo.pads, 0);
          const W = perCopy(env, w, ins[1], k);
          const b = hasBias ? perCopy(env, w, ins[2], k) : null;
          const lead = k === 1 ? [] : [0];
          const sh = (i: number) => (k === 1 ? i : i + 1);
          const win = { strides: geo.strides, dilations: geo.dilations, padding: 'valid' as const };
          let y: tf.Tensor4D;
          if (group === 1) {
            y = conv2d(x, tf.transpose(W, [...lead, sh(2), sh(3), sh(1), sh(0)]), b, win, k);
          } else if (depthwise) {
            const m = O / C;
            const dw = tf.reshape(W, [...(k === 1 ? [] : [k]), C, m, kh, kw]);
            y = depthwiseConv2d(x, tf.transpose(dw, [...lead, sh(2), sh(3), sh(0), sh(1)]), b, win, k);
          } else {
            const xs = tf.split(x, group, 3);
            const ws = tf.split(W, group, k === 1 ? 0 : 1);
            const bs = b ? tf.split(b, group, k === 1 ? 0 : 1) : null;
            y = tf.concat(xs.map((xi, g) => conv2d(xi as tf.Tensor4D, tf.transpose(ws[g], [...lead, sh(2), sh(3), sh(1), sh(0)]), bs ? bs[g] : null, win, k)), 3) as tf.Tensor4D;
          }
          env.set(out, tf.transpose(y, [0, 3, 1, 2]));
        });
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const a = act(0);
        if (a.shape.length !== 3) fail(n, `only 2-D pooling is supported (input per example [C, H, W]), got [${a.shape}]`);
        if (n.outputs[1]) fail(n, 'the Indices output is not supported');
        const ks = ints('kernel_shape');
        if (!ks || ks.length !== 2 || !ks.every((d) => d > 0)) fail(n, `kernel_shape ${JSON.stringify(ks)} is invalid (two positive sizes needed)`);
        const max = op === 'MaxPool';
        if (!max && int('ceil_mode', 0)) fail(n, 'ceil_mode=1 is not supported for AveragePool');
        if (max && int('storage_order', 0)) fail(n, 'storage_order=1 is not supported');
        const [C, H, Wd] = a.shape;
        const geo = windowAttrs(n, [H, Wd], ks as [number, number], max, fail, ints, int, str);
        if (!max && geo.dilations.some((d) => d > 1)) fail(n, 'dilations are not supported for AveragePool');
        const includePad = int('count_include_pad', 0) === 1;
        actBytes += 4 * geo.out[0] * geo.out[1] * C * ks![0] * ks![1];
        const win = { kernel: ks as [number, number], strides: geo.strides, dilations: geo.dilations, padding: 'valid' as const };
        const padded = geo.pads.some((p) => p > 0);
        let counts: tf.Tensor | null = null;
        set({ cat: 'A', shape: [C, ...geo.out], float: true }, (env, w) => {
          const xin = tf.transpose(get(env, w, ins[0]), [0, 2, 3, 1]) as tf.Tensor4D;
          let y: tf.Tensor;
          if (max) y = maxPool(padNHWC(xin, geo.pads, -3.0e38), win, padded);
          else if (!padded || includePad) y = avgPool(padNHWC(xin, geo.pads, 0), win);
          else {
            // Average over the entries of each window that lie inside the input (ONNX's default).
            if (!counts) consts.set(`${out} (window counts)`, (counts = tf.keep(tf.tidy(() => tf.addN(windows(padNHWC(tf.ones([1, H, Wd, 1]) as tf.Tensor4D, geo.pads, 0), win, 0))))));
            y = tf.div(tf.addN(windows(padNHWC(xin, geo.pads, 0), win, 0)), counts);
          }
          env.set(out, tf.transpose(y, [0, 3, 1, 2]));
        });
        break;
      }
      case 'GlobalAveragePool': {
        const a = act(0);
        if (a.shape.length < 2) fail(n, `needs spatial axes, got per-example shape [${a.shape}]`);
        const axes = a.shape.slice(1).map((_, i) => i + 2);
        set({ cat: 'A', shape: [a.shape[0], ...a.shape.slice(1).map(() => 1)], float: true }, (env, w) => env.set(out, tf.mean(get(env, w, ins[0]), axes, true)));
        break;
      }
      case 'BatchNormalization': {
        const a = act(0);
        if (n.outputs.slice(1).some(Boolean) || int('training_mode', 0)) fail(n, 'training mode (batch statistics) is not supported; export the model in eval() mode');
        const eps = float('epsilon', 1e-5);
        const C = a.shape[0];
        const view = [C, ...a.shape.slice(1).map(() => 1)];
        for (let i = 1; i <= 4; i++) {
          const v = vin[i];
          if (!v || v.cat === 'A' || prod((v as { dims: number[] }).dims) !== C) fail(n, `input ${i} must be a constant or parameter of ${C} values`);
        }
        // y = (x − mean)·(scale / √(var + ε)) + B, each operand viewed as [C, 1, …] against the example.
        const asView = (cat: Value['cat']): Value => (cat === 'W' ? { cat: 'W', dims: view } : { cat: 'C', dims: view, data: [], float: true });
        const cats = [0, 1, 2, 3, 4].map((i) => vin[i]!.cat);
        const [, sub] = binary(n, a, asView(cats[3]), fail);
        const [, mul] = binary(n, a, asView(cats[1] === 'W' || cats[4] === 'W' ? 'W' : 'C'), fail);
        const [, add] = binary(n, a, asView(cats[2]), fail);
        set(a, (env, w, k) => {
          const factor = tf.div(get(env, w, ins[1]), tf.sqrt(tf.add(get(env, w, ins[4]), eps)));
          const centred = sub(get(env, w, ins[0]), get(env, w, ins[3]), k, tf.sub);
          env.set(out, add(mul(centred, factor, k, tf.mul), get(env, w, ins[2]), k, tf.add));
        });
        break;
      }
      case 'LayerNormalization': {
        const a = act(0);
        if (n.outputs.slice(1).some(Boolean)) fail(n, 'the Mean and InvStdDev outputs are not supported');
        const axis = exampleAxis(int('axis', -1), a.shape.length);
        const eps = float('epsilon', 1e-5);
        const normShape = a.shape.slice(axis);
        const axes = normShape.map((_, i) => axis + 1 + i);
        const [, mul] = binary(n, a, vin[1]!, fail);
        const add = ins[2] ? binary(n, a, vin[2]!, fail)[1] : null;
        set(a, (env, w, k) => {
          const x = get(env, w, ins[0]);
          const d = tf.sub(x, tf.mean(x, axes, true));
          const y = tf.div(d, tf.sqrt(tf.add(tf.mean(tf.square(d), axes, true), eps)));
          const s = mul(y, get(env, w, ins[1]), k, tf.mul);
          env.set(out, add ? add(s, get(env, w, ins[2]), k, tf.add) : s);
        });
        break;
      }
      case 'ReduceMean':
      case 'ReduceSum': {
        const a = act(0);
        const fromInput = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
        const raw = fromInput ? numbers(staticInts(1, 'axes'), 'axes') : ints('axes');
        if (!raw || raw.length === 0) fail(n, 'reducing over all axes (including the batch) is not supported');
        const axes = raw!.map((x) => exampleAxis(x, a.shape.length) + 1);
        const keep = int('keepdims', 1) === 1;
        const shape = keep ? a.shape.map((d, i) => (axes.includes(i + 1) ? 1 : d)) : a.shape.filter((_, i) => !axes.includes(i + 1));
        const f = op === 'ReduceMean' ? tf.mean : tf.sum;
        set({ cat: 'A', shape, float: true }, (env, w) => env.set(out, f(get(env, w, ins[0]), axes, keep)));
        break;
      }
      case 'Flatten': {
        const a = act(0);
        const axis = int('axis', 1);
        if (axis !== 1 && axis !== -a.shape.length) fail(n, `axis ${axis} would mix examples across the batch axis (only axis 1 is supported)`);
        const size = prod(a.shape);
        set({ cat: 'A', shape: [size], float: a.float }, (env, w) => {
          const x = get(env, w, ins[0]);
          env.set(out, tf.reshape(x, [x.shape[0], size]));
        });
        break;
      }
      case 'Reshape': {
        const a = act(0);
        const target = staticInts(1, 'shape')!;
        if (int('allowzero', 0) && target.includes(0)) fail(n, 'allowzero=1 with a zero in the shape is not supported');
        const per = reshapeTarget(n, a.shape, target, fail);
        set({ cat: 'A', shape: per, float: a.float }, (env, w) => {
          const x = get(env, w, ins[0]);
          env.set(out, tf.reshape(x, [x.shape[0], ...per]));
        });
        break;
      }
      case 'Transpose': {
        const a = act(0);
        const r = a.shape.length + 1;
        const perm = ints('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
        if (perm.length !== r || perm[0] !== 0 || [...perm].sort((x, y) => x - y).some((p, i) => p !== i)) fail(n, `perm [${perm}] must keep the batch axis first`);
        set({ cat: 'A', shape: perm.slice(1).map((p) => a.shape[p - 1]), float: a.float }, (env, w) => env.set(out, tf.transpose(get(env, w, ins[0]), perm)));
        break;
      }
      case 'Concat': {
        const parts = vin.map((v, i) => {
          if (!v || v.cat !== 'A') fail(n, `input ${i} must depend on the model input (concatenating constants or weights with data is not supported)`);
          return v as Extract<Value, { cat: 'A' }>;
        });
        const r = parts[0].shape.length;
        const axis = exampleAxis(int('axis', 0), r);
        if (!parts.every((p) => p.shape.length === r && p.shape.every((d, i) => i === axis || d === parts[0].shape[i]))) fail(n, `input shapes ${parts.map((p) => `[N, ${p.shape}]`).join(', ')} do not match off axis ${axis + 1}`);
        const shape = [...parts[0].shape];
        shape[axis] = parts.reduce((s, p) => s + p.shape[axis], 0);
        set({ cat: 'A', shape, float: true }, (env, w) => env.set(out, tf.concat(ins.map((s) => get(env, w, s)), axis + 1)));
        break;
      }
      case 'Gather': {
        const axis = int('axis', 0);
        const [dv, iv] = [vin[0]!, vin[1]!];
        if (dv.cat !== 'A' && iv.cat === 'A') {
          // Embedding: a table of [vocabulary, dim] rows looked up by the integer input.
          const dims = (dv as { dims: number[] }).dims;
          if (axis !== 0 || dims.length !== 2) fail(n, `only embedding lookups (axis 0 of a [vocabulary, dim] table) are supported, got axis ${axis} of dims [${dims}]`);
          if (ins[1] !== input.name || iv.float) fail(n, 'an embedding must read the integer model input directly');
          inputKind = 'tokens';
          vocabulary = dims[0];
          set({ cat: 'A', shape: [...iv.shape, dims[1]], float: true }, (env, w, k) => env.set(out, embedding(get(env, w, ins[1]), perCopy(env, w, ins[0], k), k)));
        } else if (dv.cat === 'A' && iv.cat === 'C') {
          // Constant indices into an activation (e.g. x[:, 0]): slices, differentiable on every backend.
          const ax = exampleAxis(axis, dv.shape.length);
          const idx = numbers(Array.from(iv.data), 'indices')!.map((i) => (i < 0 ? i + dv.shape[ax] : i));
          if (iv.dims.length > 1 || idx.some((i) => i < 0 || i >= dv.shape[ax])) fail(n, `indices [${Array.from(iv.data)}] are out of range or not a scalar/vector`);
          const shape = [...dv.shape.slice(0, ax), ...iv.dims, ...dv.shape.slice(ax + 1)];
          set({ cat: 'A', shape, float: dv.float }, (env, w) => {
            const x = get(env, w, ins[0]);
            const parts = idx.map((i) => tf.slice(x, x.shape.map((_, d) => (d === ax + 1 ? i : 0)), x.shape.map((s, d) => (d === ax + 1 ? 1 : s))));
            const y = parts.length === 1 ? parts[0] : tf.concat(parts, ax + 1);
            env.set(out, tf.reshape(y, [x.shape[0], ...shape]));
          });
        } else fail(n, 'only embedding lookups and constant indices into data are supported');
        break;
      }
      case 'Slice': {
        const a = act(0);
        const r = a.shape.length;
        let starts: number[];
        let ends: number[];
        let axesIn: number[] | null;
        let steps_: number[] | null;
        if (opset >= 10) {
          starts = numbers(staticInts(1, 'starts'), 'starts')!;
          ends = numbers(staticInts(2, 'ends'), 'ends')!;
          axesIn = numbers(staticInts(3, 'axes'), 'axes');
          steps_ = numbers(staticInts(4, 'steps'), 'steps');
        } else {
          starts = ints('starts') ?? [];
          ends = ints('ends') ?? [];
          axesIn = ints('axes');
          steps_ = null;
        }
        if (steps_ && steps_.some((s) => s !== 1)) fail(n, `steps [${steps_}] other than 1 are not supported`);
        const axes = axesIn ?? starts.map((_, i) => i);
        const begin = new Array(r).fill(0);
        const size = [...a.shape];
        axes.forEach((ax0, i) => {
          const ax = ax0 < 0 ? ax0 + r + 1 : ax0;
          if (ax === 0) {
            if (!(starts[i] === 0 && ends[i] >= 2 ** 31 - 1)) fail(n, 'slicing the batch axis is not supported');
            return;
          }
          const e = exampleAxis(ax0, r);
          const dim = a.shape[e];
          const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + dim : x, 0), dim);
          const s = clamp(starts[i]);
          const t = clamp(ends[i]);
          begin[e] = s;
          size[e] = Math.max(t - s, 0);
        });
        if (size.some((d) => d === 0)) fail(n, 'the slice is empty');
        set({ cat: 'A', shape: size, float: a.float }, (env, w) => {
          const x = get(env, w, ins[0]);
          env.set(out, tf.slice(x, [0, ...begin], [x.shape[0], ...size]));
        });
        break;
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const a = act(0);
        const raw = opset >= 13 ? numbers(staticInts(1, 'axes'), 'axes') : ints('axes');
        let shape: number[];
        if (op === 'Squeeze') {
          const axes = raw ? raw.map((x) => exampleAxis(x, a.shape.length)) : a.shape.flatMap((d, i) => (d === 1 ? [i] : []));
          if (axes.some((i) => a.shape[i] !== 1)) fail(n, `cannot squeeze axes [${raw}] of per-example shape [${a.shape}]`);
          shape = a.shape.filter((_, i) => !axes.includes(i));
        } else {
          if (!raw) fail(n, 'axes are missing');
          const r = a.shape.length + raw!.length;
          const axes = raw!.map((x) => (x < 0 ? x + r + 1 : x));
          if (axes.some((x) => x <= 0 || x > r)) fail(n, `axes [${raw}] are out of range or touch the batch axis`);
          shape = [];
          let j = 0;
          for (let i = 1; i <= r; i++) shape.push(axes.includes(i) ? 1 : a.shape[j++]);
        }
        set({ cat: 'A', shape, float: a.float }, (env, w) => {
          const x = get(env, w, ins[0]);
          env.set(out, tf.reshape(x, [x.shape[0], ...shape]));
        });
        break;
      }
      case 'Pad': {
        const a = act(0);
        const r = a.shape.length + 1;
        if (str('mode', 'constant') !== 'constant') fail(n, `mode "${str('mode', 'constant')}" is not supported (constant only)`);
        if (opset >= 18 && ins[3]) fail(n, 'the axes input is not supported');
        const pads = opset >= 11 ? numbers(staticInts(1, 'pads'), 'pads') : ints('pads');
        const value = opset >= 11 ? (ins[2] ? Number(staticInts(2, 'constant_value')![0]) : 0) : float('value', 0);
        if (!pads || pads.length !== 2 * r || pads.some((p) => !Number.isInteger(p) || p < 0)) fail(n, `pads [${pads}] are invalid (non-negative, two per axis)`);
        if (pads![0] || pads![r]) fail(n, 'padding the batch axis is not supported');
        const pairs = Array.from({ length: r }, (_, i) => [pads![i], pads![i + r]] as [number, number]);
        set({ cat: 'A', shape: a.shape.map((d, i) => d + pairs[i + 1][0] + pairs[i + 1][1]), float: a.float }, (env, w) => {
          const x = get(env, w, ins[0]);
          env.set(out, pairs.some(([p, q]) => p || q) ? tf.pad(x, pairs, value) : x);
        });
        break;
      }
      case 'Cast': {
        const v = vin[0]!;
        const to = int('to', 1);
        if (v.cat !== 'A') fail(n, 'casting weights is not supported');
        const a = v as Extract<Value, { cat: 'A' }>;
        if (to === 1 || to === 11 || to === 10) set({ ...a, float: true }, (env, w) => env.set(out, tf.cast(get(env, w, ins[0]), 'float32')));
        else if (!a.float) set(a, (env, w) => env.set(out, get(env, w, ins[0])));
        else fail(n, `casting data to ${dtypeName(to)} is not differentiable`);
        break;
      }
      default:
        fail(n, `this op is not supported (supported: ${ONNX_OPS.join(', ')})`);
    }
  }

  // The output and its head.
  if (model.outputs.length !== 1) throw new InputError(file, `the graph has ${model.outputs.length} outputs; exactly one is supported`);
  const outName = resolveName(model.outputs[0].name);
  const outVal = values.get(outName);
  if (!outVal) throw new InputError(file, `the graph's output "${outName}" is not produced by any node`);
  if (outVal.cat !== 'A') throw new InputError(file, `the graph's output "${outName}" does not depend on the input`);
  const producer = [...model.nodes].reverse().find((n) => n.outputs[0] === outName);
  let head: Activation = 'linear';
  let logitsName = outName;
  if (producer && ['Softmax', 'LogSoftmax', 'Sigmoid'].includes(producer.opType)) {
    const rank = outVal.shape.length;
    const axisAttr = producer.attributes.get('axis') as Extract<OnnxAttribute, { type: 'int' }> | undefined;
    const axis = axisAttr ? axisAttr.value : opset >= 13 ? -1 : 1;
    const last = producer.opType === 'Sigmoid' || axis === -1 || axis === rank;
    if (last) {
      head = producer.opType === 'Sigmoid' ? 'sigmoid' : 'softmax';
      logitsName = resolveName(producer.inputs[0]);
    }
  }
  const logitsVal = values.get(logitsName) as Extract<Value, { cat: 'A' }>;
  // Only the steps the logits need run (a fused head's own step is dropped).
  const live = new Set([logitsName]);
  const needed: Step[] = [];
  for (let i = steps.length - 1; i >= 0; i--) {
    if (!live.has(steps[i].out)) continue;
    needed.unshift(steps[i]);
    steps[i].ins.forEach((s) => live.add(s));
  }

  return {
    name: model.graphName && model.graphName !== 'torch_jit' && model.graphName !== 'main_graph' ? model.graphName : basename(file).replace(/\.onnx$/i, ''),
    inputShape: inputShape as number[],
    inputKind,
    vocabulary,
    inputLayout: 'NCHW',
    outputShape: logitsVal.shape,
    head,
    params,
    blocks,
    size: offset,
    initial: concatenated(initial, offset),
    logits: (w, x, copies = 1) => {
      const env: Tensors = new Map([[input.name, x]]);
      for (const s of needed) s.run(env, w, copies);
      return env.get(logitsName)!;
    },
    activationBytesPerExample: actBytes,
    dispose: () => {
      consts.forEach((t) => t.dispose());
      consts.clear();
    },
  };
}

/**
 * The result value and a runtime function of an elementwise binary op with numpy broadcasting over
 * the categories: data ⊕ constant broadcasts as is; data ⊕ weight with copies reshapes the data to
 * [K, N, …] and the weight to [K, 1, …] so each copy's batch meets its own weight; weight ⊕ constant
 * stays a weight.
 */
function binary(n: OnnxNode, a: Value, b: Value, fail: (n: OnnxNode, w: string) => never): [Value, (x: tf.Tensor, y: tf.Tensor, k: number, f: (p: tf.Tensor, q: tf.Tensor) => tf.Tensor) => tf.Tensor] {
  const dimsOf = (v: Value): number[] => (v.cat === 'A' ? v.shape : v.dims);
  if (a.cat === 'C' && b.cat === 'C') throw new Error('unreachable: constants are folded');
  if (a.cat === 'A' || b.cat === 'A') {
    const [av, other, swapped] = a.cat === 'A' ? [a, b, false] : [b as Extract<Value, { cat: 'A' }>, a, true];
    const s = av.shape;
    let od = dimsOf(other);
    if (other.cat !== 'A') {
      // The constant or weight broadcasts against [N, …s]: a leading 1 for the batch axis may be dropped.
      if (od.length === s.length + 1) {
        if (od[0] !== 1) fail(n, `operand dims [${od}] would broadcast across the batch axis`);
        od = od.slice(1);
      }
      if (od.length > s.length) fail(n, `operand dims [${dimsOf(other)}] have a higher rank than the data [N, ${s}]`);
    } else if (od.length !== s.length) fail(n, `data operands of different ranks ([N, ${s}] and [N, ${od}]) are not supported`);
    const padded = [...new Array(s.length - od.length).fill(1), ...od];
    const shape = s.map((d, i) => {
      const e = padded[i];
      if (d !== e && d !== 1 && e !== 1) fail(n, `shapes [N, ${s}] and [${dimsOf(other)}] do not broadcast`);
      return Math.max(d, e);
    });
    const result: Value = { cat: 'A', shape, float: true };
    const run = (x: tf.Tensor, y: tf.Tensor, k: number, f: (p: tf.Tensor, q: tf.Tensor) => tf.Tensor): tf.Tensor => {
      const [data, op2] = swapped ? [y, x] : [x, y];
      const call = (p: tf.Tensor, q: tf.Tensor) => (swapped ? f(q, p) : f(p, q));
      if (other.cat === 'W' && k > 1) {
        const d3 = tf.reshape(data, [k, -1, ...s]);
        const w3 = tf.reshape(op2, [k, 1, ...padded]);
        const r = call(d3, w3);
        return tf.reshape(r, [-1, ...shape]);
      }
      if (other.cat !== 'A') return call(data, tf.reshape(op2, padded));
      return call(data, op2);
    };
    return [result, run];
  }
  // Weight ⊕ weight or weight ⊕ constant: a weight; with copies, align ranks after the copies axis.
  const [da, db] = [dimsOf(a), dimsOf(b)];
  const r = Math.max(da.length, db.length);
  const pa = [...new Array(r - da.length).fill(1), ...da];
  const pb = [...new Array(r - db.length).fill(1), ...db];
  const dims = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1) fail(n, `dims [${da}] and [${db}] do not broadcast`);
    return Math.max(d, pb[i]);
  });
  const run = (x: tf.Tensor, y: tf.Tensor, k: number, f: (p: tf.Tensor, q: tf.Tensor) => tf.Tensor): tf.Tensor => {
    const lift = (t: tf.Tensor, v: Value, p: number[]) => (v.cat === 'W' && k > 1 ? tf.reshape(t, [k, ...p]) : tf.reshape(t, p));
    return f(lift(x, a, pa), lift(y, b, pb));
  };
  return [{ cat: 'W', dims }, run];
}

/** f over `axis` of x (f works on the last axis), with transposes around it when needed. */
function lastAxisApply(x: tf.Tensor, axis: number, f: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
  if (axis === x.rank - 1) return f(x);
  const perm = x.shape.map((_, i) => i);
  [perm[axis], perm[x.rank - 1]] = [perm[x.rank - 1], perm[axis]];
  return tf.transpose(f(tf.transpose(x, perm)), perm);
}

/** GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.square(x)))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

function padNHWC(x: tf.Tensor4D, pads: [number, number, number, number], value: number): tf.Tensor4D {
  const [top, left, bottom, right] = pads;
  if (!(top || left || bottom || right)) return x;
  return tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], value);
}

interface WindowAttrs {
  strides: [number, number];
  dilations: [number, number];
  /** ONNX order: top, left, bottom, right. */
  pads: [number, number, number, number];
  out: [number, number];
}

/** strides, dilations, pads / auto_pad and (for MaxPool) ceil_mode of a Conv or pooling node. */
function windowAttrs(
  n: OnnxNode,
  size: [number, number],
  kernel: [number, number],
  allowCeil: boolean,
  fail: (n: OnnxNode, w: string) => never,
  ints: (k: string) => number[] | null,
  int: (k: string, d: number) => number,
  str: (k: string, d: string) => string,
): WindowAttrs {
  const pair = (k: string): [number, number] => {
    const v = ints(k) ?? [1, 1];
    if (v.length !== 2 || !v.every((d) => Number.isInteger(d) && d > 0)) fail(n, `${k} [${v}] is invalid (two positive integers needed)`);
    return v as [number, number];
  };
  const strides = pair('strides');
  const dilations = pair('dilations');
  const eff = [0, 1].map((i) => (kernel[i] - 1) * dilations[i] + 1);
  const autoPad = str('auto_pad', 'NOTSET');
  let pads: [number, number, number, number];
  if (autoPad === 'NOTSET') {
    const p = ints('pads') ?? [0, 0, 0, 0];
    if (p.length !== 4 || !p.every((d) => Number.isInteger(d) && d >= 0)) fail(n, `pads [${p}] is invalid (four non-negative integers needed)`);
    pads = p as [number, number, number, number];
  } else if (autoPad === 'VALID') pads = [0, 0, 0, 0];
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const tot = [0, 1].map((i) => Math.max((Math.ceil(size[i] / strides[i]) - 1) * strides[i] + eff[i] - size[i], 0));
    const before = tot.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    pads = [before[0], before[1], tot[0] - before[0], tot[1] - before[1]];
  } else fail(n, `auto_pad "${autoPad}" is invalid`);
  const ceil = int('ceil_mode', 0) === 1;
  if (ceil && !allowCeil) fail(n, 'ceil_mode=1 is not supported');
  const out = [0, 1].map((i) => {
    const span = size[i] + pads![i] + pads![i + 2] - eff[i];
    if (span < 0) fail(n, `the window does not fit the input [${size}]`);
    let o = (ceil ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
    // PyTorch/ONNX: the last window must start inside the input or its leading padding.
    if (ceil && (o - 1) * strides[i] >= size[i] + pads![i]) o--;
    return o;
  }) as [number, number];
  if (ceil) {
    // Extra bottom/right padding (never chosen by a max) so that the last window fits.
    for (const i of [0, 1]) pads![i + 2] += Math.max((out[i] - 1) * strides[i] + eff[i] - (size[i] + pads![i] + pads![i + 2]), 0);
  }
  return { strides, dilations, pads: pads!, out };
}

/** The per-example shape of a Reshape of data [N, …shape] to `target` (which may hold N, 0 and −1). */
function reshapeTarget(n: OnnxNode, shape: number[], target: Num[], fail: (n: OnnxNode, w: string) => never): number[] {
  const full: Num[] = [BATCH, ...shape];
  const t = target.map((d, i) => (d === 0 ? full[i] : d));
  if (t.length === 0) fail(n, 'an empty target shape is not supported');
  const size = prod(shape);
  const rest = t.slice(1);
  if (rest.some((d) => d === BATCH)) fail(n, 'the batch size may only appear first in the target shape');
  const restN = rest as number[];
  if (t[0] === BATCH) {
    const known = prod(restN.filter((d) => d !== -1));
    const free = restN.filter((d) => d === -1).length;
    if (free > 1 || (free === 1 && (known === 0 || size % known !== 0)) || (free === 0 && known !== size)) fail(n, `cannot reshape [N, ${shape}] to [N, ${rest}]`);
    return restN.map((d) => (d === -1 ? size / known : d));
  }
  if (t[0] === -1 && !restN.includes(-1) && prod(restN) === size) return restN;
  if (t[0] === -1) fail(n, `reshaping [N, ${shape}] to [${target}] would mix examples across the batch axis`);
  fail(n, `the target shape [${target}] fixes the batch size to ${t[0]}; export the model with a dynamic batch axis (dynamic_axes)`);
  throw new Error('unreachable');
}

/** A Constant node's value. */
function constantNode(n: OnnxNode, fail: (n: OnnxNode, w: string) => never): Value {
  const [k, a] = [...n.attributes.entries()][0] ?? [];
  if (!a) fail(n, 'has no value');
  switch (k) {
    case 'value': {
      if (a!.type !== 'tensor') fail(n, 'value is not a tensor');
      const t = a!.value as OnnxTensor;
      return { cat: 'C', dims: t.dims, data: t.values, float: t.kind === 'float' };
    }
    case 'value_float':
      return { cat: 'C', dims: [], data: [a!.value as number], float: true };
    case 'value_floats':
      return { cat: 'C', dims: [(a!.value as number[]).length], data: a!.value as number[], float: true };
    case 'value_int':
      return { cat: 'C', dims: [], data: [a!.value as number], float: false };
    case 'value_ints':
      return { cat: 'C', dims: [(a!.value as number[]).length], data: a!.value as number[], float: false };
    default:
      return fail(n, `attribute ${k} is not supported`);
  }
}

/**
 * Evaluates a node whose inputs are all constants (shape arithmetic, constant subgraphs), keeping the
 * batch size symbolic where it passes through unchanged (Gather, Concat, Unsqueeze, Squeeze, Slice,
 * Cast, Identity, Reshape).
 */
function fold(n: OnnxNode, ins: Array<Extract<Value, { cat: 'C' }> | undefined>, opset: number, fail: (n: OnnxNode, w: string) => never): Value {
  const a = ins[0]!;
  const op = n.opType;
  const intAttr = (k: string, d: number) => (n.attributes.get(k)?.value as number | undefined) ?? d;
  const intsAttr = (k: string) => (n.attributes.get(k)?.value as number[] | undefined) ?? null;
  const data = (v: Extract<Value, { cat: 'C' }>) => Array.from(v.data);
  const numeric = (v: Extract<Value, { cat: 'C' }>, what: string): number[] => {
    const d = data(v);
    if (d.some((x) => x === BATCH)) fail(n, `${what} depends on the batch size in a way that cannot be folded`);
    return d as number[];
  };
  const C = (dims: number[], d: ArrayLike<Num>, float = a.float): Value => ({ cat: 'C', dims, data: d, float });
  switch (op) {
    case 'Identity':
    case 'Shape':
      return op === 'Shape' ? C([a.dims.length], a.dims.slice(intAttr('start', 0), n.attributes.has('end') ? intAttr('end', 0) : undefined), false) : a;
    case 'Cast': {
      const to = intAttr('to', 1);
      const float = to === 1 || to === 10 || to === 11 || to === 16;
      const d = data(a).map((x) => (x === BATCH ? x : float ? x : Math.trunc(x)));
      return C(a.dims, d, float);
    }
    case 'Gather': {
      const axis = intAttr('axis', 0);
      const idx = numeric(ins[1]!, 'indices');
      const r = a.dims.length;
      const ax = axis < 0 ? axis + r : axis;
      if (ax < 0 || ax >= r) fail(n, `axis ${axis} is out of range`);
      const outer = prod(a.dims.slice(0, ax));
      const inner = prod(a.dims.slice(ax + 1));
      const d = data(a);
      const res: Num[] = [];
      for (let o = 0; o < outer; o++) {
        for (const i0 of idx) {
          const i = i0 < 0 ? i0 + a.dims[ax] : i0;
          if (i < 0 || i >= a.dims[ax]) fail(n, `index ${i0} is out of range`);
          for (let j = 0; j < inner; j++) res.push(d[(o * a.dims[ax] + i) * inner + j]);
        }
      }
      return C([...a.dims.slice(0, ax), ...ins[1]!.dims, ...a.dims.slice(ax + 1)], res);
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axesRaw = opset >= 13 ? (ins[1] ? numeric(ins[1], 'axes') : null) : intsAttr('axes');
      if (op === 'Unsqueeze') {
        if (!axesRaw) fail(n, 'axes are missing');
        const r = a.dims.length + axesRaw!.length;
        const axes = axesRaw!.map((x) => (x < 0 ? x + r : x));
        const dims: number[] = [];
        let j = 0;
        for (let i = 0; i < r; i++) dims.push(axes.includes(i) ? 1 : a.dims[j++]);
        return C(dims, a.data);
      }
      const axes = axesRaw ? axesRaw.map((x) => (x < 0 ? x + a.dims.length : x)) : a.dims.flatMap((d, i) => (d === 1 ? [i] : []));
      return C(a.dims.filter((_, i) => !axes.includes(i)), a.data);
    }
    case 'Concat': {
      const parts = ins.filter((v): v is Extract<Value, { cat: 'C' }> => !!v);
      const r = a.dims.length;
      const axis = intAttr('axis', 0);
      const ax = axis < 0 ? axis + r : axis;
      if (r === 1 && ax === 0) return C([parts.reduce((s, p) => s + p.dims[0], 0)], parts.flatMap(data), parts.some((p) => p.float));
      const outer = prod(a.dims.slice(0, ax));
      const res: Num[] = [];
      for (let o = 0; o < outer; o++) {
        for (const p of parts) {
          const chunk = prod(p.dims.slice(ax));
          const d = data(p);
          for (let j = 0; j < chunk; j++) res.push(d[o * chunk + j]);
        }
      }
      const dims = [...a.dims];
      dims[ax] = parts.reduce((s, p) => s + p.dims[ax], 0);
      return C(dims, res, parts.some((p) => p.float));
    }
    case 'Slice': {
      if (a.dims.length !== 1) fail(n, 'folding a Slice of a constant of rank > 1 is not supported');
      const starts = opset >= 10 ? numeric(ins[1]!, 'starts') : intsAttr('starts')!;
      const ends = opset >= 10 ? numeric(ins[2]!, 'ends') : intsAttr('ends')!;
      const steps = opset >= 10 && ins[4] ? numeric(ins[4], 'steps') : [1];
      if (steps[0] !== 1) fail(n, 'steps other than 1 are not supported');
      const len = a.dims[0];
      const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + len : x, 0), len);
      const d = data(a).slice(clamp(starts[0]), clamp(ends[0]));
      return C([d.length], d);
    }
    case 'Reshape': {
      const target = numeric(ins[1]!, 'shape');
      const total = prod(a.dims);
      const t = target.map((d, i) => (d === 0 ? a.dims[i] : d));
      const known = prod(t.filter((d) => d !== -1));
      return C(t.map((d) => (d === -1 ? total / known : d)), a.data);
    }
    case 'ConstantOfShape': {
      const dims = numeric(a, 'shape');
      const v = n.attributes.get('value');
      const t = v?.type === 'tensor' ? (v.value as OnnxTensor) : null;
      if (prod(dims) > 2 ** 24) fail(n, 'the constant is too large');
      return C(dims, new Array(prod(dims)).fill(t ? t.values[0] : 0), t ? t.kind === 'float' : true);
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div': {
      const b = ins[1]!;
      const x = numeric(a, 'the left operand');
      const y = numeric(b, 'the right operand');
      const float = a.float || b.float;
      const f = { Add: (p: number, q: number) => p + q, Sub: (p: number, q: number) => p - q, Mul: (p: number, q: number) => p * q, Div: (p: number, q: number) => (float ? p / q : Math.trunc(p / q)) }[op];
      if (x.length === 1 || y.length === 1 || x.length === y.length) {
        const m = Math.max(x.length, y.length);
        const dims = x.length >= y.length ? a.dims : b.dims;
        return C(dims, Array.from({ length: m }, (_, i) => f(x[x.length === 1 ? 0 : i], y[y.length === 1 ? 0 : i])), float);
      }
      return fail(n, `folding constants of dims [${a.dims}] and [${b.dims}] is not supported`);
    }
    case 'Neg':
    case 'Sqrt':
    case 'Exp':
    case 'Log':
    case 'Abs':
    case 'Erf':
    case 'Relu':
    case 'Sigmoid':
    case 'Tanh': {
      const f: Record<string, (x: number) => number> = { Neg: (x) => -x, Sqrt: Math.sqrt, Exp: Math.exp, Log: Math.log, Abs: Math.abs, Relu: (x) => Math.max(x, 0), Sigmoid: (x) => 1 / (1 + Math.exp(-x)), Tanh: Math.tanh };
      if (!f[op]) break;
      return C(a.dims, numeric(a, 'the operand').map(f[op]));
    }
    case 'Transpose': {
      const perm = intsAttr('perm') ?? a.dims.map((_, i) => a.dims.length - 1 - i);
      const d = numeric(a, 'the operand');
      const t = readAndDispose(tf.tidy(() => tf.transpose(tf.tensor(d, a.dims), perm)));
      return C(perm.map((p) => a.dims[p]), Array.from(t));
    }
  }
  return fail(n, `computing this op on constants only is not supported (supported: ${ONNX_OPS.join(', ')})`);
}
