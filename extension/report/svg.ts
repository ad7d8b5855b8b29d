/**
 * Standalone SVG charts for the exported report: per-layer traces (bars ± one standard error), extreme
 * eigenvalues per block (dot plot on a symlog axis) and the running Hutchinson trace (± one standard
 * error band) against HVPs. Each is a complete document with explicit width/height, its own white
 * background and dark text, so it reads the same on GitHub's light and dark themes and in VS Code's
 * preview. Every string that reaches the document goes through `escapeXml` (layer names come from
 * untrusted model files).
 */
import type { ConvergencePoint, InspectResult } from '../protocol.js';
import { symlog, symlogThreshold } from '../../webview/heatmapLayout.js';
import { densityChart } from '../../webview/charts.js';

const FONT = `system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif`;
const INK = '#1f2328';
const MUTED = '#59636e';
const GRID = '#d8dee4';
const POS = '#b2182b';
const NEG = '#2166ac';
const POS_FILL = '#ef8a62';
const NEG_FILL = '#67a9cf';

/** Text or attribute content: the five XML specials, and characters XML 1.0 forbids (→ U+FFFD). */
export function escapeXml(s: string): string {
  return String(s)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Compact number for axis labels and tooltips. */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v == null || !Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(Math.max(0, digits - 1)).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(digits)));
}

/** At most `max` characters (code points); a long name keeps its start and its end (which often differ). */
function clip(s: string, max: number): string {
  const cps = Array.from(s.replace(/\s+/g, ' '));
  if (cps.length <= max) return cps.join('');
  const head = Math.ceil((max - 1) / 2);
  return cps.slice(0, head).join('') + '…' + cps.slice(cps.length - (max - 1 - head)).join('');
}

const r2 = (x: number) => String(Math.round(x * 100) / 100);

function doc(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeXml(FONT)}" font-size="12" fill="${INK}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff" stroke="${GRID}"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${r2(x)}" y="${r2(y)}"${attrs ? ' ' + attrs : ''}>${escapeXml(s)}</text>`;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

/** Domain [lo, hi] rounded out to ticks, always containing 0 when `withZero`. */
function niceDomain(values: number[], withZero: boolean): { lo: number; hi: number; ticks: number[] } {
  const finite = values.filter(Number.isFinite);
  let lo = Math.min(...finite, ...(withZero ? [0] : []));
  let hi = Math.max(...finite, ...(withZero ? [0] : []));
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi === lo) [lo, hi] = lo === 0 ? [0, 1] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
  const ticks = niceTicks(lo, hi, 5);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.abs(hi - lo);
  if (ticks[0] > lo + 1e-12 * step) ticks.unshift(Number((ticks[0] - step).toPrecision(12)));
  if (ticks[ticks.length - 1] < hi - 1e-12 * step) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return { lo: ticks[0], hi: ticks[ticks.length - 1], ticks };
}

function labelWidth(names: string[], max = 28): number {
  return Math.min(220, Math.max(60, ...names.map((n) => clip(n, max).length * 7 + 16)));
}

// ---------------------------------------------------------------------------------------------------

/** Horizontal bars: each layer's block trace, with ± one standard error whiskers (none when exact). */
export function tracesSvg(r: InspectResult): string {
  const layers = r.layers;
  const title = `Trace of each layer's Hessian block (${clip(r.model.name, 40)})`;
  const rowH = 26;
  const left = labelWidth(layers.map((l) => l.name));
  const plotW = 420;
  const valueW = 150;
  const top = 44;
  const bottom = 44;
  const width = left + plotW + valueW + 16;
  const height = top + Math.max(1, layers.length) * rowH + bottom;
  const ends = layers.flatMap((l) => [l.trace.value, l.trace.value - (l.trace.stderr ?? 0), l.trace.value + (l.trace.stderr ?? 0)]);
  const { lo, hi, ticks } = niceDomain(ends, true);
  const X = (v: number) => left + ((v - lo) / (hi - lo)) * plotW;
  const body: string[] = [text(12, 22, title, 'font-size="14" font-weight="600"')];
  const plotBottom = top + layers.length * rowH;
  for (const t of ticks) {
    body.push(`<line x1="${r2(X(t))}" y1="${top - 4}" x2="${r2(X(t))}" y2="${plotBottom}" stroke="${GRID}"/>`);
    body.push(text(X(t), plotBottom + 16, fmt(t), `text-anchor="middle" fill="${MUTED}" font-size="11"`));
  }
  body.push(text(left + plotW / 2, plotBottom + 34, layers.some((l) => l.trace.stderr != null) ? 'trace (whiskers: ± 1 standard error)' : 'trace (exact)', `text-anchor="middle" fill="${MUTED}"`));
  layers.forEach((l, i) => {
    const y = top + i * rowH;
    const v = l.trace.value;
    const se = l.trace.stderr;
    const finite = Number.isFinite(v);
    const x0 = X(0);
    const x1 = finite ? X(v) : x0;
    const neg = v < 0;
    body.push(`<g>`);
    body.push(`<title>${escapeXml(`${l.name}: trace ${fmt(v, 4)}${se != null ? ` ± ${fmt(se, 2)}` : ' (exact)'}`)}</title>`);
    body.push(text(left - 8, y + rowH / 2 + 4, clip(l.name, 28), 'text-anchor="end"'));
    body.push(`<rect x="${r2(Math.min(x0, x1))}" y="${y + 5}" width="${r2(Math.max(1, Math.abs(x1 - x0)))}" height="${rowH - 10}" fill="${neg ? NEG_FILL : POS_FILL}" stroke="${neg ? NEG : POS}" stroke-width="1"/>`);
    if (se != null && Number.isFinite(se) && finite) {
      const [a, b] = [X(v - se), X(v + se)];
      const cy = y + rowH / 2;
      body.push(`<path d="M${r2(a)},${cy}H${r2(b)}M${r2(a)},${cy - 5}V${cy + 5}M${r2(b)},${cy - 5}V${cy + 5}" stroke="${INK}" stroke-width="1.5" fill="none"/>`);
    }
    body.push(text(left + plotW + 12, y + rowH / 2 + 4, `${fmt(v, 4)}${se != null ? ` ± ${fmt(se, 2)}` : ''}`, ''));
    body.push(`</g>`);
  });
  body.push(`<line x1="${r2(X(0))}" y1="${top - 4}" x2="${r2(X(0))}" y2="${plotBottom}" stroke="${INK}"/>`);
  return doc(width, height, title, body);
}

