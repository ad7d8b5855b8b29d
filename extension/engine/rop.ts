/**
 * Exact Hessian-vector products of a chain of Dense layers by Pearlmutter's R-operator (forward-over-
 * reverse written out per layer; Pearlmutter 1994, "Fast exact multiplication by the Hessian", §4;
 * Schraudolph 2002 for the loss/logit part), for several directions at once.
 *
 * With z_l = a_{l−1} W_l + b_l, a_l = σ_l(z_l), a_0 = x, logits z_L, and R{·} the directional derivative
 * along V = (VW_l, Vb_l):
 *   forward      Rz_l = Ra_{l−1} W_l + a_{l−1} VW_l + Vb_l,        Ra_l = σ'_l(z_l) ⊙ Rz_l,   Ra_0 = 0
 *   loss         δ_L = ∂ℓ/∂z_L,                                    Rδ_L = ∂²ℓ/∂z_L² · Rz_L
 *   backward     (HV)W_l = Ra_{l−1}ᵀ δ_l + a_{l−1}ᵀ Rδ_l,           (HV)b_l = Σ_n Rδ_l
 *                e = δ_l W_lᵀ,  Re = Rδ_l W_lᵀ + δ_l VW_lᵀ,
 *                δ_{l−1} = σ'(z_{l−1}) ⊙ e,  Rδ_{l−1} = σ'(z_{l−1}) ⊙ Re + σ''(z_{l−1}) ⊙ Rz_{l−1} ⊙ e.
 * The forward pass and δ are shared by all directions; each direction adds its R-passes. No tape,
 * no nested differentiation: it sidesteps tfjs' second-order faults and its tape bookkeeping, which
 * dominates HVPs of small models. Reverse-over-reverse (autodiff.ts) stays the reference (tests compare
 * the two on every activation and loss) and the path for every other architecture.
 */
import { tf } from './tfjs.js';
import { activate, type Activation } from './layers.js';
import type { LossSpec } from './loss.js';

export interface DenseLink {
  /** Index of the kernel [in, out] in the network's params. */
  kernel: number;
  /** Index of the bias [out], or null. */
  bias: number | null;
  /** The activation after the layer (the last layer's is the head, applied by the loss). */
  activation: Activation;
}

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
export function ropSupports(chain: DenseLink[], head: Activation, loss: LossSpec): boolean {
  const hidden = chain.slice(0, -1).every((l) => DERIVATIVES[l.activation] !== undefined);
  return hidden && (loss.name !== 'mean-squared-error' || DERIVATIVES[head] !== undefined);
}

/**
 * H·v for the loss Σ_n ℓ(z_n, y_n) / total of one chunk, for each direction in `vs` (vs[k][i] shaped
 * like params[i]); the forward pass and the backward δ are computed once for all of them. Returns one
 * list of tensors per direction, in params order. Call in tf.tidy.
 */
