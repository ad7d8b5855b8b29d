/**
 * What the summary says about a result: its rows (label, shown value, full-precision value, detail),
 * the eigenvalue table's rows, and the plain-language notes. Pure (no DOM): render.ts turns these into
 * elements, the tests read them directly.
 */
import type { EigenSummary, InspectResult, TensorArrays, TraceEstimate } from '../extension/protocol.js';
import { formatCount, formatNumber, formatPm } from './format.js';
import { insignificantCount } from './heatmapPixels.js';

export interface SummaryRow {
  /** Stable key, also the row's `data-key` (e2e tests select rows by it). */
  key: string;
  /** Label; "λ_max" renders with "max" as a subscript. */
  label: string;
  value: string;
  /** The number behind `value`, at full precision (the cell's `data-value`). */
  raw?: number;
  detail?: string;
  /** Further lines under the detail (backend notes). */
  list?: string[];
}

/** How a trace was estimated, in words (shared by the panel and the Markdown report). */
export function traceMethod(t: TraceEstimate): string {
  switch (t.method) {
    case 'exact':
      return 'exact';
    case 'xtrace':
      return `XTrace, ${formatCount(t.matvecs)} HVPs`;
    case 'hutch++':
      return `Hutch++, ${formatCount(t.matvecs)} HVPs`;
    default:
      return `Hutchinson, ${formatCount(t.samples ?? t.matvecs)} probes`;
  }
}

export function traceText(t: TraceEstimate): string {
  return t.method === 'exact' ? `${formatNumber(t.value, 6)} (exact)` : formatPm(t.value, t.stderr);
}

export function eigenMethod(e: EigenSummary): string {
  return e.method === 'dense' ? `dense eigensolver on the exact Hessian (${formatCount(e.iterations)}×${formatCount(e.iterations)})` : `Lanczos, ${formatCount(e.iterations)} steps`;
}

const LOSS_NAMES: Record<string, string> = {
  'sparse-categorical-cross-entropy': 'sparse categorical cross-entropy',
  'categorical-cross-entropy': 'categorical cross-entropy',
  'binary-cross-entropy': 'binary cross-entropy',
  'mean-squared-error': 'mean squared error',
};

export function summaryRows(r: InspectResult): SummaryRow[] {
  const g = r.global;
  const rows: SummaryRow[] = [
    { key: 'model', label: 'Model', value: r.model.name, detail: `${r.model.path} · ${formatCount(r.model.parameters)} parameters` },
    {
      key: 'loss',
      label: 'Loss',
      value: formatNumber(r.loss.value, 5),
      raw: r.loss.value,
      detail: `${LOSS_NAMES[r.loss.name] ?? r.loss.name}${r.loss.fromLogits ? ' (from logits)' : ''}: ${r.loss.reason}`,
    },
    { key: 'gradientNorm', label: '‖g‖', value: formatNumber(g.gradientNorm, 4), raw: g.gradientNorm, detail: 'norm of the gradient' },
    { key: 'hessianGradientNorm', label: '‖Hg‖', value: formatNumber(g.hessianGradientNorm, 4), raw: g.hessianGradientNorm, detail: 'norm of the Hessian times the gradient' },
    { key: 'gradientCurvature', label: 'gᵀHg / gᵀg', value: formatNumber(g.gradientCurvature, 4), raw: g.gradientCurvature, detail: 'curvature along the gradient' },
    { key: 'trace', label: 'Trace', value: traceText(g.trace), raw: g.trace.value, detail: `${traceMethod(g.trace)}${g.trace.stderr != null && g.trace.method !== 'exact' ? ' (± standard error)' : ''}` },
  ];
  const top = g.eigenvalues.top[0];
  const bottom = g.eigenvalues.bottom[0];
  if (top) rows.push({ key: 'lambdaMax', label: 'λ_max', value: formatNumber(top.value, 5), raw: top.value, detail: ritzDetail(top.residual, top.converged) });
  if (bottom) rows.push({ key: 'lambdaMin', label: 'λ_min', value: formatNumber(bottom.value, 5), raw: bottom.value, detail: ritzDetail(bottom.residual, bottom.converged) });
  rows.push(
    { key: 'backend', label: 'Backend', value: r.backend, list: r.backendNotes },
    {
      key: 'data',
      label: 'Data',
      value: r.data.path ?? (r.data.synthetic ? 'synthetic' : 'none'),
      detail: `${formatCount(r.data.examples)} examples${r.data.synthetic ? ' (synthetic inputs: no data file)' : ''}`,
    },
    { key: 'seed', label: 'Seed', value: String(r.seed), raw: r.seed },
    { key: 'timing', label: 'Time', value: `${formatNumber(r.timing.seconds, 3)} s`, raw: r.timing.seconds, detail: `${formatCount(r.timing.hvps)} Hessian-vector products` },
  );
  return rows;
}

