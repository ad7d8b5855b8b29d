/**
 * The mean loss over the whole data set as a function of the flat weight vector, with its exact
 * gradient and exact Hessian-vector products (reverse-over-reverse: Hv = ∇_w ⟨∇_w L(w), v⟩).
 *
 * The data are split into chunks (sized by a memory budget) that stay on the backend for the whole run.
 * Each chunk contributes Σ_its examples ℓ / N, so every example counts once and equally whatever the
 * chunk sizes (a short last chunk is not over-weighted).
 */
import { tf } from './tfjs.js';
import type { Network } from './network.js';
import { lossSum, type LossSpec } from './loss.js';
import { hessianVectorProduct, valueAndGrads } from './autodiff.js';

export interface Dataset {
  x: Float32Array;
  /** Per-example input shape. */
  xShape: number[];
  /** Labels, per example `yShape` (one-hot already for sparse labels). */
  y: Float32Array;
  yShape: number[];
  examples: number;
}

interface Chunk {
  x: tf.Tensor;
  y: tf.Tensor;
  n: number;
}

export class Objective {
  readonly size: number;
  private readonly weights: tf.Tensor[];
  private readonly chunks: Chunk[] = [];
  private readonly total: number;

  constructor(
    readonly net: Network,
    data: Dataset,
    readonly loss: LossSpec,
    chunkSize: number,
    weights: Float32Array = net.initial,
  ) {
    this.size = net.size;
    this.total = data.examples;
    this.weights = this.split(weights).map((t) => tf.keep(t));
    const xs = data.xShape.reduce((a, b) => a * b, 1);
    const ys = data.yShape.reduce((a, b) => a * b, 1);
    for (let s = 0; s < data.examples; s += chunkSize) {
      const n = Math.min(chunkSize, data.examples - s);
      this.chunks.push({
        x: tf.keep(tf.tensor(data.x.subarray(s * xs, (s + n) * xs), [n, ...data.xShape])),
        y: tf.keep(tf.tensor(data.y.subarray(s * ys, (s + n) * ys), [n, ...data.yShape])),
        n,
      });
    }
  }

  get chunkCount(): number {
    return this.chunks.length;
  }

  /** Mean loss and its gradient, flat. */
  lossAndGradient(): { loss: number; gradient: Float32Array } {
    let loss = 0;
    const g = new Float64Array(this.size);
    for (const c of this.chunks) {
      const [value, flat] = tf.tidy(() => {
        const { value, grads } = valueAndGrads(() => this.chunkLoss(c), this.weights);
        return [value, this.flatten(grads)];
      });
      loss += (value.dataSync() as Float32Array)[0];
      accumulate(g, flat);
      value.dispose();
    }
    return { loss, gradient: Float32Array.from(g) };
  }

  /** Exact H·v for the mean loss, flat. */
  hvp(v: Float32Array): Float32Array {
    const out = new Float64Array(this.size);
    const vs = this.split(v);
    try {
      for (const c of this.chunks) {
        const flat = tf.tidy(() => this.flatten(hessianVectorProduct(() => this.chunkLoss(c), this.weights, vs)));
        accumulate(out, flat);
      }
    } finally {
      vs.forEach((t) => t.dispose());
    }
    return Float32Array.from(out);
  }

  dispose(): void {
    this.weights.forEach((t) => t.dispose());
    this.chunks.forEach((c) => (c.x.dispose(), c.y.dispose()));
    this.chunks.length = 0;
  }

  private chunkLoss(c: Chunk): tf.Scalar {
    return tf.div(lossSum(this.loss, this.net.head, this.net.logits(this.weights, c.x), c.y), this.total);
  }

  private split(flat: Float32Array): tf.Tensor[] {
    return this.net.params.map((p) => tf.tensor(flat.subarray(p.offset, p.offset + p.size), p.shape));
  }

  /** Concatenates per-tensor results and reads them back. */
  private flatten(parts: tf.Tensor[]): Float32Array {
    return tf.concat(parts.map((g) => tf.reshape(g, [-1]))).dataSync() as Float32Array;
  }
}

function accumulate(acc: Float64Array, x: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] += x[i];
}
