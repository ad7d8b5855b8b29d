/**
 * Exact Hessian-vector products of a chain of Dense layers by Pearlmutter's R-operator (forward-over-
 * reverse written out per layer; Pearlmutter 1994, "Fast exact multiplication by the Hessian", §4;
 * Schraudolph 2002 for the loss/logit part), for K directions at once.
 *
 * With z_l = a_{l−1} W_l + b_l, a_l = σ_l(z_l), a_0 = x, logits z_L, and R{·} the directional derivative
 * along V = (VW_l, Vb_l):
 *   forward      Rz_l = Ra_{l−1} W_l + a_{l−1} VW_l + Vb_l,        Ra_l = σ'_l(z_l) ⊙ Rz_l,   Ra_0 = 0
 *   loss         δ_L = ∂ℓ/∂z_L,                                    Rδ_L = ∂²ℓ/∂z_L² · Rz_L
 *   backward     (HV)W_l = Ra_{l−1}ᵀ δ_l + a_{l−1}ᵀ Rδ_l,           (HV)b_l = Σ_n Rδ_l
 *                e = δ_l W_lᵀ,  Re = Rδ_l W_lᵀ + δ_l VW_lᵀ,
 *                δ_{l−1} = σ'(z_{l−1}) ⊙ e,  Rδ_{l−1} = σ'(z_{l−1}) ⊙ Re + σ''(z_{l−1}) ⊙ Rz_{l−1} ⊙ e.
 * The forward pass and δ are shared by the K directions; only R-quantities carry the K axis. No tape,
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
 * H·V for the loss Σ_n ℓ(z_n, y_n) / total of one chunk, for K directions stacked on a leading axis
 * (vs[i] is [K, ...params[i].shape]). Returns one [K, ...shape] tensor per parameter. Call in tf.tidy.
 */
export function denseChainHvp(chain: DenseLink[], head: Activation, loss: LossSpec, w: tf.Tensor[], vs: tf.Tensor[], x: tf.Tensor, y: tf.Tensor, total: number, K: number): tf.Tensor[] {
  const n = x.shape[0];
  const L = chain.length;
  // Forward (shared) and R-forward (K directions).
  const a: tf.Tensor[] = [tf.reshape(x, [n, -1])];
  const z: tf.Tensor[] = [];
  const d: Array<ReturnType<Derivatives>> = [];
  const Rz: tf.Tensor[] = [];
  let Ra: tf.Tensor | null = null;
  chain.forEach((link, l) => {
    const W = w[link.kernel];
    const [inDim, out] = W.shape;
    let zl = tf.matMul(a[l] as tf.Tensor2D, W as tf.Tensor2D);
    if (link.bias !== null) zl = tf.add(zl, w[link.bias]);
    z.push(zl);
    let rz = tf.matMul(tf.reshape(a[l], [1, n, inDim]) as tf.Tensor3D, vs[link.kernel] as tf.Tensor3D);
    if (Ra) rz = tf.add(rz, tf.reshape(tf.matMul(tf.reshape(Ra, [K * n, inDim]) as tf.Tensor2D, W as tf.Tensor2D), [K, n, out]));
    if (link.bias !== null) rz = tf.add(rz, tf.reshape(vs[link.bias], [K, 1, out]));
    Rz.push(rz);
    if (l === L - 1) return;
    const al = activate(zl, link.activation);
    a.push(al);
    const dl = DERIVATIVES[link.activation]!(zl, al);
    d.push(dl);
    Ra = dl.d1 ? tf.mul(dl.d1, rz) : rz;
  });
  // The loss: δ = ∂ℓ/∂z and Rδ = ∂²ℓ/∂z² · Rz at the logits.
  let { delta, rdelta } = lossDerivatives(loss, head, z[L - 1], Rz[L - 1], y, total);
  const hv: tf.Tensor[] = new Array(w.length);
  for (let l = L - 1; l >= 0; l--) {
    const link = chain[l];
    const W = w[link.kernel];
    const [inDim, out] = W.shape;
    const aT = tf.reshape(tf.transpose(a[l]), [1, inDim, n]);
    let hW = tf.matMul(aT as tf.Tensor3D, rdelta as tf.Tensor3D);
    if (l > 0) {
      const RaPrev = d[l - 1].d1 ? tf.mul(d[l - 1].d1!, Rz[l - 1]) : Rz[l - 1];
      hW = tf.add(hW, tf.matMul(tf.transpose(RaPrev, [0, 2, 1]) as tf.Tensor3D, tf.reshape(delta, [1, n, out]) as tf.Tensor3D));
    }
    hv[link.kernel] = hW;
    if (link.bias !== null) hv[link.bias] = tf.sum(rdelta, 1);
    if (l === 0) break;
    const WT = tf.transpose(W);
    const e = tf.matMul(delta as tf.Tensor2D, WT as tf.Tensor2D);
    const re = tf.add(
      tf.reshape(tf.matMul(tf.reshape(rdelta, [K * n, out]) as tf.Tensor2D, WT as tf.Tensor2D), [K, n, inDim]),
      tf.matMul(tf.reshape(delta, [1, n, out]) as tf.Tensor3D, tf.transpose(vs[link.kernel], [0, 2, 1]) as tf.Tensor3D),
    );
    const { d1, d2 } = d[l - 1];
    delta = d1 ? tf.mul(d1, e) : e;
    rdelta = d1 ? tf.mul(d1, re) : re;
    if (d2) rdelta = tf.add(rdelta, tf.mul(tf.mul(d2, e), Rz[l - 1]));
  }
  return hv;
}

