/**
 * The Curvature panel's script: restores the last state, posts 'ready', and renders every
 * `{type: 'state'}` the host sends. Rebuilds the summary, charts and layer sections only when the
 * result or the tensors change (the host sends the whole state on every progress step), and repaints
 * heatmaps only when the tensors or the colour scale change.
 */
import type { HostToWebview, PanelState, TensorArrays, WebviewToHost } from '../extension/protocol.js';
import type { Scale } from './heatmapLayout.js';
import { convergenceChart, densityChart, traceBarChart } from './charts.js';
import { byId, replaceChildren, show, svgNode } from './dom.js';
import { Heatmaps } from './heatmap.js';
import { encodeTensors, fromSaved, normaliseTensors, tensorsKey, toSaved } from './persist.js';
import { layerSection, renderError, renderPhases, renderSummary } from './render.js';
import { phaseFraction, statusLine } from './status.js';
import { formatNumber } from './format.js';
import { CheckpointsSection } from './checkpointsView.js';
import { previewKey } from './preview.js';
import { previewSections } from './previewView.js';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode: VsCodeApi =
  typeof acquireVsCodeApi === 'function'
    ? acquireVsCodeApi()
    : { postMessage: (m) => console.info('[curvature panel] would post', m), getState: () => undefined, setState: () => undefined };

const ui = {
  title: byId('title'),
  status: byId('status'),
  statusText: byId('status-text'),
  progress: byId('progress'),
  cancel: byId('cancel'),
  banner: byId('banner'),
  stale: byId('stale'),
  rerun: byId('rerun'),
  exportButton: byId('export'),
  error: byId('error'),
  errorKind: byId('error-kind'),
  errorMessage: byId('error-message'),
  placeholder: byId('placeholder'),
  placeholderText: byId('placeholder-text'),
  phases: byId('phases'),
  overview: byId('overview'),
  summary: byId('summary'),
  tracesCard: byId('traces-card'),
  traces: byId('traces'),
  convergenceCard: byId('convergence-card'),
  convergence: byId('convergence'),
  densityCard: byId('density-card'),
  density: byId('density'),
  densityNote: byId('density-note'),
  estimator: byId('estimator'),
  layersBlock: byId('layers-block'),
  layers: byId('layers'),
  scaleGroup: byId('scale-group'),
  tooltip: byId('tooltip'),
};

let state: PanelState | null = null;
let scale: Scale = 'linear';
const heatmaps = new Heatmaps(ui.tooltip, scale);
const checkpointHeatmaps = new Heatmaps(ui.tooltip, scale);
const checkpoints = new CheckpointsSection(
  { block: byId('checkpoints-block'), note: byId('checkpoints-note'), charts: byId('checkpoints-charts'), a: byId<HTMLSelectElement>('checkpoint-a'), b: byId<HTMLSelectElement>('checkpoint-b'), diff: byId('checkpoints-diff') },
  checkpointHeatmaps,
);
let shownResultKey = '';
let shownTensorsKey = '';
let shownConvergenceKey = '';
let shownPreviewKey = '';
let encoded: { key: string; value: ReturnType<typeof encodeTensors> } | null = null;
let pendingFocus: string | null = null;
let saveTimer: ReturnType<typeof setTimeout> | null = null;

// ---- messages -------------------------------------------------------------------------------------

function post(message: WebviewToHost): void {
  vscode.postMessage(message);
}

window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
  const msg = event.data;
  if (!msg || typeof msg !== 'object' || msg.type !== 'state' || !msg.state) return;
  const preview = msg.state.preview ? { ...msg.state.preview, tensors: normaliseTensors(msg.state.preview.tensors) } : null;
  apply({ ...msg.state, tensors: normaliseTensors(msg.state.tensors), convergence: msg.state.convergence ?? [], preview }, true);
});

// ---- rendering ------------------------------------------------------------------------------------

function apply(next: PanelState, fromHost: boolean): void {
  state = next;
  renderHeader(next);
  renderBody(next);
  if (fromHost && next.focusLayer) focusLayer(next.focusLayer);
  if (fromHost) scheduleSave();
}

