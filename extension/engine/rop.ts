/**
 * Exact Hessian-vector products of sequential networks by Pearlmutter's R-operator (forward-over-
 * reverse written out per layer; Pearlmutter 1994, "Fast exact multiplication by the Hessian", §4;
 * Schraudolph 2002 for the loss/logit part), for several directions at once.
 *
 * The network is a chain of links s_{i+1} = f_i(s_i), s_0 = x, s_N the logits: linear layers
 * y = lin(x, W) + b (Dense: x·W; Conv2D: conv(x, W)), elementwise activations a = σ(z), max-pooling
 * (piecewise linear: a fixed 0/1 window mask per output once the input is known) and reshapes. With R{·}
 * the directional derivative along V = (VW, Vb), δ_i = ∂ℓ/∂s_i and lin_xᵀ, lin_Wᵀ the adjoints:
 *   linear   Ry = lin(Rx, W) + lin(x, VW) + Vb;   δx = lin_xᵀ(δy, W);
 *            (HV)W = lin_Wᵀ(Rx, δy) + lin_Wᵀ(x, Rδy),  (HV)b = Σ Rδy,  Rδx = lin_xᵀ(Rδy, W) + lin_xᵀ(δy, VW)
 *   σ        Ra = σ'(z) ⊙ Rz;  δz = σ'(z) ⊙ δa;  Rδz = σ'(z) ⊙ Rδa + σ''(z) ⊙ Rz ⊙ δa
 *   pool, reshape (linear, no weights): R and Rδ pass through the same map and its adjoint as s and δ
 *   loss     δ_N = ∂ℓ/∂s_N,  Rδ_N = ∂²ℓ/∂s_N² · Rs_N.
 * The forward pass and every δ are shared by all directions; each direction adds its R-passes, and no
 * gradient is ever formed (an HVP here costs about 2.5 gradients' arithmetic, against ~3 for reverse-
 * over-reverse). No tape and no nested differentiation: it sidesteps tfjs' second-order faults and its
 * tape bookkeeping, which dominates HVPs of small models. Reverse-over-reverse (autodiff.ts) stays the
 * reference (tests compare the two on every link, activation and loss) and the path for every other
 * architecture.
 */
import { tf } from './tfjs.js';
import { activate, logSoftmax, windowGeometry, windows, type Activation, type Window2D } from './layers.js';
import { filterGradDy, filterGradOf, filterGradX, inputGradDy, inputGradKernel, inputGradOf, nativeConv2d, type ConvGeometry } from './conv.js';
import type { LossSpec } from './loss.js';

/** One link of the chain (see above); kernel/bias are indices into the network's params. */
export type ChainLink =
  | { kind: 'dense'; kernel: number; bias: number | null }
  | { kind: 'conv'; kernel: number; bias: number | null; geometry: ConvGeometry }
  | { kind: 'act'; activation: Activation }
  | { kind: 'maxpool'; window: Window2D }
  | { kind: 'reshape'; shape: number[] };

type Derivatives = (z: tf.Tensor, a: tf.Tensor) => { d1: tf.Tensor | null; d2: tf.Tensor | null };

/** σ' and σ'' (null: 1 and 0 respectively), from z and a = σ(z). */
const DERIVATIVES: Partial<Record<Activation, Derivatives>> = {
  linear: () => ({ d1: null, d2: null }),
  relu: (z) => ({ d1: tf.step(z), d2: null }),
  leaky_relu: (z) => ({ d1: tf.add(0.2, tf.mul(0.8, tf.step(z))), d2: null }),
  tanh: (_z, a) => {
    const d1 = tf.sub(1, tf.square(a));
    return { d1, d2: tf.mul(-2, tf.mul(a, d1)) };
  },
  sigmoid: (_z, a) => {
    const d1 = tf.mul(a, tf.sub(1, a));
    return { d1, d2: tf.mul(d1, tf.sub(1, tf.mul(2, a))) };
  },
  softplus: (z) => {
    const s = tf.sigmoid(z);
    return { d1: s, d2: tf.mul(s, tf.sub(1, s)) };
  },
  elu: (z) => {
    const neg = tf.exp(tf.neg(tf.relu(tf.neg(z)))); // exp(min(z, 0))
    const pos = tf.step(z);
    const d2 = tf.mul(tf.sub(1, pos), neg);
    return { d1: tf.add(pos, d2), d2 };
  },
  swish: (z) => {
    const s = tf.sigmoid(z);
    const s1 = tf.mul(s, tf.sub(1, s));
    return { d1: tf.add(s, tf.mul(z, s1)), d2: tf.mul(s1, tf.add(2, tf.mul(z, tf.sub(1, tf.mul(2, s))))) };
  },
  gelu: (z) => {
    const phi = tf.mul(1 / Math.sqrt(2 * Math.PI), tf.exp(tf.mul(-0.5, tf.square(z))));
    const Phi = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(z, Math.SQRT1_2))));
    return { d1: tf.add(Phi, tf.mul(z, phi)), d2: tf.mul(phi, tf.sub(2, tf.square(z))) };
  },
};

