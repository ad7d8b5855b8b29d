/**
 * The heatmap figures: one canvas per weight tensor (pixels from heatmapPixels.ts), its colour legend,
 * and the tooltip under the mouse. Canvases are sized at once (so the page does not jump) and painted
 * when they come near the viewport; a change of scale repaints the painted ones and marks the rest.
 */
import type { TensorArrays, TensorResult } from '../extension/protocol.js';
import { layoutTensor, maxAbsOf, significant, type Scale } from './heatmapLayout.js';
import { cellAt, DEFAULT_BACKGROUND, insignificantCount, paintHeatmap, parseRgb, planHeatmap, representatives, type HeatmapPlan, type Rgb } from './heatmapPixels.js';
import { colourLegend } from './charts.js';
import { formatCount, formatNumber, formatShape } from './format.js';
import { el, replaceChildren, show, svgNode } from './dom.js';

interface Item {
  tensor: TensorResult;
  arrays: TensorArrays;
  canvas: HTMLCanvasElement;
  legend: HTMLElement;
  caption: HTMLElement;
  plan: HeatmapPlan;
  maxAbs: number;
  reps: Int32Array | null;
  /** Unique in the page, for the legend gradient's id. */
  id: number;
  /** What it was last painted with (scale and background), or null when not painted yet. */
  painted: string | null;
  /** Painted when near the viewport (else at once, and again on every change). */
  observed: boolean;
  visible: boolean;
}

/** Paint right away (without waiting for the observer) while the cells so far stay under this. */
const EAGER_CELLS = 400_000;

/** How a tensor's shape is laid out, in words. */
export function layoutHint(shape: readonly number[]): string {
  if (shape.length === 4) return `rows: in (${shape[2]}) × kh, columns: out (${shape[3]}) × kw; one ${shape[0]}×${shape[1]} tile per in/out pair`;
  if (shape.length === 2) return `rows: in (${shape[0]}), columns: out (${shape[1]})`;
  if (shape.length <= 1) return 'one cell per entry';
  return `rows: ${shape.slice(0, -1).join(' × ')}, columns: ${shape[shape.length - 1]}`;
}

export class Heatmaps {
  private readonly items = new Map<HTMLCanvasElement, Item>();
  private observer: IntersectionObserver | null = null;
  private eagerCells = 0;
  private nextId = 0;
  private hovered: { item: Item; x: number; y: number } | null = null;
  private background: Rgb | null = null;

  constructor(
    private readonly tooltip: HTMLElement,
    private scale: Scale,
  ) {
    // The tooltip is placed for the mouse position; scrolling under a still mouse would strand it.
    window.addEventListener('scroll', () => this.hideTooltip(), { passive: true });
  }

  /** Forgets every figure (their section is being replaced). */
  clear(): void {
    this.observer?.disconnect();
    this.observer = null;
    this.items.clear();
    this.eagerCells = 0;
    this.hideTooltip();
  }

