/**
 * "What this means": plain sentences generated from the insight numbers of a result (diagonal share,
 * λ_min against the smallest diagonal entry, stable learning rates, the three directions), and the
 * Markdown table of a `--checkpoints` run. Text from the result goes through the caller's escaper.
 */
import type { CheckpointsResult, InspectResult } from '../protocol.js';
import { shareText, shareVerdict } from '../../webview/insights.js';

type Escape = (s: string) => string;

const num = (v: number | null | undefined, digits = 3): string =>
  v == null || !Number.isFinite(v) ? 'n/a' : Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(digits - 1) : v.toPrecision(digits);

function diagonalMin(l: InspectResult['layers'][number]): { value: number; stderr: number | null } {
  let best = { value: Infinity, stderr: null as number | null };
  for (const t of l.tensors) {
    const d = t.diagonal;
    if (d.values) {
      d.values.forEach((v, i) => {
        if (v < best.value) best = { value: v, stderr: d.stderr ? d.stderr[i] : null };
      });
    } else if (d.min < best.value) best = { value: d.min, stderr: null };
  }
  return best;
}

/** The "What this means" section (empty when the result has no insight fields, e.g. an older JSON). */
export function insightsMarkdown(r: InspectResult, esc: Escape): string[] {
  const g = r.global;
  if (!g.diagonalShare || !g.learningRateBound || !g.directions) return [];
  const exactDiag = r.layers[0]?.tensors[0]?.diagonal.method === 'exact';
  const out = ['## What this means', ''];

  // How diagonal is H.
  const s = g.diagonalShare;
  out.push(
    `**How diagonal is H?** The diagonal carries ${shareText(s)} of the Hessian's curvature (its share of the squared Frobenius norm, ‖diag H‖² / ‖H‖_F²${s.stderr != null ? `, estimated from the same ${s.samples ?? '?'} random probes as the diagonal, error bar by jackknife` : ''}): ${shareVerdict(s.value)}. ` +
      'The off-diagonal rest couples weights, which only a non-diagonal method (a Newton-type or Kronecker-factored step) takes into account.',
    '',
  );

  // λ_min against the smallest diagonal entry.
  const lmin = g.eigenvalues.bottom[0];
  const mins = r.layers.map(diagonalMin);
  const dmin = mins.reduce((a, b) => (b.value < a.value ? b : a), { value: Infinity, stderr: null as number | null });
  if (lmin && Number.isFinite(dmin.value)) {
    const gap = dmin.value - lmin.value;
    const conv = lmin.converged ? '' : ' (Lanczos not converged: read it as an upper bound)';
    const dText = exactDiag ? `${num(dmin.value, 4)}` : `${num(dmin.value, 4)}${dmin.stderr != null ? ` ± ${num(dmin.stderr, 2)}` : ''} (the minimum of a noisy estimate, biased low)`;
    out.push(
      `**Smallest eigenvalue vs smallest diagonal entry.** λ_min = ${num(lmin.value, 4)}${conv}; min_i H_ii = ${dText}. For any symmetric H, λ_min ≤ min_i H_ii; ` +
        (gap >= 0
          ? `here the gap is ${num(gap, 3)}, so the smallest diagonal entry ${lmin.value < 0 && dmin.value >= 0 ? 'hides the negative curvature entirely' : 'overstates the smallest curvature'}: it is not an eigenvalue.`
          : `here the estimated minimum lies ${num(-gap, 3)} below λ_min, which the exact diagonal cannot: the estimate's noise exceeds the gap.`),
      '',
    );
  }

  // Step sizes.
  const lr = g.learningRateBound;
  const lmax = g.eigenvalues.top[0]?.value;
  out.push(
    '**Step sizes.** ' +
      (lr.topEigenvector != null
        ? `SGD with lr > ${num(lr.topEigenvector)} diverges along the top eigenvector (2/λ_max, λ_max = ${num(lmax, 4)}). `
        : 'λ_max ≤ 0: no learning rate makes gradient descent diverge along the top eigenvector. ') +
      (lr.gradient != null
        ? `Along the current gradient, a step with lr > ${num(lr.gradient)} overshoots (2/(gᵀHg/gᵀg)); below ${num(lr.gradient / 2)} it does not pass the minimum along that line.`
        : 'Along the current gradient the curvature gᵀHg/gᵀg is ≤ 0: the loss curves down that way and the quadratic model gives no bound.'),
    '',
  );

  // Directions.
  const d = g.directions;
  const dm = d.diagonalMethod === 'exact' ? 'the exact diagonal' : d.diagonalMethod === 'xdiag' ? 'the XDiag diagonal' : 'the Hutchinson diagonal';
  const newtonHow = d.newtonMethod === 'dense' ? 'dense solve' : `MINRES, ${d.newtonIterations ?? '?'} of ${d.newtonMatvecs ?? '?'} HVPs`;
  const pd = d.predictedDecrease;
  const candidates: Array<[string, number | null]> = [['gradient (line search)', pd.gradient], ['inverse diagonal', pd.diagonal], ['Newton-type', pd.newton]];
  const best = candidates.filter((c): c is [string, number] => c[1] != null && Number.isFinite(c[1])).sort((a, b) => b[1] - a[1])[0];
  out.push(
    '**Directions** (update w ← w − s; the local quadratic model predicts the loss to fall by gᵀs − ½ sᵀHs):',
    '',
    '| direction | s | predicted decrease |',
    '|---|---|---|',
    `| gradient | (gᵀg / gᵀHg) · g, exact line search | ${pd.gradient == null ? 'unbounded (gᵀHg ≤ 0)' : num(pd.gradient, 4)} |`,
    `| inverse diagonal (AdaHessian) | g / (\\|d̂\\| + ε), ε = ${num(d.epsilon, 2)}, d̂ = ${dm}, lr 1 | ${num(pd.diagonal, 4)} |`,
    `| Newton-type | (H + λI)⁻¹ g, λ = ${num(d.damping, 2)} (${newtonHow}; relative residual ${num(d.newtonResidual, 2)}) | ${num(pd.newton, 4)} |`,
    '',
    `Cosines: gradient vs diagonal ${num(d.cosine.gradientVsDiagonal)}, gradient vs Newton ${num(d.cosine.gradientVsNewton)}, diagonal vs Newton ${num(d.cosine.diagonalVsNewton)}. ` +
      (best ? `The largest predicted decrease is the ${best[0]} step's. ` : '') +
      (pd.diagonal < 0 ? 'The inverse-diagonal step taken at full length raises the loss under the quadratic model (small |d̂| + ε entries blow it up): it needs a much smaller learning rate. ' : '') +
      (Number.isFinite(d.cosine.diagonalVsNewton)
        ? d.cosine.diagonalVsNewton < 0.5
          ? `The diagonal step points far from the Newton-type step (cos ${num(d.cosine.diagonalVsNewton, 2)}): a diagonal method approximates H⁻¹g poorly here.`
          : `The diagonal step points close to the Newton-type step (cos ${num(d.cosine.diagonalVsNewton, 2)}): a diagonal method is a fair approximation here.`
        : ''),
    '',
  );

  // Per layer.
  out.push(
    '| layer | diagonal share | λ_min of block | min H_ii | lr bound 2/λ_max | lr bound along g_layer |',
    '|---|---|---|---|---|---|',
    ...r.layers.map((l, i) => `| ${esc(l.name)} | ${shareText(l.diagonalShare)} | ${num(l.eigenvalues.bottom[0]?.value, 4)} | ${num(mins[i].value, 4)} | ${num(l.learningRateBound?.topEigenvector)} | ${num(l.learningRateBound?.gradient)} |`),
    '',
    "A layer's share counts its rows of H, so coupling to other layers is off-diagonal mass; its step-size bounds use its own block H_BB (the other weights fixed) and its own part of the gradient.",
    '',
  );
  return out;
}

/** The Markdown report of a `--checkpoints` run: one row per checkpoint, in order. */
export function checkpointsMarkdown(c: CheckpointsResult, esc: Escape): string {
  const pmText = (t: { value: number; stderr: number | null }) => (t.stderr == null ? `${num(t.value, 4)} (exact)` : `${num(t.value, 4)} ± ${num(t.stderr, 2)}`);
  return [
    '# Curvature across checkpoints',
    '',
    'The same data, seed and settings for each checkpoint, in natural order of the paths.',
    '',
    '| # | checkpoint | λ max | λ min | trace | diagonal share |',
    '|---|---|---|---|---|---|',
    ...c.checkpoints.map((row, i) => `| ${i + 1} | ${esc(row.path)} | ${num(row.topEigenvalue, 4)} | ${num(row.bottomEigenvalue, 4)} | ${pmText(row.trace)} | ${shareText(row.diagonalShare)} |`),
    '',
  ].join('\n');
}
