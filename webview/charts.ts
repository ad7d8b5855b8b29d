/**
 * The panel's small charts as SVG strings: the per-layer trace bars, the running trace estimate against
 * matvecs, the spectral density (also drawn into the exported report), and the heatmaps' colour legend. Pure (no DOM): every function takes numbers and labels and
 * returns markup, with every label passed through `escapeXml`. Colours come from CSS classes (panel.css
 * maps them to --vscode-* variables), except the legend's, which are the heatmap's own `diverging()`.
 */
import type { ConvergencePoint, SpectralDensity } from '../extension/protocol.js';
import { diverging, normalise, type Scale } from './heatmapLayout.js';
import { formatNumber, formatPm, formatPower } from './format.js';

/** Escapes text for an XML/HTML text node or a double-quoted attribute. */
export function escapeXml(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A number for an SVG attribute: two decimals, no "-0", never NaN. */
export function n(x: number): string {
  if (!Number.isFinite(x)) return '0';
  const r = Math.round(x * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** "Nice" tick values (1, 2, 2.5, 5 × 10^k steps) covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const out: number[] = [];
  for (let k = first; k <= last && out.length < 1000; k++) {
    const v = k * step;
    out.push(k === 0 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

/** Shortens a label to about `max` characters with an ellipsis in the middle (keeps the suffix). */
export function truncateMiddle(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  const keep = Math.max(1, max - 1);
  const head = Math.ceil(keep / 2);
  return chars.slice(0, head).join('') + '…' + chars.slice(chars.length - (keep - head)).join('');
}

/** A tick label: short and without "e" notation when it can be helped. */
export function tick(x: number): string {
  return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? formatPower(x, 2) : formatNumber(x, 3);
}

export interface TraceBar {
  label: string;
  value: number | null;
  /** Standard error of the estimate; null or 0 when exact. */
  stderr: number | null;
}

export interface ChartSize {
  /** Width in CSS pixels (the SVG does not stretch: text keeps its size). */
  width?: number;
}

export const FONT_CHAR = 6.6; // average width of a 12 px UI-font character, for laying out labels

/**
 * Horizontal bar chart of each layer block's trace, with ±stderr whiskers; negative bars go left of the
 * zero line. One `<g class="row" data-layer=…>` per bar, holding `rect.bar` (`.pos`/`.neg`), a
 * `path.whisker` when the stderr is positive, the value text and a `<title>` tooltip.
 */
export function traceBarChart(bars: readonly TraceBar[], size: ChartSize = {}): string {
  const width = Math.max(280, Math.round(size.width ?? 640));
  const rowH = 24;
  const top = 6;
  const axisH = 34;
  const height = top + Math.max(1, bars.length) * rowH + axisH;
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart trace-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Trace of each layer block">`;
  if (bars.length === 0) return `${open}<text class="empty" x="${n(width / 2)}" y="${n(height / 2)}" text-anchor="middle">No layers with weights</text></svg>`;

  const longest = Math.max(...bars.map((b) => [...b.label].length));
  const labelW = Math.round(Math.min(width * 0.3, Math.max(60, longest * FONT_CHAR + 14)));
  const maxChars = Math.max(4, Math.floor((labelW - 14) / FONT_CHAR));
  const valueTexts = bars.map((b) => formatPm(b.value, b.stderr && b.stderr > 0 ? b.stderr : null));
  const valueW = Math.round(Math.min(width * 0.25, Math.max(56, Math.max(...valueTexts.map((t) => t.length)) * FONT_CHAR + 16)));
  const x0 = labelW;
  const x1 = width - valueW;

  let lo = 0;
  let hi = 0;
  for (const b of bars) {
    if (b.value == null || !Number.isFinite(b.value)) continue;
    const e = b.stderr && Number.isFinite(b.stderr) ? b.stderr : 0;
    lo = Math.min(lo, b.value - e);
    hi = Math.max(hi, b.value + e);
  }
  const ticks = niceTicks(lo, hi === lo ? lo + 1 : hi, Math.max(3, Math.floor((x1 - x0) / 70)));
  const dLo = Math.min(lo, ticks[0] ?? lo);
  const dHi = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  const x = (v: number) => x0 + ((v - dLo) / (dHi - dLo || 1)) * (x1 - x0);
  const plotBottom = top + bars.length * rowH;

  const parts: string[] = [open];
  parts.push('<g class="grid">');
  for (const t of ticks) parts.push(`<line x1="${n(x(t))}" x2="${n(x(t))}" y1="${top}" y2="${plotBottom}"/>`);
  parts.push('</g><g class="axis">');
  parts.push(`<line class="axis-line" x1="${x0}" x2="${x1}" y1="${plotBottom}" y2="${plotBottom}"/>`);
  for (const t of ticks) parts.push(`<text class="tick" x="${n(x(t))}" y="${plotBottom + 14}" text-anchor="middle">${escapeXml(tick(t))}</text>`);
  parts.push(`<text class="axis-label" x="${n((x0 + x1) / 2)}" y="${plotBottom + 29}" text-anchor="middle">trace of the layer block (sum of its Hessian diagonal)</text>`);
  parts.push('</g>');

  bars.forEach((b, i) => {
    const cy = top + i * rowH + rowH / 2;
    const finite = b.value != null && Number.isFinite(b.value);
    const v = finite ? (b.value as number) : 0;
    const e = b.stderr && Number.isFinite(b.stderr) && b.stderr > 0 ? b.stderr : 0;
    const cls = v < 0 ? 'neg' : 'pos';
    const tip = `${b.label}: trace ${valueTexts[i]}${e ? '' : b.stderr === 0 || b.stderr == null ? ' (exact)' : ''}`;
    parts.push(`<g class="row" data-layer="${escapeXml(b.label)}" tabindex="0"><title>${escapeXml(tip)}</title>`);
    parts.push(`<rect class="row-hit" x="0" y="${n(cy - rowH / 2)}" width="${width}" height="${rowH}"/>`);
    parts.push(`<text class="label" x="${x0 - 8}" y="${n(cy + 4)}" text-anchor="end">${escapeXml(truncateMiddle(b.label, maxChars))}</text>`);
    if (finite) {
      const a = x(Math.min(0, v));
      const w = Math.max(Math.abs(x(v) - x(0)), v === 0 ? 0 : 1);
      parts.push(`<rect class="bar ${cls}" x="${n(a)}" y="${n(cy - 7)}" width="${n(w)}" height="14" rx="1.5"/>`);
      if (e > 0) {
        const l = x(v - e);
        const r = x(v + e);
        parts.push(`<path class="whisker" d="M${n(l)} ${n(cy)}H${n(r)}M${n(l)} ${n(cy - 5)}V${n(cy + 5)}M${n(r)} ${n(cy - 5)}V${n(cy + 5)}"/>`);
      }
    }
    parts.push(`<text class="value" x="${width - 4}" y="${n(cy + 4)}" text-anchor="end">${escapeXml(valueTexts[i])}</text>`);
    parts.push('</g>');
  });
  parts.push(`<line class="zero" x1="${n(x(0))}" x2="${n(x(0))}" y1="${top - 2}" y2="${plotBottom}"/>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Keeps at most `max` points, evenly spread, always including the first and the last. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return points.slice();
  const out: T[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)]);
  return out;
}

/**
 * The running trace estimate against the number of matvecs, with a ±stderr band (`path.band`, one per
 * run of points that have a stderr), the estimate as `path.line`, and the latest value as a dashed
 * `line.final`. Fewer than two finite points give an SVG with a short message.
 */
export function convergenceChart(points: readonly ConvergencePoint[], size: ChartSize & { height?: number } = {}): string {
  const width = Math.max(280, Math.round(size.width ?? 640));
  const height = Math.max(140, Math.round(size.height ?? 220));
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart convergence-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Running trace estimate against matvecs">`;
  const pts = thin(
    points.filter((p) => Number.isFinite(p.matvecs) && Number.isFinite(p.value)),
    400,
  );
  if (pts.length < 2) return `${open}<text class="empty" x="${n(width / 2)}" y="${n(height / 2)}" text-anchor="middle">Not enough probes yet</text></svg>`;

  const err = (p: ConvergencePoint) => (p.stderr != null && Number.isFinite(p.stderr) && p.stderr >= 0 ? p.stderr : null);
  let yLo = Infinity;
  let yHi = -Infinity;
  for (const p of pts) {
    const e = err(p) ?? 0;
    yLo = Math.min(yLo, p.value - e);
    yHi = Math.max(yHi, p.value + e);
  }
  const yTicks = niceTicks(yLo, yHi, Math.max(3, Math.floor(height / 45)));
  const xLo = pts[0].matvecs;
  const xHi = pts[pts.length - 1].matvecs;
  const yLabelW = Math.max(...yTicks.map((t) => tick(t).length)) * FONT_CHAR + 14;
  const left = Math.round(Math.max(44, yLabelW));
  const right = 14;
  const topM = 10;
  const bottom = 38;
  const xTicks = niceTicks(xLo, xHi, Math.max(2, Math.floor((width - left - right) / 80))).filter((t) => t >= xLo && t <= xHi);
  const dyLo = Math.min(yLo, yTicks[0] ?? yLo);
  const dyHi = Math.max(yHi, yTicks[yTicks.length - 1] ?? yHi);
  const X = (v: number) => left + ((v - xLo) / (xHi - xLo || 1)) * (width - left - right);
  const Y = (v: number) => topM + (1 - (v - dyLo) / (dyHi - dyLo || 1)) * (height - topM - bottom);

  const parts: string[] = [open, ...plotFrame({ left, right, top: topM, bottom, width, height }, yTicks, Y, (t) => escapeXml(tick(t)))];
  for (const t of xTicks) parts.push(`<text class="tick" x="${n(X(t))}" y="${height - bottom + 15}" text-anchor="middle">${escapeXml(tick(t))}</text>`);
  parts.push(`<text class="axis-label" x="${n((left + width - right) / 2)}" y="${height - 6}" text-anchor="middle">matvecs (HVPs)</text>`);
  parts.push('</g>');

  // The ±stderr band: one closed path per run of consecutive points that have a stderr.
  let run: ConvergencePoint[] = [];
  const flush = () => {
    if (run.length >= 2) {
      const upper = run.map((p, i) => `${i ? 'L' : 'M'}${n(X(p.matvecs))} ${n(Y(p.value + (err(p) as number)))}`).join('');
      const lower = run
        .slice()
        .reverse()
        .map((p) => `L${n(X(p.matvecs))} ${n(Y(p.value - (err(p) as number)))}`)
        .join('');
      parts.push(`<path class="band" d="${upper}${lower}Z"/>`);
    }
    run = [];
  };
  for (const p of pts) {
    if (err(p) == null) flush();
    else run.push(p);
  }
  flush();

  const last = pts[pts.length - 1];
  parts.push(`<line class="final" x1="${left}" x2="${width - right}" y1="${n(Y(last.value))}" y2="${n(Y(last.value))}"/>`);
  parts.push(`<path class="line" d="${pts.map((p, i) => `${i ? 'L' : 'M'}${n(X(p.matvecs))} ${n(Y(p.value))}`).join('')}"/>`);
  const lastLabel = `${formatPm(last.value, err(last))} after ${last.matvecs}`;
  parts.push(
    `<circle class="last" cx="${n(X(last.matvecs))}" cy="${n(Y(last.value))}" r="3"><title>${escapeXml(lastLabel)}</title></circle>`,
    `<text class="final-label" x="${width - right - 4}" y="${n(Y(last.value) - 6)}" text-anchor="end">${escapeXml(formatPm(last.value, err(last)))}</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}

/** Decades of density shown below the peak on the log axis. */
const DENSITY_DECADES = 6;

/**
 * The spectral density (stochastic Lanczos quadrature) as log10 density against λ: `path.line`, with
 * the extreme eigenvalues marked by vertical `line.mark.top` / `line.mark.bottom` (Lanczos' or the
 * exact ones), and λ = 0 as `line.zero`. Densities more than DENSITY_DECADES below the peak are drawn
 * at the floor, so the bulk and the outliers are visible at once.
 */
export function densityChart(d: SpectralDensity, marks: { top: readonly number[]; bottom: readonly number[] }, size: ChartSize & { height?: number } = {}): string {
  const width = Math.max(280, Math.round(size.width ?? 640));
  const height = Math.max(140, Math.round(size.height ?? 220));
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart density-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Spectral density of the Hessian (log scale) with its extreme eigenvalues marked">`;
  const pts = d.grid.map((x, i) => [x, d.values[i]] as const).filter(([x, v]) => Number.isFinite(x) && Number.isFinite(v));
  const peak = Math.max(0, ...pts.map(([, v]) => v));
  if (pts.length < 2 || !(peak > 0)) return `${open}<text class="empty" x="${n(width / 2)}" y="${n(height / 2)}" text-anchor="middle">No density to show</text></svg>`;
  const yHi = Math.ceil(Math.log10(peak));
  const yLo = yHi - DENSITY_DECADES;
  const logv = (v: number) => Math.max(yLo, Math.log10(Math.max(v, 10 ** yLo)));
  const xs = [...pts.map(([x]) => x), ...marks.top, ...marks.bottom].filter(Number.isFinite);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const left = 52;
  const right = 14;
  const topM = 10;
  const bottom = 38;
  const X = (v: number) => left + ((v - xLo) / (xHi - xLo || 1)) * (width - left - right);
  const Y = (v: number) => topM + (1 - (v - yLo) / (yHi - yLo)) * (height - topM - bottom);
  const yTicks = Array.from({ length: DENSITY_DECADES / 2 + 1 }, (_, i) => yLo + 2 * i);
  const xTicks = niceTicks(xLo, xHi, Math.max(2, Math.floor((width - left - right) / 80))).filter((t) => t >= xLo && t <= xHi);
  const parts: string[] = [open, ...plotFrame({ left, right, top: topM, bottom, width, height }, yTicks, Y, (t) => `1e${t}`)];
  for (const t of xTicks) parts.push(`<text class="tick" x="${n(X(t))}" y="${height - bottom + 15}" text-anchor="middle">${escapeXml(tick(t))}</text>`);
  parts.push(`<text class="axis-label" x="${n((left + width - right) / 2)}" y="${height - 6}" text-anchor="middle">eigenvalue λ (density on a log scale)</text>`);
  parts.push('</g>');
  if (xLo < 0 && xHi > 0) parts.push(`<line class="zero" x1="${n(X(0))}" x2="${n(X(0))}" y1="${topM}" y2="${height - bottom}"/>`);
  for (const [cls, values] of [['top', marks.top], ['bottom', marks.bottom]] as const) {
    for (const v of values) {
      if (!Number.isFinite(v)) continue;
      parts.push(`<line class="mark ${cls}" x1="${n(X(v))}" x2="${n(X(v))}" y1="${topM}" y2="${height - bottom}"><title>${escapeXml(`${cls === 'top' ? 'largest' : 'smallest'} eigenvalue ${formatNumber(v, 5)}`)}</title></line>`);
    }
  }
  parts.push(`<path class="line" d="${pts.map(([x, v], i) => `${i ? 'L' : 'M'}${n(X(x))} ${n(Y(logv(v)))}`).join('')}"/>`);
  parts.push('</svg>');
  return parts.join('');
}

export interface LegendOptions {
  /** Smallest and largest value of the tensor (marked above the bar). */
  min: number;
  max: number;
  /** The bar runs from −maxAbs to +maxAbs (the colour map is centred at 0). */
  maxAbs: number;
  scale: Scale;
  width?: number;
  /** Prefix for the gradient's id (ids are global in the page). */
  id: string;
}

/**
 * The heatmap's colour bar: `diverging()` from −maxAbs to +maxAbs with ticks at the ends and 0 (and at
 * ±maxAbs/10, /100 in symlog), and triangles marking the tensor's min and max.
 */
export function colourLegend(o: LegendOptions): string {
  const width = Math.max(220, Math.round(o.width ?? 320));
  const height = 50;
  const padX = 8;
  const barY = 20;
  const barH = 11;
  const id = `${o.id.replace(/[^A-Za-z0-9_-]/g, '_')}-grad`;
  const X = (u: number) => padX + ((u + 1) / 2) * (width - 2 * padX);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Colour scale from ${escapeXml(formatNumber(-o.maxAbs))} to ${escapeXml(formatNumber(o.maxAbs))} (${o.scale})">`,
    `<defs><linearGradient id="${id}" x1="0" x2="1" y1="0" y2="0">`,
  ];
  for (let i = 0; i <= 16; i++) {
    const [r, g, b] = diverging(-1 + i / 8);
    parts.push(`<stop offset="${n((i / 16) * 100)}%" stop-color="rgb(${r},${g},${b})"/>`);
  }
  parts.push('</linearGradient></defs>');
  parts.push(`<rect class="legend-bar" x="${padX}" y="${barY}" width="${width - 2 * padX}" height="${barH}" fill="url(#${id})"/>`);

  const m = o.maxAbs > 0 && Number.isFinite(o.maxAbs) ? o.maxAbs : 0;
  // In priority order; a tick whose label would overlap one already placed is left out.
  const ticks: number[] = m > 0 ? [0, -m, m] : [0];
  if (o.scale === 'symlog' && m > 0) ticks.push(-m / 10, m / 10, -m / 100, m / 100, -m / 1000, m / 1000);
  const placed: Array<[number, number]> = [];
  for (const t of ticks) {
    const px = X(m > 0 ? normalise(t, m, o.scale) : 0);
    const label = t === 0 ? '0' : formatNumber(t, 2);
    const w = [...label].length * FONT_CHAR * 0.92 + 8;
    const anchor = px < padX + w / 2 ? 'start' : px > width - padX - w / 2 ? 'end' : 'middle';
    const [a, b] = anchor === 'start' ? [px, px + w] : anchor === 'end' ? [px - w, px] : [px - w / 2, px + w / 2];
    if (placed.some(([c, d]) => a < d && c < b)) continue;
    placed.push([a, b]);
    parts.push(`<line class="legend-tick" x1="${n(px)}" x2="${n(px)}" y1="${barY + barH}" y2="${barY + barH + 4}"/>`);
    parts.push(`<text class="tick" x="${n(px)}" y="${barY + barH + 15}" text-anchor="${anchor}">${escapeXml(label)}</text>`);
  }
  const marks: Array<[string, number]> = [];
  if (Number.isFinite(o.min)) marks.push(['min', o.min]);
  if (Number.isFinite(o.max) && o.max !== o.min) marks.push(['max', o.max]);
  const pos = marks.map(([, v]) => X(m > 0 ? normalise(v, m, o.scale) : 0));
  const tooClose = pos.length === 2 && Math.abs(pos[1] - pos[0]) < 110;
  marks.forEach(([name, v], i) => {
    const px = pos[i];
    parts.push(`<path class="legend-mark" d="M${n(px)} ${barY - 1}l-4 -6h8z"><title>${name} ${escapeXml(formatNumber(v, 6))}</title></path>`);
    if (tooClose && i === 1) return;
    const text = tooClose ? `min ${formatNumber(o.min, 3)} · max ${formatNumber(o.max, 3)}` : `${name} ${formatNumber(v, 3)}`;
    const anchor = px < width * 0.2 ? 'start' : px > width * 0.8 ? 'end' : 'middle';
    const tx = anchor === 'start' ? Math.max(padX - 4, px - 6) : anchor === 'end' ? Math.min(width - padX + 4, px + 6) : px;
    parts.push(`<text class="legend-minmax" x="${n(tx)}" y="${barY - 9}" text-anchor="${anchor}">${escapeXml(text)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * A line chart's frame: horizontal grid lines at `yTicks`, then (in the open axis group, which the
 * caller closes) the x and y axis lines and the y tick labels (`label`: already escaped).
 */
export function plotFrame(box: { left: number; right: number; top: number; bottom: number; width: number; height: number }, yTicks: number[], Y: (v: number) => number, label: (t: number) => string): string[] {
  const { left, right, top, bottom, width, height } = box;
  return [
    '<g class="grid">',
    ...yTicks.map((t) => `<line x1="${left}" x2="${width - right}" y1="${n(Y(t))}" y2="${n(Y(t))}"/>`),
    '</g><g class="axis">',
    `<line class="axis-line" x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}"/>`,
    `<line class="axis-line" x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}"/>`,
    ...yTicks.map((t) => `<text class="tick" x="${left - 6}" y="${n(Y(t) + 4)}" text-anchor="end">${label(t)}</text>`),
  ];
}
