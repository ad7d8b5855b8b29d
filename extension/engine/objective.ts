/**
 * The mean loss over the whole data set as a function of the flat weight vector, with its exact
 * gradient and exact Hessian-vector products (reverse-over-reverse: Hv = ∇_w ⟨∇_w L(w), v⟩).
 *
 * The data are split into chunks (sized by a memory budget) that stay on the backend for the whole run.
 * Each chunk contributes Σ_its examples ℓ / N, so every example counts once and equally whatever the
 * chunk sizes (a short last chunk is not over-weighted).
 */
import { readAndDispose, tf } from './tfjs.js';
import type { Network } from './network.js';
import { lossSum, type LossSpec } from './loss.js';
import { hessianVectorProduct, valueAndGrads } from './autodiff.js';
import { activate, stackCopies } from './layers.js';
import { ggnOnLogits, lossFactorColumns } from './ggn.js';
import { WASM_HEAP_LIMIT, wasmHeapLive } from './wasmFixes.js';
import { chainHvp, ropSupports } from './rop.js';

/**
 * Peak backend bytes of one stacked HVP copy per byte of its forward activations (activationBytesPerCopy):
 * the tape keeps the forward pass, the gradient and the gradient's own tape. Measured 22–23 on
 * examples/mlp and examples/cnn (wasm, with wasmFixes' shared copies; 32–37 without them).
 */
export const HVP_PEAK_PER_ACTIVATION_BYTE = 24;
/**
 * The R-operator (rop.ts) keeps only what its directions read from the shared forward and backward pass,
 * and one direction at a time (its vector, R-passes and product), whatever the number of directions K.
 * Its peak, measured on wasm for the bench's R-operator models (examples, 784 MLP and its ×4/×16
 * widenings, 28×28 CNN; K = 1, 8, 32), is 5–13 bytes per byte of forward activations plus 18–20 bytes
 * per parameter (the direction's vector, product and their concatenation, the cached kernel transposes,
 * the adjoints' sums); these constants bound them (the estimate is 0.5–0.8× the peak where parameters or
 * small activations dominate, 0.2–0.35× for the CNNs).
 */