/** Whether rop.ts covers this chain, head and loss (elementwise activations; MSE needs an elementwise head). */
export function ropSupports(chain: ChainLink[], head: Activation, loss: LossSpec): boolean {
  const acts = chain.every((l) => l.kind !== 'act' || DERIVATIVES[l.activation] !== undefined);
  return acts && chain.some((l) => l.kind === 'dense' || l.kind === 'conv') && (loss.name !== 'mean-squared-error' || DERIVATIVES[head] !== undefined);
}

/** What the shared pass keeps per link for the R-passes and the adjoints (nothing else outlives it). */
interface Kept {
  /** The link's input shape. */
  shape: number[];
  /**
   * Dense and Conv2D: the input, and the shared sides of the adjoints (see Sides), made once for every
   * direction: the input's side of lin_Wᵀ, and for links after the first with weights the kernel's side
   * of lin_xᵀ and δ's (at the output) sides of lin_Wᵀ and lin_xᵀ.
   */
  input?: tf.Tensor;
  /** Dense and Conv2D: the link's adjoints, split by operand (made once per link). */
  sides?: Sides;
  inputSide?: tf.Tensor;
  kernelSide?: tf.Tensor;
  deltaSideW?: tf.Tensor;
  deltaSideX?: tf.Tensor;
  /** Activations: σ'(z) and σ''(z) (null: 1 and 0). */
  d1?: tf.Tensor | null;
  d2?: tf.Tensor | null;
  /** Max-pooling: the windows' 0/1 coefficients (first maximum wins, as in layers.maxPool). */
  masks?: tf.Tensor[];
  /** Max-pooling whose windows tile the input: the coefficients in place, shaped like the input (see tiles). */
  winners?: tf.Tensor;
}

/**
 * The shared forward and backward pass of one chunk for the loss Σ_n ℓ(s_N, y_n) / total, returned as
 * v ↦ H·v (v[i] shaped like params[i]; H·v in params order). Call in tf.tidy and apply the result, each
 * direction in its own tf.tidy, while that tidy lives: a direction's R-passes, vector and product are
 * then freed before the next, so K directions cost the shared pass once plus one direction's working set.
 */
