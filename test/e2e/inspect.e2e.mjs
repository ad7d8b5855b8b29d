// Inspect Hessian on examples/mlp in a real VS Code, as a user sees it: the command in the palette,
// the "Curvature" panel with the model's layers, a summary whose trace matches the CLI's JSON for
// the same settings, a heatmap with real pixels, light/dark screenshots, the hover on a layer
// name in model.json, and Export Curvature Report writing Markdown with its PNGs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import {
  dialogs,
  heatmapStats,
  hoverWord,
  matchesShown,
  notifications,
  openFile,
  paletteHas,
  runCli,
  runCommand,
  screenshot,
  setTheme,
  since,
  sleep,
  useSession,
  waitFor,
  webviewFrame,
} from './harness.mjs';

const LAYERS = ['dense', 'dense_1', 'dense_2'];

describe('Inspect Hessian on examples/mlp', async () => {
  const ctx = await useSession({ before, after }, { name: 'inspect' });
  let frame = null; // the panel's content frame, once it rendered

  test('with mlp/model.json open, the command palette shows "Inspect Hessian"', { timeout: 90_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    await openFile(page, 'mlp/model.json');
    const rows = await paletteHas(page, 'Inspect Hessian');
    assert.ok(rows, 'no "Inspect Hessian" row in the command palette (is the extension installed and activated?)');
    t.diagnostic(`palette rows: ${JSON.stringify(rows)}`);
  });

  test('running it opens a "Curvature" panel with the layers, #summary and a non-uniform heatmap within 60 s', { timeout: 120_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    const t0 = performance.now();
    await runCommand(page, 'Inspect Hessian');
    const tab = page.locator('.tabs-container .tab', { hasText: 'Curvature' }).first();
    await tab.waitFor({ timeout: 15_000 }).catch(async () => {
      throw new Error(`no editor tab titled "Curvature"; tabs: ${JSON.stringify(await page.locator('.tabs-container .tab').allInnerTexts())}`);
    });
    t.diagnostic(`panel tab "${(await tab.innerText()).trim()}" after ${since(t0)}`);
    frame = await webviewFrame(page, { has: `section.layer[data-layer="${LAYERS[0]}"]`, timeout: 60_000 }).catch(async (e) => {
      await screenshot(page, 'inspect-panel-timeout');
      const any = await webviewFrame(page, { timeout: 1000 }).catch(() => null);
      const body = any ? (await any.locator('body').innerText().catch(() => '')).slice(0, 600) : '(no webview frame)';
      throw new Error(`${e.message}; panel text: ${JSON.stringify(body)}`);
    });
    t.diagnostic(`layers rendered after ${since(t0)}`);
    for (const name of LAYERS) {
      assert.equal(await frame.locator(`section.layer[data-layer="${name}"]`).count(), 1, `section.layer[data-layer="${name}"]`);
    }
    await frame.locator('#summary').waitFor({ timeout: 60_000 });
    // The heatmaps may be drawn a moment after the sections appear.
    const stats = await waitFor(async () => {
      const s = await heatmapStats(frame);
      return s.some((c) => c.distinct > 1) ? s : null;
    }, 20_000, 500) || (await heatmapStats(frame));
    t.diagnostic(`heatmaps: ${JSON.stringify(stats)}`);
    assert.ok(stats.length >= 1, 'at least one canvas.heatmap');
    assert.ok(stats.some((c) => c.distinct > 1), `a heatmap with non-uniform pixels (distinct colours per canvas: ${stats.map((c) => c.distinct)})`);
    await screenshot(page, 'inspect-panel');
  });

  test('the trace in #summary equals the CLI\'s global.trace.value for the same settings', { timeout: 180_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    assert.ok(frame, 'the panel did not render (previous test)');
    const ws = ctx.session.ws;
    const t0 = performance.now();
    const cli = runCli(['inspect', `${ws}/mlp/model.json`, '--data', `${ws}/mlp/data.npz`, '--samples', '20', '--seed', '0', '--backend', 'wasm', '--json', '-', '--quiet']);
    const want = cli.global.trace.value;
    t.diagnostic(`CLI trace ${want} ± ${cli.global.trace.stderr} in ${since(t0)}`);
    // The summary's trace row; its value span carries the full-precision number in data-value.
    const el = frame.locator('#summary tr[data-key="trace"] .value[data-value]').first();
    await el.waitFor({ timeout: 10_000 });
    const shown = (await el.innerText()).trim();
    const dataValue = await el.getAttribute('data-value');
    t.diagnostic(`panel shows "${shown}", data-value="${dataValue}"`);
    const m = matchesShown(shown, want);
    assert.ok(m.ok, `shown trace "${shown}" vs CLI ${want}: ${JSON.stringify(m)}`);
    assert.ok(dataValue !== null && Number.isFinite(Number(dataValue)), `data-value="${dataValue}" is a number`);
    const m2 = matchesShown(shown, Number(dataValue));
    assert.ok(m2.ok, `shown "${shown}" is data-value ${dataValue} rounded: ${JSON.stringify(m2)}`);
    const rel = Math.abs(Number(dataValue) - want) / Math.abs(want);
    t.diagnostic(`|data-value − CLI| = ${Math.abs(Number(dataValue) - want)} (relative ${rel})`);
    assert.ok(rel < 1e-9, `panel trace ${dataValue} vs CLI ${want}: same engine, settings and seed must give the same number`);

    // "What this means": the diagonal share and the stable learning rate, as the CLI computed them.
    const meaning = frame.locator('#meaning');
    await meaning.waitFor({ timeout: 10_000 });
    const share = (await meaning.locator('li[data-key="diagonalShare"]').innerText()).trim();
    const step = (await meaning.locator('li[data-key="stepSize"]').innerText()).trim();
    t.diagnostic(`#meaning: ${JSON.stringify(share)} / ${JSON.stringify(step)}`);
    const pct = (100 * cli.global.diagonalShare.value).toFixed(Math.abs(cli.global.diagonalShare.value) < 0.2 ? 1 : 0);
    assert.ok(share.includes(`${pct} %`), `share sentence ${JSON.stringify(share)} shows the CLI's ${pct} %`);
    const lr = step.match(/lr > ([0-9.eE+\u2212-]+) diverges/);
    assert.ok(lr, `step-size sentence: ${JSON.stringify(step)}`);
    const lm = matchesShown(lr[1], cli.global.learningRateBound.topEigenvector);
    assert.ok(lm.ok, `shown lr bound "${lr[1]}" vs CLI 2/λmax ${cli.global.learningRateBound.topEigenvector}: ${JSON.stringify(lm)}`);
  });

  test('screenshots of the panel in a light and a dark theme', { timeout: 90_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    assert.ok(frame, 'the panel did not render');
    const s = ctx.session;
    const shots = [];
    for (const kind of ['light', 'dark']) {
      await setTheme(s, kind, { frame });
      await frame.evaluate(() => window.scrollTo(0, 0));
      await sleep(300);
      shots.push(await screenshot(s.page, `panel-${kind}`));
      // and the heatmaps further down
      await frame.locator('section.layer[data-layer="dense_1"]').scrollIntoViewIfNeeded();
      await sleep(500);
      shots.push(await screenshot(s.page, `panel-${kind}-heatmaps`));
    }
    await frame.evaluate(() => window.scrollTo(0, 0));
    t.diagnostic(shots.join('\n'));
    const bodyClass = await frame.evaluate(() => document.body.className);
    assert.match(bodyClass, /vscode-dark/, `the webview follows the theme (body class "${bodyClass}")`);
  });

  test('hovering "dense_1" in mlp/model.json shows its trace', { timeout: 90_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const s = ctx.session;
    await openFile(s.page, 'mlp/model.json');
    const lines = readFileSync(join(s.ws, 'mlp', 'model.json'), 'utf8').split('\n');
    const line = lines.findIndex((l) => /"name":\s*"dense_1"/.test(l)) + 1;
    assert.ok(line > 0, 'model.json names a layer dense_1');
    const text = await hoverWord(s.page, 'dense_1', { line });
    await screenshot(s.page, 'hover');
    t.diagnostic(`hover text: ${JSON.stringify(text.slice(0, 400))}`);
    assert.match(text, /trace/i, `hover over dense_1: ${JSON.stringify(text.slice(0, 400))}`);
  });

  test('Export Curvature Report writes mlp/mlp-curvature.md and its *-assets/ PNGs', { timeout: 150_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const s = ctx.session;
    const expected = join(s.ws, 'mlp', 'mlp-curvature.md');
    const t0 = performance.now();
    await runCommand(s.page, 'Export Curvature Report');
    let md = null;
    let acceptedDialog = false;
    await waitFor(async () => {
      if (existsSync(expected)) return (md = expected);
      // A path the extension reports in a notification.
      for (const n of await notifications(s.page)) {
        const p = n.match(/(\/[^\s"'`]+\.md)\b/)?.[1];
        if (p && existsSync(p)) return (md = p);
        const rel = n.match(/([\w./-]+-curvature\.md)/)?.[1];
        if (rel && existsSync(join(s.ws, rel))) return (md = join(s.ws, rel));
      }
      // A save dialog (simple file dialog as a quick input): accept its default once.
      const value = await s.page.locator('.quick-input-widget .quick-input-box input').inputValue().catch(() => '');
      if (!acceptedDialog && value && !value.startsWith('>') && (await s.page.locator('.quick-input-widget').isVisible().catch(() => false))) {
        t.diagnostic(`save dialog shown with "${value}"; accepting`);
        acceptedDialog = true;
        await s.page.keyboard.press('Enter');
      }
      return null;
    }, 90_000, 500);
    await screenshot(s.page, 'export');
    if (!md) {
      throw new Error(
        `no ${expected} after 90 s; notifications: ${JSON.stringify(await notifications(s.page))}; dialogs: ${JSON.stringify(await dialogs(s.page))}`,
      );
    }
    t.diagnostic(`report ${md} after ${since(t0)}`);
    // Written completely: wait for the size to settle.
    await sleep(1000);
    const text = readFileSync(md, 'utf8');
    assert.ok(text.length > 100, 'the report has content');
    const assets = md.replace(/\.md$/, '-assets');
    assert.ok(existsSync(assets) && statSync(assets).isDirectory(), `${assets}/ exists`);
    const pngs = readdirSync(assets).filter((f) => f.endsWith('.png'));
    assert.ok(pngs.length >= 1, `PNGs in ${assets}: ${readdirSync(assets)}`);
    for (const f of pngs) {
      const b = readFileSync(join(assets, f));
      assert.ok(b.length > 100 && b.subarray(1, 4).toString() === 'PNG', `${f} is a PNG`);
    }
    // Every image the Markdown references exists.
    const refs = [...text.matchAll(/!\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => decodeURI(m[1]));
    assert.ok(refs.length >= 1, 'the report references at least one image');
    for (const r of refs) {
      if (/^(https?|data):/.test(r)) continue;
      const p = isAbsolute(r) ? r : resolve(dirname(md), r);
      assert.ok(existsSync(p), `the report's image ${r} exists (${p})`);
    }
    t.diagnostic(`${pngs.length} PNGs, ${refs.length} image references`);
  });
});
