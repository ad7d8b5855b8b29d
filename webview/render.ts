/**
 * The panel's tables and sections as DOM: the summary (rows, eigenvalue table, notes), one section per
 * layer, the error panel and the phase checklist. Every string from the result goes in as text.
 */
import type { EigenSummary, InspectResult, LayerResult, PanelState, Progress, TensorArrays } from '../extension/protocol.js';
import { curvatureNotes, eigenMethod, eigenRows, summaryRows, traceMethod, traceText } from './summary.js';
import { formatCount, formatNumber } from './format.js';
import { errorKindLabel, phaseSteps } from './status.js';
import { el, replaceChildren, subscripted } from './dom.js';
import type { Heatmaps } from './heatmap.js';
import { layerShareSentence, layerStepText, meaningItems } from './insights.js';

function valueSpan(text: string, raw?: number): HTMLElement {
  return el('span', { class: 'value', 'data-value': raw != null && Number.isFinite(raw) ? String(raw) : null }, text);
}

/** The summary: notes first (the conclusions), then the key numbers, then the extreme eigenvalues. */
export function renderSummary(box: HTMLElement, r: InspectResult, tensors: readonly TensorArrays[]): void {
  const notes = el(
    'ul',
    { id: 'notes', class: 'notes' },
    ...curvatureNotes(r, tensors).map((n) => el('li', { class: `note ${n.tone}`, 'data-key': n.key }, subscripted(n.text))),
  );
  const body = el('tbody');
  for (const row of summaryRows(r)) {
    const cell = el('td', null, valueSpan(row.value, row.raw));
    if (row.detail) cell.append(' ', el('span', { class: 'detail' }, subscripted(row.detail)));
    if (row.list?.length) cell.append(el('ul', { class: 'detail-list' }, ...row.list.map((t) => el('li', null, t))));
    body.append(el('tr', { 'data-key': row.key }, el('th', { scope: 'row' }, subscripted(row.label)), cell));
  }
  const table = el('table', { class: 'kv summary-table' }, body);
  const items = meaningItems(r, tensors);
  const meaning = items.length
    ? el('section', { id: 'meaning', class: 'meaning' }, el('h3', null, 'What this means'), el('ul', { class: 'notes' }, ...items.map((i) => el('li', { class: 'note info', 'data-key': i.key }, subscripted(i.text)))))
    : null;
  replaceChildren(box, notes, ...(meaning ? [meaning] : []), el('div', { class: 'summary-grid' }, table, eigenTable(r.global.eigenvalues, 'global')));
}

/** Top and bottom Ritz values with their residuals and converged flags. */
export function eigenTable(e: EigenSummary, scope: string): HTMLElement {
  const rows = eigenRows(e);
  const body = el('tbody');
  let group = '';
  for (const row of rows) {
    if (row.which !== group) {
      group = row.which;
      body.append(el('tr', { class: 'group' }, el('th', { colspan: 4, scope: 'rowgroup' }, group === 'top' ? 'Largest' : 'Smallest')));
    }
    body.append(
      el(
        'tr',
        { class: `eig ${row.which}`, 'data-which': row.which, 'data-rank': row.rank },
        el('td', { class: 'rank' }, String(row.rank)),
        el('td', { class: 'num' }, valueSpan(formatNumber(row.value, 5), row.value)),
        el('td', { class: 'num residual' }, valueSpan(formatNumber(row.residual, 2), row.residual)),
        el(
          'td',
          { class: row.converged ? 'conv yes' : 'conv no', title: row.converged ? 'converged' : 'not converged' },
          row.converged ? '✓' : '✗ not converged',
        ),
      ),
    );
  }
  return el(
    'table',
    { class: 'eigen', 'data-scope': scope },
    el('caption', null, `Extreme eigenvalues · ${eigenMethod(e)}`),
    el('thead', null, el('tr', null, el('th', { scope: 'col' }, ''), el('th', { scope: 'col' }, 'λ'), el('th', { scope: 'col' }, 'Ritz residual'), el('th', { scope: 'col' }, ''))),
    body,
  );
}

