/**
 * Square-root factors of the loss's Hessian in the network's outputs, for the exact diagonal of the
 * generalised Gauss-Newton matrix (Schraudolph 2002; Martens 2020, "New insights and perspectives on
 * the natural gradient method", JMLR 21):
 *
 *   G = (1/N) Σ_n J_nᵀ H_n J_n,   H_n = ∂²ℓ_n/∂o_n² = S_n S_nᵀ,   diag G = (1/N) Σ_n Σ_j (J_nᵀ s_nj)²,
 *
 * where o_n is the network's output for example n, J_n = ∂o_n/∂θ, and s_nj the j-th column of S_n. Each
 * J_nᵀ s_nj is one example's gradient of ⟨s_nj, o_n⟩, so the diagonal is a sum of squared per-example
 * "gradients" with backpropagated loss factors — BackPACK's DiagGGN (Dangel, Kunstner & Hennig, "BackPACK:
 * packing more into backprop", ICLR 2020). Objective.ggnDiagonal gets all of them at once from stacked
 * weight copies, one copy per (example, column): no per-example loop, exact for every layer type.
 *
 * The factors (columns indexed by output entries j; for a multi-axis output, softmax/sigmoid act on the
 * last axis, one block per position):
 * - softmax cross-entropy on logits, labels y with mass m = Σ_c y_c at the position:
 *     H = m (diag p − p pᵀ) = S Sᵀ with S = √m (diag √p − p √pᵀ)   (since √pᵀ√p = 1);
 * - sigmoid binary cross-entropy (mean over the last axis of size V): H = diag(p(1 − p)/V), S = √H;
 * - mean squared error on o = head(z), averaged over the D output entries: H = (2/D) I, S = √(2/D) I,
 *   so the head's own curvature is part of the network's (J includes the head).
 * For networks that are piecewise linear in each weight (ReLU, max-pooling, linear heads), the network's
 * second derivatives vanish and diag G = diag H exactly; the difference H − G is the network's own
 * curvature weighted by the loss gradient, the part that can make H indefinite.
 */
import type { LossSpec } from './loss.js';

/** Whether the GGN's output is the logits (cross-entropies) or the head's output (squared error). */
export function ggnOnLogits(loss: LossSpec): boolean {
  return loss.name !== 'mean-squared-error';
}

/**
 * The columns S_n e_j, j ∈ `columns`, for a batch of B examples: a [columns.length × B × D] array in
 * that order (column-major over examples), where D is the output size per example and `last` the size
 * of its last axis. `out` holds the B outputs (logits for cross-entropies; ignored for squared error)
 * and `y` the labels (one-hot for sparse labels), both B × D.
 */
export function lossFactorColumns(loss: LossSpec, out: Float32Array, y: Float32Array, B: number, D: number, last: number, columns: number[]): Float32Array {
  const S = new Float32Array(columns.length * B * D);
  const p = new Float64Array(last);
  columns.forEach((j, ci) => {
    const pos = j - (j % last); // first entry of j's last-axis block
    const c = j - pos;
    for (let n = 0; n < B; n++) {
      const dst = (ci * B + n) * D;
      const row = n * D + pos;
      switch (loss.name) {
        case 'sparse-categorical-cross-entropy':
        case 'categorical-cross-entropy': {
          let mass = 0;
          let max = -Infinity;
          for (let v = 0; v < last; v++) (mass += y[row + v]), (max = Math.max(max, out[row + v]));
          let sum = 0;
          for (let v = 0; v < last; v++) sum += p[v] = Math.exp(out[row + v] - max);
          for (let v = 0; v < last; v++) p[v] /= sum;
          const root = Math.sqrt(Math.max(mass, 0) * p[c]);
          for (let v = 0; v < last; v++) S[dst + pos + v] = (v === c ? root : 0) - p[v] * root;
          break;
        }
        case 'binary-cross-entropy': {
          const q = 1 / (1 + Math.exp(-out[row + c]));
          S[dst + j] = Math.sqrt((q * (1 - q)) / last);
          break;
        }
        case 'mean-squared-error':
          S[dst + j] = Math.sqrt(2 / D);
          break;
      }
    }
  });
  return S;
}
