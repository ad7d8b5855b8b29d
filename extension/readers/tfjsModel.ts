/**
 * Reads a TF.js LayersModel (`model.json` + weight shards) from disk as untrusted input: sizes are
 * checked before anything is allocated, shard paths may not leave the model's folder, and every
 * inconsistency (missing or short shard, manifest sizes that disagree with shapes, non-finite weights)
 * is an InputError naming the file.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { tf } from '../engine/tfjs.js';
import { allocate, reserve } from './alloc.js';
import { jsonDepthExceeded } from './jsonDepth.js';

export interface RawLayer {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** Functional models: for each call of the layer, the names of the layers it reads from. */
  inbound?: string[][];
}

export interface WeightTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface TfjsModelFile {
  path: string;
  name: string;
  topologyClass: string;
  layers: RawLayer[];
  /** The model's input shape without the batch dimension (null entries are free). */
  inputShape: Array<number | null> | null;
  weights: WeightTensor[];
  /** The training loss recorded in the file, if any (Keras' name). */
  trainingLoss: string | null;
  /** Functional models: the names of the output layers. */
  outputLayers?: string[];
}

export interface ModelLimits {
  /** Largest model.json accepted, bytes. */
  maxJsonBytes: number;
  /** Largest total of weight bytes accepted. */
  maxWeightBytes: number;
  /** Most weights (parameters, trainable or not) accepted. */
  maxParameters?: number;
  /** Most layers (graph nodes) accepted. */
  maxLayers?: number;
  /** Deepest bracket nesting accepted in model.json (checked before parsing). */
  maxJsonDepth?: number;
}
export const DEFAULT_MODEL_LIMITS: ModelLimits = {
  maxJsonBytes: 64 * 2 ** 20,
  maxWeightBytes: 2 * 2 ** 30,
  maxParameters: 2 ** 28,
  maxLayers: 100_000,
  maxJsonDepth: 100,
};

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2 };

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readTfjsModel(path: string, limits: ModelLimits = DEFAULT_MODEL_LIMITS): TfjsModelFile {
  const file = resolve(path);
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new InputError(path, 'is not a file; pass the path of a TF.js model.json');
    size = st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(path, 'model file not found');
  }
  if (size > limits.maxJsonBytes) {
    throw new InputError(path, `model.json is ${size} bytes, above the ${limits.maxJsonBytes}-byte limit`);
  }
  reserve(size, limits.maxJsonBytes, path, 'reading model.json');
  let json: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    const maxDepth = limits.maxJsonDepth ?? DEFAULT_MODEL_LIMITS.maxJsonDepth!;
    const deep = jsonDepthExceeded(text, maxDepth);
    if (deep >= 0) throw new InputError(path, `nests brackets more than ${maxDepth} levels deep (at character ${deep}); a Keras/TF.js model.json never does: the file is corrupt or hostile`);
    json = JSON.parse(text);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(path, `is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(json)) throw new InputError(path, 'is not a TF.js model.json (expected a JSON object)');
  if (json.format === 'graph-model' || (isObj(json.modelTopology) && 'node' in json.modelTopology)) {
    throw new InputError(path, 'is a TF.js graph model; Curvature Lens needs a LayersModel (convert with --output_format=tfjs_layers_model)');
  }
  if (!isObj(json.modelTopology)) throw new InputError(path, 'has no "modelTopology" object: not a TF.js LayersModel');
  if (!Array.isArray(json.weightsManifest)) throw new InputError(path, 'has no "weightsManifest" array: not a TF.js LayersModel with weights');

  const topo = isObj(json.modelTopology.model_config) ? json.modelTopology.model_config : json.modelTopology;
  const { topologyClass, layers, inputShape, outputLayers, name } = parseTopology(path, topo, limits.maxLayers);

  const dir = dirname(file);
  let realDir: string;
  try {
    realDir = realpathSync(dir);
  } catch {
    throw new InputError(path, "cannot resolve the model's folder");
  }
  const maxParameters = limits.maxParameters ?? DEFAULT_MODEL_LIMITS.maxParameters!;
  const weights: WeightTensor[] = [];
  let totalBytes = 0;
  let totalParameters = 0;
  const names = new Set<string>();
  json.weightsManifest.forEach((group: unknown, gi: number) => {
    if (!isObj(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new InputError(path, `weightsManifest[${gi}] is malformed (expected {"paths": [...], "weights": [...]})`);
    }
    const specs = group.weights.map((w: unknown, wi: number) => checkSpec(path, w, `weightsManifest[${gi}].weights[${wi}]`));
    // Before decoding: tf.io.decodeWeights keys its tensors by name, so a repeated name would be lost.
    for (const s of specs) {
      if (names.has(s.name)) throw new InputError(path, `weight name "${s.name}" appears twice in the manifest`);
      names.add(s.name);
    }
    const expected = specs.reduce((n, s) => n + specBytes(s), 0);
    totalParameters += specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    if (totalParameters > maxParameters) {
      throw new InputError(path, `the weights manifest declares ${totalParameters} parameters, above the limit of ${maxParameters}`);
    }
    totalBytes += expected;
    if (totalBytes > limits.maxWeightBytes) {
      throw new InputError(path, `the weights need ${totalBytes} bytes, above the ${limits.maxWeightBytes}-byte limit`);
    }
    const buffers: Uint8Array[] = [];
    let got = 0;
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string') throw new InputError(path, `weightsManifest[${gi}].paths has a non-string entry`);
      const shard = resolve(dir, p);
      const rel = relative(dir, shard);
      if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) || isAbsolute(p)) {
        throw new InputError(path, `weight shard path "${p}" leaves the model's folder; shards must sit beside model.json`);
      }
      let st;
      let real: string;
      try {
        st = statSync(shard);
        real = realpathSync(shard);
      } catch {
        throw new InputError(shard, `weight shard is missing (listed in ${path})`);
      }
      if (!st.isFile()) throw new InputError(shard, `weight shard is not a file (listed in ${path})`);
      const realRel = relative(realDir, real);
      if (realRel === '..' || realRel.startsWith(`..${sep}`) || isAbsolute(realRel)) {
        throw new InputError(path, `weight shard "${p}" is a link that leaves the model's folder; shards must sit beside model.json`);
      }
      if (got + st.size > expected) {
        throw new InputError(shard, `weight shards of group ${gi} hold more bytes than the manifest's ${expected}: manifest and shards disagree`);
      }
      reserve(st.size, limits.maxWeightBytes, shard, 'reading the weight shard');
      buffers.push(readFileSync(shard));
      got += st.size;
    }
    if (got !== expected) {
      throw new InputError(path, `weight shards of group ${gi} hold ${got} bytes but the manifest's shapes need ${expected}: a shard is truncated or the manifest is wrong`);
    }
    const all = allocate('uint8', expected, limits.maxWeightBytes, path, `the weights of group ${gi}`);
    let off = 0;
    for (const b of buffers) {
      all.set(b, off);
      off += b.length;
    }
    const decoded = tf.tidy(() => tf.io.decodeWeights(all.buffer, specs as tf.io.WeightsManifestEntry[]));
    for (const s of specs) {
      const t = decoded[s.name];
      const values = allocate('float32', t.size, limits.maxWeightBytes, path, `weight "${s.name}"`);
      values.set(t.dataSync());
      t.dispose();
      const bad = values.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new InputError(path, `weight "${s.name}" has a non-finite value (${values[bad]}) at flat index ${bad}`);
      weights.push({ name: s.name, shape: s.shape, values });
    }
  });
  const training = isObj(json.modelTopology.training_config) ? json.modelTopology.training_config : null;
  return {
    path,
    name,
    topologyClass,
    layers,
    inputShape,
    weights,
    trainingLoss: training && typeof training.loss === 'string' ? training.loss : null,
    outputLayers,
  };
}