export function chainHvp(chain: ChainLink[], head: Activation, loss: LossSpec, w: tf.Tensor[], x: tf.Tensor, y: tf.Tensor, total: number): (v: tf.Tensor[]) => tf.Tensor[] {
  const N = chain.length;
  const first = chain.findIndex((l) => l.kind === 'dense' || l.kind === 'conv');
  const kept: Kept[] = [];
  // δ at the output of every link from the first with weights on (shared by the directions).
  const delta: tf.Tensor[] = new Array(N + 1);
  let curvature: (r: tf.Tensor) => tf.Tensor = () => {
    throw new Error('unreachable');
  };
  // Only what the directions read survives the shared pass (pre-activations, pooling inputs and
  // temporaries are freed): the tidy returns exactly the kept tensors.
  tf.tidy(() => {
    let s = x;
    for (const [i, link] of chain.entries()) {
      const k: Kept = { shape: s.shape };
      kept.push(k);
      if (link.kind === 'dense' || link.kind === 'conv') {
        k.input = s;
        k.sides = sides(link);
        k.inputSide = k.sides.wx(s);
        if (i > first) k.kernelSide = k.sides.xw(w[link.kernel]);
      }
      s = forward(link, s, w, k);
    }
    const last = lossDerivatives(loss, head, s, y, total);
    curvature = last.curvature;
    delta[N] = last.delta;
    for (let i = N - 1; i > first; i--) delta[i] = adjoint(chain[i], kept[i], delta[i + 1], w);
    for (let i = first + 1; i < N; i++) {
      const link = chain[i];
      if (link.kind !== 'dense' && link.kind !== 'conv') continue;
      const k = kept[i];
      k.deltaSideW = k.sides!.wd(delta[i + 1]);
      k.deltaSideX = k.sides!.xd(delta[i + 1], w[link.kernel].shape, k.shape);
    }
    const held = kept.flatMap((k) => [k.input, k.inputSide, k.kernelSide, k.deltaSideW, k.deltaSideX, k.d1, k.d2, k.winners, ...(k.masks ?? [])]);
    return [...new Set([...held, ...delta.slice(first + 1), ...last.held])].filter((t): t is tf.Tensor => t instanceof tf.Tensor);
  });
  return (v) => {
    const Rs: Array<tf.Tensor | null> = new Array(N + 1).fill(null);
    for (let i = first; i < N; i++) Rs[i + 1] = rForward(chain[i], kept[i], Rs[i], w, v);
    const hv: tf.Tensor[] = new Array(w.length);
    let rdelta = curvature(Rs[N]!);
    for (let i = N - 1; i >= first; i--) {
      const link = chain[i];
      const k = kept[i];
      const r = rdelta;
      // Each step in its own tidy: its temporaries are freed before the next.
      if (link.kind === 'dense' || link.kind === 'conv') {
        const shape = w[link.kernel].shape;
        const side = k.sides!;
        const [hW, hb, next] = tf.tidy(() => {
          const own = side.w(k.inputSide!, side.wd(r), shape);
          return [
            Rs[i] ? tf.add(own, side.w(side.wx(Rs[i]!), k.deltaSideW!, shape)) : own,
            link.bias === null ? null : tf.sum(r, r.shape.slice(0, -1).map((_, a) => a)),
            i > first ? tf.add(side.x(side.xd(r, shape, k.shape), k.kernelSide!), side.x(k.deltaSideX!, side.xw(v[link.kernel]))) : null,
          ];
        });
        hv[link.kernel] = hW!;
        if (link.bias !== null) hv[link.bias] = hb!;
        if (next) rdelta = next;
      } else {
        // The adjoint again, plus, for a curved activation, σ''(z) ⊙ Rz ⊙ δ.
        rdelta = tf.tidy(() => {
          const next = adjoint(link, k, r, w);
          return k.d2 && Rs[i] ? tf.add(next, tf.mul(tf.mul(k.d2, delta[i + 1]), Rs[i]!)) : next;
        });
      }
    }
    return hv;
  };
}

function forward(link: ChainLink, s: tf.Tensor, w: tf.Tensor[], k: Kept): tf.Tensor {
  switch (link.kind) {
    case 'dense':
    case 'conv': {
      const y = lin(link, s, w[link.kernel]);
      return link.bias === null ? y : tf.add(y, w[link.bias]);
    }
    case 'act': {
      const a = activate(s, link.activation);
      Object.assign(k, DERIVATIVES[link.activation]!(s, a));
      return a;
    }
    case 'maxpool': {
      // m ← m + relu(p − m) over the windows (layers.maxPool without padding); p_j wins where it is
      // strictly larger than the maximum so far, t_j = step(p_j − m), and keeps it unless a later one
      // wins: coefficient t_j ⊙ Π_{u>j} (1 − t_u), with t_0 = 1.
      const parts = windows(s as tf.Tensor4D, link.window, 0);
      let m: tf.Tensor = parts[0];
      const takes: tf.Tensor[] = [tf.onesLike(m)];
      for (const p of parts.slice(1)) {
        const d = tf.sub(p, m);
        takes.push(tf.step(d));
        m = tf.add(m, tf.relu(d));
      }
      const masks: tf.Tensor[] = new Array(parts.length);
      let keep: tf.Tensor | null = null;
      for (let j = parts.length - 1; j >= 0; j--) {
        masks[j] = keep ? tf.mul(takes[j], keep) : takes[j];
        keep = keep ? tf.mul(keep, tf.sub(1, takes[j])) : tf.sub(1, takes[j]);
      }
      if (tiles(link.window, s.shape)) {
        // Each input entry is in one window at most: its coefficient in place, once (the masks' adjoint).
        k.winners = tf.grad((t: tf.Tensor) => tf.sum(maskedWindows(t, link.window, masks)))(tf.zeros(s.shape));
      } else k.masks = masks;
      return m;
    }
    case 'reshape':
      return tf.reshape(s, [s.shape[0], ...link.shape]);
  }
}