// ---------------------------------------------------------------------------------------------------

/** Symlog axis: ticks at 0 and ±10^k, spaced apart enough to be read. */
function symlogAxis(values: number[]) {
  const finite = values.filter(Number.isFinite);
  const maxAbs = Math.max(0, ...finite.map(Math.abs));
  const t = symlogThreshold(maxAbs || 1);
  const decade = (x: number) => 10 ** Math.ceil(Math.log10(Math.max(x, t)) - 1e-9);
  const maxPos = Math.max(0, ...finite);
  const maxNeg = Math.max(0, ...finite.map((v) => -v));
  const hi = maxPos > 0 ? decade(maxPos) : t * 10;
  const lo = -(maxNeg > 0 ? decade(maxNeg) : t);
  const S = (v: number) => symlog(v, t);
  const ticks: number[] = [0];
  for (let k = Math.ceil(Math.log10(t) - 1e-9); 10 ** k <= hi * 1.0001; k++) ticks.push(10 ** k);
  for (let k = Math.ceil(Math.log10(t) - 1e-9); 10 ** k <= -lo * 1.0001; k++) ticks.unshift(-(10 ** k));
  return { S, lo: S(lo), hi: S(hi), ticks, t };
}

/** Dot plot: the largest and smallest eigenvalues of the whole Hessian and of each layer's block. */
export function eigenvaluesSvg(r: InspectResult): string {
  const blocks = [{ name: 'global (all weights)', eigenvalues: r.global.eigenvalues }, ...r.layers.map((l) => ({ name: l.name, eigenvalues: l.eigenvalues }))];
  const title = `Extreme eigenvalues per block (${clip(r.model.name, 40)})`;
  const rowH = 28;
  const left = labelWidth(blocks.map((b) => b.name));
  const plotW = 520;
  const top = 56;
  const bottom = 46;
  const width = left + plotW + 28;
  const height = top + blocks.length * rowH + bottom;
  const all = blocks.flatMap((b) => [...b.eigenvalues.top, ...b.eigenvalues.bottom].map((e) => e.value));
  const ax = symlogAxis(all);
  const X = (v: number) => left + ((ax.S(v) - ax.lo) / (ax.hi - ax.lo || 1)) * plotW;
  const plotBottom = top + blocks.length * rowH;
  const body: string[] = [text(12, 22, title, 'font-size="14" font-weight="600"')];
  // Legend.
  const ly = 42;
  body.push(`<circle cx="${left + 6}" cy="${ly - 4}" r="5" fill="${POS}"/>`, text(left + 16, ly, 'largest', `fill="${MUTED}"`));
  body.push(`<circle cx="${left + 86}" cy="${ly - 4}" r="5" fill="${NEG}"/>`, text(left + 96, ly, 'smallest', `fill="${MUTED}"`));
  body.push(`<circle cx="${left + 170}" cy="${ly - 4}" r="4.5" fill="#ffffff" stroke="${INK}" stroke-width="1.5"/>`, text(left + 180, ly, 'not converged', `fill="${MUTED}"`));
  // Labels: 0 first, then the largest magnitudes, then any other tick with room beside its neighbours.
  const labelled: number[] = [];
  for (const tk of [...ax.ticks].sort((a, b) => (a === 0 ? -1 : b === 0 ? 1 : Math.abs(b) - Math.abs(a)))) {
    const x = X(tk);
    if (labelled.every((l) => Math.abs(l - x) >= 36)) {
      labelled.push(x);
      body.push(text(x, plotBottom + 16, fmt(tk), `text-anchor="middle" fill="${MUTED}" font-size="11"`));
    }
    body.push(`<line x1="${r2(x)}" y1="${top - 4}" x2="${r2(x)}" y2="${plotBottom}" stroke="${tk === 0 ? INK : GRID}"/>`);
  }
  body.push(text(left + plotW / 2, plotBottom + 36, `eigenvalue (symlog axis: linear within ±${fmt(ax.t, 2)}, logarithmic beyond)`, `text-anchor="middle" fill="${MUTED}"`));
  blocks.forEach((b, i) => {
    const y = top + i * rowH + rowH / 2;
    if (i > 0) body.push(`<line x1="${left}" y1="${top + i * rowH}" x2="${left + plotW}" y2="${top + i * rowH}" stroke="${GRID}" stroke-dasharray="2 3"/>`);
    body.push(`<g>`, `<title>${escapeXml(b.name)}</title>`, text(left - 8, y + 4, clip(b.name, 28), 'text-anchor="end"'), `</g>`);
    const dots = [
      ...b.eigenvalues.bottom.map((e, k) => ({ e, colour: NEG, label: `smallest ${k + 1}` })),
      ...b.eigenvalues.top.map((e, k) => ({ e, colour: POS, label: `largest ${k + 1}` })),
    ];
    for (const { e, colour, label } of dots) {
      if (!Number.isFinite(e.value)) continue;
      const tip = `${b.name}, ${label}: ${fmt(e.value, 6)} (residual ${fmt(e.residual, 2)}${e.converged ? '' : ', not converged'})`;
      const fill = e.converged ? colour : '#ffffff';
      body.push(`<circle cx="${r2(X(e.value))}" cy="${y}" r="${e.converged ? 5 : 4.5}" fill="${fill}" fill-opacity="${e.converged ? 0.8 : 1}" stroke="${colour}" stroke-width="1.5"><title>${escapeXml(tip)}</title></circle>`);
    }
  });
  return doc(width, height, title, body);
}

