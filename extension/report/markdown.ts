/**
 * The Markdown report, written from the result object alone (so any saved JSON can be re-rendered).
 * `exportReport` (export.ts) passes the figures it drew beside it; without them the report is text only.
 * Every string that comes from the result (model, layer and tensor names, paths, notes) is escaped: a
 * result may come from an untrusted file, and a name must neither break a table nor become HTML.
 */
import { traceMethod } from '../../webview/summary.js';
import type { EigenSummary, InspectResult, TraceEstimate } from '../protocol.js';
import { insightsMarkdown } from './insights.js';

const num = (v: number | null | undefined, digits = 4): string => (v == null || !Number.isFinite(v) ? 'n/a' : Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(digits - 1) : v.toPrecision(digits));
const pm = (t: TraceEstimate) => (t.stderr == null ? `${num(t.value)} (exact)` : `${num(t.value)} ± ${num(t.stderr, 2)}`);
const eigs = (list: EigenSummary['top']) => list.map((r) => `${num(r.value)}${r.converged ? '' : ' (not converged)'}`).join(', ') || 'n/a';

/**
 * Plain text for Markdown (inline, table cells included): no line breaks, and every character that
 * Markdown could interpret is backslash-escaped and HTML's `& < >` become entities, so `<img …>` stays
 * text and `|` stays in its cell.
 */
