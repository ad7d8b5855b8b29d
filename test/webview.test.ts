/**
 * Tests of the Curvature panel's pure parts, in plain Node: the HTML document and its CSP, the SVG chart
 * builders (well-formed, escaped, the right bars and whiskers), number formatting, the heatmap pixels
 * (layout, colours, hatching, hit-testing), the summary's rows and notes, the status line, and the
 * state kept with setState. The DOM wiring (main.ts, render.ts, heatmap.ts) is exercised in a browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConvergencePoint, InspectResult, LayerResult, PanelState, Ritz, TensorArrays } from '../extension/protocol.js';
import { contentSecurityPolicy, panelHtml } from '../webview/html.js';
import { colourLegend, convergenceChart, densityChart, escapeXml, niceTicks, thin, traceBarChart, truncateMiddle } from '../webview/charts.js';
import { formatCount, formatDuration, formatNumber, formatPm, formatPower, formatShape, MINUS, parseShown } from '../webview/format.js';
import { diverging, layoutTensor, normalise, type Scale } from '../webview/heatmapLayout.js';
import {
  cellAt,
  colourIndexer,
  fade,
  hatchColour,
  insignificantCount,
  MAX_PIXELS,
  pack,
  paintHeatmap,
  parseRgb,
  planHeatmap,
  representatives,
  type Rgb,
} from '../webview/heatmapPixels.js';
import { curvatureNotes, eigenRows, summaryRows } from '../webview/summary.js';
import { phaseFraction, phaseSteps, progressText, statusLine } from '../webview/status.js';
import { decodeF32, encodeF32, encodeTensors, fromSaved, normaliseTensors, tensorsKey, toSaved } from '../webview/persist.js';
import { layoutHint } from '../webview/heatmap.js';
import { assertWellFormed } from './helpers.js';

const EVIL = '<img src=x onerror=alert(1)>';

// ---- helpers ----------------------------------------------------------------------------------------


const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

function ritz(value: number, residual = 1e-12, converged = true): Ritz {
  return { value, residual, converged };
}

function layer(name: string, trace: number, stderr: number | null, bottom: number, shapes: Array<[string, number[]]>): LayerResult {
  return {
    name,
    className: 'Dense',
    parameters: shapes.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0),
    trace: stderr == null ? { value: trace, stderr: null, method: 'exact', matvecs: 10, samples: null } : { value: trace, stderr, method: 'hutchinson', matvecs: 100, samples: 100 },
    eigenvalues: { top: [ritz(trace / 2), ritz(trace / 4)], bottom: [ritz(bottom, 1e-6), ritz(bottom + 1)], method: 'lanczos', iterations: 40 },
    tensors: shapes.map(([n, shape]) => ({ name: n, shape, diagonal: { method: stderr == null ? 'exact' : 'hutchinson', samples: stderr == null ? null : 100, min: -1, max: 2, mean: 0.5 } })),
  };
}

function result(over: Partial<InspectResult['global']> = {}, layers?: LayerResult[]): InspectResult {
  return {
    schemaVersion: 1,
    tool: { name: 'curvature-lens', version: '0.1.0' },
    model: { path: 'examples/cnn/model.json', format: 'tfjs-layers', name: 'sequential', parameters: 883 },
    data: { path: 'examples/cnn/data.npz', examples: 256, synthetic: false },
    loss: { name: 'sparse-categorical-cross-entropy', value: 0.052715372294187546, fromLogits: true, reason: 'recorded in the training_config' },
    backend: 'wasm',
    backendNotes: ['tensorflow: unavailable', 'wasm: passed the self-test'],
    seed: 0,
    global: {
      gradientNorm: 0.058746980815983556,
      hessianGradientNorm: 3.186381196091278,
      gradientCurvature: 27.15306242646197,
      trace: { value: 199.52008698803814, stderr: 15.709286498488888, method: 'hutchinson', matvecs: 100, samples: 100 },
      eigenvalues: { top: [ritz(108.92923011230948, 2e-18)], bottom: [ritz(-0.015077706072248816, 8.8e-7)], method: 'lanczos', iterations: 86 },
      ...over,
    },
    layers: layers ?? [layer('conv2d', 110.2, 10.8, 0.0074, [['conv2d/kernel', [3, 3, 1, 8]], ['conv2d/bias', [8]]]), layer('dense', 11.1, 3.4, -7.29e-9, [['dense/kernel', [72, 3]]])],
    timing: { seconds: 51.924, hvps: 430, chunks: 1, chunkSize: 256, batch: 24 },
  };
}

function state(over: Partial<PanelState> = {}): PanelState {
  return { status: 'done', title: 'model', banner: null, progress: null, result: null, tensors: [], convergence: [], error: null, stale: false, focusLayer: null, ...over };
}

/** The RGBA bytes at canvas pixel (x, y). */
function pixel(bytes: Uint8ClampedArray, width: number, x: number, y: number): number[] {
  const i = (y * width + x) * 4;
  return [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
}

// ---- panelHtml --------------------------------------------------------------------------------------

const OPTS = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  nonce: 'abc123XYZ+/=',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/panel.css',
  elementsUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/elements.js',
};

