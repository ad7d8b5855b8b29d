/**
 * The Markdown report, written from the result object alone (so any saved JSON can be re-rendered).
 */
import type { EigenSummary, InspectResult, TraceEstimate } from '../protocol.js';

const num = (v: number | null | undefined, digits = 4): string => (v == null || !Number.isFinite(v) ? 'n/a' : Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(digits - 1) : v.toPrecision(digits));
const pm = (t: TraceEstimate) => (t.stderr == null ? `${num(t.value)} (exact)` : `${num(t.value)} ± ${num(t.stderr, 2)}`);
const eigs = (list: EigenSummary['top']) => list.map((r) => `${num(r.value)}${r.converged ? '' : ' (not converged)'}`).join(', ') || 'n/a';

export function markdownReport(r: InspectResult): string {
  const g = r.global;
  const method = g.trace.method === 'exact' ? `exact (${g.trace.matvecs} HVPs, one per parameter)` : `Hutchinson, ${g.trace.samples} Rademacher probes`;
  const lr = g.gradientCurvature > 0 ? `, so plain gradient descent along −g is stable only for a learning rate below 2 / (gᵀHg/gᵀg) = ${num(2 / g.gradientCurvature)}` : '';
  const lines = [
    `# Curvature report: ${r.model.name}`,
    '',
    `Model \`${r.model.path}\` (${r.model.parameters} parameters); data \`${r.data.path ?? 'synthetic'}\` (${r.data.examples} examples).`,
    `Loss: **${r.loss.name}** (${r.loss.reason}${r.loss.fromLogits ? '; computed from logits, the output activation fused into the loss' : ''}), mean over all examples = ${num(r.loss.value, 6)}.`,
    `Backend: ${r.backend}. Seed: ${r.seed}. Curvature Lens ${r.tool.version}; ${r.timing.hvps} Hessian-vector products in ${num(r.timing.seconds, 3)} s.`,
    '',
    '## Summary',
    '',
    '| quantity | value |',
    '|---|---|',
    `| trace of H | ${pm(g.trace)} |`,
    `| largest eigenvalues | ${eigs(g.eigenvalues.top)} |`,
    `| smallest eigenvalues | ${eigs(g.eigenvalues.bottom)} |`,
    `| ‖g‖ (gradient norm) | ${num(g.gradientNorm)} |`,
    `| ‖Hg‖ | ${num(g.hessianGradientNorm)} |`,
    `| gᵀHg / gᵀg (curvature along the gradient) | ${num(g.gradientCurvature)} |`,
    '',
    `Diagonal and trace: ${method}. Eigenvalues: ${g.eigenvalues.method === 'dense' ? 'all eigenvalues of the exact Hessian (dense symmetric solver)' : `Lanczos with full reorthogonalisation, ${g.eigenvalues.iterations} steps`}.`,
    '',
    '## Per layer',
    '',
    'Each layer\'s block is the Hessian restricted to its own weights (kernel and bias).',
    '',
    '| layer | class | parameters | trace | λ max | λ min | diagonal min / mean / max |',
    '|---|---|---|---|---|---|---|',
    ...r.layers.map((l) => {
      const d = l.tensors.map((t) => t.diagonal);
      const min = Math.min(...d.map((x) => x.min));
      const max = Math.max(...d.map((x) => x.max));
      const mean = d.reduce((s, x, i) => s + x.mean * l.tensors[i].shape.reduce((a, b) => a * b, 1), 0) / l.parameters;
      return `| ${l.name} | ${l.className} | ${l.parameters} | ${pm(l.trace)} | ${num(l.eigenvalues.top[0]?.value)} | ${num(l.eigenvalues.bottom[0]?.value)} | ${num(min)} / ${num(mean)} / ${num(max)} |`;
    }),
    '',
    '## Eigenvalues with Ritz residuals',
    '',
    '| block | which | value | residual ‖Hy − λy‖ | converged |',
    '|---|---|---|---|---|',
    ...[{ name: 'global', eigenvalues: g.eigenvalues }, ...r.layers].flatMap((b) => [
      ...b.eigenvalues.top.map((e, i) => `| ${b.name} | top ${i + 1} | ${num(e.value, 6)} | ${num(e.residual, 2)} | ${e.converged ? 'yes' : '**no**'} |`),
      ...b.eigenvalues.bottom.map((e, i) => `| ${b.name} | bottom ${i + 1} | ${num(e.value, 6)} | ${num(e.residual, 2)} | ${e.converged ? 'yes' : '**no**'} |`),
    ]),
    '',
    '## What the numbers mean',
    '',
    '- **H** is the Hessian of the mean loss over all examples with respect to all trainable weights.',
    '- **Trace** = sum of the Hessian\'s diagonal = sum of its eigenvalues. A Hutchinson estimate averages zᵀHz over random ±1 vectors z; ± is one standard error.',
    '- **Diagonal**: with Hutchinson, the mean of z ⊙ Hz, unbiased with per-entry variance Σ_{j≠i} H_ij² per probe (this is what AdaHessian keeps as `p.hess`). Entries with |value| < 2 standard errors are not distinguishable from zero: damp them before inverting (1 / (|d| + ε)).',
    '- **λ min** is the smallest eigenvalue, not the smallest diagonal entry: λ_min ≤ min_i H_ii. A negative λ min means the loss is not locally convex here.',
    '- **Ritz residual** ‖Hy − λy‖ bounds how far the reported eigenvalue can be from a true one; "converged" means it is below 1e-5 · max|λ|.',
    '- **gᵀHg / gᵀg** is the curvature along the gradient' + lr + '.',
    '',
    '## Backend self-test',
    '',
    ...r.backendNotes.map((n) => `- ${n}`),
    '',
  ];
  return lines.join('\n');
}
