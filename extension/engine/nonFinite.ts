/**
 * Numerical faults: a NaN or ±Inf in the loss, the gradient or a Hessian-vector product stops the run
 * with an error that says where it first appears — the first layer (in evaluation order) whose output
 * holds one, found by a forward pass layer by layer over the data — instead of estimates (and a heatmap)
 * made of NaNs. Typical causes: overflowing logits (huge weights or unscaled data), a BatchNormalization
 * dividing by a zero variance (moving_variance 0 with epsilon 0).
 */
import { InputError } from '../errors.js';
import type { Network } from './network.js';
import type { Dataset } from './objective.js';
import { tf } from './tfjs.js';

export interface NonFiniteSite {
  layer: string;
  className: string;
  /** The first example (0-based) whose output in that layer is not finite. */
  example: number;
  value: number;
}

/** The first layer, in evaluation order, whose output holds a NaN or ±Inf for some example; null if none. */
export function firstNonFiniteLayer(net: Network, data: Dataset, weights: Float32Array, chunkSize: number): NonFiniteSite | null {
  const layerOutputs = net.layerOutputs;
  if (!layerOutputs) return null;
  const w = net.params.map((p) => tf.tensor(weights.subarray(p.offset, p.offset + p.size), p.shape));
  const xs = data.xShape.reduce((a, b) => a * b, 1);
  let best: (NonFiniteSite & { order: number }) | null = null;
  try {
    for (let s = 0; s < data.examples && best?.order !== 0; s += chunkSize) {
      const n = Math.min(chunkSize, data.examples - s);
      const limit = best?.order ?? Infinity;
      let found: (NonFiniteSite & { order: number }) | null = null;
      tf.engine().startScope(); // disposes this chunk's tensors at endScope
      try {
        const x = tf.tensor(data.x.subarray(s * xs, (s + n) * xs), [n, ...data.xShape]);
        const outs = layerOutputs(w, x);
        for (let i = 0; i < outs.length && i < limit && !found; i++) {
          const v = outs[i].output.dataSync();
          const j = v.findIndex((a) => !Number.isFinite(a));
          if (j >= 0) found = { order: i, layer: outs[i].name, className: outs[i].className, example: s + Math.floor(j / (v.length / n)), value: v[j] };
        }
      } finally {
        tf.engine().endScope();
      }
      if (found) best = found;
    }
  } finally {
    w.forEach((t) => t.dispose());
  }
  if (!best) return null;
  const { order: _order, ...site } = best;
  return site;
}

/** Checks the loss, gradients and HVPs of one run; on the first non-finite value, throws an InputError that locates it. */
export class FiniteGuard {
  constructor(
    private readonly net: Network,
    private readonly data: Dataset,
    private readonly chunkSize: number,
    private readonly modelPath: string,
    private readonly weights: Float32Array = net.initial,
  ) {}

  /** `what`: "the loss", "the gradient", "a Hessian-vector product"; `perParameter`: values is a P-vector. */
  check(what: string, values: ArrayLike<number>, perParameter = false): void {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw this.error(what, values[i], perParameter ? i : null);
    }
  }

  private error(what: string, value: number, index: number | null): InputError {
    const site = firstNonFiniteLayer(this.net, this.data, this.weights, this.chunkSize);
    if (site) {
      return new InputError(
        this.modelPath,
        `${what} is ${value}: the forward pass first produces ${site.value} in layer "${site.layer}" (${site.className}), at example ${site.example}. ` +
          'Overflowing activations or a division by zero (e.g. BatchNormalization with moving_variance 0 and epsilon 0); check the weights and the scale of the data',
      );
    }
    const p = index === null ? undefined : this.net.params.find((q) => index >= q.offset && index < q.offset + q.size);
    return new InputError(
      this.modelPath,
      `${what} is ${value}${p ? ` at weight "${p.name}" of layer "${p.layer}"` : ''}, though every layer's output is finite: ` +
        'it overflows in the loss or the backward pass; check the scale of the weights and of the data',
    );
  }
}