/** The directional derivative of a link's output, given that of its input (null: zero). */
function rForward(link: ChainLink, k: Kept, r: tf.Tensor | null, w: tf.Tensor[], v: tf.Tensor[]): tf.Tensor | null {
  switch (link.kind) {
    case 'dense':
    case 'conv': {
      let ry = lin(link, k.input!, v[link.kernel]);
      if (r) ry = tf.add(ry, lin(link, r, w[link.kernel]));
      return link.bias === null ? ry : tf.add(ry, v[link.bias]);
    }
    case 'act':
      return r && k.d1 ? tf.mul(k.d1, r) : r;
    case 'maxpool':
      if (!r) return null;
      // With tiling windows Σ_j mask_j ⊙ window_j(r) is the windows' sum of winners ⊙ r.
      return k.winners ? tf.mul(tf.avgPool(tf.mul(k.winners, r) as tf.Tensor4D, link.window.kernel, link.window.strides, 'valid'), link.window.kernel[0] * link.window.kernel[1]) : maskedWindows(r, link.window, k.masks!);
    case 'reshape':
      return r && tf.reshape(r, [r.shape[0], ...link.shape]);
  }
}

/** δ at a link's input from δ at its output (the adjoint of its derivative). */
function adjoint(link: ChainLink, k: Kept, d: tf.Tensor, w: tf.Tensor[]): tf.Tensor {
  switch (link.kind) {
    case 'dense':
    case 'conv':
      return k.sides!.x(k.sides!.xd(d, w[link.kernel].shape, k.shape), k.kernelSide!);
    case 'act':
      return k.d1 ? tf.mul(k.d1, d) : d;
    case 'maxpool': {
      // Tiling windows: each entry of d goes back to its window's entries, times their coefficients.
      if (k.winners) return tf.mul(k.winners, spread(d as tf.Tensor4D, link.window.kernel, k.shape));
      // Otherwise the windows' adjoint, by first-order autodiff of the (linear) masked window sum.
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(maskedWindows(t, link.window, k.masks!), d)))(tf.zeros(k.shape));
    }
    case 'reshape':
      return tf.reshape(d, k.shape);
  }
}

/**
 * Whether the windows tile the input (stride = kernel, no dilation, no padding): then every input entry
 * is in one window at most, and max-pooling's derivative and its adjoint need no window copies.
 */
function tiles(w: Window2D, shape: number[]): boolean {
  const g = windowGeometry(shape[1], shape[2], w);
  return w.strides[0] === w.kernel[0] && w.strides[1] === w.kernel[1] && w.dilations.every((d) => d === 1) && Object.values(g.pad).every((p) => p === 0);
}

/** Each entry of d [N, OH, OW, C] repeated over its kh × kw window, zero-padded to `shape` (rows and columns no window covers). */
function spread(d: tf.Tensor4D, [kh, kw]: [number, number], shape: number[]): tf.Tensor {
  const [n, oh, ow, c] = d.shape;
  // Columns, then rows, each by a broadcast product with ones (tfjs-wasm's Tile is ~100× slower).
  const cols = tf.mul(tf.reshape(d, [n * oh * ow, 1, c]), tf.ones([1, kw, 1]));
  const rows = tf.mul(tf.reshape(cols, [n * oh, 1, ow * kw * c]), tf.ones([1, kh, 1]));
  const up = tf.reshape(rows, [n, oh * kh, ow * kw, c]);
  return oh * kh === shape[1] && ow * kw === shape[2] ? up : tf.pad(up, [[0, 0], [0, shape[1] - oh * kh], [0, shape[2] - ow * kw], [0, 0]]);
}

/** Max-pooling's derivative once its window masks are fixed: Σ_j mask_j ⊙ window_j(r). */
function maskedWindows(r: tf.Tensor, window: Window2D, masks: tf.Tensor[]): tf.Tensor {
  return tf.addN(windows(r as tf.Tensor4D, window, 0).map((p, j) => tf.mul(masks[j], p)));
}

function lin(link: ChainLink & { kind: 'dense' | 'conv' }, x: tf.Tensor, W: tf.Tensor): tf.Tensor {
  return link.kind === 'dense' ? tf.matMul(x as tf.Tensor2D, W as tf.Tensor2D) : nativeConv2d(x as tf.Tensor4D, W as tf.Tensor4D, link.geometry);
}

/**
 * The adjoints of a linear link, lin_Wᵀ(x, d) = w(wx(x), wd(d)) and lin_xᵀ(d, W) = x(xd(d), xw(W)), split
 * into one preparation per operand and the product, so that an operand shared by every direction (the
 * input, the kernel, δ) is prepared once per chunk. Dense: transposes and matMul; Conv2D: conv.ts' sides
 * of ∂W and ∂x (pads, dilations, transposes, the flipped kernel) and one conv2d.
 */