// ---------------------------------------------------------------------------------------------------

/** The running trace estimate against HVPs, with its ± one standard error band. Needs ≥ 2 points. */
export function convergenceSvg(points: ConvergencePoint[], modelName: string): string {
  const pts = points.filter((p) => Number.isFinite(p.matvecs) && Number.isFinite(p.value)).sort((a, b) => a.matvecs - b.matvecs);
  const title = `Running trace estimate (${clip(modelName, 40)})`;
  const left = 70;
  const plotW = 520;
  const plotH = 240;
  const top = 44;
  const width = left + plotW + 24;
  const height = top + plotH + 50;
  const ys = pts.flatMap((p) => (p.stderr != null && Number.isFinite(p.stderr) ? [p.value - p.stderr, p.value + p.stderr] : [p.value]));
  const yd = niceDomain(ys, false);
  const xlo = Math.min(...pts.map((p) => p.matvecs), 0);
  const xd = niceDomain([xlo, ...pts.map((p) => p.matvecs)], true);
  const X = (v: number) => left + ((v - xd.lo) / (xd.hi - xd.lo)) * plotW;
  const Y = (v: number) => top + plotH - ((v - yd.lo) / (yd.hi - yd.lo)) * plotH;
  const body: string[] = [text(12, 22, title, 'font-size="14" font-weight="600"')];
  for (const t of yd.ticks) {
    body.push(`<line x1="${left}" y1="${r2(Y(t))}" x2="${left + plotW}" y2="${r2(Y(t))}" stroke="${GRID}"/>`);
    body.push(text(left - 6, Y(t) + 4, fmt(t), `text-anchor="end" fill="${MUTED}" font-size="11"`));
  }
  for (const t of xd.ticks) {
    body.push(`<line x1="${r2(X(t))}" y1="${top}" x2="${r2(X(t))}" y2="${top + plotH}" stroke="${GRID}"/>`);
    body.push(text(X(t), top + plotH + 16, fmt(t), `text-anchor="middle" fill="${MUTED}" font-size="11"`));
  }
  body.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="${MUTED}"/>`);
  // Band: one polygon per run of points with a standard error.
  let run: ConvergencePoint[] = [];
  const flush = () => {
    if (run.length >= 2) {
      const upper = run.map((p) => `${r2(X(p.matvecs))},${r2(Y(p.value + p.stderr!))}`);
      const lower = run.map((p) => `${r2(X(p.matvecs))},${r2(Y(p.value - p.stderr!))}`).reverse();
      body.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${POS_FILL}" fill-opacity="0.3" stroke="none"/>`);
    }
    run = [];
  };
  for (const p of pts) {
    if (p.stderr != null && Number.isFinite(p.stderr)) run.push(p);
    else flush();
  }
  flush();
  const last = pts[pts.length - 1];
  body.push(`<line x1="${left}" y1="${r2(Y(last.value))}" x2="${left + plotW}" y2="${r2(Y(last.value))}" stroke="${MUTED}" stroke-dasharray="4 4"/>`);
  body.push(`<polyline points="${pts.map((p) => `${r2(X(p.matvecs))},${r2(Y(p.value))}`).join(' ')}" fill="none" stroke="${POS}" stroke-width="2"/>`);
  if (pts.length <= 200) for (const p of pts) body.push(`<circle cx="${r2(X(p.matvecs))}" cy="${r2(Y(p.value))}" r="2.5" fill="${POS}"><title>${escapeXml(`${p.matvecs} HVPs: ${fmt(p.value, 5)}${p.stderr != null ? ` ± ${fmt(p.stderr, 2)}` : ''}`)}</title></circle>`);
  body.push(text(left + plotW / 2, top + plotH + 36, 'Hessian-vector products (probes)', `text-anchor="middle" fill="${MUTED}"`));
  body.push(text(16, top + plotH / 2, 'trace ± 1 s.e.', `text-anchor="middle" fill="${MUTED}" transform="rotate(-90 16 ${top + plotH / 2})"`));
  return doc(width, height, title, body);
}