test('panelHtml: a strict CSP with the nonce, in a meta tag before anything loads', () => {
  const html = panelHtml(OPTS);
  const csp = `default-src 'none'; img-src ${OPTS.cspSource} data:; style-src ${OPTS.cspSource}; script-src 'nonce-${OPTS.nonce}'; font-src ${OPTS.cspSource}`;
  assert.equal(contentSecurityPolicy(OPTS.cspSource, OPTS.nonce), csp);
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(meta, 'CSP meta tag');
  assert.equal(meta[1], csp);
  assert.ok(html.indexOf(meta[0]) < html.indexOf('<link'), 'the CSP comes before the stylesheet');
  assert.ok(html.indexOf(meta[0]) < html.indexOf('<script'), 'the CSP comes before the scripts');
  assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(csp));
});

test('panelHtml: every script has the nonce and a src, none is inline; no inline styles or handlers', () => {
  const html = panelHtml(OPTS);
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 2);
  for (const [, attrs, body] of scripts) {
    assert.match(attrs, new RegExp(`\\bnonce="${OPTS.nonce.replace(/[+/=]/g, (c) => `\\${c}`)}"`));
    assert.match(attrs, /\bsrc="https:\/\//);
    assert.equal(body.trim(), '', 'no inline script');
  }
  assert.match(html, new RegExp(`<script nonce="[^"]+" src="${OPTS.scriptUri.replace(/[.+/]/g, (c) => `\\${c}`)}"></script>`));
  assert.match(html, /<script type="module" nonce="[^"]+" src="https:\/\/file\+\.vscode-resource\.vscode-cdn\.net\/ext\/dist\/elements\.js"><\/script>/);
  assert.ok(html.indexOf(OPTS.scriptUri) < html.indexOf(OPTS.elementsUri), 'the panel script does not wait for the elements');
  assert.match(html, new RegExp(`<link rel="stylesheet" href="${OPTS.styleUri.replace(/[.+/]/g, (c) => `\\${c}`)}">`));
  assert.ok(!/\sstyle\s*=/i.test(html), 'no style attributes');
  assert.ok(!/<style\b/i.test(html), 'no style elements');
  assert.ok(!/\son[a-z]+\s*=/i.test(html), 'no inline event handlers');
  assert.ok(!/javascript:/i.test(html));
});

test('panelHtml: the elements the panel script and the end-to-end tests rely on, each id once', () => {
  const html = panelHtml(OPTS);
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids.join(' ')}`);
  for (const id of ['title', 'status', 'status-text', 'progress', 'cancel', 'banner', 'stale', 'rerun', 'export', 'error', 'error-kind', 'error-message', 'placeholder', 'phases', 'overview', 'summary', 'traces-card', 'traces', 'convergence-card', 'convergence', 'layers-block', 'layers', 'scale-group', 'scale-linear', 'scale-symlog', 'tooltip'])
    assert.ok(ids.includes(id), `#${id}`);
  // The custom elements carry plain fallbacks: text in the buttons, a <progress> in the progress bar.
  assert.match(html, /<vscode-button id="cancel"[^>]*>Cancel<\/vscode-button>/);
  assert.match(html, /<vscode-button id="rerun"[^>]*>Re-run<\/vscode-button>/);
  assert.match(html, /<vscode-progress-bar id="progress"[^>]*><progress[^>]*><\/progress><\/vscode-progress-bar>/);
  assert.match(html, /<vscode-radio id="scale-linear"[^>]*value="linear"[^>]*checked>/);
});

test('panelHtml: escapes its arguments and keeps the policy free of injected directives', () => {
  const html = panelHtml({ ...OPTS, nonce: `n"><script>alert(1)</script>`, scriptUri: `x" onload="alert(1)`, cspSource: `https://a;script-src https://evil.example` });
  assert.ok(!html.includes('<script>alert(1)'), 'no markup from the nonce');
  assert.ok(!html.includes('" onload="'), 'no attribute from a URI');
  assert.ok(html.includes('x&quot; onload=&quot;alert(1)'));
  const meta = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
  const directives = meta.split(';').map((d) => d.trim());
  assert.equal(directives.length, 5, `five directives: ${meta}`);
  assert.deepEqual(
    directives.filter((d) => d.startsWith('script-src')),
    [`script-src 'nonce-nscriptalert1/script'`],
  );
});

// ---- charts -----------------------------------------------------------------------------------------

