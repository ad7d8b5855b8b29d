/**
 * "What this means" in the panel: one sentence each on how diagonal H is, λ_min against the smallest
 * diagonal entry, stable learning rates and the three update directions; and a layer's share and
 * step-size bounds. Pure (no DOM): render.ts turns these into elements, the tests read them directly.
 */
import type { InspectResult, LayerResult, ShareEstimate, TensorArrays } from '../extension/protocol.js';
import { formatNumber } from './format.js';

export interface MeaningItem {
  key: 'diagonalShare' | 'lambdaVsDiagonal' | 'stepSize' | 'directions';
  text: string;
}

const pct = (v: number) => `${(100 * v).toFixed(Math.abs(v) < 0.2 ? 1 : 0)} %`;

export function shareText(s: ShareEstimate | null | undefined): string {
  if (!s || !Number.isFinite(s.value)) return 'n/a';
  return s.stderr == null ? `${pct(s.value)} (exact)` : `${pct(s.value)} ± ${pct(s.stderr)}`;
}

/** What a diagonal preconditioner makes of a share. */
export function shareVerdict(v: number): string {
  return v < 0.2 ? 'a diagonal preconditioner sees little of it' : v < 0.6 ? 'a diagonal preconditioner sees part of it' : 'a diagonal preconditioner sees most of it';
}

/** The smallest diagonal entry over all tensors (the arrays when given, else each tensor's min). */
export function diagonalMin(r: InspectResult, tensors: readonly TensorArrays[] = []): number {
  let m = Infinity;
  if (tensors.length) for (const t of tensors) for (const v of t.values) m = Math.min(m, v);
  else for (const l of r.layers) for (const t of l.tensors) m = Math.min(m, t.diagonal.min);
  return m;
}

export function meaningItems(r: InspectResult, tensors: readonly TensorArrays[] = []): MeaningItem[] {
  const g = r.global;
  const items: MeaningItem[] = [];
  if (g.diagonalShare && Number.isFinite(g.diagonalShare.value)) {
    items.push({ key: 'diagonalShare', text: `The diagonal carries ${shareText(g.diagonalShare)} of the Hessian's curvature (‖diag H‖² / ‖H‖_F²): ${shareVerdict(g.diagonalShare.value)}.` });
  }
  const lmin = g.eigenvalues.bottom[0];
  const dmin = diagonalMin(r, tensors);
  if (lmin && Number.isFinite(dmin)) {
    const exact = r.layers[0]?.tensors[0]?.diagonal.method === 'exact';
    const gap = dmin - lmin.value;
    items.push({
      key: 'lambdaVsDiagonal',
      text:
        `λ_min = ${formatNumber(lmin.value, 4)}, smallest diagonal entry ${formatNumber(dmin, 4)}${exact ? '' : ' (estimated)'}: λ_min ≤ min H_ii always, ` +
        (gap >= 0 ? `here by ${formatNumber(gap, 3)}; the smallest diagonal entry is not the smallest eigenvalue.` : `but the estimate's noise exceeds the gap here (${formatNumber(-gap, 3)} below).`),
    });
  }
  const lr = g.learningRateBound;
  if (lr) {
    items.push({
      key: 'stepSize',
      text:
        (lr.topEigenvector != null ? `SGD with lr > ${formatNumber(lr.topEigenvector, 3)} diverges along the top eigenvector (2/λ_max). ` : 'No learning-rate limit along the top eigenvector (λ_max ≤ 0). ') +
        (lr.gradient != null ? `Along the gradient, lr > ${formatNumber(lr.gradient, 3)} overshoots (2/(gᵀHg/gᵀg)).` : 'Along the gradient the curvature is ≤ 0: no limit from the quadratic model.'),
    });
  }
  const d = g.directions;
  if (d) {
    const p = d.predictedDecrease;
    items.push({
      key: 'directions',
      text:
        `Predicted loss decrease (quadratic model): gradient with line search ${p.gradient == null ? 'unbounded' : formatNumber(p.gradient, 3)}, ` +
        `inverse diagonal g/(|d|+${formatNumber(d.epsilon, 2)}) ${formatNumber(p.diagonal, 3)}, Newton-type (H+${formatNumber(d.damping, 2)}I)⁻¹g ${formatNumber(p.newton, 3)} ` +
        `(residual ${formatNumber(d.newtonResidual, 2)}). cos(diagonal, Newton) = ${formatNumber(d.cosine.diagonalVsNewton, 3)}: ` +
        (d.cosine.diagonalVsNewton < 0.5 ? 'a diagonal method approximates H⁻¹g poorly here.' : 'a diagonal method is a fair approximation here.'),
    });
  }
  return items;
}

/** The layer's share sentence, shown next to its heatmaps; null for results without it. */
export function layerShareSentence(l: LayerResult): string | null {
  const s = l.diagonalShare;
  if (!s || !Number.isFinite(s.value)) return null;
  return `The diagonal carries ${shareText(s)} of this layer's curvature — ${shareVerdict(s.value)}.`;
}

/** "lr < 0.458 (2/λ_max) · < 0.914 (along this layer's gradient)" */
export function layerStepText(l: LayerResult): string | null {
  const b = l.learningRateBound;
  if (!b) return null;
  const f = (x: number | null) => (x == null ? 'none' : formatNumber(x, 3));
  return `lr < ${f(b.topEigenvector)} (2/λ_max) · < ${f(b.gradient)} (along this layer's gradient)`;
}
