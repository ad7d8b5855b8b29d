/**
 * Writing small TF.js LayersModels (model.json + one shard) in tests: a chain of Dense layers (optionally
 * with a BatchNormalization), Sequential or Functional (Keras 2 inbound nodes), with given weights.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DenseSpec {
  name: string;
  units: number;
  activation?: string;
  /** Kernel [in, units] row-major, then bias [units]; default: a deterministic pattern. */
  kernel?: number[];
  bias?: number[];
}

export interface BatchNormSpec {
  name: string;
  batchNorm: true;
  epsilon: number;
  gamma?: number[];
  beta?: number[];
  mean?: number[];
  variance?: number[];
}

export type LayerSpec = DenseSpec | BatchNormSpec;

export interface ModelSpec {
  inputs: number;
  layers: LayerSpec[];
  functional?: boolean;
}

const pattern = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.round(Math.sin(seed * 7.1 + i * 1.3) * 1000) / 1000);

/** The model.json object and the shard's bytes. */
export function modelFiles(spec: ModelSpec, shard = 'group1-shard1of1.bin'): { json: Record<string, unknown>; bin: Uint8Array } {
  const layers: unknown[] = [];
  const weights: Array<{ name: string; shape: number[]; dtype: 'float32' }> = [];
  const values: number[] = [];
  const inputName = 'input_1';
  if (spec.functional) {
    layers.push({ class_name: 'InputLayer', name: inputName, config: { batch_input_shape: [null, spec.inputs], dtype: 'float32', name: inputName }, inbound_nodes: [] });
  }
  let width = spec.inputs;
  let prev = inputName;
  spec.layers.forEach((l, i) => {
    const add = (suffix: string, shape: number[], v: number[]) => {
      weights.push({ name: `${l.name}/${suffix}`, shape, dtype: 'float32' });
      values.push(...v);
    };
    let config: Record<string, unknown>;
    let className: string;
    if ('batchNorm' in l) {
      className = 'BatchNormalization';
      config = { name: l.name, axis: -1, epsilon: l.epsilon, center: true, scale: true };
      add('gamma', [width], l.gamma ?? Array(width).fill(1));
      add('beta', [width], l.beta ?? Array(width).fill(0));
      add('moving_mean', [width], l.mean ?? Array(width).fill(0));
      add('moving_variance', [width], l.variance ?? Array(width).fill(1));
    } else {
      className = 'Dense';
      config = { name: l.name, units: l.units, activation: l.activation ?? 'linear', use_bias: true };
      add('kernel', [width, l.units], l.kernel ?? pattern(width * l.units, i + 1));
      add('bias', [l.units], l.bias ?? pattern(l.units, i + 101));
      width = l.units;
    }
    if (i === 0 && !spec.functional) config.batch_input_shape = [null, spec.inputs];
    const layer: Record<string, unknown> = { class_name: className, config };
    if (spec.functional) {
      layer.name = l.name;
      layer.inbound_nodes = [[[prev, 0, 0, {}]]];
    }
    layers.push(layer);
    prev = l.name;
  });
  const config = spec.functional
    ? { name: 'model', layers, input_layers: [[inputName, 0, 0]], output_layers: [[prev, 0, 0]] }
    : { name: 'sequential', layers };
  const json = {
    format: 'layers-model',
    modelTopology: { model_config: { class_name: spec.functional ? 'Functional' : 'Sequential', config } },
    weightsManifest: [{ paths: [shard], weights }],
  };
  return { json, bin: new Uint8Array(Float32Array.from(values).buffer) };
}

/** Writes model.json and its shard into `dir`; returns the model.json path. */
export function writeModel(dir: string, spec: ModelSpec): string {
  const { json, bin } = modelFiles(spec);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), bin);
  return join(dir, 'model.json');
}