export type Topology = Pick<TfjsModelFile, 'topologyClass' | 'layers' | 'inputShape' | 'outputLayers' | 'name'>;

/**
 * A Keras model config (`{"class_name": "Sequential" | "Functional" | "Model", "config": {...}}`, as in
 * model.json's `model_config`, a legacy .h5's `model_config` attribute or a .keras archive's
 * config.json) as layers, input shape and outputs. Keras 2 and Keras 3 spellings alike.
 */
export function parseTopology(path: string, topo: Record<string, unknown>, maxLayers = DEFAULT_MODEL_LIMITS.maxLayers!): Topology {
  const topologyClass = String(topo.class_name ?? '');
  const cfg = topo.config;
  const layerList = Array.isArray(cfg) ? cfg : isObj(cfg) && Array.isArray(cfg.layers) ? cfg.layers : null;
  if (!layerList) throw new InputError(path, 'modelTopology has no layer list (expected model_config.config.layers)');
  const functional = topologyClass === 'Functional' || topologyClass === 'Model';
  if (topologyClass !== 'Sequential' && !functional) {
    throw new InputError(path, `the model's topology is "${topologyClass}"; supported: Sequential, Functional`);
  }
  if (layerList.length > maxLayers) throw new InputError(path, `the model has ${layerList.length} layers, above the limit of ${maxLayers}`);
  const layers: RawLayer[] = layerList.map((l: unknown, i: number) => {
    if (!isObj(l) || typeof l.class_name !== 'string' || !isObj(l.config)) {
      throw new InputError(path, `layer ${i} is malformed (expected {"class_name", "config"})`);
    }
    const name = typeof l.config.name === 'string' ? l.config.name : typeof l.name === 'string' ? l.name : `layer_${i}`;
    const layer: RawLayer = { className: l.class_name, name, config: l.config };
    if (functional) layer.inbound = inboundOf(path, name, l.inbound_nodes);
    return layer;
  });
  const outputLayers = functional && isObj(cfg) ? layerRefs(path, cfg.output_layers, 'output_layers') : undefined;
  const first = layers[0];
  const shapeCfg = first?.config.batch_input_shape ?? first?.config.batch_shape ?? first?.config.batchInputShape;
  const inputShape = Array.isArray(shapeCfg) ? (shapeCfg.slice(1) as Array<number | null>) : null;

  return { topologyClass, layers, inputShape, outputLayers, name: typeof (isObj(cfg) && cfg.name) === 'string' ? String((cfg as Json).name) : 'model' };
}

