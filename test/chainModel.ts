/**
 * Small in-memory TF.js models for tests: a chain of Dense (and Dropout/Activation) layers on a flat input
 * with seeded random weights, and a seeded dataset for it (one-hot, binary or real targets).
 */
import type { Dataset } from '../extension/engine/objective.js';
import type { RawLayer, TfjsModelFile } from '../extension/readers/tfjsModel.js';
import { Rng } from '../extension/estimators/rng.js';

export type L = { className: string; units?: number; activation?: string; useBias?: boolean };

export function model(inputs: number, spec: L[], seed = 1): TfjsModelFile {
  const rng = new Rng(seed);
  const layers: RawLayer[] = [{ className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, inputs] } }];
  const weights: TfjsModelFile['weights'] = [];
  let width = inputs;
  spec.forEach((l, i) => {
    const name = `l${i}`;
    if (l.className === 'Dense') {
      const useBias = l.useBias !== false;
      layers.push({ className: 'Dense', name, config: { units: l.units, activation: l.activation ?? 'linear', use_bias: useBias } });
      weights.push({ name: `${name}/kernel`, shape: [width, l.units!], values: new Float32Array(width * l.units!).map(() => (1.3 * rng.normal()) / Math.sqrt(width)) });
      if (useBias) weights.push({ name: `${name}/bias`, shape: [l.units!], values: new Float32Array(l.units!).map(() => 0.3 * rng.normal()) });
      width = l.units!;
    } else {
      layers.push({ className: l.className, name, config: l.className === 'Activation' ? { activation: l.activation } : { rate: 0.5 } });
    }
  });
  return { path: '<test>', name: 'rop', topologyClass: 'Sequential', layers, inputShape: [inputs], weights, trainingLoss: null };
}

export function data(inputs: number, outputs: number, n: number, kind: 'onehot' | 'binary' | 'real', seed = 2): Dataset {
  const rng = new Rng(seed);
  const y = new Float32Array(n * outputs);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < outputs; j++) y[i * outputs + j] = kind === 'real' ? rng.normal() : kind === 'binary' ? Number(rng.uniform() < 0.5) : Number(j === i % outputs);
  }
  return { x: new Float32Array(n * inputs).map(() => rng.normal()), xShape: [inputs], y, yShape: [outputs], examples: n };
}
