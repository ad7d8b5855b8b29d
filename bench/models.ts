/**
 * The benchmark's models (bench/hvp.ts, bench/profile.ts), each described once as a layer list that both
 * the tfjs side (a TF.js model built here, random weights) and the PyTorch peer (bench/torch_hvp.py)
 * build; the example models are read from examples/ and their list is checked against PyTorch's
 * parameter count.
 */
import { readTfjsModel, type RawLayer, type TfjsModelFile } from '../extension/readers/tfjsModel.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import { buildNetwork } from '../extension/engine/network.js';
import type { Dataset } from '../extension/engine/objective.js';
import type { BackendName } from '../extension/engine/tfjs.js';
import type { LossSpec } from '../extension/engine/loss.js';
import { Rng } from '../extension/estimators/rng.js';

/** A layer as both sides build it (valid padding, stride 1 convolutions; square pools). */
export type Layer = { type: 'dense'; units: number; activation: string } | { type: 'conv'; filters: number; kernel: number; activation: string } | { type: 'maxpool'; size: number } | { type: 'flatten' };
export interface Spec {
  input: number[];
  layers: Layer[];
}

export interface Case {
  name: string;
  spec: Spec;
  examples: number;
  /** Examples per chunk: fixed per model, so the ×10 data row has 10 chunks of the same size. */
  chunk: number;
  /** The tfjs model: from the examples folder, or built from the spec with random weights. */
  load: () => { file: TfjsModelFile; dataset: Dataset; loss: LossSpec };
  /** Backends to run, each with the worker counts to measure. */
  runs: Array<[BackendName, number[]]>;
}

const dense = (units: number, activation = 'relu'): Layer => ({ type: 'dense', units, activation });
const conv = (filters: number, kernel = 3): Layer => ({ type: 'conv', filters, kernel, activation: 'relu' });
const LOSS: LossSpec = { name: 'categorical-cross-entropy', fromLogits: true, reason: 'bench' };

function fromSpec(spec: Spec, seed: number): TfjsModelFile {
  const rng = new Rng(seed);
  const layers: RawLayer[] = [{ className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, ...spec.input] } }];
  const weights: TfjsModelFile['weights'] = [];
  let shape = [...spec.input];
  const random = (n: number, fanIn: number) => new Float32Array(n).map(() => rng.normal() / Math.sqrt(fanIn));
  spec.layers.forEach((l, i) => {
    const name = `l${i}`;
    const last = i === spec.layers.length - 1;
    if (l.type === 'dense') {
      layers.push({ className: 'Dense', name, config: { units: l.units, activation: last ? 'softmax' : l.activation } });
      weights.push({ name: `${name}/kernel`, shape: [shape[0], l.units], values: random(shape[0] * l.units, shape[0]) });
      weights.push({ name: `${name}/bias`, shape: [l.units], values: new Float32Array(l.units) });
      shape = [l.units];
    } else if (l.type === 'conv') {
      const [h, w, c] = shape;
      layers.push({ className: 'Conv2D', name, config: { filters: l.filters, kernel_size: [l.kernel, l.kernel], strides: [1, 1], padding: 'valid', activation: l.activation } });
      weights.push({ name: `${name}/kernel`, shape: [l.kernel, l.kernel, c, l.filters], values: random(l.kernel * l.kernel * c * l.filters, l.kernel * l.kernel * c) });
      weights.push({ name: `${name}/bias`, shape: [l.filters], values: new Float32Array(l.filters) });
      shape = [h - l.kernel + 1, w - l.kernel + 1, l.filters];
    } else if (l.type === 'maxpool') {
      layers.push({ className: 'MaxPooling2D', name, config: { pool_size: [l.size, l.size], strides: [l.size, l.size], padding: 'valid' } });
      shape = [Math.floor(shape[0] / l.size), Math.floor(shape[1] / l.size), shape[2]];
    } else {
      layers.push({ className: 'Flatten', name, config: {} });
      shape = [shape.reduce((a, b) => a * b, 1)];
    }
  });
  return { path: '<bench>', name: 'bench', topologyClass: 'Sequential', layers, inputShape: spec.input, weights, trainingLoss: null };
}

function randomData(spec: Spec, classes: number, n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const xs = spec.input.reduce((a, b) => a * b, 1);
  const y = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) y[i * classes + (i % classes)] = 1;
  return { x: new Float32Array(n * xs).map(() => rng.uniform()), xShape: spec.input, y, yShape: [classes], examples: n };
}

function synthetic(name: string, spec: Spec, examples: number, chunk: number, runs: Case['runs']): Case {
  const last = spec.layers[spec.layers.length - 1];
  const classes = last.type === 'dense' ? last.units : 0;
  return { name, spec, examples, chunk, runs, load: () => ({ file: fromSpec(spec, 0), dataset: randomData(spec, classes, examples, 1), loss: LOSS }) };
}

function example(name: string, spec: Spec, examples: number, runs: Case['runs']): Case {
  return {
    name: `examples/${name}`,
    spec,
    examples,
    chunk: examples,
    runs,
    load: () => {
      const file = readTfjsModel(`examples/${name}/model.json`);
      const net = buildNetwork(file);
      const { x, y } = readArrays(`examples/${name}/data.npz`);
      const { dataset, loss } = prepareData(`examples/${name}/data.npz`, x, y, net, null);
      return { file, dataset, loss };
    },
  };
}

/** Hidden width of a 784-h-h-10 MLP with `factor` × the parameters of 784-256-256-10 (269 322). */
function widthFor(factor: number): number {
  const p = factor * (784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
  return Math.round((-796 + Math.sqrt(796 ** 2 + 4 * (p - 10))) / 2); // h² + 796h + 10 = p
}

/** The cpu backend is 3–10× slower than wasm: measured only where it stays quick (not the CNNs, not the scaling rows). */
const W2 = [1, 2];
const mlp = (h: number): Spec => ({ input: [784], layers: [dense(h), dense(h), dense(10, 'softmax')] });
export const CASES: Case[] = [
  example('mlp', { input: [2], layers: [dense(32, 'tanh'), dense(32), dense(3, 'softmax')] }, 512, [['wasm', W2], ['cpu', W2]]),
  example('cnn', { input: [12, 12, 1], layers: [conv(8), { type: 'maxpool', size: 2 }, conv(8), { type: 'flatten' }, dense(3, 'softmax')] }, 256, [['wasm', W2]]),
  synthetic('mlp 784-256-256-10, batch 128', mlp(256), 128, 128, [['wasm', W2], ['cpu', [1]]]),
  synthetic('cnn 28×28 conv8-pool-conv16-pool-dense10, batch 64', { input: [28, 28, 1], layers: [conv(8), { type: 'maxpool', size: 2 }, conv(16), { type: 'maxpool', size: 2 }, { type: 'flatten' }, dense(10, 'softmax')] }, 64, 64, [['wasm', W2]]),
  { ...synthetic(`scaling: params ×4 (784-${widthFor(4)}-${widthFor(4)}-10), batch 128`, mlp(widthFor(4)), 128, 128, [['wasm', [1]]]) },
  { ...synthetic(`scaling: params ×16 (784-${widthFor(16)}-${widthFor(16)}-10), batch 128`, mlp(widthFor(16)), 128, 128, [['wasm', [1]]]) },
  { ...synthetic('scaling: examples ×10 (784-256-256-10, 1280 in chunks of 128)', mlp(256), 1280, 128, [['wasm', [1]]]) },
];
/** The two models of the goals, for the profile. */
export const BENCH_MODELS: Case[] = CASES.slice(2, 4);