/**
 * ∂ℓ/∂z and its directional derivative at the logits z [N, D] for the engine's losses (loss.ts, divided
 * by `total`): softmax cross-entropy ℓ = −Σ y ⊙ log softmax(z), binary cross-entropy on logits averaged
 * over the D outputs, mean squared error of head(z) averaged over the D outputs.
 */
function lossDerivatives(loss: LossSpec, head: Activation, z: tf.Tensor, rz: tf.Tensor, y: tf.Tensor, total: number): { delta: tf.Tensor; rdelta: tf.Tensor } {
  const D = z.shape[z.rank - 1];
  switch (loss.name) {
    case 'sparse-categorical-cross-entropy':
    case 'categorical-cross-entropy': {
      // ∂ = s·p − y with s = Σ_c y (1 for one-hot labels); ∂²·r = s·(p ⊙ r − p ⟨p, r⟩).
      const shifted = tf.sub(z, tf.max(z, -1, true));
      const p = tf.div(tf.exp(shifted), tf.sum(tf.exp(shifted), -1, true));
      const s = tf.sum(y, -1, true);
      const pr = tf.mul(p, rz);
      return { delta: tf.div(tf.sub(tf.mul(s, p), y), total), rdelta: tf.mul(tf.div(s, total), tf.sub(pr, tf.mul(p, tf.sum(pr, -1, true)))) };
    }
    case 'binary-cross-entropy': {
      const p = tf.sigmoid(z);
      return { delta: tf.div(tf.sub(p, y), D * total), rdelta: tf.mul(tf.div(tf.mul(p, tf.sub(1, p)), D * total), rz) };
    }
    case 'mean-squared-error': {
      const a = activate(z, head);
      const { d1, d2 } = DERIVATIVES[head]!(z, a);
      const r = tf.sub(a, y);
      const c = 2 / (D * total);
      const delta = tf.mul(c, d1 ? tf.mul(r, d1) : r);
      let curv: tf.Tensor = d1 ? tf.square(d1) : tf.onesLike(z);
      if (d2) curv = tf.add(curv, tf.mul(r, d2));
      return { delta, rdelta: tf.mul(tf.mul(c, curv), rz) };
    }
  }
}