function ritzDetail(residual: number, converged: boolean): string {
  return `Ritz residual ${formatNumber(residual, 2)} · ${converged ? 'converged' : 'not converged'}`;
}

export interface EigenRow {
  which: 'top' | 'bottom';
  /** 1-based: top 1 is the largest, bottom 1 the smallest. */
  rank: number;
  value: number;
  residual: number;
  converged: boolean;
}

/** The top eigenvalues (largest first), then the bottom ones (smallest first), without repeats. */
export function eigenRows(e: EigenSummary): EigenRow[] {
  return [
    ...e.top.map((r, i) => ({ which: 'top' as const, rank: i + 1, ...r })),
    ...e.bottom.map((r, i) => ({ which: 'bottom' as const, rank: i + 1, ...r })),
  ];
}

export interface Note {
  key: 'nonconvex' | 'convex' | 'significance' | 'learningRate' | 'ascent' | 'unconverged';
  tone: 'warning' | 'info';
  text: string;
}

/** The plain-language notes under the summary. */
export function curvatureNotes(r: InspectResult, tensors: readonly TensorArrays[] = []): Note[] {
  const notes: Note[] = [];
  const g = r.global;
  const lmin = g.eigenvalues.bottom[0];
  const negLayers = r.layers.filter((l) => l.eigenvalues.bottom[0] && l.eigenvalues.bottom[0].value < 0);
  if (lmin && lmin.value < 0) {
    let text = `λ_min = ${formatNumber(lmin.value, 4)} < 0: the loss is not convex here (it curves downward along some direction).`;
    if (Math.abs(lmin.value) <= lmin.residual) text += ` Its Ritz residual (${formatNumber(lmin.residual, 2)}) is as large as the value, so it may be 0.`;
    if (negLayers.length)
      text += ` Layer blocks with negative λ_min: ${negLayers
        .map((l) => {
          const b = l.eigenvalues.bottom[0];
          return `${l.name} (${formatNumber(b.value, 3)}${Math.abs(b.value) <= b.residual ? ', within its residual of 0' : ''})`;
        })
        .join(', ')}.`;
    else text += ' No single layer block has a negative λ_min: the negative curvature comes from how layers interact.';
    notes.push({ key: 'nonconvex', tone: 'warning', text });
  } else if (lmin && lmin.converged) {
    notes.push({ key: 'convex', tone: 'info', text: `λ_min = ${formatNumber(lmin.value, 4)} ≥ 0: no direction of negative curvature was found; the loss is locally convex here.` });
  }

  const withErr = tensors.filter((t) => t.stderr);
  if (withErr.length) {
    const total = withErr.reduce((a, t) => a + t.values.length, 0);
    const k = withErr.reduce((a, t) => a + insignificantCount(t.values, t.stderr), 0);
    notes.push({
      key: 'significance',
      tone: 'info',
      text: `Diagonal entries with |value| < 2·stderr are not significant (hatched): ${formatCount(k)} of ${formatCount(total)}.`,
    });
  } else if (r.layers.some((l) => l.tensors.some((t) => t.diagonal.method !== 'exact'))) {
    notes.push({ key: 'significance', tone: 'info', text: 'Diagonal entries with |value| < 2·stderr are not significant (hatched).' });
  }

  const c = g.gradientCurvature;
  if (Number.isFinite(c) && c > 0) {
    let text = `A stable learning rate for plain gradient descent along −g is below 2/(gᵀHg/gᵀg) = ${formatNumber(2 / c, 4)}.`;
    const top = g.eigenvalues.top[0];
    if (top && top.value > 0) text += ` Along the sharpest direction it must be below 2/λ_max = ${formatNumber(2 / top.value, 4)}.`;
    notes.push({ key: 'learningRate', tone: 'info', text });
  } else if (Number.isFinite(c)) {
    notes.push({ key: 'ascent', tone: 'info', text: 'gᵀHg ≤ 0: the loss curves downward along −g, so the quadratic model gives no step-size limit along it.' });
  }

  const unconverged = [g.eigenvalues, ...r.layers.map((l) => l.eigenvalues)].reduce(
    (a, e) => a + [...e.top, ...e.bottom].filter((x) => !x.converged).length,
    0,
  );
  if (unconverged) notes.push({ key: 'unconverged', tone: 'warning', text: `${unconverged} Ritz value${unconverged > 1 ? 's have' : ' has'} not converged: treat ${unconverged > 1 ? 'them' : 'it'} as estimates (see the residuals).` });
  return notes;
}
