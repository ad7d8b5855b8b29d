/**
 * Synthetic data for a run without a data file: inputs drawn to the model's input shape (standard
 * normal, or uniform token ids for a model that starts with an Embedding), and labels sampled from the
 * model's own predictions at its initial weights (softmax: a class drawn from the predicted distribution;
 * sigmoid: Bernoulli draws; otherwise the prediction itself). The loss's curvature is then that of the
 * model under its own predictive distribution: the shape of the landscape, not of any real data set.
 * Deterministic per seed (for a given backend).
 */
import { InputError } from '../errors.js';
import { derive, Rng } from '../estimators/rng.js';
import type { NdArray } from '../readers/npy.js';
import { activate } from './layers.js';
import type { Network } from './network.js';
import { tf } from './tfjs.js';

export const DEFAULT_SYNTHETIC_EXAMPLES = 256;
/** The seed stream of synthetic data (the estimators use 1, 2 and 100 + block). */
const STREAM = 3;
/** Activations of one forward chunk, at most. */
const CHUNK_BYTES = 64 * 2 ** 20;
/** Refuse synthetic inputs larger than this. */
const MAX_BYTES = 2 * 2 ** 30;

export interface SyntheticData {
  x: NdArray;
  y: NdArray;
  /** One line for the user: what was drawn, and how the labels were made. */
  description: string;
}

/** What a network may tell about its input (optional until every network provides it). */
interface InputInfo {
  inputKind?: 'float' | 'tokens';
  vocabulary?: number | null;
}

type LabelMode = 'classes' | 'one-hot' | 'bernoulli' | 'prediction';

/**
 * `examples` synthetic examples for `net`. `loss` (a requested loss name, when there is one) makes the
 * labels fit it: class indices for sparse categorical cross-entropy, one-hot draws for categorical,
 * Bernoulli draws for binary cross-entropy, the predictions for mean squared error.
 */
export function syntheticData(net: Network, examples: number, seed: number, options: { loss?: string | null } = {}): SyntheticData {
  if (!Number.isSafeInteger(examples) || examples < 1) throw new InputError(null, `--examples must be an integer ≥ 1, got ${examples}`);
  const info = net as Network & InputInfo;
  const perExample = net.inputShape.reduce((a, b) => a * b, 1);
  const xBytes = 4 * perExample * examples;
  if (xBytes > MAX_BYTES) {
    throw new InputError(null, `--examples ${examples}: the synthetic inputs would need ${Math.round(xBytes / 2 ** 20)} MB (limit ${MAX_BYTES / 2 ** 20} MB); ask for fewer`);
  }
  const tokens = info.inputKind === 'tokens';
  const vocabulary = info.vocabulary ?? null;
  if (tokens && !(typeof vocabulary === 'number' && Number.isSafeInteger(vocabulary) && vocabulary >= 1)) {
    throw new InputError(null, 'the model takes token ids but its vocabulary size is unknown, so synthetic inputs cannot be drawn; pass --data');
  }

  const rng = new Rng(derive(seed, STREAM));
  const x = new Float32Array(perExample * examples);
  if (tokens) {
    for (let i = 0; i < x.length; i++) x[i] = Math.floor(rng.uniform() * vocabulary!);
  } else {
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  }

  const out = net.outputShape;
  const outSize = out.reduce((a, b) => a * b, 1);
  const classes = out[out.length - 1];
  const mode = labelMode(net, options.loss ?? null);
  const yShape = mode === 'classes' ? [examples] : [examples, ...out];
  const y = mode === 'classes' ? new Float64Array(examples) : new Float32Array(examples * outSize);

  const weights = net.params.map((p) => tf.tensor(net.initial.subarray(p.offset, p.offset + p.size), p.shape));
  try {
    const chunk = Math.max(1, Math.min(examples, Math.floor(CHUNK_BYTES / Math.max(net.activationBytesPerExample, 4))));
    for (let s = 0; s < examples; s += chunk) {
      const n = Math.min(chunk, examples - s);
      const values = tf.tidy(() => {
        const z = net.logits(weights, tf.tensor(x.subarray(s * perExample, (s + n) * perExample), [n, ...net.inputShape]));
        return (mode === 'prediction' ? activate(z, net.head) : z).dataSync() as Float32Array;
      });
      if (mode === 'prediction') {
        y.set(values, s * outSize);
      } else if (mode === 'bernoulli') {
        for (let i = 0; i < values.length; i++) y[s * outSize + i] = rng.uniform() < 1 / (1 + Math.exp(-values[i])) ? 1 : 0;
      } else {
        // A class per row of the last axis, drawn from softmax(z) (computed in doubles, max-shifted).
        const p = new Float64Array(classes);
        for (let r = 0; r < values.length / classes; r++) {
          const z = values.subarray(r * classes, (r + 1) * classes);
          let max = -Infinity;
          for (const v of z) max = Math.max(max, v);
          let total = 0;
          for (let c = 0; c < classes; c++) total += p[c] = Math.exp(z[c] - max);
          const u = rng.uniform() * total;
          let c = 0;
          for (let acc = p[0]; c < classes - 1 && acc <= u; acc += p[++c]);
          if (mode === 'classes') y[s + r] = c;
          else y[s * outSize + r * classes + c] = 1;
        }
      }
    }
  } finally {
    weights.forEach((w) => w.dispose());
  }

  const inputs = tokens ? `token ids drawn uniformly from 0…${vocabulary! - 1}` : 'inputs drawn from a standard normal';
  const labels = {
    classes: "labels sampled from the model's own softmax predictions",
    'one-hot': "one-hot labels sampled from the model's own softmax predictions",
    bernoulli: `labels drawn as Bernoulli samples of the model's own ${net.head === 'sigmoid' ? 'sigmoid outputs' : 'outputs (as logits)'}`,
    prediction: "labels equal to the model's own predictions (no noise)",
  }[mode];
  return {
    x: { dtype: 'float32', shape: [examples, ...net.inputShape], data: x },
    y: { dtype: mode === 'classes' ? 'int64' : 'float32', shape: yShape, data: y },
    description: `${examples} synthetic examples (seed ${seed}): ${inputs}, shape [${net.inputShape}]; ${labels} at the initial weights`,
  };
}

function labelMode(net: Network, loss: string | null): LabelMode {
  const classesOk = net.outputShape.length === 1;
  switch (loss) {
    case 'sparse-categorical-cross-entropy':
      return classesOk ? 'classes' : 'one-hot';
    case 'categorical-cross-entropy':
      return 'one-hot';
    case 'binary-cross-entropy':
      return 'bernoulli';
    case 'mean-squared-error':
      return 'prediction';
  }
  if (net.head === 'softmax') return classesOk ? 'classes' : 'one-hot';
  if (net.head === 'sigmoid') return 'bernoulli';
  return 'prediction';
}