  /** A figure for one tensor: caption, canvas (sized now, painted when near the viewport), legend. */
  figure(tensor: TensorResult, arrays: TensorArrays | undefined, kind: 'hessian' | 'ggn' | 'diff' = 'hessian'): HTMLElement {
    const stats = `min ${formatNumber(tensor.diagonal.min, 4)} · mean ${formatNumber(tensor.diagonal.mean, 4)} · max ${formatNumber(tensor.diagonal.max, 4)}`;
    const head = el(
      'figcaption',
      { class: 'tensor-head' },
      el('span', { class: 'tensor-name' }, tensor.name),
      kind === 'ggn' ? el('span', { class: 'badge tensor-kind', title: 'The exact diagonal of the generalised Gauss-Newton matrix; the Hessian diagonal minus this is the network’s own curvature' }, 'GGN diagonal') : null,
      kind === 'diff' ? el('span', { class: 'badge tensor-kind', title: 'Hessian diagonal of checkpoint B minus that of checkpoint A' }, 'B − A') : null,
      el('span', { class: 'tensor-shape' }, formatShape(tensor.shape)),
      el('span', { class: 'tensor-layout' }, layoutHint(tensor.shape)),
    );
    const fig = el('figure', { class: `tensor${kind === 'hessian' ? '' : ` ${kind}`}`, 'data-tensor': tensor.name, 'data-kind': kind }, head);
    const n = tensor.shape.reduce((a, b) => a * b, 1);
    if (!arrays || arrays.values.length !== n) {
      fig.append(el('p', { class: 'tensor-missing' }, arrays ? `The values (${arrays.values.length}) do not match the shape (${n} entries).` : 'The values of this tensor were not sent to the panel.'), el('p', { class: 'tensor-stats' }, stats));
      return fig;
    }
    const plan = planHeatmap(tensor.shape, layoutTensor([...tensor.shape]));
    const canvas = el('canvas', {
      class: `heatmap${plan.px === 1 ? ' coarse' : ''}${plan.cssWidth > 640 ? ' wide' : ''}`,
      'data-tensor': tensor.name,
      'data-layer': arrays.layer,
      width: plan.canvasWidth,
      height: plan.canvasHeight,
      role: 'img',
      'data-kind': kind,
      'aria-label': `${kind === 'ggn' ? 'GGN diagonal' : kind === 'diff' ? 'Change of the Hessian diagonal' : 'Hessian diagonal'} of ${tensor.name}, shape ${formatShape(tensor.shape)}, ${stats}`,
    });
    canvas.style.width = `${plan.cssWidth}px`;
    canvas.style.height = `${plan.cssHeight}px`;
    const insignificant = insignificantCount(arrays.values, arrays.stderr);
    const caption = el('div', { class: 'legend-caption' });
    const legend = el('div', { class: 'legend-box' });
    const side = el(
      'div',
      { class: 'tensor-side' },
      legend,
      caption,
      el('p', { class: 'tensor-stats' }, stats),
      el(
        'p',
        { class: 'tensor-stats' },
        arrays.stderr
          ? `${formatCount(insignificant)} of ${formatCount(n)} entries not significant (|value| < 2·stderr, hatched)`
          : 'exact (every entry significant)',
      ),
      plan.bin > 1 ? el('p', { class: 'tensor-stats' }, `Each cell shows the largest-magnitude entry of a ${plan.bin}×${plan.bin} block.`) : null,
    );
    fig.append(el('div', { class: 'tensor-body' }, el('div', { class: 'heatmap-scroll' }, canvas), side));
    const item: Item = { tensor, arrays, canvas, legend, caption, plan, maxAbs: maxAbsOf(arrays.values), reps: null, painted: null, observed: false, visible: false, id: this.nextId++ };
    this.items.set(canvas, item);
    this.drawLegend(item);
    canvas.addEventListener('mousemove', (e) => this.onMove(item, e));
    canvas.addEventListener('mouseleave', () => this.hideTooltip());
    const cells = plan.rows * plan.cols;
    if (this.eagerCells + cells <= EAGER_CELLS || typeof IntersectionObserver === 'undefined') {
      this.eagerCells += cells;
      this.paint(item);
    } else {
      this.observe(item);
    }
    return fig;
  }

  setScale(scale: Scale): void {
    if (scale === this.scale) return;
    this.scale = scale;
    for (const item of this.items.values()) this.drawLegend(item);
    this.repaint();
    if (this.hovered) this.showTooltip(this.hovered.item, this.hovered.x, this.hovered.y);
  }

  /** After a theme change: faded entries follow the new background. */
  refreshTheme(): void {
    const before = this.background?.join(',');
    this.background = null;
    if (this.pageBackground().join(',') !== before) this.repaint();
  }

  /** Repaints what is on screen (or not lazily painted); the rest repaint when they scroll into view. */
  private repaint(): void {
    for (const item of this.items.values()) if (!item.observed || item.visible) this.paint(item);
  }

  private paintKey(): string {
    return `${this.scale}|${this.pageBackground().join(',')}`;
  }

  private pageBackground(): Rgb {
    this.background ??= parseRgb(getComputedStyle(document.body).backgroundColor) ?? DEFAULT_BACKGROUND;
    return this.background;
  }

