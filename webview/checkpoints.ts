/**
 * The panel's Checkpoints section, pure parts (no DOM): short labels for the checkpoint paths, the four
 * series traced over training (top eigenvalue, trace ± stderr, λ_min, diagonal share ± stderr; the
 * numbers of `--checkpoints`), a small SVG line chart of one series against checkpoint order, and the
 * per-tensor diagonal difference B − A between two checkpoints for the heatmaps. Sharpness over
 * training as Cockpit (Schneider et al. 2021) shows it. Every label passes through `escapeXml`.
 */
import type { CheckpointRow, TensorArrays, TensorResult } from '../extension/protocol.js';
import { escapeXml, FONT_CHAR, n, niceTicks, plotFrame, tick, truncateMiddle, type ChartSize } from './charts.js';
import { formatPm } from './format.js';

export type CheckpointMetric = 'topEigenvalue' | 'trace' | 'bottomEigenvalue' | 'diagonalShare';

export const METRICS: ReadonlyArray<{ key: CheckpointMetric; title: string }> = [
  { key: 'topEigenvalue', title: 'Top eigenvalue λ_max' },
  { key: 'trace', title: 'Trace' },
  { key: 'bottomEigenvalue', title: 'Smallest eigenvalue λ_min' },
  { key: 'diagonalShare', title: 'Diagonal share ‖diag H‖² / ‖H‖_F²' },
];

export interface SeriesPoint {
  /** Position in checkpoint order (0-based). */
  index: number;
  value: number;
  stderr: number | null;
}

/**
 * What tells the paths apart: the segments left when those common to all (leading folders, a trailing
 * `model.json`) are dropped, e.g. `runs/epoch-2/model.json`, `runs/epoch-10/model.json` → `epoch-2`,
 * `epoch-10`. One path: its folder and file name.
 */
export function checkpointLabels(paths: readonly string[]): string[] {
  const segs = paths.map((p) => p.split(/[\\/]+/).filter(Boolean));
  if (segs.length <= 1) return segs.map((s) => s.slice(-2).join('/'));
  const min = Math.min(...segs.map((s) => s.length));
  let head = 0;
  while (head < min - 1 && segs.every((s) => s[head] === segs[0][head])) head++;
  let tail = 0;
  while (tail < min - head - 1 && segs.every((s) => s[s.length - 1 - tail] === segs[0][segs[0].length - 1 - tail])) tail++;
  return segs.map((s) => s.slice(head, s.length - tail).join('/'));
}

/** One metric over the checkpoints; rows without a finite value (no eigenvalue asked for, no share) are left out. */
export function checkpointSeries(rows: readonly CheckpointRow[], key: CheckpointMetric): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  rows.forEach((r, index) => {
    const v = key === 'trace' ? r.trace : key === 'diagonalShare' ? r.diagonalShare : { value: r[key], stderr: null };
    if (!v || v.value == null || !Number.isFinite(v.value)) return;
    const se = v.stderr != null && Number.isFinite(v.stderr) && v.stderr > 0 ? v.stderr : null;
    out.push({ index, value: v.value, stderr: se });
  });
  return out;
}

/**
 * One series against checkpoint order: `path.line` through the points, a `path.whisker` per point with
 * a stderr, a `circle.point` per point (data-index, a `<title>` with the label and value), x ticks
 * labelled with the checkpoints' labels (thinned to fit). No points: an SVG with a short message.
 */