/** One layer's section: heading, its numbers, its eigenvalues and a heatmap per tensor. */
export function layerSection(l: LayerResult, arrays: ReadonlyMap<string, TensorArrays>, heatmaps: Heatmaps): HTMLElement {
  const stats = el(
    'table',
    { class: 'kv layer-table' },
    el(
      'tbody',
      null,
      el('tr', { 'data-key': 'class' }, el('th', { scope: 'row' }, 'Class'), el('td', null, l.className)),
      el('tr', { 'data-key': 'parameters' }, el('th', { scope: 'row' }, 'Parameters'), el('td', null, valueSpan(formatCount(l.parameters), l.parameters))),
      el(
        'tr',
        { 'data-key': 'trace' },
        el('th', { scope: 'row' }, 'Trace'),
        el('td', null, valueSpan(traceText(l.trace), l.trace.value), ' ', el('span', { class: 'detail' }, traceMethod(l.trace))),
      ),
      l.trace.stderr != null && l.trace.method !== 'exact'
        ? el('tr', { 'data-key': 'traceStderr' }, el('th', { scope: 'row' }, 'Standard error'), el('td', null, valueSpan(formatNumber(l.trace.stderr, 3), l.trace.stderr)))
        : null,
      layerShareSentence(l) ? el('tr', { 'data-key': 'diagonalShare' }, el('th', { scope: 'row' }, 'Diagonal share'), el('td', null, valueSpan(layerShareSentence(l)!, l.diagonalShare!.value))) : null,
      layerStepText(l) ? el('tr', { 'data-key': 'learningRateBound' }, el('th', { scope: 'row' }, 'Stable lr'), el('td', null, subscripted(layerStepText(l)!))) : null,
    ),
  );
  const lmin = l.eigenvalues.bottom[0];
  return el(
    'section',
    { class: `layer${lmin && lmin.value < 0 ? ' has-negative' : ''}`, 'data-layer': l.name },
    el(
      'header',
      { class: 'layer-head' },
      el('h2', { class: 'layer-name' }, l.name),
      el('span', { class: 'badge layer-class' }, l.className),
      el('span', { class: 'layer-params' }, `${formatCount(l.parameters)} parameters`),
      lmin && lmin.value < 0 ? el('span', { class: 'badge negative', title: 'The smallest eigenvalue of this block is negative' }, subscripted('λ_min < 0')) : null,
    ),
    el(
      'div',
      { class: 'layer-body' },
      el('div', { class: 'layer-numbers' }, stats, eigenTable(l.eigenvalues, l.name)),
      el(
        'div',
        { class: 'tensors' },
        ...l.tensors.flatMap((t) => {
          const a = arrays.get(t.name);
          const hessian = heatmaps.figure(t, a);
          // With the GGN diagonal: both side by side; their difference is the network's own curvature.
          if (!t.ggnDiagonal || !a?.ggn) return [hessian];
          return [el('div', { class: 'tensor-pair' }, hessian, heatmaps.figure({ ...t, diagonal: t.ggnDiagonal }, { ...a, values: a.ggn, stderr: null }, 'ggn'))];
        }),
      ),
    ),
  );
}

export function renderError(kindBox: HTMLElement, messageBox: HTMLElement, error: NonNullable<PanelState['error']>): void {
  kindBox.textContent = error.kind === 'input' ? 'The inspection could not read its input' : error.kind === 'cancelled' ? 'Cancelled' : 'Curvature Lens failed';
  kindBox.dataset.kind = error.kind;
  messageBox.textContent = error.message;
  messageBox.setAttribute('aria-label', errorKindLabel(error.kind));
}

/** The run's phases as a checklist, the current one with its own progress. */
export function renderPhases(list: HTMLElement, progress: Progress | null): void {
  replaceChildren(
    list,
    ...phaseSteps(progress?.phase ?? null).map((s) =>
      el(
        'li',
        { class: `phase ${s.step}`, 'data-phase': s.phase },
        el('span', { class: 'phase-mark', 'aria-hidden': 'true' }, s.step === 'done' ? '✓' : s.step === 'active' ? '●' : '○'),
        el('span', { class: 'phase-label' }, s.label),
        s.step === 'active' && progress && progress.total > 1 ? el('span', { class: 'phase-count' }, `${progress.done}/${progress.total}`) : null,
      ),
    ),
  );
}