/**
 * A functional layer's calls, each as the list of layer names it reads. Keras 2 writes
 * `[[["conv2d", 0, 0, {}], …], …]`; Keras 3 writes `[{"args": [...], "kwargs": {...}}]` with tensors
 * `{"class_name": "__keras_tensor__", "config": {"keras_history": ["conv2d", 0, 0]}}` anywhere in args.
 */
function inboundOf(path: string, layer: string, raw: unknown): string[][] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new InputError(path, `layer "${layer}": inbound_nodes is not a list`);
  return raw.map((call) => {
    if (Array.isArray(call)) {
      return call.map((ref) => {
        if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw new InputError(path, `layer "${layer}": malformed inbound node ${JSON.stringify(ref).slice(0, 80)}`);
        if (ref[1] !== 0 && ref[1] !== undefined) throw new InputError(path, `layer "${layer}" reads call ${ref[1]} of "${ref[0]}"; shared layers are not supported`);
        return ref[0] as string;
      });
    }
    if (isObj(call)) {
      const found: string[] = [];
      const walk = (v: unknown, depth: number): void => {
        if (depth > 64) throw new InputError(path, `layer "${layer}": inbound_nodes nest too deeply`);
        if (Array.isArray(v)) v.forEach((x) => walk(x, depth + 1));
        else if (isObj(v)) {
          const hist = isObj(v.config) ? v.config.keras_history : undefined;
          if (v.class_name === '__keras_tensor__' && Array.isArray(hist) && typeof hist[0] === 'string') found.push(hist[0]);
          else Object.values(v).forEach((x) => walk(x, depth + 1));
        }
      };
      walk(call.args, 0);
      return found;
    }
    throw new InputError(path, `layer "${layer}": malformed inbound node`);
  });
}

/** output_layers: `[["dense", 0, 0]]` or, for one output in Keras 3, `["dense", 0, 0]`. */
function layerRefs(path: string, raw: unknown, what: string): string[] {
  if (!Array.isArray(raw)) throw new InputError(path, `model_config.config.${what} is missing or not a list`);
  const refs = typeof raw[0] === 'string' ? [raw] : raw;
  return refs.map((r) => {
    if (!Array.isArray(r) || typeof r[0] !== 'string') throw new InputError(path, `model_config.config.${what} has a malformed entry ${JSON.stringify(r).slice(0, 80)}`);
    return r[0] as string;
  });
}

interface Spec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

function checkSpec(path: string, w: unknown, where: string): Spec {
  if (!isObj(w) || typeof w.name !== 'string' || !Array.isArray(w.shape) || typeof w.dtype !== 'string') {
    throw new InputError(path, `${where} is malformed (expected {"name", "shape", "dtype"})`);
  }
  if (!w.shape.every((d) => Number.isInteger(d) && (d as number) >= 0 && (d as number) < 2 ** 31)) {
    throw new InputError(path, `${where} ("${w.name}") has an invalid shape ${JSON.stringify(w.shape)}`);
  }
  if (w.dtype !== 'float32' && w.dtype !== 'int32') {
    throw new InputError(path, `${where} ("${w.name}") has dtype ${w.dtype}; weights must be float32`);
  }
  const q = w.quantization;
  if (q !== undefined && (!isObj(q) || typeof q.dtype !== 'string' || !(q.dtype in BYTES))) {
    throw new InputError(path, `${where} ("${w.name}") has an unsupported quantization ${JSON.stringify(q)}`);
  }
  return w as unknown as Spec;
}

function specBytes(s: Spec): number {
  const n = s.shape.reduce((a, b) => a * b, 1);
  return n * BYTES[s.quantization ? s.quantization.dtype : s.dtype];
}