export const ROP_PEAK_PER_ACTIVATION_BYTE = 16;
export const ROP_BYTES_PER_PARAM = 22;

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
    this.rop = net.chain !== undefined && ropSupports(net.chain, net.head, loss);
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
      // tidy returns tensors only (see readAndDispose).
      const [value, flat] = tf.tidy(() => {
        const { value, grads } = valueAndGrads(() => this.chunkLoss(c), this.weights);
        return [value, this.flatten(grads)];
      });
      loss += (value.dataSync() as Float32Array)[0];
      accumulate(g, readAndDispose(flat));
      value.dispose();
    }
    return { loss, gradient: Float32Array.from(g) };
  }

  /**
   * Whether HVPs use the R-operator (rop.ts: sequential chains) rather than reverse-over-reverse. Both are
   * exact; set to false to force the reference path (tests compare them).
   */
  rop: boolean;

  /** Exact H·v for the mean loss, flat. */
  hvp(v: Float32Array): Float32Array {
    return this.hvpMany([v])[0];
  }

  /**
   * Exact H·v for several v at once. On the R-operator path (rop.ts) the directions go one by one through
   * each chunk's shared forward and backward pass, and each product is read back as soon as it is made.
   * Otherwise K copies of the weights are stacked on a leading axis and evaluated in the same ops
   * (Σ_k L(w_k) has block-diagonal Hessian diag(H, …, H)), so K products cost one set of op dispatches,
   * which dominate small models; memory grows K-fold in activations.
   */
  hvpMany(vs: Float32Array[]): Float32Array[] {
    if (this.rop) return this.ropMany(vs);
    const most = this.copiesPerPass();
    if (vs.length > most) {
      const out: Float32Array[] = [];
      for (let s = 0; s < vs.length; s += most) out.push(...this.hvpMany(vs.slice(s, s + most)));
      return out;
    }
    const K = vs.length;
    const out = this.chunks.length === 1 ? [] : vs.map(() => new Float64Array(this.size));
    // The directions stacked on a leading axis ([K, ...shape]), as the weight copies are.
    const stacked = this.net.params.map((p) => {
      const buf = new Float32Array(K * p.size);
      vs.forEach((v, k) => buf.set(v.subarray(p.offset, p.offset + p.size), k * p.size));
      return tf.tensor(buf, K === 1 ? p.shape : [K, ...p.shape]);
    });
    const weights = K === 1 ? this.weights : tf.tidy(() => this.weights.map((w) => stackCopies(w, K)));
    try {
      for (const c of this.chunks) {
        const flat = tf.tidy(() => {
          const x = K === 1 ? c.x : tf.tile(c.x, [K, ...c.x.shape.slice(1).map(() => 1)]);
          const y = K === 1 ? c.y : tf.tile(c.y, [K, ...c.y.shape.slice(1).map(() => 1)]);
          const f = () => tf.div(lossSum(this.loss, this.net.head, this.net.logits(weights, x, K), y), this.total) as tf.Scalar;
          const hv = hessianVectorProduct(f, weights, stacked);
          return tf.concat(hv.map((h) => tf.reshape(h, [K, -1])), 1);
        });
        const values = readAndDispose(flat);
        // One chunk: its float32 sums are the answer (a float64 round trip would give the same bits).
        if (this.chunks.length === 1) return vs.map((_, k) => values.slice(k * this.size, (k + 1) * this.size));
        out.forEach((o, k) => accumulate(o, values.subarray(k * this.size, (k + 1) * this.size)));
      }
    } finally {
      stacked.forEach((t) => t.dispose());
      if (weights !== this.weights) weights.forEach((t) => t.dispose());
    }
    return out.map((o) => Float32Array.from(o));
  }

  /**
   * hvpMany on the R-operator path: per chunk one shared pass (chainHvp), then each direction in turn,
   * uploaded, multiplied and read back before the next, so the backend holds one direction at a time.
   */
  private ropMany(vs: Float32Array[]): Float32Array[] {
    const chain = this.net.chain!;
    const single = this.chunks.length === 1;
    const out: Float32Array[] = new Array(vs.length);
    const sums = single ? [] : vs.map(() => new Float64Array(this.size));
    for (const c of this.chunks) {
      tf.tidy(() => {
        const hvOf = chainHvp(chain, this.net.head, this.loss, this.weights, c.x, c.y, this.total);
        vs.forEach((v, k) => {
          const values = readAndDispose(tf.tidy(() => tf.concat(hvOf(this.split(v)).map((t) => tf.reshape(t, [-1])))));
          // One chunk: its float32 sums are the answer (a float64 round trip would give the same bits).
          if (single) out[k] = values;
          else accumulate(sums[k], values);
        });
      });
    }
    return single ? out : sums.map((o) => Float32Array.from(o));
  }

  /**
   * Bytes hvpMany holds outside the backend per direction: its vector and product in float32, and a
   * float64 running sum when there are several chunks.
   */
  get hostBytesPerDirection(): number {
    return (this.chunks.length === 1 ? 8 : 16) * this.size;
  }

  /**
   * The exact diagonal of the generalised Gauss-Newton matrix, flat (see ggn.ts): squared per-example
   * gradients of ⟨s_nj, o_n⟩ from stacked weight copies, one copy per (example, factor column), at most
   * `maxCopies` at a time. Costs D·N single-example backward passes (D outputs per example).
   */
  ggnDiagonal(maxCopies: number, onProgress?: (done: number, total: number) => void): Float64Array {
    const D = this.net.outputShape.reduce((a, b) => a * b, 1);
    const last = this.net.outputShape[this.net.outputShape.length - 1];
    const onLogits = ggnOnLogits(this.loss);
    const cols = Math.max(1, Math.min(D, maxCopies));
    const B = Math.max(1, Math.floor(maxCopies / cols));
    const diag = new Float64Array(this.size);
    let done = 0;
    for (const c of this.chunks) {
      for (let s = 0; s < c.n; s += B) {
        const b = Math.min(B, c.n - s);
        const [x, y, out] = tf.tidy(() => {
          const x = tf.slice(c.x, s, b);
          return [tf.keep(x), tf.slice(c.y, s, b), this.net.logits(this.weights, x)];
        });
        const yv = y.dataSync() as Float32Array;
        const ov = out.dataSync() as Float32Array;
        y.dispose();
        out.dispose();
        for (let j0 = 0; j0 < D; j0 += cols) {
          const columns = Array.from({ length: Math.min(cols, D - j0) }, (_, i) => j0 + i);
          const K = columns.length * b;
          const S = lossFactorColumns(this.loss, ov, yv, b, D, last, columns);
          const sq = tf.tidy(() => {
            // One copy is the unstacked weights (how Network.logits reads copies = 1).
            const w = this.weights.map((t) => stackCopies(t, K));
            const xs = tf.tile(x, [columns.length, ...x.shape.slice(1).map(() => 1)]);
            const st = tf.tensor(S, [K, ...this.net.outputShape]);
            const f = () => {
              const z = this.net.logits(w, xs, K);
              return tf.sum(tf.mul(st, onLogits ? z : activate(z, this.net.head))) as tf.Scalar;
            };
            const { grads } = valueAndGrads(f, w);
            return tf.concat(grads.map((g) => tf.reshape(K === 1 ? tf.square(g) : tf.sum(tf.square(g), 0), [-1]))).dataSync() as Float32Array;
          });
          for (let i = 0; i < this.size; i++) diag[i] += sq[i] / this.total;
          onProgress?.((done += K), D * this.total);
        }
        x.dispose();
      }
    }
    return diag;
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

  /**
   * The most stacked copies one pass may hold: unbounded except on wasm, whose heap cannot pass 4 GiB
   * (past it tfjs-wasm's malloc traps), where the estimated peak must fit in 80 % of the room left.
   */
  copiesPerPass(): number {
    if (tf.getBackend() !== 'wasm') return Number.POSITIVE_INFINITY;
    return this.directionsWithin(0.8 * (WASM_HEAP_LIMIT - wasmHeapLive()));
  }

  /**
   * Estimated peak backend bytes of one hvpMany pass with K directions: K stacked tapes for
   * reverse-over-reverse; for the R-operator one shared pass and one direction, whatever K.
   */
  hvpPeakBytes(K: number): number {
    const activations = Math.max(this.activationBytesPerCopy, 1);
    if (!this.rop) return K * HVP_PEAK_PER_ACTIVATION_BYTE * activations;
    return ROP_PEAK_PER_ACTIVATION_BYTE * activations + ROP_BYTES_PER_PARAM * this.size;
  }

  /**
   * The most directions (at least 1) whose hvpPeakBytes, plus `extra` bytes per direction, fit in `bytes`
   * (unbounded when they cost nothing per direction).
   */
  directionsWithin(bytes: number, extra = 0): number {
    const one = this.hvpPeakBytes(1) + extra;
    const each = this.hvpPeakBytes(2) + 2 * extra - one;
    return each <= 0 ? (bytes >= one ? Number.POSITIVE_INFINITY : 1) : Math.max(1, 1 + Math.floor((bytes - one) / each));
  }

  /** Bytes of activations one HVP copy needs for the largest chunk (for choosing K in hvpMany). */
  get activationBytesPerCopy(): number {
    return Math.max(...this.chunks.map((c) => c.n)) * this.net.activationBytesPerExample;
  }

  /** Concatenates per-tensor results into one flat tensor. */
  private flatten(parts: tf.Tensor[]): tf.Tensor {
    return tf.concat(parts.map((g) => tf.reshape(g, [-1])));
  }
}

function accumulate(acc: Float64Array, x: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] += x[i];
}
