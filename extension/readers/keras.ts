/**
 * Reads Keras models saved by Keras itself, as untrusted input, into the same TfjsModelFile that the
 * TF.js reader produces (layers from the Keras config, weights named "<layer>/<weight>"), so that
 * buildNetwork maps them unchanged:
 *
 *   `.keras`  Keras 3 (and tf.keras ≥ 2.13) archive: a zip of config.json (the serialized model),
 *             metadata.json and model.weights.h5. Keras' saving_lib writes a layer's variables to
 *             `layers/<slot>/vars/<i>`, where <slot> is NOT the layer's name but the snake-cased class
 *             name numbered per class in the model's layer list (`dense`, `dense_1`, …; a Sequential
 *             model's list leaves out its InputLayer; tf.keras 2.13–2.15 wrote the root
 *             `_layer_checkpoint_dependencies` instead of `layers`), and <i> follows the layer's
 *             trainable-then-non-trainable variable order (Dense: kernel, bias; BatchNormalization:
 *             gamma, beta, moving_mean, moving_variance; …).
 *   `.h5`     legacy whole-model HDF5 (tf.keras 2.x and Keras 3 `model.save("m.h5")`):
 *             root attributes `model_config` and `training_config` (JSON), and a group
 *             `model_weights/<layer name>` per layer whose attribute `weight_names` lists its datasets
 *             (`dense/kernel:0` in tf.keras 2, the variable path `sequential/dense/kernel` in Keras 3; long
 *             lists are split into `weight_names0`, `weight_names1`, …).
 *
 * Lambda layers (their function is Python bytecode) and layers of other classes are refused by name;
 * no code from the file is ever run. Sizes are checked before anything is allocated: the file, the
 * archive members (declared sizes, before inflating) and every weight dataset (shape × 4 bytes, before
 * reading its values).
 */
import { statSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { InputError } from '../errors.js';
import { openHdf5, type H5File } from './hdf5.js';
import { parseTopology, type RawLayer, type TfjsModelFile, type WeightTensor } from './tfjsModel.js';
import { zipEntries, zipExtract } from './zip.js';

export interface KerasLimits {
  /** Largest .keras / .h5 file accepted, bytes. */
  maxFileBytes: number;
  /** Largest model config (config.json or the model_config attribute), bytes. */
  maxConfigBytes: number;
  /** Largest total of weights accepted, bytes as float32. */
  maxWeightBytes: number;
}
export const DEFAULT_KERAS_LIMITS: KerasLimits = { maxFileBytes: 2 * 2 ** 30, maxConfigBytes: 64 * 2 ** 20, maxWeightBytes: 2 * 2 ** 30 };

type Json = Record<string, unknown>;
type Fail = (detail: string) => never;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The weights a layer class owns, in Keras' variable order (trainable, then non-trainable), named as
 * buildNetwork looks them up. Classes absent here own no weights (or are not supported).
 */
export function kerasWeightNames(layer: RawLayer): string[] | null {
  const c = layer.config;
  switch (layer.className) {
    case 'Dense':
    case 'Conv2D':
      return ['kernel', ...(c.use_bias !== false ? ['bias'] : [])];
    case 'DepthwiseConv2D':
      return ['depthwise_kernel', ...(c.use_bias !== false ? ['bias'] : [])];
    case 'BatchNormalization':
      return [...(c.scale !== false ? ['gamma'] : []), ...(c.center !== false ? ['beta'] : []), 'moving_mean', 'moving_variance'];
    case 'LayerNormalization':
      return [...(c.scale !== false ? ['gamma'] : []), ...(c.center !== false ? ['beta'] : [])];
    case 'Embedding':
      return ['embeddings'];
    default:
      return null;
  }
}

/** Keras' naming.to_snake_case: "Conv2D" → "conv2d", "MaxPooling2D" → "max_pooling2d", "LeakyReLU" → "leaky_re_lu". */
export function kerasSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

export function readKerasModel(path: string, limits: KerasLimits = DEFAULT_KERAS_LIMITS): TfjsModelFile {
  const fail: Fail = (detail) => {
    throw new InputError(path, detail);
  };
  let size = 0;
  try {
    const st = statSync(path);
    if (!st.isFile()) fail('is not a file; pass the path of a .keras or .h5 model file');
    size = st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    fail('model file not found');
  }
  if (size > limits.maxFileBytes) fail(`the file is ${size} bytes, above the ${limits.maxFileBytes}-byte limit`);
  const bytes = readFileSync(path);
  const ext = extname(path).toLowerCase();
  return ext === '.keras' ? fromArchive(path, bytes, limits, fail) : fromLegacyH5(path, bytes, limits, fail);
}

function fromArchive(path: string, bytes: Uint8Array, limits: KerasLimits, fail: Fail): TfjsModelFile {
  const entries = zipEntries(bytes, fail, 'not a .keras (zip) archive, or truncated: no end-of-central-directory record; save the model with model.save("model.keras")');
  const member = (name: string, max: number, hint: string): Uint8Array => {
    const e = entries.find((x) => x.name === name);
    if (!e) fail(`the archive has no ${name}; ${hint}`);
    return zipExtract(bytes, e!, { maxBytes: max }, (d) => fail(`member '${name}': ${d}`), 'Keras');
  };
  if (!entries.some((e) => e.name === 'model.weights.h5') && entries.some((e) => e.name === 'model.weights.npz')) {
    fail('the weights are stored as model.weights.npz; only model.weights.h5 (Keras\' default) is supported: re-save with model.save("model.keras")');
  }
  const configText = new TextDecoder().decode(member('config.json', limits.maxConfigBytes, 'it is not a Keras 3 model archive (save it with model.save("model.keras"))'));
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (e) {
    fail(`config.json is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(config)) fail('config.json is not a Keras model config (expected a JSON object)');
  const cfg = config as Json;
  const topo = parseTopology(path, cfg);
  refuseCode(path, topo.layers);
  const h5 = openHdf5(member('model.weights.h5', limits.maxFileBytes, 'the archive holds no weights (save it with model.save("model.keras"))'), 'model.weights.h5', (d) => fail(`model.weights.h5: ${d}`));
  const weights = archiveWeights(path, h5, topo.topologyClass, topo.layers, limits);
  const compile = isObj(cfg.compile_config) ? cfg.compile_config : null;
  return {
    path,
    ...topo,
    inputShape: topo.inputShape ?? buildShape(cfg),
    weights,
    trainingLoss: lossName(compile?.loss),
  };
}

/** Keras 3's `layers/<slot>/vars/<i>`, slots named as saving_lib names container members. */
function archiveWeights(path: string, h5: H5File, topologyClass: string, layers: RawLayer[], limits: KerasLimits): WeightTensor[] {
  const fail: Fail = (detail) => {
    throw new InputError(path, `model.weights.h5: ${detail}`);
  };
  const root = ['layers', '_layer_checkpoint_dependencies'].find((r) => h5.isGroup(r));
  if (!root) fail('has no "layers" group: it was not written by Keras\' model.save (a .weights.h5 from save_weights holds no model config; save the whole model)');
  const listed = topologyClass === 'Sequential' && layers[0]?.className === 'InputLayer' ? layers.slice(1) : layers;
  const used = new Map<string, number>();
  const budget = { bytesLeft: limits.maxWeightBytes };
  const weights: WeightTensor[] = [];
  for (const layer of listed) {
    const base = kerasSnakeCase(layer.className);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    const slot = n === undefined ? base : `${base}_${n + 1}`;
    const names = kerasWeightNames(layer);
    if (!names) continue;
    const group = `${root}/${slot}/vars`;
    if (!h5.isGroup(group)) fail(`weight group "${group}" of layer "${layer.name}" (${layer.className}) is missing: the file is incomplete or does not belong to this config`);
    const keys = h5.keys(group);
    const want = names.map((_, i) => String(i));
    if (keys.length !== names.length || !want.every((k) => keys.includes(k))) {
      fail(`weight group "${group}" of layer "${layer.name}" (${layer.className}) holds [${keys.join(', ')}] but the layer has ${names.length} weights (${names.join(', ')}); quantized or customized layers are not supported`);
    }
    names.forEach((w, i) => {
      const d = h5.dataset(`${group}/${i}`);
      weights.push({ name: `${layer.name}/${w}`, shape: d.shape, values: d.read(budget) });
    });
  }
  return weights;
}

function fromLegacyH5(path: string, bytes: Uint8Array, limits: KerasLimits, fail: Fail): TfjsModelFile {
  const h5 = openHdf5(bytes, path, fail);
  const rawConfig = h5.attr('', 'model_config');
  if (rawConfig === undefined) {
    const weightsOnly = h5.has('layers') || h5.attr('', 'layer_names') !== undefined;
    fail(weightsOnly
      ? 'holds only weights (no model_config attribute): save the whole model with model.save("model.h5") or model.save("model.keras")'
      : 'has no model_config attribute: not a Keras model saved with model.save("model.h5")');
  }
  const config = jsonAttr(rawConfig, 'model_config', limits, fail);
  const topo = parseTopology(path, config);
  refuseCode(path, topo.layers);
  if (!h5.isGroup('model_weights')) fail('has no "model_weights" group: the model was saved without weights');
  const budget = { bytesLeft: limits.maxWeightBytes };
  const weights: WeightTensor[] = [];
  for (const layer of topo.layers) {
    const names = kerasWeightNames(layer);
    if (!names) continue;
    const group = `model_weights/${layer.name}`;
    if (!h5.isGroup(group)) fail(`weight group "${group}" of layer "${layer.name}" (${layer.className}) is missing: the file is incomplete or was not saved by Keras`);
    const listed = stringListAttr(h5, group, 'weight_names', fail);
    // tf.keras 2 writes "dense/kernel:0", Keras 3 the variable path "sequential/dense/kernel" (its
    // DepthwiseConv2D calls the depthwise kernel "kernel").
    const suffixes = listed.map((w) => w.split('/').pop()!.replace(/:\d+$/, ''));
    const same = (want: string, got: string) => got === want || (want === 'depthwise_kernel' && got === 'kernel');
    if (suffixes.length !== names.length || names.some((w, i) => !same(w, suffixes[i]))) {
      fail(`layer "${layer.name}" (${layer.className}) stores weights [${listed.join(', ')}] but needs [${names.join(', ')}]`);
    }
    listed.forEach((w, i) => {
      const d = h5.dataset(`${group}/${w}`);
      weights.push({ name: `${layer.name}/${names[i]}`, shape: d.shape, values: d.read(budget) });
    });
  }
  const training = h5.attr('', 'training_config');
  const trainingConfig = training === undefined ? null : jsonAttr(training, 'training_config', limits, fail);
  return { path, ...topo, inputShape: topo.inputShape ?? buildShape(config), weights, trainingLoss: lossName(trainingConfig?.loss) };
}

/** A string-list attribute, or its chunks `name0`, `name1`, … (Keras splits lists above 64 KB). */
function stringListAttr(h5: H5File, path: string, name: string, fail: Fail): string[] {
  const whole = h5.attr(path, name);
  const parts: unknown[] = [];
  if (whole !== undefined) parts.push(whole);
  else for (let i = 0; h5.attr(path, `${name}${i}`) !== undefined; i++) parts.push(h5.attr(path, `${name}${i}`));
  if (parts.length === 0) fail(`HDF5 group "${path}" has no "${name}" attribute: not a Keras weight group`);
  const out = parts.flatMap((p) => (Array.isArray(p) ? p : [p]));
  if (!out.every((s) => typeof s === 'string')) fail(`attribute "${name}" of "${path}" is not a list of strings`);
  return out as string[];
}

function jsonAttr(raw: unknown, name: string, limits: KerasLimits, fail: Fail): Json {
  if (typeof raw !== 'string') fail(`attribute ${name} is not a string`);
  const text = raw as string;
  if (text.length > limits.maxConfigBytes) fail(`attribute ${name} is ${text.length} bytes, above the ${limits.maxConfigBytes}-byte limit`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fail(`attribute ${name} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(v)) fail(`attribute ${name} is not a JSON object`);
  return v as Json;
}

/** Lambda layers hold Python bytecode: refused by name, never decoded. */
function refuseCode(path: string, layers: RawLayer[]): void {
  const lambda = layers.find((l) => l.className === 'Lambda');
  if (lambda) {
    throw new InputError(path, `layer "${lambda.name}" is a Lambda layer: its function is Python code, which Curvature Lens never runs; rebuild the model with built-in layers to inspect it`);
  }
}

/** Sequential models built without an InputLayer record the input shape as build_input_shape. */
function buildShape(config: Json): Array<number | null> | null {
  const c = isObj(config.config) ? config.config : null;
  const s = c?.build_input_shape ?? (isObj(config.build_config) ? config.build_config.input_shape : undefined);
  return Array.isArray(s) ? (s.slice(1) as Array<number | null>) : null;
}

/** The loss as Keras' function name: a string, or a serialized loss object (class name, snake-cased). */
function lossName(loss: unknown): string | null {
  if (typeof loss === 'string') return loss;
  if (isObj(loss) && loss.class_name === 'function' && typeof loss.config === 'string') return loss.config;
  if (isObj(loss) && typeof loss.class_name === 'string') {
    // A loss on logits would need a linear output; leave such a loss to inference from the output layer.
    const fromLogits = isObj(loss.config) && loss.config.from_logits === true;
    return fromLogits ? null : kerasSnakeCase(loss.class_name);
  }
  return null;
}
