/**
 * The panel's Checkpoints section, pure parts: checkpoint labels, the series over training, the line
 * chart (well-formed SVG, points where the numbers put them, whiskers, escaped labels) and the diagonal
 * difference between two checkpoints; the folder search (findCheckpoints) on real folders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckpointRow, TensorArrays } from '../extension/protocol.js';
import { checkpointChart, checkpointLabels, checkpointSeries, diagonalDiff } from '../webview/checkpoints.js';
import { findCheckpoints } from '../extension/host/checkpointFiles.js';
import { toSaved } from '../webview/persist.js';
import { assertWellFormed } from './helpers.js';

const EVIL = '<img src=x onerror=alert(1)>';


const row = (path: string, top: number | null, trace: number, se: number | null, bottom: number | null, share: number | null): CheckpointRow => ({
  path,
  topEigenvalue: top,
  bottomEigenvalue: bottom,
  trace: { value: trace, stderr: se },
  diagonalShare: share == null ? null : { value: share, stderr: 0.01 },
});

test('checkpointLabels: what tells the paths apart', () => {
  assert.deepEqual(checkpointLabels(['/r/run/epoch-1/model.json', '/r/run/epoch-2/model.json', '/r/run/epoch-10/model.json']), ['epoch-1', 'epoch-2', 'epoch-10']);
  assert.deepEqual(checkpointLabels(['/r/a.keras', '/r/b.keras']), ['a.keras', 'b.keras']);
  assert.deepEqual(checkpointLabels(['/r/s/1/x/model.json', '/r/s/2/y/model.json']), ['1/x', '2/y']);
  assert.deepEqual(checkpointLabels(['/r/run/epoch-1/model.json']), ['epoch-1/model.json']);
  assert.deepEqual(checkpointLabels([]), []);
});

test('checkpointSeries: one point per finite value, at its checkpoint index, stderr only when positive', () => {
  const rows = [row('a', 3, 10, 1, -1, 0.5), row('b', null, 12, 0, null, null), row('c', 5, Number.NaN, null, -2, 0.25)];
  assert.deepEqual(checkpointSeries(rows, 'topEigenvalue'), [
    { index: 0, value: 3, stderr: null },
    { index: 2, value: 5, stderr: null },
  ]);
  assert.deepEqual(checkpointSeries(rows, 'trace'), [
    { index: 0, value: 10, stderr: 1 },
    { index: 1, value: 12, stderr: null },
  ]);
  assert.deepEqual(checkpointSeries(rows, 'bottomEigenvalue').map((p) => p.index), [0, 2]);
  assert.deepEqual(checkpointSeries(rows, 'diagonalShare'), [
    { index: 0, value: 0.5, stderr: 0.01 },
    { index: 2, value: 0.25, stderr: 0.01 },
  ]);
});

/** The circles' centres and the line's vertices. */
function geometry(svg: string) {
  const circles = [...svg.matchAll(/<circle class="point" data-index="(\d+)" cx="([-\d.]+)" cy="([-\d.]+)"/g)].map((m) => ({ index: +m[1], x: +m[2], y: +m[3] }));
  const d = /<path class="line" d="([^"]*)"/.exec(svg)?.[1] ?? '';
  const line = [...d.matchAll(/[ML]([-\d.]+) ([-\d.]+)/g)].map((m) => ({ x: +m[1], y: +m[2] }));
  return { circles, line };
}

test('checkpointChart: well-formed, one point per value at evenly spaced checkpoints, y linear in the value, whiskers for stderr', () => {
  const labels = ['epoch-1', 'epoch-2', 'epoch-10', 'epoch-20'];
  const pts = [
    { index: 0, value: 2, stderr: 0.5 },
    { index: 1, value: 4, stderr: null },
    { index: 3, value: 10, stderr: 1 },
  ];
  const svg = checkpointChart(pts, labels, { width: 400, height: 200, title: 'Trace' });
  assertWellFormed(svg);
  const { circles, line } = geometry(svg);
  assert.deepEqual(circles.map((c) => c.index), [0, 1, 3]);
  assert.deepEqual(line, circles.map(({ x, y }) => ({ x, y })), 'the line joins the points in order');
  // x: checkpoint i at left + i·step, the last checkpoint at the right edge less half its label (400 − ⌈8·6.6/2⌉ − 2).
  const step = circles[1].x - circles[0].x;
  assert.ok(step > 0);
  assert.ok(Math.abs(circles[2].x - (circles[0].x + 3 * step)) < 0.02);
  assert.ok(Math.abs(circles[2].x - (400 - 29)) < 0.02, `last x ${circles[2].x}`);
  // y: a larger value is higher, and linear: (y1 − y0)/(4 − 2) = (y2 − y0)/(10 − 2).
  assert.ok(circles[2].y < circles[1].y && circles[1].y < circles[0].y);
  assert.ok(Math.abs((circles[1].y - circles[0].y) / 2 - (circles[2].y - circles[0].y) / 8) < 0.02);
  assert.equal((svg.match(/class="whisker"/g) ?? []).length, 2);
  assert.match(svg, /<title>epoch-20: 10\.0 ± 1\.0<\/title>/);
  for (const l of ['epoch-1', 'epoch-2', 'epoch-20']) assert.ok(svg.includes(`>${l}</text>`), `x tick ${l}`);
});

