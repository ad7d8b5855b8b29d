/**
 * "Export Curvature Report": the Markdown file and its figures beside it (extension/report/*). One real
 * result from the engine on the small CNN fixture, exported into temporary folders: links resolve,
 * heatmaps decode with the panel's layout and colours, SVGs are well-formed and escape hostile names,
 * and a failed export leaves no Markdown file and no temporary files.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { inspect } from '../extension/engine/inspect.js';
import type { InspectResult } from '../extension/protocol.js';
import { assetsDirName, convergenceRecorder, exportReport, safeFileName } from '../extension/report/export.js';
import { markdownReport, mdHref } from '../extension/report/markdown.js';
import { BAR_GAP, BAR_MIN_H, BAR_W, MAX_SIDE, MIN_SIDE, PAD, TICK, heatmapGeometry } from '../extension/report/png.js';
import { escapeXml } from '../extension/report/svg.js';
import { resultJson } from '../extension/cli/output.js';
import { main } from '../extension/cli/main.js';
import { diverging, layoutTensor, maxAbsOf, normalise, significant } from '../webview/heatmapLayout.js';

const MODEL = 'test/fixtures/models/cnn/model.json';
const DATA = 'test/fixtures/models/cnn/data.npz';
const EVIL = '<img src=x onerror=alert(1)>';

let result: InspectResult;
let convergence: ReturnType<typeof convergenceRecorder>['points'];

before(async () => {
  const rec = convergenceRecorder();
  result = await inspect({ modelPath: MODEL, dataPath: DATA, backend: 'wasm', samples: 20, top: 2, bottom: 2, onProgress: rec.onProgress });
  convergence = rec.points;
});

const tmp = (tag: string) => mkdtempSync(join(tmpdir(), `curvature-report-${tag}-`));

/** Every `![alt](href)` in the Markdown, the href decoded. */
function imageLinks(md: string): Array<{ alt: string; href: string; path: string }> {
  return [...md.matchAll(/!\[((?:\\.|[^\]\\])*)\]\(([^)\s]*)\)/g)].map((m) => ({ alt: m[1], href: m[2], path: decodeURIComponent(m[2]) }));
}

function assertLinksResolve(mdPath: string): Array<{ alt: string; href: string; path: string }> {
  const md = readFileSync(mdPath, 'utf8');
  const links = imageLinks(md);
  for (const l of links) {
    assert.doesNotMatch(l.href, /^([a-z]+:|\/)/i, `link ${l.href} is not relative`);
    assert.doesNotMatch(l.href, /[\s()<>]/, `link ${l.href} is not encoded`);
    assert.ok(existsSync(resolve(dirname(mdPath), l.path)), `link ${l.href} points at a missing file`);
  }
  return links;
}

function noTempFiles(dir: string): void {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  assert.deepEqual(walk(dir).filter((f) => /\.tmp$/.test(f)), [], 'temporary files left behind');
}