// ---------------------------------------------------------------------------------------------------

/**
 * The spectral density, drawn by the panel's own `densityChart` and given this file's fixed colours
 * (an embedded style for its classes), a title and a white background.
 */
export function densitySvg(r: InspectResult): string {
  const d = r.global.density;
  if (!d) throw new Error('the result has no spectral density');
  const title = `Spectral density (${clip(r.model.name, 40)})`;
  const width = 640;
  const chart = densityChart(d, { top: r.global.eigenvalues.top.map((e) => e.value), bottom: r.global.eigenvalues.bottom.map((e) => e.value) }, { width, height: 240 });
  const style = [
    `.tick, .axis-label, .empty { fill: ${MUTED}; font-size: 11px; }`,
    `.grid line { stroke: ${GRID}; stroke-dasharray: 2 3; }`,
    `.axis-line { stroke: ${MUTED}; }`,
    `.zero { stroke: ${INK}; }`,
    `.line { fill: none; stroke: ${INK}; stroke-width: 1.6; }`,
    `.mark { stroke-width: 1.4; stroke-dasharray: 4 3; }`,
    `.mark.top { stroke: ${POS}; }`,
    `.mark.bottom { stroke: ${NEG}; }`,
  ].join(' ');
  return doc(width + 20, 290, title, [`<style>${style}</style>`, text(12, 22, title, 'font-size="14" font-weight="600"'), `<g transform="translate(10 40)">${chart}</g>`]);
}