export function checkpointChart(points: readonly SeriesPoint[], labels: readonly string[], o: ChartSize & { height?: number; title: string }): string {
  const width = Math.max(220, Math.round(o.width ?? 320));
  const height = Math.max(120, Math.round(o.height ?? 170));
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart checkpoint-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(`${o.title} against checkpoint`)}">`;
  if (points.length === 0) return `${open}<text class="empty" x="${n(width / 2)}" y="${n(height / 2)}" text-anchor="middle">Not computed for these checkpoints</text></svg>`;
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) {
    const e = p.stderr ?? 0;
    lo = Math.min(lo, p.value - e);
    hi = Math.max(hi, p.value + e);
  }
  const yTicks = niceTicks(lo, hi, Math.max(3, Math.floor(height / 45)));
  const dLo = Math.min(lo, yTicks[0] ?? lo);
  const dHi = Math.max(hi, yTicks[yTicks.length - 1] ?? hi);
  // Room for the y tick labels, and for half of the first and last x labels (centred on their points).
  const halfLabel = (l: string | undefined) => Math.ceil((Math.min([...(l ?? '')].length, 18) * FONT_CHAR) / 2) + 2;
  const left = Math.round(Math.max(40, Math.max(...yTicks.map((t) => tick(t).length)) * FONT_CHAR + 12, halfLabel(labels[0])));
  const right = Math.max(12, labels.length > 1 ? halfLabel(labels[labels.length - 1]) : 0);
  const top = 8;
  const bottom = 24;
  const count = Math.max(1, labels.length);
  const X = (i: number) => (count === 1 ? (left + width - right) / 2 : left + (i / (count - 1)) * (width - left - right));
  const Y = (v: number) => top + (1 - (v - dLo) / (dHi - dLo || 1)) * (height - top - bottom);
  const parts: string[] = [open, ...plotFrame({ left, right, top, bottom, width, height }, yTicks, Y, (t) => escapeXml(tick(t)))];
  const slot = (width - left - right) / Math.max(1, count - 1);
  const maxChars = Math.max(3, Math.min(18, Math.floor(Math.max(slot, 40) / FONT_CHAR)));
  const longest = Math.min(maxChars, Math.max(...labels.map((l) => [...l].length)));
  const every = count === 1 ? 1 : Math.max(1, Math.ceil((longest * FONT_CHAR + 8) / Math.max(slot, 1)));
  labels.forEach((l, i) => {
    if (i % every !== 0 && i !== count - 1) return;
    parts.push(`<text class="tick" x="${n(X(i))}" y="${height - bottom + 15}" text-anchor="middle">${escapeXml(truncateMiddle(l, maxChars))}</text>`);
  });
  parts.push('</g>');
  if (points.length >= 2) parts.push(`<path class="line" d="${points.map((p, k) => `${k ? 'L' : 'M'}${n(X(p.index))} ${n(Y(p.value))}`).join('')}"/>`);
  for (const p of points) {
    const x = X(p.index);
    if (p.stderr != null) {
      const a = Y(p.value - p.stderr);
      const b = Y(p.value + p.stderr);
      parts.push(`<path class="whisker" d="M${n(x)} ${n(a)}V${n(b)}M${n(x - 3)} ${n(a)}H${n(x + 3)}M${n(x - 3)} ${n(b)}H${n(x + 3)}"/>`);
    }
    const tip = `${labels[p.index] ?? `#${p.index + 1}`}: ${formatPm(p.value, p.stderr)}`;
    parts.push(`<circle class="point" data-index="${p.index}" cx="${n(x)}" cy="${n(Y(p.value))}" r="3"><title>${escapeXml(tip)}</title></circle>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

export interface DiffTensor {
  /** The figure's numbers (min, mean, max of B − A); `method` is 'exact' when both diagonals are. */
  tensor: TensorResult;
  arrays: TensorArrays;
}

/**
 * diag(B) − diag(A) per tensor, matched by layer and name, with stderr √(se_A² + se_B²) (independent
 * estimates; null when both are exact) so that the heatmap hatches differences within the noise.
 * Tensors missing from either side or of another shape are listed in `skipped`.
 */
export function diagonalDiff(a: readonly TensorArrays[], b: readonly TensorArrays[]): { tensors: DiffTensor[]; skipped: string[] } {
  const byKey = new Map(a.map((t) => [`${t.layer}\u0000${t.name}`, t]));
  const tensors: DiffTensor[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const tb of b) {
    const key = `${tb.layer}\u0000${tb.name}`;
    seen.add(key);
    const ta = byKey.get(key);
    if (!ta || ta.values.length !== tb.values.length || ta.shape.join('x') !== tb.shape.join('x')) {
      skipped.push(tb.name);
      continue;
    }
    const values = new Float32Array(tb.values.length);
    const stderr = ta.stderr || tb.stderr ? new Float32Array(tb.values.length) : null;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = 0; i < values.length; i++) {
      const d = tb.values[i] - ta.values[i];
      values[i] = d;
      if (stderr) stderr[i] = Math.hypot(ta.stderr?.[i] ?? 0, tb.stderr?.[i] ?? 0);
      min = Math.min(min, d);
      max = Math.max(max, d);
      sum += d;
    }
    const mean = values.length ? sum / values.length : 0;
    tensors.push({
      tensor: { name: tb.name, shape: tb.shape, diagonal: { method: stderr ? 'hutchinson' : 'exact', samples: null, min, max, mean } },
      arrays: { layer: tb.layer, name: tb.name, shape: tb.shape, values, stderr },
    });
  }
  for (const ta of a) if (!seen.has(`${ta.layer}\u0000${ta.name}`)) skipped.push(ta.name);
  return { tensors, skipped };
}