/** Tags balanced (a small XML-ish check: no stray '<' or '&' in text, every open tag closed in order). */
function assertWellFormedSvg(svg: string): void {
  assert.ok(svg.startsWith('<svg '), 'starts with <svg');
  assert.ok(svg.trimEnd().endsWith('</svg>'), 'ends with </svg>');
  assert.match(svg.slice(0, svg.indexOf('>')), /\swidth="\d+" height="\d+"/, 'explicit width and height');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(amp|lt|gt|quot|apos);)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(svg))) {
    assert.ok(m[2], `stray '${m[0]}' at ${m.index}: ${svg.slice(Math.max(0, m.index - 40), m.index + 40)}`);
    if (m[4]) continue;
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> closes the wrong element`);
    else stack.push(m[2]);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

test('export: the Markdown links only to files that exist, relatively; the files are the ones returned', () => {
  const dir = tmp('links');
  const md = join(dir, 'cnn-curvature.md');
  const out = exportReport(result, md, { convergence, date: new Date('2025-06-01T12:34:00Z') });
  assert.equal(out.files[0], md);
  for (const f of out.files) assert.ok(existsSync(f), `${f} returned but missing`);
  assert.equal(readFileSync(md, 'utf8'), out.markdown);
  const links = assertLinksResolve(md);
  const assets = join(dir, 'cnn-curvature-assets');
  assert.deepEqual(readdirSync(assets).sort(), out.files.slice(1).map((f) => f.slice(assets.length + 1)).sort());
  const tensors = result.layers.flatMap((l) => l.tensors);
  assert.equal(links.filter((l) => l.path.endsWith('.png')).length, tensors.length, 'one heatmap per tensor');
  for (const name of ['traces.svg', 'eigenvalues.svg', 'convergence.svg']) assert.ok(links.some((l) => l.path === `cnn-curvature-assets/${name}`), name);
  assert.ok(links.some((l) => l.alt === 'dense/kernel diagonal' && l.path === 'cnn-curvature-assets/dense__dense_kernel.png'));
  // Header and the existing report's content.
  for (const s of ['# Curvature report: ', 'Model `test/fixtures/models/cnn/model.json`', 'sparse-categorical-cross-entropy', 'Backend: wasm', 'Seed: 0', 'Date: 2025-06-01 12:34 UTC', '## Summary', '## Per layer', '## Eigenvalues with Ritz residuals', '## Diagonal heatmaps', '## Backend self-test'])
    assert.ok(out.markdown.includes(s), `missing: ${s}`);
  noTempFiles(dir);
});

test('export: each heatmap decodes, has the layout × scale size, the panel colours and a colour bar', () => {
  const dir = tmp('png');
  const md = join(dir, 'r.md');
  exportReport(result, md);
  for (const layer of result.layers) {
    for (const t of layer.tensors) {
      const file = join(dir, 'r-assets', `${safeFileName(layer.name)}__${safeFileName(t.name)}.png`);
      const png = PNG.sync.read(readFileSync(file));
      const grid = layoutTensor(t.shape);
      const g = heatmapGeometry(t.shape);
      // Small tensors: square cells of an integer number of pixels, long side in [MIN_SIDE, MAX_SIDE].
      assert.equal(g.bin, 1);
      assert.equal(g.cellW, g.cellH, `${t.name}: square cells`);
      const s = g.cellW;
      assert.ok(Number.isInteger(s) && s >= 1);
      const long = Math.max(grid.rows, grid.cols) * s;
      assert.ok(long >= MIN_SIDE && long <= MAX_SIDE && (long - s) < MIN_SIDE, `${t.name}: long side ${long}`);
      assert.equal(png.width, PAD + grid.cols * s + BAR_GAP + BAR_W + TICK + PAD, `${t.name}: width`);
      assert.equal(png.height, PAD + Math.max(grid.rows * s, BAR_MIN_H) + PAD, `${t.name}: height`);
      const px = (x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4));
      // Same colours as the panel: each significant cell's centre is diverging(normalise(v)).
      const values = t.diagonal.values!;
      const stderr = t.diagonal.stderr ?? null;
      const maxAbs = maxAbsOf(values);
      const colours = new Set<string>();
      let checked = 0;
      for (let r = 0; r < grid.rows; r++) {
        for (let c = 0; c < grid.cols; c++) {
          const centre = px(PAD + c * s + (s >> 1), PAD + r * s + (s >> 1));
          // The cell's main colour (hatched cells have stripes of another).
          const count = new Map<string, number>();
          for (let dy = 0; dy < s - 1; dy++) for (let dx = 0; dx < s - 1; dx++) {
            const k = px(PAD + c * s + dx, PAD + r * s + dy).join(',');
            count.set(k, (count.get(k) ?? 0) + 1);
          }
          colours.add([...count].sort((a, b) => b[1] - a[1])[0][0]);
          const idx = grid.index[r * grid.cols + c];
          if (idx < 0) assert.deepEqual(centre, [255, 255, 255, 255], 'gap between conv tiles');
          else if (significant(values[idx], stderr?.[idx])) {
            assert.deepEqual(centre, [...diverging(normalise(values[idx], maxAbs, 'linear')), 255], `${t.name}[${idx}] colour`);
            checked++;
          }
        }
      }
      assert.ok(colours.size >= 3, `${t.name}: ${colours.size} distinct cell colours`);
      // Not significant cells are hatched: their cell holds more than one colour, unlike significant ones.
      for (let i = 0; i < values.length && stderr; i++) {
        if (significant(values[i], stderr[i])) continue;
        const at = grid.index.indexOf(i);
        const [r, c] = [Math.floor(at / grid.cols), at % grid.cols];
        const inCell = new Set<string>();
        for (let dy = 0; dy < s - 1; dy++) for (let dx = 0; dx < s - 1; dx++) inCell.add(px(PAD + c * s + dx, PAD + r * s + dy).join(','));
        assert.ok(inCell.size >= 2, `${t.name}[${i}] not hatched`);
      }
      // The colour bar: deep red at the top, deep blue at the bottom.
      const barX = PAD + grid.cols * s + BAR_GAP + (BAR_W >> 1);
      const barH = Math.max(grid.rows * s, BAR_MIN_H);
      const barU = (y: number) => 1 - (2 * (y + 0.5)) / barH;
      assert.deepEqual(px(barX, PAD + 1).slice(0, 3), diverging(barU(1)));
      assert.ok(barU(1) > 0.95);
      assert.deepEqual(px(barX, PAD + barH - 2).slice(0, 3), diverging(barU(barH - 2)));
      assert.ok(barU(barH - 2) < -0.95);
      const whole = new Set<string>();
      for (let i = 0; i < png.data.length; i += 4) whole.add(`${png.data[i]},${png.data[i + 1]},${png.data[i + 2]}`);
      assert.ok(whole.size >= 10, `${t.name}: image nearly uniform (${whole.size} colours)`);
      if (t.name === 'conv2d/kernel') assert.ok(checked > 10, 'checked enough significant cells');
    }
  }
});

test('export: SVG charts are well-formed standalone documents with the layer names', () => {
  const dir = tmp('svg');
  const md = join(dir, 'r.md');
  exportReport(result, md, { convergence });
  for (const name of ['traces', 'eigenvalues', 'convergence']) {
    const svg = readFileSync(join(dir, 'r-assets', `${name}.svg`), 'utf8');
    assertWellFormedSvg(svg);
    assert.match(svg, /<rect x="0" y="0" width="\d+" height="\d+" fill="#ffffff"/, `${name}: white background`);
    if (name !== 'convergence') for (const l of result.layers) assert.ok(svg.includes(`>${escapeXml(l.name)}<`), `${name}: layer ${l.name}`);
  }
  const conv = readFileSync(join(dir, 'r-assets', 'convergence.svg'), 'utf8');
  assert.match(conv, /<polygon /, 'stderr band');
  assert.match(conv, /<polyline /, 'running trace');
});

test('export: no convergence chart with fewer than 2 points', () => {
  const dir = tmp('noconv');
  const md = join(dir, 'r.md');
  const out = exportReport(result, md, { convergence: convergence.slice(0, 1) });
  assert.ok(!existsSync(join(dir, 'r-assets', 'convergence.svg')));
  assert.ok(!out.markdown.includes('convergence.svg'));
  assertLinksResolve(md);
});

test('export: a hostile layer name is escaped in the SVGs and the Markdown, and keeps the tables intact', () => {
  const evil: InspectResult = structuredClone(result);
  evil.layers[0].name = EVIL;
  evil.layers[1].name = 'pipe | and `tick` and ](x) and \\';
  evil.layers[1].tensors[0].name = `${EVIL}/kernel`;
  evil.model.name = '<script>alert(1)</script>';
  const dir = tmp('evil');
  const md = join(dir, 'r.md');
  const out = exportReport(evil, md, { convergence });
  for (const name of ['traces', 'eigenvalues', 'convergence']) {
    const svg = readFileSync(join(dir, 'r-assets', `${name}.svg`), 'utf8');
    assertWellFormedSvg(svg);
    assert.ok(!svg.includes('<img') && !svg.includes('<script'), `${name}: raw HTML`);
    if (name !== 'convergence') {
      assert.ok(svg.includes('&lt;img src=x onerror=alert(1)&gt;'), `${name}: escaped name`);
      assert.ok(svg.includes('pipe | and `tick` and ](x) and \\'), `${name}: second name`);
    }
  }
  assert.ok(!out.markdown.includes('<img') && !out.markdown.includes('<script'), 'raw HTML in the Markdown');
  // Every table row has as many cells as its header.
  const cells = (line: string) => line.split(/(?<!\\)\|/).length;
  let tables = 0;
  const lines = out.markdown.split('\n');
  for (let i = 1; i < lines.length; i++) {
    if (!/^\|(---\|)+$/.test(lines[i])) continue;
    tables++;
    const want = cells(lines[i - 1]);
    for (let j = i + 1; j < lines.length && lines[j].startsWith('|'); j++) assert.equal(cells(lines[j]), want, `row broken: ${lines[j]}`);
  }
  assert.ok(tables >= 3);
  assert.ok(out.markdown.includes('| &lt;img src=x onerror=alert(1)&gt; | Conv2D |'), 'layer row');
  assert.ok(out.markdown.includes('| pipe \\| and \\`tick\\` and \\](x) and \\\\ | Conv2D |'), 'second layer row');
  assert.ok(out.markdown.startsWith('# Curvature report: &lt;script&gt;alert(1)&lt;/script&gt;\n'));
  const links = assertLinksResolve(md);
  assert.ok(links.some((l) => l.path === 'r-assets/_img_src_x_onerror_alert_1___conv2d_kernel.png'), 'sanitised file name');
  for (const l of links) assert.match(l.path.split('/')[1], /^[A-Za-z0-9._-]+$/);
});

test('export: paths with spaces and parentheses are percent-encoded in the links', () => {
  const dir = join(tmp('space'), 'my reports');
  const md = join(dir, 'cnn (run 2).md');
  exportReport(result, md);
  assert.equal(assetsDirName(md), 'cnn (run 2)-assets');
  const links = assertLinksResolve(md);
  assert.ok(links.length > 0 && links.every((l) => l.href.startsWith('cnn%20%28run%202%29-assets/')), links[0]?.href);
  assert.equal(mdHref('a b/c(d).png'), 'a%20b/c%28d%29.png');
});

test('export: a failure midway leaves no Markdown file and no temporary files', () => {
  // The assets folder's name is taken by a file: nothing can be written there.
  const dir = tmp('fail');
  const md = join(dir, 'r.md');
  writeFileSync(join(dir, 'r-assets'), 'not a folder');
  assert.throws(() => exportReport(result, md, { convergence }));
  assert.ok(!existsSync(md), 'Markdown written');
  assert.deepEqual(readdirSync(dir), ['r-assets']);
  // One figure's name is taken by a folder: all temporary files are written, a rename fails.
  const dir2 = tmp('fail2');
  const md2 = join(dir2, 'r.md');
  mkdirSync(join(dir2, 'r-assets', 'traces.svg'), { recursive: true });
  writeFileSync(join(dir2, 'r-assets', 'traces.svg', 'keep'), '');
  assert.throws(() => exportReport(result, md2, { convergence }));
  assert.ok(!existsSync(md2), 'Markdown written');
  noTempFiles(dir2);
  // An existing report is replaced whole or not at all.
  const dir3 = tmp('fail3');
  const md3 = join(dir3, 'r.md');
  writeFileSync(md3, 'old report');
  writeFileSync(join(dir3, 'r-assets'), 'not a folder');
  assert.throws(() => exportReport(result, md3));
  assert.equal(readFileSync(md3, 'utf8'), 'old report');
  noTempFiles(dir3);
});

test('export: tensors stored in .f32 files are drawn from valuesDir or opts.arrays, else noted', () => {
  const dir = tmp('f32');
  const jsonPath = join(dir, 'result.json');
  writeFileSync(jsonPath, resultJson(result, jsonPath, 50)); // tensors above 50 entries go to .f32 files
  const saved: InspectResult = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const stored = saved.layers.flatMap((l) => l.tensors).filter((t) => t.diagonal.valuesFile);
  assert.ok(stored.length >= 2, 'some tensors are in files');
  const pngs = (d: string) => readdirSync(join(d, 'r-assets')).filter((f) => f.endsWith('.png'));
  const all = result.layers.flatMap((l) => l.tensors).length;

  const without = join(dir, 'without');
  const a = exportReport(saved, join(without, 'r.md'));
  assert.equal(pngs(without).length, all - stored.length);
  for (const t of stored) assert.ok(a.markdown.includes(`No heatmap: the diagonal is stored in \`${t.diagonal.valuesFile}\``), t.name);
  assertLinksResolve(join(without, 'r.md'));

  const fromDir = join(dir, 'from-dir');
  exportReport(saved, join(fromDir, 'r.md'), { valuesDir: dir });
  assert.equal(pngs(fromDir).length, all);

  const fromArrays = join(dir, 'from-arrays');
  const arrays = new Map(result.layers.flatMap((l) => l.tensors).map((t) => [t.name, { values: Float32Array.from(t.diagonal.values!), stderr: t.diagonal.stderr ? Float32Array.from(t.diagonal.stderr) : null }]));
  exportReport(saved, join(fromArrays, 'r.md'), { arrays });
  assert.equal(pngs(fromArrays).length, all);
  // The .f32 files hold the same float32 numbers as the arrays: the same picture.
  const name = pngs(fromDir).find((f) => f.includes('conv2d_1_kernel'))!;
  assert.ok(readFileSync(join(fromDir, 'r-assets', name)).equals(readFileSync(join(fromArrays, 'r-assets', name))), 'same image');
});