test('checkpointChart: one point, no points, and labels are escaped', () => {
  const one = checkpointChart([{ index: 0, value: 1, stderr: null }], [EVIL], { title: EVIL });
  assertWellFormed(one);
  assert.ok(!one.includes('<img'), 'label escaped');
  assert.ok(one.includes('&lt;img'));
  assert.doesNotMatch(one, /class="line"/);
  assert.equal(geometry(one).circles.length, 1);
  const none = checkpointChart([], ['a', 'b'], { title: 'λ_min' });
  assertWellFormed(none);
  assert.match(none, /Not computed for these checkpoints/);
});

const arrays = (layer: string, name: string, shape: number[], values: number[], stderr: number[] | null = null): TensorArrays => ({
  layer,
  name,
  shape,
  values: Float32Array.from(values),
  stderr: stderr ? Float32Array.from(stderr) : null,
});

test('diagonalDiff: B − A per tensor, stderr √(a² + b²), stats, and tensors that do not match are skipped', () => {
  const a = [arrays('d', 'd/kernel', [2, 2], [1, 2, 3, 4], [0.3, 0, 0, 0]), arrays('d', 'd/bias', [2], [0, 0]), arrays('e', 'e/kernel', [1], [5])];
  const b = [arrays('d', 'd/kernel', [2, 2], [1.5, 0, 3, 10], [0.4, 0, 0, 1]), arrays('d', 'd/bias', [3], [0, 0, 0]), arrays('f', 'f/kernel', [1], [5])];
  const { tensors, skipped } = diagonalDiff(a, b);
  assert.equal(tensors.length, 1);
  const t = tensors[0];
  assert.deepEqual(Array.from(t.arrays.values), [0.5, -2, 0, 6]);
  assert.deepEqual(Array.from(t.arrays.stderr!), [Math.fround(0.5), 0, 0, 1]);
  assert.deepEqual(t.tensor.diagonal, { method: 'hutchinson', samples: null, min: -2, max: 6, mean: 1.125 });
  assert.deepEqual(t.tensor.shape, [2, 2]);
  assert.deepEqual(skipped.sort(), ['d/bias', 'e/kernel', 'f/kernel']);
  // Exact on both sides: no stderr, so nothing is hatched.
  const exact = diagonalDiff([arrays('d', 'w', [2], [1, 1])], [arrays('d', 'w', [2], [3, -1])]);
  assert.equal(exact.tensors[0].arrays.stderr, null);
  assert.equal(exact.tensors[0].tensor.diagonal.method, 'exact');
  assert.deepEqual(Array.from(exact.tensors[0].arrays.values), [2, -2]);
});

test('findCheckpoints: model files one level down or side by side, the most numerous kind, natural order', () => {
  const root = mkdtempSync(join(tmpdir(), 'cl-find-ckpt-'));
  for (const k of [10, 2, 1]) {
    mkdirSync(join(root, `epoch-${k}`));
    writeFileSync(join(root, `epoch-${k}`, 'model.json'), '{}');
  }
  mkdirSync(join(root, 'best'));
  writeFileSync(join(root, 'best', 'model.onnx'), '');
  writeFileSync(join(root, 'notes.json'), '{}');
  mkdirSync(join(root, '.hidden'));
  writeFileSync(join(root, '.hidden', 'model.json'), '{}');
  assert.deepEqual(findCheckpoints(root), [1, 2, 10].map((k) => join(root, `epoch-${k}`, 'model.json')));
  const flat = mkdtempSync(join(tmpdir(), 'cl-find-ckpt-'));
  for (const f of ['step-100.keras', 'step-20.keras', 'x.weights.h5']) writeFileSync(join(flat, f), '');
  assert.deepEqual(findCheckpoints(flat), ['step-20.keras', 'step-100.keras'].map((f) => join(flat, f)));
  assert.deepEqual(findCheckpoints(mkdtempSync(join(tmpdir(), 'cl-find-ckpt-'))), []);
});

test('toSaved leaves the checkpoints out (typed arrays do not survive JSON; the host sends them again)', () => {
  const saved = toSaved(
    { status: 'done', title: 't', banner: null, progress: null, result: null, tensors: [], convergence: [], error: null, stale: false, focusLayer: null, checkpoints: { rows: [row('a', 1, 1, null, 1, null)], diagonals: [[arrays('d', 'w', [1], [1])]] } },
    'linear',
  );
  assert.equal(saved.state.checkpoints, null);
});

test('Inspect Checkpoints is contributed (palette, Explorer folders), registered, and its panel section exists', async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  assert.ok(pkg.contributes.commands.some((c: { command: string; title: string }) => c.command === 'curvatureLens.inspectCheckpoints' && c.title === 'Inspect Checkpoints'));
  const menu = pkg.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'curvatureLens.inspectCheckpoints');
  assert.equal(menu?.when, 'explorerResourceIsFolder');
  assert.ok(!pkg.contributes.menus.commandPalette.some((m: { command: string }) => m.command === 'curvatureLens.inspectCheckpoints'), 'not hidden from the palette');
  assert.match(readFileSync('extension/host/extension.ts', 'utf8'), /registerCommand\('curvatureLens\.inspectCheckpoints'/);
  const { panelHtml } = await import('../webview/html.js');
  const html = panelHtml({ cspSource: 'x', nonce: 'n', scriptUri: 's', styleUri: 'c', elementsUri: 'e' });
  for (const id of ['checkpoints-block', 'checkpoints-note', 'checkpoints-charts', 'checkpoint-a', 'checkpoint-b', 'checkpoints-diff']) assert.ok(html.includes(`id="${id}"`), id);
});