interface Sides {
  wx(x: tf.Tensor): tf.Tensor;
  wd(d: tf.Tensor): tf.Tensor;
  w(x: tf.Tensor, d: tf.Tensor, kernelShape: number[]): tf.Tensor;
  xd(d: tf.Tensor, kernelShape: number[], inShape: number[]): tf.Tensor;
  xw(W: tf.Tensor): tf.Tensor;
  x(d: tf.Tensor, W: tf.Tensor): tf.Tensor;
}

const DENSE_SIDES: Sides = {
  wx: (x) => tf.transpose(x),
  wd: (d) => d,
  w: (xT, d) => tf.matMul(xT as tf.Tensor2D, d as tf.Tensor2D),
  xd: (d) => d,
  xw: (W) => tf.transpose(W),
  x: (d, WT) => tf.matMul(d as tf.Tensor2D, WT as tf.Tensor2D),
};

function sides(link: ChainLink & { kind: 'dense' | 'conv' }): Sides {
  if (link.kind === 'dense') return DENSE_SIDES;
  const g = link.geometry;
  return {
    wx: (x) => filterGradX(x as tf.Tensor4D, g),
    wd: (d) => filterGradDy(d as tf.Tensor4D, g),
    w: (x, d, kernelShape) => filterGradOf(x as tf.Tensor4D, d as tf.Tensor4D, kernelShape, g),
    xd: (d, kernelShape, inShape) => inputGradDy(d as tf.Tensor4D, kernelShape, inShape, g),
    xw: (W) => inputGradKernel(W as tf.Tensor4D),
    x: (d, W) => inputGradOf(d as tf.Tensor4D, W as tf.Tensor4D, g),
  };
}

/**
 * ∂ℓ/∂z and r ↦ ∂²ℓ/∂z² · r at the logits z [N, D] for the engine's losses (loss.ts, divided by
 * `total`): softmax cross-entropy ℓ = −Σ y ⊙ log softmax(z) over the last axis, binary cross-entropy on
 * logits averaged over the last axis, mean squared error of head(z) averaged over all of an example's outputs.
 * `held`: the tensors `curvature` reads (they must outlive the shared pass).
 */
function lossDerivatives(loss: LossSpec, head: Activation, z: tf.Tensor, y: tf.Tensor, total: number): { delta: tf.Tensor; curvature: (r: tf.Tensor) => tf.Tensor; held: Array<tf.Tensor | null> } {
  const D = z.shape[z.rank - 1];
  switch (loss.name) {
    case 'sparse-categorical-cross-entropy':
    case 'categorical-cross-entropy': {
      // ∂ = s·p − y with s = Σ_c y (1 for one-hot labels); ∂²·r = s·(p ⊙ r − p ⟨p, r⟩).
      const p = tf.exp(logSoftmax(z));
      const s = tf.sum(y, -1, true);
      const sp = tf.mul(tf.div(s, total), p);
      return { delta: tf.div(tf.sub(tf.mul(s, p), y), total), curvature: (r) => tf.sub(tf.mul(sp, r), tf.mul(sp, tf.sum(tf.mul(p, r), -1, true))), held: [p, sp] };
    }
    case 'binary-cross-entropy': {
      const p = tf.sigmoid(z);
      const c = tf.div(tf.mul(p, tf.sub(1, p)), D * total);
      return { delta: tf.div(tf.sub(p, y), D * total), curvature: (r) => tf.mul(c, r), held: [c] };
    }
    case 'mean-squared-error': {
      // Averaged over all of an example's outputs (loss.ts), not only the last axis.
      const a = activate(z, head);
      const { d1, d2 } = DERIVATIVES[head]!(z, a);
      const r = tf.sub(a, y);
      const c = 2 / ((z.size / z.shape[0]) * total);
      let curv: tf.Tensor | null = d1 ? tf.square(d1) : null;
      if (d2) curv = tf.add(curv ?? 1, tf.mul(r, d2));
      const scaled = curv ? tf.mul(c, curv) : null;
      return { delta: tf.mul(c, d1 ? tf.mul(r, d1) : r), curvature: (rz) => (scaled ? tf.mul(scaled, rz) : tf.mul(c, rz)), held: [scaled] };
    }
  }
}