test('markdownReport keeps working without figures (text only) and with an exact result', () => {
  const md = markdownReport(result);
  assert.ok(md.startsWith('# Curvature report: '));
  assert.equal(imageLinks(md).length, 0);
  assert.ok(!md.includes('## Diagonal heatmaps'));
  // Exact: no stderr, nothing hatched, no whiskers.
  const exact: InspectResult = structuredClone(result);
  for (const l of exact.layers) {
    l.trace = { ...l.trace, stderr: null, method: 'exact' };
    for (const t of l.tensors) t.diagonal = { ...t.diagonal, stderr: null, method: 'exact', samples: null };
  }
  const dir = tmp('exact');
  const out = exportReport(exact, join(dir, 'r.md'));
  assert.ok(out.markdown.includes('exact values'));
  assert.ok(!readFileSync(join(dir, 'r-assets', 'traces.svg'), 'utf8').includes('<path d="M'), 'no whiskers');
});

test('CLI: --report writes the Markdown with its assets folder beside it', async () => {
  const dir = tmp('cli');
  const md = join(dir, 'out', 'cnn.md');
  const code = await main(['inspect', MODEL, '--data', DATA, '--backend', 'wasm', '--samples', '4', '--top', '1', '--bottom', '1', '--quiet', '--report', md]);
  assert.equal(code, 0);
  const links = assertLinksResolve(md);
  assert.ok(links.filter((l) => l.path.startsWith('cnn-assets/') && l.path.endsWith('.png')).length === 6);
  noTempFiles(dir);
});

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

test('export: --density and --ggn-diagonal add a density chart (eigenvalues marked) and a GGN heatmap per tensor', async () => {
  const r = await inspect({ modelPath: MODEL, dataPath: DATA, backend: 'wasm', samples: 2, top: 1, bottom: 1, density: true, densityRuns: 1, densitySteps: 20, ggnDiagonal: true });
  const dir = tmp('density');
  const md = join(dir, 'r.md');
  const out = exportReport(r, md);
  const svg = readFileSync(join(dir, 'r-assets', 'density.svg'), 'utf8');
  assertWellFormedSvg(svg);
  assert.equal(count(svg, /class="mark top"/g), r.global.eigenvalues.top.length);
  assert.equal(count(svg, /class="mark bottom"/g), r.global.eigenvalues.bottom.length);
  assert.match(svg, /<path class="line" d="M/);
  const tensors = r.layers.flatMap((l) => l.tensors);
  assert.equal(out.files.filter((f) => f.endsWith('__ggn.png')).length, tensors.length);
  assert.ok(out.markdown.includes('density.svg'));
  assert.equal(count(out.markdown, /GGN diagonal\]\(/g), tensors.length);
  assertLinksResolve(md);
});
