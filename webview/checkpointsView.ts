/**
 * The Checkpoints section's DOM: four small line charts (top eigenvalue, trace, λ_min, diagonal share
 * against checkpoint order) and the diagonal difference between two checkpoints chosen in two selects,
 * drawn with the panel's heatmaps (diverging around 0; hatched where |B − A| < 2·stderr). The numbers
 * come from checkpoints.ts; labels go in as text or through escapeXml.
 */
import type { CheckpointsView } from '../extension/protocol.js';
import { checkpointChart, checkpointLabels, checkpointSeries, diagonalDiff, METRICS } from './checkpoints.js';
import { el, replaceChildren, show, subscripted, svgNode } from './dom.js';
import type { Heatmaps } from './heatmap.js';
import { normaliseTensors } from './persist.js';

/** panel.css's .checkpoint-charts grid: minmax(MIN_COLUMN px, 1fr) columns, GAP px apart. */
const MIN_COLUMN = 260;
const GAP = 12;

export interface CheckpointsBoxes {
  block: HTMLElement;
  note: HTMLElement;
  charts: HTMLElement;
  a: HTMLSelectElement;
  b: HTMLSelectElement;
  diff: HTMLElement;
}

export class CheckpointsSection {
  private view: CheckpointsView | null = null;
  private key = '';

  constructor(
    private readonly ui: CheckpointsBoxes,
    private readonly heatmaps: Heatmaps,
  ) {
    ui.a.addEventListener('change', () => this.renderDiff());
    ui.b.addEventListener('change', () => this.renderDiff());
    // The charts are laid out for their box's width: build them again when it changes.
    let width = 0;
    new ResizeObserver((entries) => {
      const w = Math.round(entries[0]?.contentRect.width ?? 0);
      if (w === 0 || Math.abs(w - width) < 8) return;
      width = w;
      this.renderCharts();
    }).observe(ui.charts);
  }

  /** Shows `view` (rebuilt only when its rows changed), or hides the section. */
  render(view: CheckpointsView | null | undefined): void {
    show(this.ui.block, !!view && view.rows.length > 0);
    const key = view ? JSON.stringify(view.rows) : '';
    if (key === this.key) return;
    this.key = key;
    this.view = view ? { rows: view.rows, diagonals: view.diagonals.map((d) => normaliseTensors(d)) } : null;
    if (!this.view || this.view.rows.length === 0) {
      replaceChildren(this.ui.charts);
      replaceChildren(this.ui.diff);
      this.heatmaps.clear();
      return;
    }
    const labels = checkpointLabels(this.view.rows.map((r) => r.path));
    this.ui.note.textContent = `${this.view.rows.length} checkpoints, the same data, seed and settings for each, in natural order of their paths. Error bars: ±1 standard error.`;
    for (const [select, chosen] of [
      [this.ui.a, 0],
      [this.ui.b, this.view.rows.length - 1],
    ] as const) {
      replaceChildren(select, ...labels.map((l, i) => el('option', { value: String(i), title: this.view!.rows[i].path }, l)));
      select.value = String(chosen);
    }
    this.renderCharts();
    this.renderDiff();
  }

  renderCharts(): void {
    const v = this.view;
    if (!v) return;
    const labels = checkpointLabels(v.rows.map((r) => r.path));
    // As many columns as panel.css's grid makes (auto-fit, at least MIN_COLUMN wide, GAP apart), up to one per chart.
    const box = this.ui.charts.clientWidth || 640;
    const cols = Math.max(1, Math.min(METRICS.length, Math.floor((box + GAP) / (MIN_COLUMN + GAP))));
    const width = Math.max(220, Math.floor((box - GAP * (cols - 1)) / cols) - 2);
    replaceChildren(
      this.ui.charts,
      ...METRICS.map((m) =>
        el(
          'figure',
          { class: 'checkpoint-figure', 'data-metric': m.key },
          el('figcaption', null, subscripted(m.title)),
          svgNode(checkpointChart(checkpointSeries(v.rows, m.key), labels, { width, title: m.title })),
        ),
      ),
    );
  }

  private renderDiff(): void {
    const v = this.view;
    this.heatmaps.clear();
    if (!v) return;
    const ia = Number(this.ui.a.value);
    const ib = Number(this.ui.b.value);
    const a = v.diagonals[ia];
    const b = v.diagonals[ib];
    if (!a || !b) {
      replaceChildren(this.ui.diff);
      return;
    }
    const { tensors, skipped } = diagonalDiff(a, b);
    replaceChildren(
      this.ui.diff,
      ia === ib ? el('p', { class: 'chart-note' }, 'The same checkpoint on both sides: every difference is 0.') : null,
      skipped.length ? el('p', { class: 'chart-note' }, `Not compared (missing or of another shape in one of the two): ${skipped.join(', ')}.`) : null,
      ...tensors.map((t) => this.heatmaps.figure(t.tensor, t.arrays, 'diff')),
    );
  }
}
