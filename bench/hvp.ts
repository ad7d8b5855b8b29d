/**
 * `npm run bench`: gradient time, HVP time and their ratio per backend, for the example models
 * (and, with --big, a 784-256-256-10 MLP on 128 examples). Medians of repeated runs; prints a table.
 */
import { readTfjsModel } from '../extension/readers/tfjsModel.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import { buildNetwork, type Network } from '../extension/engine/network.js';
import { Objective, type Dataset } from '../extension/engine/objective.js';
import { activateBackend, BACKENDS, type BackendName } from '../extension/engine/tfjs.js';
import type { LossSpec } from '../extension/engine/loss.js';
import type { TfjsModelFile } from '../extension/readers/tfjsModel.js';
import { Rng } from '../extension/estimators/rng.js';

interface Case {
  name: string;
  load: () => { net: Network; dataset: Dataset; loss: LossSpec };
}

function example(name: string): Case {
  return {
    name: `examples/${name}`,
    load: () => {
      const net = buildNetwork(readTfjsModel(`examples/${name}/model.json`));
      const { x, y } = readArrays(`examples/${name}/data.npz`);
      const { dataset, loss } = prepareData(`examples/${name}/data.npz`, x, y, net, null);
      return { net, dataset, loss };
    },
  };
}

function bigMlp(): Case {
  return {
    name: 'mlp 784-256-256-10, batch 128',
    load: () => {
      const rng = new Rng(0);
      const dims = [784, 256, 256, 10];
      const layers: TfjsModelFile['layers'] = [{ className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, 784] } }];
      const weights: TfjsModelFile['weights'] = [];
      for (let i = 1; i < dims.length; i++) {
        layers.push({ className: 'Dense', name: `d${i}`, config: { units: dims[i], activation: i === dims.length - 1 ? 'softmax' : 'relu' } });
        weights.push({ name: `d${i}/kernel`, shape: [dims[i - 1], dims[i]], values: new Float32Array(dims[i - 1] * dims[i]).map(() => rng.normal() / Math.sqrt(dims[i - 1])) });
        weights.push({ name: `d${i}/bias`, shape: [dims[i]], values: new Float32Array(dims[i]) });
      }
      const net = buildNetwork({ path: '<bench>', name: 'mlp', topologyClass: 'Sequential', layers, inputShape: [784], weights, trainingLoss: null });
      const n = 128;
      const y = new Float32Array(n * 10);
      for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
      const dataset: Dataset = { x: new Float32Array(n * 784).map(() => rng.uniform()), xShape: [784], y, yShape: [10], examples: n };
      return { net, dataset, loss: { name: 'categorical-cross-entropy', fromLogits: true, reason: 'bench' } };
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(f: () => void, reps: number): number {
  f(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

async function main() {
  const cases = [example('mlp'), example('cnn'), ...(process.argv.includes('--big') ? [bigMlp()] : [])];
  const rows: string[][] = [['backend', 'model', 'params', 'examples', 'gradient ms', 'HVP ms', 'HVP / gradient']];
  const absent: string[] = [];
  for (const backend of BACKENDS as readonly BackendName[]) {
    try {
      await activateBackend(backend);
    } catch (e) {
      absent.push(`${backend}: ${(e as Error).message}`);
      continue;
    }
    for (const c of cases) {
      const { net, dataset, loss } = c.load();
      const obj = new Objective(net, dataset, loss, dataset.examples);
      const v = new Float32Array(net.size).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
      const g = time(() => obj.lossAndGradient(), 5);
      const h = time(() => obj.hvp(v), 5);
      rows.push([backend, c.name, String(net.size), String(dataset.examples), g.toFixed(1), h.toFixed(1), (h / g).toFixed(2)]);
      obj.dispose();
    }
  }
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => c.padEnd(widths[j])).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const a of absent) console.log(`absent: ${a}`);
}

void main();