function renderHeader(s: PanelState): void {
  ui.title.textContent = s.title || 'Curvature Lens';
  const line = statusLine(s);
  ui.statusText.textContent = line.text;
  ui.status.dataset.status = s.status;
  const running = s.status === 'running';
  show(ui.progress, running);
  show(ui.cancel, running);
  if (running) {
    const f = phaseFraction(s.progress);
    const fallback = ui.progress.querySelector('progress');
    if (f == null) {
      ui.progress.setAttribute('indeterminate', '');
      ui.progress.removeAttribute('value');
      fallback?.removeAttribute('value');
    } else {
      ui.progress.removeAttribute('indeterminate');
      ui.progress.setAttribute('max', '100');
      ui.progress.setAttribute('value', String(Math.round(f * 100)));
      fallback?.setAttribute('value', String(f));
    }
  }
  show(ui.banner, !!s.banner);
  ui.banner.textContent = s.banner ?? '';
  show(ui.stale, s.stale);
  setDisabled(ui.exportButton, !s.result);
  show(ui.error, !!s.error);
  if (s.error) renderError(ui.errorKind, ui.errorMessage, s.error);
}

function renderBody(s: PanelState): void {
  const r = s.result;
  // While running: the latest preliminary diagonal, until the result replaces it.
  const preview = !r && s.status === 'running' ? s.preview ?? null : null;
  checkpoints.render(s.checkpoints);
  show(ui.placeholder, !r && !s.error && !s.checkpoints?.rows.length);
  if (!r) {
    ui.placeholderText.textContent =
      s.status === 'running'
        ? preview
          ? 'Computing the curvature: a preliminary diagonal is shown below; the summary, charts and final heatmaps appear when the run finishes.'
          : 'Computing the curvature: the summary, charts and heatmaps appear when the run finishes.'
        : s.status === 'cancelled'
          ? 'The inspection was cancelled before it finished.'
          : 'Run “Curvature Lens: Inspect Hessian” on a TensorFlow.js model.json (from the Explorer’s context menu or the Command Palette) to see the curvature of its loss here.';
    show(ui.phases, s.status === 'running');
    if (s.status === 'running') renderPhases(ui.phases, s.progress);
  }
  show(ui.overview, !!r);
  show(ui.tracesCard, !!r);
  const points = s.convergence ?? [];
  show(ui.convergenceCard, points.length >= 2);
  show(ui.densityCard, !!r?.global.density);
  show(ui.layersBlock, !!r || !!preview);
  const tKey = tensorsKey(s.tensors);
  const rKey = r ? JSON.stringify(r) : '';
  const pKey = previewKey(preview);
  if (rKey !== shownResultKey || tKey !== shownTensorsKey || pKey !== shownPreviewKey) {
    shownResultKey = rKey;
    shownTensorsKey = tKey;
    shownPreviewKey = pKey;
    heatmaps.clear();
    if (r) {
      renderSummary(ui.summary, r, s.tensors);
      renderTraces();
      renderDensity();
      const method = r.layers[0]?.tensors[0]?.diagonal.method;
      if (method) (ui.estimator as HTMLElement & { value: string }).value = method;
      const byName = new Map<string, TensorArrays>(s.tensors.map((t) => [t.name, t]));
      replaceChildren(ui.layers, ...r.layers.map((l) => layerSection(l, byName, heatmaps)));
    } else {
      replaceChildren(ui.summary);
      replaceChildren(ui.traces);
      replaceChildren(ui.layers, ...(preview ? previewSections(preview, heatmaps) : []));
    }
  }
  const last = points[points.length - 1];
  const cKey = points.length >= 2 ? `${points.length}:${last.matvecs}:${last.value}:${last.stderr}` : '';
  if (cKey !== shownConvergenceKey) {
    shownConvergenceKey = cKey;
    renderConvergence();
  }
  if (pendingFocus && r) focusLayer(pendingFocus);
}