  private observe(item: Item): void {
    item.observed = true;
    if (!this.observer) {
      this.observer = new IntersectionObserver(
        (entries) => {
          for (const e of entries) {
            const it = this.items.get(e.target as HTMLCanvasElement);
            if (!it) continue;
            it.visible = e.isIntersecting;
            if (e.isIntersecting && it.painted !== this.paintKey()) this.paint(it);
          }
        },
        { rootMargin: '800px 0px' },
      );
    }
    this.observer.observe(item.canvas);
  }

  private paint(item: Item): void {
    const { plan, arrays, canvas } = item;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    item.reps ??= representatives(plan, arrays.values);
    const img = ctx.createImageData(plan.canvasWidth, plan.canvasHeight);
    paintHeatmap(plan, item.reps, { values: arrays.values, stderr: arrays.stderr, scale: this.scale, maxAbs: item.maxAbs, background: this.pageBackground() }, img.data);
    ctx.putImageData(img, 0, 0);
    item.painted = this.paintKey();
    canvas.dataset.drawn = this.scale;
  }

  private drawLegend(item: Item): void {
    const { tensor, maxAbs } = item;
    const width = 300;
    const id = `legend-${item.id}`;
    replaceChildren(item.legend, svgNode(colourLegend({ min: tensor.diagonal.min, max: tensor.diagonal.max, maxAbs, scale: this.scale, width, id })));
    item.caption.textContent =
      this.scale === 'linear'
        ? 'Linear colour scale, centred at 0.'
        : `Symmetric log scale: linear within ±${formatNumber(maxAbs * 1e-3, 2)}, logarithmic beyond.`;
  }

  private onMove(item: Item, e: MouseEvent): void {
    this.hovered = { item, x: e.clientX, y: e.clientY };
    this.showTooltip(item, e.clientX, e.clientY);
  }

  private showTooltip(item: Item, clientX: number, clientY: number): void {
    const rect = item.canvas.getBoundingClientRect();
    const info = cellAt(item.plan, item.reps ?? (item.reps = representatives(item.plan, item.arrays.values)), (clientX - rect.left) / rect.width, (clientY - rect.top) / rect.height);
    if (!info) {
      this.hideTooltip();
      return;
    }
    const v = item.arrays.values[info.index];
    const se = item.arrays.stderr ? item.arrays.stderr[info.index] : null;
    const where = item.plan.grid.describe(info.row, info.col) ?? '';
    const lines: Array<[string, string]> = [];
    if (item.plan.bin > 1)
      lines.push(['tooltip-where', `${item.tensor.name}: rows ${info.rowRange[0]}–${info.rowRange[1]}, columns ${info.colRange[0]}–${info.colRange[1]}; largest ${where}`]);
    else lines.push(['tooltip-where', `${item.tensor.name} ${where}`]);
    lines.push(['tooltip-value', se == null ? `${formatNumber(v, 6)} (exact)` : `${formatNumber(v, 5)} ± ${formatNumber(se, 2)}`]);
    if (se != null && !significant(v, se)) lines.push(['tooltip-note', `not significant: |value| < 2·stderr (${formatNumber(2 * se, 2)})`]);
    else if (Number.isFinite(v) && v < 0) lines.push(['tooltip-note', 'negative: the loss curves downward along this weight alone']);
    replaceChildren(this.tooltip, ...lines.map(([cls, text]) => el('div', { class: cls }, text)));
    show(this.tooltip, true);
    const pad = 14;
    const w = this.tooltip.offsetWidth;
    const h = this.tooltip.offsetHeight;
    const x = clientX + pad + w > window.innerWidth ? Math.max(4, clientX - pad - w) : clientX + pad;
    const y = clientY + pad + h > window.innerHeight ? Math.max(4, clientY - pad - h) : clientY + pad;
    this.tooltip.style.left = `${x}px`;
    this.tooltip.style.top = `${y}px`;
  }

  private hideTooltip(): void {
    this.hovered = null;
    show(this.tooltip, false);
  }
}