test('escapeXml: the five special characters', () => {
  assert.equal(escapeXml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(escapeXml('plain λ ± text'), 'plain λ ± text');
});

test('niceTicks: round steps that cover the range', () => {
  assert.deepEqual(niceTicks(0, 121, 3), [0, 50, 100, 150]);
  assert.deepEqual(niceTicks(-0.3, 1.1, 4), [-0.5, 0, 0.5, 1, 1.5]);
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const t = niceTicks(-3e-7, 8e-7, 5);
  assert.ok(t[0] <= -3e-7 && t[t.length - 1] >= 8e-7 && t.includes(0));
  assert.deepEqual(niceTicks(5, 5, 4).length > 1, true, 'a degenerate range still gets ticks');
  assert.deepEqual(niceTicks(Number.NaN, 1), []);
});

test('traceBarChart: well-formed SVG, one bar per layer, whiskers for the ones with a stderr', () => {
  const bars = [
    { label: 'conv2d', value: 110.2, stderr: 10.8 },
    { label: 'conv2d_1', value: 78.2, stderr: 9.2 },
    { label: 'exact', value: 5, stderr: null },
    { label: 'neg', value: -12, stderr: 3 },
  ];
  const svg = traceBarChart(bars, { width: 600 });
  assertWellFormed(svg);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="600"/);
  assert.equal(count(svg, /<rect class="bar /g), 4);
  assert.equal(count(svg, /<path class="whisker"/g), 3, 'no whisker for the exact trace');
  assert.equal(count(svg, /<g class="row" data-layer="/g), 4);
  assert.equal(count(svg, /class="bar pos"/g), 3);
  assert.equal(count(svg, /class="bar neg"/g), 1);
  // The negative bar ends at the zero line, on its left.
  const zero = Number(/<line class="zero" x1="([\d.]+)"/.exec(svg)?.[1]);
  const neg = /<rect class="bar neg" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(svg);
  assert.ok(neg);
  assert.ok(Math.abs(Number(neg[1]) + Number(neg[2]) - zero) < 0.02, 'negative bar ends at 0');
  const pos = /<rect class="bar pos" x="([\d.]+)"/.exec(svg);
  assert.ok(Math.abs(Number(pos?.[1]) - zero) < 0.02, 'positive bar starts at 0');
  // The whisker spans value ± stderr: conv2d's is 2·10.8 wide in data units, like its bar is 110.2.
  const bar0 = Number(/<rect class="bar pos" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/.exec(svg)?.[1]);
  const w0 = /<path class="whisker" d="M([\d.]+) [\d.]+H([\d.]+)/.exec(svg);
  assert.ok(w0);
  assert.ok(Math.abs((Number(w0[2]) - Number(w0[1])) / bar0 - (2 * 10.8) / 110.2) < 0.01);
  assert.match(svg, />110 ± 11</);
  assert.match(svg, /<title>exact: trace 5 \(exact\)<\/title>/);
  assert.match(svg, /class="axis-label"/);
});

test('traceBarChart: a malicious layer name is escaped everywhere (label, data-layer, title)', () => {
  const svg = traceBarChart([{ label: EVIL, value: 1, stderr: 0.1 }, { label: `a"b'c&d`, value: 2, stderr: null }], { width: 500 });
  assertWellFormed(svg);
  assert.ok(!svg.includes('<img'), 'no raw <img');
  assert.ok(svg.includes(`data-layer="&lt;img src=x onerror=alert(1)&gt;"`));
  assert.ok(svg.includes(`data-layer="a&quot;b&#39;c&amp;d"`));
  assert.match(svg, /<title>&lt;img src=x onerror=alert\(1\)&gt;: trace/);
});

test('traceBarChart: long labels are shortened in the middle; null values get a row and no bar; no layers', () => {
  const long = 'model/very_long_block_name_that_goes_on_and_on/dense_7';
  const svg = traceBarChart([{ label: long, value: null, stderr: null }, { label: 'b', value: 3, stderr: 1 }], { width: 400 });
  assertWellFormed(svg);
  assert.equal(count(svg, /<g class="row"/g), 2);
  assert.equal(count(svg, /<rect class="bar /g), 1);
  assert.ok(svg.includes('…'), 'shortened');
  assert.ok(svg.includes(`data-layer="${long}"`), 'full name kept for the click');
  assert.equal(truncateMiddle('abcdefghij', 5), 'ab…ij');
  assert.equal(truncateMiddle('short', 10), 'short');
  const empty = traceBarChart([]);
  assertWellFormed(empty);
  assert.match(empty, /No layers/);
});

function running(n: number, from = 1): ConvergencePoint[] {
  return Array.from({ length: n }, (_, i) => ({ matvecs: from + i, value: 200 + 50 / (i + 1), stderr: i === 0 ? null : 60 / Math.sqrt(i + 1) }));
}

test('convergenceChart: line through every point, a ±stderr band, the latest value dashed', () => {
  const pts = running(30);
  const svg = convergenceChart(pts, { width: 640, height: 220 });
  assertWellFormed(svg);
  const line = /<path class="line" d="([^"]+)"/.exec(svg)?.[1] ?? '';
  assert.equal(count(line, /[ML]/g), 30);
  assert.equal(count(svg, /<path class="band"/g), 1, 'one band (the first point has no stderr)');
  const band = /<path class="band" d="([^"]+)"/.exec(svg)?.[1] ?? '';
  assert.equal(count(band, /[ML]/g), 2 * 29, 'upper and lower edge over the 29 points with a stderr');
  assert.ok(band.endsWith('Z'));
  assert.equal(count(svg, /<line class="final"/g), 1);
  assert.match(svg, /matvecs/);
  // A missing stderr in the middle splits the band in two.
  const gap = running(10).map((p, i) => (i === 5 ? { ...p, stderr: null } : p));
  assert.equal(count(convergenceChart(gap), /<path class="band"/g), 2);
  // Higher values are drawn higher (smaller y).
  const up = convergenceChart([
    { matvecs: 1, value: 0, stderr: null },
    { matvecs: 2, value: 10, stderr: null },
  ]);
  const ys = [...(/<path class="line" d="([^"]+)"/.exec(up)?.[1] ?? '').matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
  assert.ok(ys[1] < ys[0]);
});

test('convergenceChart: fewer than two points give a message; many points are thinned', () => {
  for (const p of [[], running(1)]) {
    const svg = convergenceChart(p);
    assertWellFormed(svg);
    assert.match(svg, /Not enough probes yet/);
    assert.ok(!svg.includes('class="line"'));
  }
  const many = convergenceChart(running(5000));
  assertWellFormed(many);
  assert.equal(count(/<path class="line" d="([^"]+)"/.exec(many)?.[1] ?? '', /[ML]/g), 400);
  const t = thin([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4);
  assert.deepEqual([t.length, t[0], t[3]], [4, 1, 10]);
});

test('colourLegend: the diverging map from −max to +max, min/max marks, ticks that do not collide', () => {
  const lin = colourLegend({ min: -1.7, max: 5.39, maxAbs: 5.39, scale: 'linear', width: 300, id: 'conv2d/kernel' });
  assertWellFormed(lin);
  const stops = [...lin.matchAll(/stop-color="rgb\((\d+),(\d+),(\d+)\)"/g)].map((m) => [1, 2, 3].map((k) => Number(m[k])));
  assert.deepEqual(stops[0], diverging(-1));
  assert.deepEqual(stops[stops.length - 1], diverging(1));
  assert.deepEqual(stops[(stops.length - 1) / 2], diverging(0));
  assert.match(lin, /id="conv2d_kernel-grad"/, 'id made safe');
  assert.match(lin, /fill="url\(#conv2d_kernel-grad\)"/);
  const ticks = [...lin.matchAll(/<text class="tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
  assert.deepEqual(ticks.sort(), ['0', `${MINUS}5.4`, '5.4'].sort());
  assert.equal(count(lin, /<path class="legend-mark"/g), 2);
  assert.match(lin, /min −1\.7/);
  assert.match(lin, /max 5\.39/);
  const sym = colourLegend({ min: -0.7864, max: 1.596, maxAbs: 1.596, scale: 'symlog', width: 300, id: 'x' });
  assertWellFormed(sym);
  const xs = [...sym.matchAll(/<text class="tick" x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)">([^<]*)</g)].map((m) => ({ x: Number(m[1]), a: m[2], t: m[3] }));
  assert.ok(xs.length > 3, 'symlog shows intermediate ticks');
  const span = (k: (typeof xs)[number]) => {
    const w = k.t.length * 6.1 + 8;
    return k.a === 'start' ? [k.x, k.x + w] : k.a === 'end' ? [k.x - w, k.x] : [k.x - w / 2, k.x + w / 2];
  };
  for (let i = 0; i < xs.length; i++)
    for (let j = i + 1; j < xs.length; j++) {
      const [a, b] = span(xs[i]);
      const [c, d] = span(xs[j]);
      assert.ok(b <= c || d <= a, `ticks ${xs[i].t} and ${xs[j].t} overlap`);
    }
  const zero = colourLegend({ min: 0, max: 0, maxAbs: 0, scale: 'linear', id: 'z' });
  assertWellFormed(zero);
});

// ---- format -----------------------------------------------------------------------------------------

test('formatNumber: significant digits, U+2212 minus, exponents outside [1e−3, 1e6), dashes for missing', () => {
  assert.equal(formatNumber(108.92923011230948, 5), '108.93');
  assert.equal(formatNumber(-0.015077706072248816, 5), `${MINUS}0.015078`);
  assert.equal(formatNumber(0.052715372294187546, 5), '0.052715');
  assert.equal(formatNumber(1.972047065264962e-18, 2), '2e−18');
  assert.equal(formatNumber(-7.29234480996942e-9, 3), `${MINUS}7.29e${MINUS}9`);
  assert.equal(formatNumber(1234567, 4), '1.235e6');
  assert.equal(formatNumber(9.99996, 4), '10');
  assert.equal(formatNumber(2, 4), '2');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(Number.NaN), '—');
  assert.equal(formatNumber(-Infinity), `${MINUS}∞`);
  assert.equal(formatPower(1.5e-7), `1.5×10⁻⁷`);
  assert.equal(formatPower(250), '250');
});

test('formatPm: the error to two significant digits and the value to the same place', () => {
  assert.equal(formatPm(199.52008698803814, 15.709286498488888), '200 ± 16');
  assert.equal(formatPm(11.100508475341773, 3.420012613953225), '11.1 ± 3.4');
  assert.equal(formatPm(78.20491125593429, 9.238356965087803), '78.2 ± 9.2');
  assert.equal(formatPm(-0.204581528417766, 0.1428866280123976), `${MINUS}0.205 ± 0.14`, 'three significant digits of a value smaller than its error');
  assert.equal(formatPm(0.0012, 0.5), '0.0012 ± 0.50');
  assert.equal(formatPm(0.0527, 0.0001), '0.05270 ± 0.00010');
  assert.equal(formatPm(5, null), '5');
  assert.equal(formatPm(5, 0), '5 ± 0');
  assert.equal(formatPm(3e-9, 1e-10), `3e${MINUS}9 ± 1e${MINUS}10`);
  assert.equal(formatPm(null, 1), '—');
});

test('formatDuration, formatCount, formatShape, parseShown', () => {
  assert.equal(formatDuration(0.43), '0.4 s');
  assert.equal(formatDuration(12.4), '12 s');
  assert.equal(formatDuration(185), '3 min 05 s');
  assert.equal(formatDuration(3725), '1 h 02 min');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatCount(1001000), '1\u2009001\u2009000');
  assert.equal(formatCount(883), '883');
  assert.equal(formatShape([3, 3, 1, 8]), '[3, 3, 1, 8]');
  for (const x of [108.93, -0.015078, 2e-18, -7.29e-9, 1.235e6]) assert.equal(parseShown(formatNumber(x, 5)), Number(formatNumber(x, 5).replace(/\u2212/g, '-')));
  assert.equal(parseShown(`${MINUS}0.205 ± 0.14`), -0.205);
});

// ---- heatmap pixels ---------------------------------------------------------------------------------

test('planHeatmap: cells of at least 2 px, about 600 px across, one canvas pixel per cell past the budget', () => {
  const bias = planHeatmap([8]);
  assert.deepEqual([bias.rows, bias.cols, bias.cell, bias.px, bias.cssWidth, bias.cssHeight], [1, 8, 28, 28, 224, 28]);
  const conv = planHeatmap([3, 3, 1, 8]);
  assert.deepEqual([conv.rows, conv.cols, conv.cell], [3, 31, 19]);
  assert.ok(conv.cssWidth <= 600);
  const big = planHeatmap([1000, 1000]);
  assert.deepEqual([big.cell, big.px, big.canvasWidth, big.bin], [2, 2, 2000, 1]);
  assert.ok(big.canvasWidth * big.canvasHeight <= MAX_PIXELS);
  const huge = planHeatmap([3000, 3000]);
  assert.deepEqual([huge.cell, huge.px, huge.canvasWidth, huge.cssWidth], [2, 1, 3000, 6000]);
  const tall = planHeatmap([30000, 16]);
  assert.equal(tall.bin, 8);
  assert.deepEqual([tall.rows, tall.cols], [3750, 2]);
  const scalar = planHeatmap([]);
  assert.deepEqual([scalar.rows, scalar.cols], [1, 1]);
});

test('paintHeatmap: significant entries in their diverging() colour, gaps transparent, the rest faded and hatched', () => {
  const shape = [2, 2, 1, 2]; // in 1, out 2: two 2×2 tiles side by side with a gap column
  const grid = layoutTensor(shape);
  const plan = planHeatmap(shape, grid);
  const n = 8;
  const values = Float32Array.from({ length: n }, (_, i) => i - 3); // −3 … 4
  const stderr = new Float32Array(n).fill(0.1);
  stderr[grid.index[0]] = 10; // cell (0, 0) not significant
  const reps = representatives(plan, values);
  const bytes = paintHeatmap(plan, reps, { values, stderr, scale: 'linear', maxAbs: 4 });
  assert.equal(bytes.length, plan.canvasWidth * plan.canvasHeight * 4);
  const at = (r: number, c: number, dx = 0, dy = 0) => pixel(bytes, plan.canvasWidth, c * plan.px + dx, r * plan.px + dy);
  // A significant cell: exactly diverging(normalise(v)).
  for (const [r, c] of [
    [0, 1],
    [1, 0],
    [1, 4],
  ]) {
    const v = values[grid.index[r * grid.cols + c]];
    const want = diverging(Math.round(((normalise(v, 4, 'linear') + 1) / 2) * 1024) / 512 - 1);
    assert.deepEqual(at(r, c).slice(0, 3), want, `cell (${r}, ${c}) = ${v}`);
    assert.equal(at(r, c)[3], 255);
  }
  // The gap column between the tiles is transparent.
  assert.equal(grid.index[2], -1);
  assert.deepEqual(at(0, 2), [0, 0, 0, 0]);
  // The insignificant cell mixes faded colour and hatch lines.
  const colours = new Set<string>();
  for (let dy = 0; dy < plan.px; dy++) for (let dx = 0; dx < plan.px; dx++) colours.add(at(0, 0, dx, dy).join());
  assert.equal(colours.size, 2, 'two colours: faded and hatch');
  assert.ok(colours.has([...hatchColour(), 255].join()));
  const v00 = values[grid.index[0]];
  const li = colourIndexer(4, 'linear')(v00);
  assert.ok(colours.has([...fade(diverging(li / 512 - 1)), 255].join()));
  // On a dark background the faded colour is darker than on a light one.
  const dark: Rgb = [31, 31, 31];
  const darkBytes = paintHeatmap(plan, reps, { values, stderr, scale: 'linear', maxAbs: 4, background: dark });
  const lum = (p: number[]) => p[0] + p[1] + p[2];
  const fadedLight = [...colours].map((s) => s.split(',').map(Number)).find((p) => p.join() !== [...hatchColour(), 255].join()) as number[];
  const darkPixels = new Set<string>();
  for (let dy = 0; dy < plan.px; dy++) for (let dx = 0; dx < plan.px; dx++) darkPixels.add(pixel(darkBytes, plan.canvasWidth, dx, dy).join());
  assert.ok([...darkPixels].every((s) => lum(s.split(',').map(Number)) < lum(fadedLight)));
});

test('paintHeatmap: exact tensors are never hatched; one pixel per cell draws a checkerboard; NaN is marked', () => {
  const shape = [2000, 2100];
  const plan = planHeatmap(shape);
  assert.equal(plan.px, 1);
  const values = new Float32Array(2000 * 2100).fill(0.5);
  values[0] = Number.NaN;
  const stderr = new Float32Array(values.length).fill(1); // every entry insignificant
  const reps = representatives(plan, values);
  const hatched = paintHeatmap(plan, reps, { values, stderr, scale: 'linear', maxAbs: 1 });
  assert.notDeepEqual(pixel(hatched, plan.canvasWidth, 1, 1), pixel(hatched, plan.canvasWidth, 2, 1), 'checkerboard');
  assert.deepEqual(pixel(hatched, plan.canvasWidth, 1, 1), pixel(hatched, plan.canvasWidth, 2, 2));
  assert.deepEqual(pixel(hatched, plan.canvasWidth, 0, 0), [...hatchColour(), 255], 'NaN drawn in the hatch colour');
  const exact = paintHeatmap(plan, reps, { values, stderr: null, scale: 'linear', maxAbs: 1 });
  assert.deepEqual(pixel(exact, plan.canvasWidth, 1, 1), pixel(exact, plan.canvasWidth, 2, 1));
  assert.deepEqual(pixel(exact, plan.canvasWidth, 1, 1).slice(0, 3), diverging(0.5));
  assert.equal(insignificantCount(values, stderr), values.length - 1);
  assert.equal(insignificantCount(values, null), 0);
});

test('colourIndexer: the same colour-table entry as normalise() from heatmapLayout, in both scales', () => {
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  for (const scale of ['linear', 'symlog'] as Scale[])
    for (const maxAbs of [1e-9, 0.37, 5.39, 3e4]) {
      const index = colourIndexer(maxAbs, scale);
      for (let i = 0; i < 2000; i++) {
        const v = rnd() * maxAbs * (i % 7 === 0 ? 3 : 1) * (i % 5 === 0 ? 1e-4 : 1);
        assert.equal(index(v), Math.round(((normalise(v, maxAbs, scale) + 1) / 2) * 1024), `${scale} ${maxAbs} ${v}`);
      }
    }
  assert.equal(colourIndexer(0, 'linear')(5), 512);
});

test('cellAt: the entry under the mouse, null over gaps and outside; binned cells report their block', () => {
  const shape = [3, 3, 2, 4];
  const grid = layoutTensor(shape);
  const plan = planHeatmap(shape, grid);
  const values = Float32Array.from({ length: 72 }, (_, i) => i);
  const reps = representatives(plan, values);
  // Centre of grid cell (r, c) as fractions.
  const centre = (r: number, c: number) => cellAt(plan, reps, (c + 0.5) / plan.cols, (r + 0.5) / plan.rows);
  const hit = centre(5, 6); // tile in 1, out 1, kh 1, kw 2
  assert.ok(hit);
  assert.equal(hit.index, grid.index[5 * grid.cols + 6]);
  assert.equal(grid.describe(hit.row, hit.col), '[1, 2, 1, 1] (kh 1, kw 2, in 1, out 1)');
  assert.equal(centre(3, 0), null, 'gap row');
  assert.equal(cellAt(plan, reps, 1, 0.5), null);
  assert.equal(cellAt(plan, reps, -0.01, 0.5), null);
  // Binned: the block's largest-magnitude entry.
  const tall = [9000, 3];
  const tplan = planHeatmap(tall);
  assert.equal(tplan.bin, 3);
  const tv = new Float32Array(27000);
  tv[4 * 3 + 1] = -9; // row 4, col 1: in display cell (1, 0)
  tv[5 * 3 + 2] = 2;
  const treps = representatives(tplan, tv);
  const b = cellAt(tplan, treps, 0.1, 1.5 / tplan.rows);
  assert.ok(b);
  assert.deepEqual([b.row, b.col, b.index], [4, 1, 13]);
  assert.deepEqual([b.rowRange, b.colRange], [
    [3, 5],
    [0, 2],
  ]);
});

test('parseRgb, pack, fade, hatchColour', () => {
  assert.deepEqual(parseRgb('rgb(31, 31, 31)'), [31, 31, 31]);
  assert.deepEqual(parseRgb('rgba(255, 0, 10, 0.5)'), [255, 0, 10]);
  assert.equal(parseRgb('rgba(0, 0, 0, 0)'), null, 'transparent');
  assert.deepEqual(parseRgb('#1f1f1f'), [31, 31, 31]);
  assert.deepEqual(parseRgb('#fff'), [255, 255, 255]);
  assert.equal(parseRgb('var(--x)'), null);
  const bytes = new Uint8Array(new Uint32Array([pack(1, 2, 3, 4)]).buffer);
  assert.deepEqual([...bytes], [1, 2, 3, 4]);
  assert.deepEqual(fade([247, 247, 247], [255, 255, 255]), [251, 251, 251]);
  assert.ok(hatchColour([255, 255, 255])[0] < 200 && hatchColour([30, 30, 30])[0] > 80);
});

test('layoutHint: how each shape is laid out', () => {
  assert.match(layoutHint([3, 3, 8, 16]), /in \(8\) × kh.*out \(16\) × kw.*3×3 tile/);
  assert.equal(layoutHint([72, 3]), 'rows: in (72), columns: out (3)');
  assert.equal(layoutHint([8]), 'one cell per entry');
  assert.equal(layoutHint([2, 3, 4]), 'rows: 2 × 3, columns: 4');
});

// ---- summary ----------------------------------------------------------------------------------------

test('summaryRows: every number the summary shows, with its full-precision value', () => {
  const r = result();
  const rows = new Map(summaryRows(r).map((x) => [x.key, x]));
  assert.deepEqual([...rows.keys()], ['model', 'loss', 'gradientNorm', 'hessianGradientNorm', 'gradientCurvature', 'trace', 'lambdaMax', 'lambdaMin', 'backend', 'data', 'seed', 'timing']);
  assert.equal(rows.get('loss')?.raw, r.loss.value);
  assert.match(rows.get('loss')?.detail ?? '', /sparse categorical cross-entropy \(from logits\): recorded/);
  assert.equal(rows.get('trace')?.value, '200 ± 16');
  assert.equal(rows.get('trace')?.raw, r.global.trace.value);
  assert.match(rows.get('trace')?.detail ?? '', /Hutchinson, 100 probes/);
  assert.equal(rows.get('lambdaMin')?.raw, r.global.eigenvalues.bottom[0].value);
  assert.match(rows.get('lambdaMin')?.detail ?? '', /Ritz residual 8\.8e−7 · converged/);
  assert.deepEqual(rows.get('backend')?.list, r.backendNotes);
  assert.equal(rows.get('gradientCurvature')?.raw, r.global.gradientCurvature);
  const exact = result({ trace: { value: 12.5, stderr: null, method: 'exact', matvecs: 883, samples: null } });
  const t = summaryRows(exact).find((x) => x.key === 'trace');
  assert.equal(t?.value, '12.5 (exact)');
  assert.equal(t?.detail, 'exact');
});

test('eigenRows: top (largest first) then bottom (smallest first)', () => {
  const rows = eigenRows({ top: [ritz(3), ritz(2)], bottom: [ritz(-1, 0.5, false)], method: 'lanczos', iterations: 3 });
  assert.deepEqual(
    rows.map((r) => [r.which, r.rank, r.value, r.converged]),
    [
      ['top', 1, 3, true],
      ['top', 2, 2, true],
      ['bottom', 1, -1, false],
    ],
  );
});

test('curvatureNotes: not convex (and which blocks), significance, the stable learning rate', () => {
  const r = result();
  const tensors: TensorArrays[] = [{ layer: 'dense', name: 'dense/kernel', shape: [2, 2], values: Float32Array.from([1, 0.1, -2, 0]), stderr: Float32Array.from([0.1, 0.1, 0.1, 0.1]) }];
  const notes = curvatureNotes(r, tensors);
  const by = new Map(notes.map((n) => [n.key, n]));
  const nc = by.get('nonconvex');
  assert.ok(nc);
  assert.equal(nc.tone, 'warning');
  assert.match(nc.text, /λ_min = −0\.01508 < 0: the loss is not convex here/);
  assert.match(nc.text, /Layer blocks with negative λ_min: dense \(−7\.29e−9, within its residual of 0\)/);
  assert.ok(!nc.text.includes('conv2d'));
  assert.equal(by.get('significance')?.text, 'Diagonal entries with |value| < 2·stderr are not significant (hatched): 2 of 4.');
  const lr = by.get('learningRate')?.text ?? '';
  assert.match(lr, /below 2\/\(gᵀHg\/gᵀg\) = 0\.07366/);
  assert.match(lr, /2\/λ_max = 0\.01836/);
  assert.ok(Math.abs(parseShown(lr.split('= ')[1]) - 2 / r.global.gradientCurvature) < 1e-5);
  assert.ok(!by.has('unconverged'));
});

test('curvatureNotes: convex, negative curvature along g, interacting layers, unconverged values', () => {
  const convex = curvatureNotes(result({ eigenvalues: { top: [ritz(5)], bottom: [ritz(0.01)], method: 'lanczos', iterations: 9 } }, [layer('a', 1, null, 0.5, [['a/w', [2]]])]));
  assert.deepEqual(
    convex.map((n) => n.key),
    ['convex', 'learningRate'],
  );
  const down = curvatureNotes(result({ gradientCurvature: -3 }, [layer('a', 1, 0.1, 0.5, [['a/w', [2]]])]));
  const keys = down.map((n) => n.key);
  assert.ok(keys.includes('ascent') && !keys.includes('learningRate'));
  assert.match(down.find((n) => n.key === 'nonconvex')?.text ?? '', /No single layer block has a negative λ_min: the negative curvature comes from how layers interact/);
  assert.match(down.find((n) => n.key === 'significance')?.text ?? '', /not significant \(hatched\)\.$/);
  const unc = curvatureNotes(result({ eigenvalues: { top: [ritz(5, 1, false)], bottom: [ritz(-1, 1e-3, false)], method: 'lanczos', iterations: 9 } }));
  assert.match(unc.find((n) => n.key === 'unconverged')?.text ?? '', /^2 Ritz values have not converged/);
});

// ---- status -----------------------------------------------------------------------------------------

test('statusLine: phase, done/total, time left and the running trace while running; outcomes after', () => {
  const p = { phase: 'diagonal' as const, message: 'Hutchinson probes', done: 34, total: 100, eta: 12.4, running: { trace: 201.2, stderr: 27.1 } };
  assert.equal(progressText(p), 'Diagonal: Hutchinson probes · 34/100 · about 12 s left · trace ≈ 201 ± 27');
  assert.deepEqual(statusLine(state({ status: 'running', progress: p })), { text: progressText(p), tone: 'running' });
  assert.equal(statusLine(state({ status: 'running' })).text, 'Starting…');
  assert.equal(statusLine(state({ result: result() })).text, 'Done in 52 s · 430 Hessian-vector products on wasm');
  assert.equal(statusLine(state({ status: 'cancelled' })).text, 'Cancelled');
  assert.equal(statusLine(state({ status: 'error', error: { kind: 'input', message: 'x' } })).text, 'Failed (problem with the input files)');
  assert.equal(phaseFraction(p), 0.34);
  assert.equal(phaseFraction({ ...p, done: 0, total: 1 }), null, 'one-step phases are indeterminate');
  assert.deepEqual(
    phaseSteps('diagonal').map((s) => s.step),
    ['done', 'done', 'done', 'active', 'pending', 'pending'],
  );
  assert.ok(phaseSteps('done').every((s) => s.step === 'done'));
  assert.ok(phaseSteps(null).every((s) => s.step === 'pending'));
});

// ---- persistence ------------------------------------------------------------------------------------

test('encodeF32/decodeF32: exact round trip through base64, NaN and −0 included', () => {
  const a = Float32Array.from([0, -0, 1.5, -3.25e-30, 3.4e38, Number.NaN, Number.POSITIVE_INFINITY, 0.1]);
  const b = decodeF32(encodeF32(a));
  assert.equal(b.length, a.length);
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `entry ${i}`);
  const sub = new Float32Array(a.buffer, 8, 3);
  assert.deepEqual([...decodeF32(encodeF32(sub))], [...sub]);
  assert.equal(decodeF32(encodeF32(new Float32Array(0))).length, 0);
  const big = Float32Array.from({ length: 100_003 }, (_, i) => Math.sin(i));
  assert.deepEqual(decodeF32(encodeF32(big)), big);
});

test('toSaved/fromSaved: survives JSON (as VS Code keeps webview state); runs in progress come back idle', () => {
  const tensors: TensorArrays[] = [
    { layer: 'conv', name: 'conv/kernel', shape: [2, 2], values: Float32Array.from([1, -2, 3.5, Number.NaN]), stderr: Float32Array.from([0.1, 0.2, 0.3, 0.4]) },
    { layer: 'conv', name: 'conv/bias', shape: [2], values: Float32Array.from([7, 8]), stderr: null },
  ];
  const s = state({ result: result(), tensors, convergence: running(3), focusLayer: 'conv', stale: true });
  const back = fromSaved(JSON.parse(JSON.stringify(toSaved(s, 'symlog'))));
  assert.ok(back);
  assert.equal(back.scale, 'symlog');
  assert.equal(back.tensorsOmitted, false);
  assert.deepEqual(back.state.result, s.result);
  assert.deepEqual(back.state.convergence, s.convergence);
  assert.equal(back.state.stale, true);
  assert.equal(back.state.focusLayer, null, 'a restored panel does not jump to a layer');
  assert.ok(back.state.tensors[0].values instanceof Float32Array);
  assert.ok(Number.isNaN(back.state.tensors[0].values[3]));
  assert.deepEqual([...back.state.tensors[0].stderr!], [...tensors[0].stderr!]);
  assert.equal(back.state.tensors[1].stderr, null);
  const run = fromSaved(JSON.parse(JSON.stringify(toSaved(state({ status: 'running', progress: { phase: 'load', message: '', done: 0, total: 1, eta: null } }), 'linear'))));
  assert.equal(run?.state.status, 'idle');
  assert.equal(run?.state.progress, null);
  for (const junk of [undefined, null, 42, 'x', {}, { v: 2, state: {} }, { v: 1, state: { tensors: [{ values: '!!!' }] } }]) assert.equal(fromSaved(junk), null, JSON.stringify(junk));
});

test('encodeTensors: leaves the tensors out past the budget (values and stderrs counted)', () => {
  const t: TensorArrays = { layer: 'l', name: 'w', shape: [600], values: new Float32Array(600), stderr: new Float32Array(600) };
  assert.equal(encodeTensors([t], 1200).omitted, false);
  const over = encodeTensors([t], 1199);
  assert.deepEqual([over.omitted, over.tensors.length], [true, 0]);
  const saved = toSaved(state({ tensors: [t] }), 'linear', over);
  assert.equal(saved.tensorsOmitted, true);
  assert.equal(fromSaved(JSON.parse(JSON.stringify(saved)))?.tensorsOmitted, true);
});

test('normaliseTensors and tensorsKey: plain arrays become Float32Array; the key follows the bytes', () => {
  const plain = normaliseTensors([{ layer: 'l', name: 'w', shape: [3], values: [1, 2, null] as unknown as Float32Array, stderr: { 0: 1, 1: 2, 2: 3 } as unknown as Float32Array }]);
  assert.ok(plain[0].values instanceof Float32Array && plain[0].stderr instanceof Float32Array);
  assert.ok(Number.isNaN(plain[0].values[2]));
  const mk = (x: number): TensorArrays[] => [{ layer: 'l', name: 'w', shape: [3], values: Float32Array.from([1, 2, x]), stderr: null }];
  assert.equal(tensorsKey(mk(3)), tensorsKey(mk(3)));
  assert.notEqual(tensorsKey(mk(3)), tensorsKey(mk(3.0001)));
  assert.notEqual(tensorsKey(mk(3)), tensorsKey([{ ...mk(3)[0], name: 'v' }]));
  assert.equal(tensorsKey([]), tensorsKey([]));
});

test('densityChart: log density through every grid point, the extreme eigenvalues marked, λ = 0 drawn; no density → message', () => {
  const grid = Array.from({ length: 101 }, (_, i) => -1 + 0.11 * i);
  const values = grid.map((x) => Math.exp(-((x - 0.2) ** 2) / 0.01) + 1e-12);
  const d = { runs: 2, steps: 10, nodes: [[0.2]], weights: [[1]], grid, values, sigma: 0.07, matvecs: 20 };
  const svg = densityChart(d, { top: [10, 9], bottom: [EVIL as unknown as number, -0.9] }, { width: 500, height: 200 });
  assertWellFormed(svg);
  assert.equal(count(svg, /class="mark top"/g), 2);
  assert.equal(count(svg, /class="mark bottom"/g), 1, 'non-finite marks are skipped');
  assert.equal(count(svg, /class="zero"/g), 1);
  const path = svg.match(/<path class="line" d="([^"]+)"/)![1];
  assert.equal(count(path, /[ML]/g), grid.length);
  // The floor: 1e-12 is drawn at the bottom (6 decades below the peak's decade), not below the axis.
  const ys = [...path.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
  assert.ok(Math.max(...ys) <= 200 - 38 + 1e-9, `${Math.max(...ys)}`);
  assert.match(densityChart({ ...d, values: grid.map(() => 0) }, { top: [], bottom: [] }), /No density to show/);
});