function chartWidth(box: HTMLElement): number {
  return Math.max(280, Math.floor(box.clientWidth || box.parentElement?.clientWidth || 640));
}

function renderTraces(): void {
  const r = state?.result;
  if (!r) return;
  const bars = r.layers.map((l) => ({ label: l.name, value: l.trace.value, stderr: l.trace.method === 'exact' ? null : l.trace.stderr }));
  replaceChildren(ui.traces, svgNode(traceBarChart(bars, { width: chartWidth(ui.traces) })));
}

function renderDensity(): void {
  const r = state?.result;
  const d = r?.global.density;
  if (!r || !d) {
    replaceChildren(ui.density);
    ui.densityNote.textContent = '';
    return;
  }
  const marks = { top: r.global.eigenvalues.top.map((e) => e.value), bottom: r.global.eigenvalues.bottom.map((e) => e.value) };
  replaceChildren(ui.density, svgNode(densityChart(d, marks, { width: chartWidth(ui.density), height: 220 })));
  ui.densityNote.textContent = `Stochastic Lanczos quadrature: ${d.runs} runs × ${d.steps} steps, Gaussian broadening σ = ${formatNumber(d.sigma, 2)}. Dashed lines: the largest (red) and smallest (blue) eigenvalues found.`;
}

function renderConvergence(): void {
  const points = state?.convergence ?? [];
  if (points.length < 2) {
    replaceChildren(ui.convergence);
    return;
  }
  replaceChildren(ui.convergence, svgNode(convergenceChart(points, { width: chartWidth(ui.convergence), height: 220 })));
}

// Charts are laid out for their box's width: build them again when it changes.
const chartWidths = new Map<Element, number>();
const chartObserver = new ResizeObserver((entries) => {
  for (const e of entries) {
    const w = Math.round(e.contentRect.width);
    if (w === 0 || Math.abs(w - (chartWidths.get(e.target) ?? 0)) < 4) continue;
    chartWidths.set(e.target, w);
    if (e.target === ui.traces) renderTraces();
    else if (e.target === ui.density) renderDensity();
    else renderConvergence();
  }
});
chartObserver.observe(ui.traces);
chartObserver.observe(ui.convergence);
chartObserver.observe(ui.density);

// The sticky header's height, so that a focused layer scrolls to just below it.
const header = document.getElementById('header');
if (header) new ResizeObserver(() => document.documentElement.style.setProperty('--header-h', `${header.offsetHeight}px`)).observe(header);

// VS Code switches themes by changing the body's class and the --vscode-* variables on <html>.
const refreshTheme = () => {
  heatmaps.refreshTheme();
  checkpointHeatmaps.refreshTheme();
};
new MutationObserver(refreshTheme).observe(document.body, { attributes: true, attributeFilter: ['class'] });
new MutationObserver(refreshTheme).observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });

// ---- focus ----------------------------------------------------------------------------------------

function sectionOf(name: string): HTMLElement | null {
  for (const s of Array.from(ui.layers.querySelectorAll<HTMLElement>('section.layer'))) if (s.dataset.layer === name) return s;
  return null;
}

/** Scrolls a layer's section into view and highlights it for a moment (later, if it is not shown yet). */
function focusLayer(name: string): void {
  const section = sectionOf(name);
  if (!section) {
    // Not rendered yet: try again when a result arrives (a result without that layer forgets it).
    pendingFocus = state?.result ? null : name;
    return;
  }
  pendingFocus = null;
  const reduced = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
  section.scrollIntoView({ behavior: reduced ? 'auto' : 'smooth', block: 'start' });
  section.classList.remove('focused');
  void section.offsetWidth; // restart the highlight animation
  section.classList.add('focused');
  setTimeout(() => section.classList.remove('focused'), 2600);
}

function activateRow(target: EventTarget | null): void {
  const row = (target as Element | null)?.closest?.('g.row');
  const name = row?.getAttribute('data-layer');
  if (name != null) focusLayer(name);
}
ui.traces.addEventListener('click', (e) => activateRow(e.target));
ui.traces.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    activateRow(e.target);
  }
});