export function mdText(s: string | null | undefined): string {
  return String(s ?? '')
    .replace(/[\u0000-\u001F\u007F\u2028\u2029]+/g, ' ')
    .trim()
    .replace(/[\\`*_[\]#!|~$]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** `mdText` for text that starts a block (a list item's content): not read as a list marker. */
function mdBlock(s: string | null | undefined): string {
  return mdText(s)
    .replace(/^([-+=])/, '\\$1')
    .replace(/^(\d+)([.)])/, '$1\\$2');
}

/** A code span that survives backticks in `s` (a longer fence) and stays on one line; not for tables. */
export function mdCode(s: string | null | undefined): string {
  const t = String(s ?? '').replace(/[\u0000-\u001F\u007F\u2028\u2029]+/g, ' ');
  const longest = Math.max(0, ...(t.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  const pad = t.startsWith('`') || t.endsWith('`') || (t.startsWith(' ') && t.endsWith(' ') && t.trim() !== '') ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}

/** A relative link target: each path segment percent-encoded, parentheses and quotes too. */
export function mdHref(relPath: string): string {
  return relPath
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()))
    .join('/');
}

export interface ReportImage {
  /** Relative path from the Markdown file, with '/' separators (not yet encoded). */
  path: string;
  alt: string;
  /** Markdown (already escaped) shown under the image. */
  caption?: string;
}

export interface TensorFigure {
  layer: string;
  tensor: string;
  shape: number[];
  /** Null when the heatmap was not drawn (then `note` says why). */
  image: ReportImage | null;
  /** The exact GGN diagonal's heatmap, when the run computed it. */
  ggnImage?: ReportImage;
  note?: string;
}

export interface ReportFigures {
  traces?: ReportImage;
  eigenvalues?: ReportImage;
  convergence?: ReportImage;
  density?: ReportImage;
  tensors?: TensorFigure[];
}

export interface MarkdownOptions {
  figures?: ReportFigures;
  /** When the report was made (shown in the header). */
  date?: Date;
}

/**
 * Alt text: plain characters only. Renderers flatten alt text to plain text, and some (markdown-it, which
 * VS Code's preview uses) drop backslash-escaped characters there, so anything special becomes a space.
 */
export function mdAlt(s: string): string {
  return s.replace(/[^\p{L}\p{N} ._/:,+=()-]+/gu, ' ').replace(/\s+/g, ' ').trim() || 'figure';
}

const image = (img: ReportImage): string[] => [`![${mdAlt(img.alt)}](${mdHref(img.path)})`, ...(img.caption ? ['', img.caption] : []), ''];

/** `2025-06-01 14:03 UTC` */
export function reportDate(d: Date): string {
  return Number.isFinite(d.getTime()) ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'unknown date';
}

export function markdownReport(r: InspectResult, opts: MarkdownOptions = {}): string {
  const g = r.global;
  const f = opts.figures ?? {};
  const d0 = r.layers[0]?.tensors[0]?.diagonal;
  const diagText = !d0 ? '' : d0.method === 'exact' ? 'exact' : d0.method === 'xdiag' ? `XDiag, ${d0.matvecs ?? '?'} HVPs (leave-one-out error bars)` : `Hutchinson, ${d0.samples} Rademacher probes`;
  const method = g.trace.method === 'exact' ? `exact (${g.trace.matvecs} HVPs, one per parameter)` : `diagonal ${diagText}; trace ${traceMethod(g.trace)}`;
  const lr = g.gradientCurvature > 0 ? `, so plain gradient descent along −g is stable only for a learning rate below 2 / (gᵀHg/gᵀg) = ${num(2 / g.gradientCurvature)}` : '';
  const header = [
    `# Curvature report: ${mdText(r.model.name)}`,
    '',
    `Model ${mdCode(r.model.path)} (${r.model.parameters} parameters); data ${r.data.path == null ? 'synthetic' : mdCode(r.data.path)} (${r.data.examples} examples).`,
    ...(r.data.synthetic ? ['', `> **Synthetic data**: no data file was given; ${mdText(r.data.description ?? `${r.data.examples} examples drawn to the model's input shape, labelled by the model itself`)}. The curvature is the model's under its own predictions, not on real data.`, ''] : []),
    `Loss: **${mdText(r.loss.name)}** (${mdText(r.loss.reason)}${r.loss.fromLogits ? '; computed from logits, the output activation fused into the loss' : ''}), mean over all examples = ${num(r.loss.value, 6)}.`,
    `Backend: ${mdText(r.backend)}. Seed: ${r.seed}. Curvature Lens ${mdText(r.tool.version)}; ${r.timing.hvps} Hessian-vector products in ${num(r.timing.seconds, 3)} s.`,
    ...(opts.date ? [`Date: ${reportDate(opts.date)}.`] : []),
    '',
  ];
  const summary = [
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
    `Diagonal and trace: ${method}. Eigenvalues: ${g.eigenvalues.method === 'dense' ? 'all eigenvalues of the exact Hessian (dense symmetric solver)' : `Lanczos with full reorthogonalisation, ${g.eigenvalues.iterations} steps`}.` +
      (g.density ? ` Spectral density: stochastic Lanczos quadrature, ${g.density.runs} runs × ${g.density.steps} steps, Gaussian broadening σ = ${num(g.density.sigma, 2)} (in the JSON: \`global.density\`).` : ''),
    '',
    ...(f.convergence ? image(f.convergence) : []),
    ...(f.density ? image(f.density) : []),
  ];
  const perLayer = [
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
      return `| ${mdText(l.name)} | ${mdText(l.className)} | ${l.parameters} | ${pm(l.trace)} | ${num(l.eigenvalues.top[0]?.value)} | ${num(l.eigenvalues.bottom[0]?.value)} | ${num(min)} / ${num(mean)} / ${num(max)} |`;
    }),
    '',
    ...(f.traces ? image(f.traces) : []),
  ];
  const eigen = [
    '## Eigenvalues with Ritz residuals',
    '',
    '| block | which | value | residual ‖Hy − λy‖ | converged |',
    '|---|---|---|---|---|',
    ...[{ name: 'global', eigenvalues: g.eigenvalues }, ...r.layers].flatMap((b) => [
      ...b.eigenvalues.top.map((e, i) => `| ${mdText(b.name)} | top ${i + 1} | ${num(e.value, 6)} | ${num(e.residual, 2)} | ${e.converged ? 'yes' : '**no**'} |`),
      ...b.eigenvalues.bottom.map((e, i) => `| ${mdText(b.name)} | bottom ${i + 1} | ${num(e.value, 6)} | ${num(e.residual, 2)} | ${e.converged ? 'yes' : '**no**'} |`),
    ]),
    '',
    ...(f.eigenvalues ? image(f.eigenvalues) : []),
  ];
  const heatmaps = f.tensors?.length
    ? [
        '## Diagonal heatmaps',
        '',
        'One image per weight tensor, laid out as in the Curvature panel: a dense kernel [in, out] is in rows × out columns; a conv kernel [kh, kw, in, out] is an in × out grid of kh × kw tiles (white gaps between tiles); a bias is a 1 × n strip. Colours run from blue (negative) through near-white (0) to red (positive); the bar on the right spans −max|value| (bottom) to +max|value| (top), with a tick at 0. Faded, hatched cells are not significant (|value| < 2 standard errors).',
        '',
        ...f.tensors.flatMap((t) => [
          `### ${mdText(t.layer)}: ${mdText(t.tensor)} [${t.shape.join(' × ')}]`,
          '',
          ...(t.image ? image(t.image) : []),
          ...(t.ggnImage ? image(t.ggnImage) : []),
          ...(t.note ? [t.note, ''] : []),
        ]),
      ]
    : [];
  const meaning = [
    '## What the numbers mean',
    '',
    '- **H** is the Hessian of the mean loss over all examples with respect to all trainable weights.',
    '- **Trace** = sum of the Hessian\'s diagonal = sum of its eigenvalues. A Hutchinson estimate averages zᵀHz over random ±1 vectors z; ± is one standard error.',
    '- **Diagonal**: with Hutchinson, the mean of z ⊙ Hz, unbiased with per-entry variance Σ_{j≠i} H_ij² per probe (this is what AdaHessian keeps as `p.hess`). Entries with |value| < 2 standard errors are not distinguishable from zero: damp them before inverting (1 / (|d| + ε)).',
    '- **λ min** is the smallest eigenvalue, not the smallest diagonal entry: λ_min ≤ min_i H_ii. A negative λ min means the loss is not locally convex here.',
    '- **Ritz residual** ‖Hy − λy‖ bounds how far the reported eigenvalue can be from a true one; "converged" means it is below 1e-5 · max|λ|.',
    '- **gᵀHg / gᵀg** is the curvature along the gradient' + lr + '.',
    '',
  ];
  const backend = ['## Backend self-test', '', ...r.backendNotes.map((n) => `- ${mdBlock(n)}`), ''];
  return [...header, ...summary, ...insightsMarkdown(r, mdText), ...perLayer, ...eigen, ...heatmaps, ...meaning, ...backend].join('\n');
}