export function denseChainHvp(chain: DenseLink[], head: Activation, loss: LossSpec, w: tf.Tensor[], vs: tf.Tensor[][], x: tf.Tensor, y: tf.Tensor, total: number): tf.Tensor[][] {
  const n = x.shape[0];
  const L = chain.length;
  // Shared: a_l, z_l, σ', σ'' and, backwards, e_l = δ_{l+1} W_{l+1}ᵀ and δ_l.
  const a: tf.Tensor2D[] = [tf.reshape(x, [n, -1])];
  const z: tf.Tensor2D[] = [];
  const d: Array<ReturnType<Derivatives>> = [];
  chain.forEach((link, l) => {
    let zl: tf.Tensor2D = tf.matMul(a[l], w[link.kernel] as tf.Tensor2D);
    if (link.bias !== null) zl = tf.add(zl, w[link.bias]) as tf.Tensor2D;
    z.push(zl);
    if (l === L - 1) return;
    const al = activate(zl, link.activation) as tf.Tensor2D;
    a.push(al);
    d.push(DERIVATIVES[link.activation]!(zl, al));
  });
  const aT = a.map((t) => tf.transpose(t) as tf.Tensor2D);
  const WT = chain.map((link) => tf.transpose(w[link.kernel]) as tf.Tensor2D);
  const { delta: deltaL, curvature } = lossDerivatives(loss, head, z[L - 1], y, total);
  const delta: tf.Tensor2D[] = new Array(L);
  const e: tf.Tensor2D[] = new Array(L);
  delta[L - 1] = deltaL as tf.Tensor2D;
  for (let l = L - 1; l > 0; l--) {
    e[l - 1] = tf.matMul(delta[l], WT[l]);
    delta[l - 1] = (d[l - 1].d1 ? tf.mul(d[l - 1].d1!, e[l - 1]) : e[l - 1]) as tf.Tensor2D;
  }
  return vs.map((v) => {
    // R-forward.
    const Rz: tf.Tensor2D[] = [];
    const Ra: Array<tf.Tensor2D | null> = [null];
    chain.forEach((link, l) => {
      let rz: tf.Tensor2D = tf.matMul(a[l], v[link.kernel] as tf.Tensor2D);
      if (Ra[l]) rz = tf.add(rz, tf.matMul(Ra[l]!, w[link.kernel] as tf.Tensor2D));
      if (link.bias !== null) rz = tf.add(rz, v[link.bias]) as tf.Tensor2D;
      Rz.push(rz);
      if (l < L - 1) Ra.push((d[l].d1 ? tf.mul(d[l].d1!, rz) : rz) as tf.Tensor2D);
    });
    // R-backward.
    const hv: tf.Tensor[] = new Array(w.length);
    let rdelta = curvature(Rz[L - 1]) as tf.Tensor2D;
    for (let l = L - 1; l >= 0; l--) {
      const link = chain[l];
      let hW = tf.matMul(aT[l], rdelta);
      if (Ra[l]) hW = tf.add(hW, tf.matMul(tf.transpose(Ra[l]!), delta[l]));
      hv[link.kernel] = hW;
      if (link.bias !== null) hv[link.bias] = tf.sum(rdelta, 0);
      if (l === 0) break;
      const re = tf.add(tf.matMul(rdelta, WT[l]), tf.matMul(delta[l], tf.transpose(v[link.kernel]) as tf.Tensor2D));
      const { d1, d2 } = d[l - 1];
      let next = d1 ? tf.mul(d1, re) : re;
      if (d2) next = tf.add(next, tf.mul(tf.mul(d2, e[l - 1]), Rz[l - 1]));
      rdelta = next as tf.Tensor2D;
    }
    return hv;
  });
}

/**
 * ∂ℓ/∂z and r ↦ ∂²ℓ/∂z² · r at the logits z [N, D] for the engine's losses (loss.ts, divided by
 * `total`): softmax cross-entropy ℓ = −Σ y ⊙ log softmax(z), binary cross-entropy on logits averaged
 * over the D outputs, mean squared error of head(z) averaged over the D outputs.
 */
function lossDerivatives(loss: LossSpec, head: Activation, z: tf.Tensor, y: tf.Tensor, total: number): { delta: tf.Tensor; curvature: (r: tf.Tensor) => tf.Tensor } {
  const D = z.shape[z.rank - 1];
  switch (loss.name) {
    case 'sparse-categorical-cross-entropy':
    case 'categorical-cross-entropy': {
      // ∂ = s·p − y with s = Σ_c y (1 for one-hot labels); ∂²·r = s·(p ⊙ r − p ⟨p, r⟩).
      const shifted = tf.sub(z, tf.max(z, -1, true));
      const p = tf.div(tf.exp(shifted), tf.sum(tf.exp(shifted), -1, true));
      const s = tf.sum(y, -1, true);
      const sp = tf.mul(tf.div(s, total), p);
      return { delta: tf.div(tf.sub(tf.mul(s, p), y), total), curvature: (r) => tf.sub(tf.mul(sp, r), tf.mul(sp, tf.sum(tf.mul(p, r), -1, true))) };
    }
    case 'binary-cross-entropy': {
      const p = tf.sigmoid(z);
      const c = tf.div(tf.mul(p, tf.sub(1, p)), D * total);
      return { delta: tf.div(tf.sub(p, y), D * total), curvature: (r) => tf.mul(c, r) };
    }
    case 'mean-squared-error': {
      const a = activate(z, head);
      const { d1, d2 } = DERIVATIVES[head]!(z, a);
      const r = tf.sub(a, y);
      const c = 2 / (D * total);
      let curv: tf.Tensor | null = d1 ? tf.square(d1) : null;
      if (d2) curv = tf.add(curv ?? 1, tf.mul(r, d2));
      const scaled = curv ? tf.mul(c, curv) : null;
      return { delta: tf.mul(c, d1 ? tf.mul(r, d1) : r), curvature: (rz) => (scaled ? tf.mul(scaled, rz) : tf.mul(c, rz)) };
    }
  }
}