// ---- controls -------------------------------------------------------------------------------------

function setDisabled(button: HTMLElement, disabled: boolean): void {
  button.toggleAttribute('disabled', disabled);
  button.setAttribute('aria-disabled', String(disabled));
}

function onActivate(button: HTMLElement, action: () => void): void {
  // vscode-button is focusable and keyboard-operable once defined; until then (or if its script never
  // loads) the plain element gets the same through role, tabindex and a key handler.
  if (!button.hasAttribute('role')) button.setAttribute('role', 'button');
  if (!button.hasAttribute('tabindex')) button.setAttribute('tabindex', '0');
  button.addEventListener('click', () => {
    if (!button.hasAttribute('disabled')) action();
  });
  button.addEventListener('keydown', (e) => {
    if (customElements.get(button.localName)) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (!button.hasAttribute('disabled')) action();
    }
  });
}
onActivate(ui.cancel, () => post({ type: 'cancel' }));
onActivate(ui.rerun, () => post({ type: 'rerun' }));
onActivate(ui.exportButton, () => post({ type: 'export' }));
ui.estimator.addEventListener('change', () => {
  const value = (ui.estimator as HTMLElement & { value: string }).value;
  const current = state?.result?.layers[0]?.tensors[0]?.diagonal.method;
  if ((value === 'xdiag' || value === 'hutchinson' || value === 'exact') && value !== current) post({ type: 'estimator', estimator: value });
});

function radios(): HTMLElement[] {
  return Array.from(ui.scaleGroup.querySelectorAll<HTMLElement>('vscode-radio'));
}

function setScale(next: Scale, save = true): void {
  scale = next;
  for (const r of radios()) {
    const on = r.getAttribute('value') === next;
    r.toggleAttribute('checked', on);
    r.setAttribute('aria-checked', String(on));
    if ('checked' in r) (r as HTMLElement & { checked: boolean }).checked = on;
  }
  heatmaps.setScale(next);
  checkpointHeatmaps.setScale(next);
  if (save) scheduleSave();
}

function onScaleEvent(e: Event): void {
  const radio = (e.target as Element | null)?.closest?.('vscode-radio');
  const value = radio?.getAttribute('value');
  if ((value === 'linear' || value === 'symlog') && value !== scale) setScale(value);
}
ui.scaleGroup.addEventListener('change', onScaleEvent);
ui.scaleGroup.addEventListener('click', onScaleEvent);
for (const r of radios()) {
  if (!r.hasAttribute('role')) r.setAttribute('role', 'radio');
  if (!r.hasAttribute('tabindex')) r.setAttribute('tabindex', '0');
  r.addEventListener('keydown', (e) => {
    if (customElements.get('vscode-radio')) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onScaleEvent(e);
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      e.preventDefault();
      setScale(scale === 'linear' ? 'symlog' : 'linear');
      radios()
        .find((x) => x.getAttribute('value') === scale)
        ?.focus();
    }
  });
}

// ---- persistence ----------------------------------------------------------------------------------

function scheduleSave(): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = null;
    if (!state) return;
    try {
      const key = tensorsKey(state.tensors);
      if (!encoded || encoded.key !== key) encoded = { key, value: encodeTensors(state.tensors) };
      vscode.setState(toSaved(state, scale, encoded.value));
    } catch (e) {
      console.warn('[curvature panel] could not save state', e);
    }
  }, 250);
}

// ---- start ----------------------------------------------------------------------------------------

const saved = fromSaved(vscode.getState());
if (saved) {
  setScale(saved.scale, false);
  apply(saved.state, false);
} else {
  setScale('linear', false);
  renderHeader({ status: 'idle', title: 'Curvature Lens', banner: null, progress: null, result: null, tensors: [], convergence: [], error: null, stale: false, focusLayer: null });
  ui.statusText.textContent = 'Waiting for the extension…';
}
post({ type: 'ready' });

// For the end-to-end tests and the curious: which elements are defined once the module script ran.
void customElements.whenDefined('vscode-button').then(() => document.body.classList.add('elements-ready'));
