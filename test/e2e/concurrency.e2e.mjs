// Runs that overlap and things that change mid-run: a second Inspect replaces the run in progress (one
// worker at a time; the newer run owns the panel, the older one never overwrites it); a data file
// rewritten or deleted while the worker reads it gives a result marked stale; closing the panel does
// not stop the run (Show Curvature Panel brings its result back); reloading the window ends the worker.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, chooseEstimator, inspectFile, runCommand, screenshot, sleep, useSession, waitFor, webviewFrame, workerProcesses } from './harness.mjs';


const text = async (loc) => (await loc.innerText().catch(() => '')).trim();

describe('concurrency: overlapping runs, a file changed mid-run', async () => {
  const ctx = await useSession({ before, after }, { name: 'concurrency', workspaceSettings: { 'curvatureLens.samples': 100000 } });

  test('Inspect on cnn while mlp runs: the mlp run is replaced, one worker, the panel shows cnn only', { timeout: 240_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    await inspectFile(page, 'mlp/model.json');
    const frame = await webviewFrame(page, { has: '#status', timeout: 60_000 });
    const status = frame.locator('#status');
    assert.ok(await waitFor(async () => (await status.getAttribute('data-status').catch(() => '')) === 'running' && workerProcesses(ctx.session).length === 1, 60_000, 250), 'the mlp run is going');
    const first = workerProcesses(ctx.session)[0].pid;
    await sleep(2000);
    await inspectFile(page, 'cnn/model.json');
    const title = frame.locator('#title');
    assert.ok(await waitFor(async () => /cnn\/model\.json/.test(await text(title)), 30_000, 250), `the panel's title names cnn: ${JSON.stringify(await text(title))}`);
    const replaced = await waitFor(() => {
      const w = workerProcesses(ctx.session);
      return w.length === 1 && w[0].pid !== first ? w : null;
    }, 20_000, 250);
    assert.ok(replaced, `one worker, not the mlp run's (workers: ${JSON.stringify(workerProcesses(ctx.session).map((w) => w.pid))}, first ${first})`);
    // Make the cnn run short (the estimator selector: XDiag, 100 HVPs) and let it finish.
    await chooseEstimator(frame, 'xdiag');
    const done = await waitFor(async () => ((await status.getAttribute('data-status').catch(() => '')) === 'done' ? await frame.locator('section.layer h2.layer-name').allInnerTexts() : null), 120_000, 500);
    await screenshot(page, 'concurrency-cnn');
    assert.ok(done, `the cnn run finished (status ${JSON.stringify(await text(status))})`);
    t.diagnostic(`layers shown: ${JSON.stringify(done)}`);
    assert.ok(done.some((n) => /conv/i.test(n)), `cnn's layers are shown: ${JSON.stringify(done)}`);
    assert.match(await text(title), /cnn\/model\.json/);
    await sleep(3000);
    assert.match(await text(title), /cnn\/model\.json/, 'the replaced mlp run never took the panel back');
    assert.equal(workerProcesses(ctx.session).length, 0, 'no worker left');
  });

  test('the data file rewritten while the worker runs: the result is shown marked stale', { timeout: 240_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page, ws } = ctx.session;
    await inspectFile(page, 'mlp/model.json');
    const frame = await webviewFrame(page, { has: '#status', timeout: 60_000 });
    const status = frame.locator('#status');
    // Once the worker is past loading (the self-test, then HVPs), change the data file's bytes.
    const going = await waitFor(async () => /probes|sketch|Lanczos|H·g|HVP|diagonal/i.test(await text(status)), 60_000, 100);
    assert.ok(going, `the run got going: ${JSON.stringify(await text(status))}`);
    appendFileSync(join(ws, 'mlp', 'data.npz'), Buffer.from('changed'));
    const done = await waitFor(async () => (await status.getAttribute('data-status').catch(() => '')) === 'done', 120_000, 500);
    await screenshot(page, 'concurrency-stale');
    assert.ok(done, `the run finished: ${JSON.stringify(await text(status))}`);
    const stale = frame.locator('#stale');
    assert.ok(await waitFor(() => stale.isVisible(), 10_000, 200), 'the result is marked stale');
    t.diagnostic(`stale banner: ${JSON.stringify(await text(stale))}`);
  });

  /** Starts Inspect on mlp and waits until the worker is past loading; returns the panel's frame. */
  async function startMlp(page) {
    await inspectFile(page, 'mlp/model.json');
    const frame = await webviewFrame(page, { has: '#status', timeout: 60_000 });
    const going = await waitFor(async () => /probes|sketch|Lanczos|H·g|HVP|diagonal/i.test(await text(frame.locator('#status'))), 60_000, 100);
    assert.ok(going, `the run got going: ${JSON.stringify(await text(frame.locator('#status')))}`);
    return frame;
  }

  test('the panel closed mid-run: the run finishes, and Show Curvature Panel shows its result', { timeout: 240_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page, ws } = ctx.session;
    appendFileSync(join(ws, 'mlp', 'data.npz'), Buffer.from('again')); // new contents: not cached
    await startMlp(page);
    const tab = page.locator('.tabs-container .tab').filter({ hasText: 'Curvature' }).first();
    await tab.hover();
    await tab.locator('.tab-actions .action-label, .codicon-close').first().click();
    assert.ok(await waitFor(async () => (await page.locator('.tabs-container .tab').filter({ hasText: 'Curvature' }).count()) === 0, 10_000, 200), 'the panel is closed');
    assert.ok(await waitFor(() => workerProcesses(ctx.session).length === 0, 120_000, 500), 'the run went on to its end');
    await runCommand(page, 'Show Curvature Panel');
    const frame = await webviewFrame(page, { has: '#status', timeout: 60_000 });
    const done = await waitFor(async () => ((await frame.locator('#status').getAttribute('data-status').catch(() => '')) === 'done' ? await frame.locator('section.layer h2.layer-name').allInnerTexts() : null), 30_000, 500);
    await screenshot(page, 'concurrency-reopened');
    assert.ok(done && done.includes('dense_1'), `the reopened panel shows the mlp result: ${JSON.stringify(done)}`);
    assert.match(await text(frame.locator('#title')), /mlp\/model\.json/);
  });

  test('the data file deleted mid-run: the result is marked stale (or the run ends in a clear error)', { timeout: 240_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page, ws } = ctx.session;
    const data = join(ws, 'mlp', 'data.npz');
    appendFileSync(data, Buffer.from('third')); // new contents: not cached
    const frame = await startMlp(page);
    rmSync(data);
    const status = frame.locator('#status');
    const end = await waitFor(async () => {
      const s = (await status.getAttribute('data-status').catch(() => '')) ?? '';
      return s === 'done' || s === 'error' ? s : null;
    }, 120_000, 500);
    await screenshot(page, 'concurrency-deleted');
    t.diagnostic(`ended: ${end}; ${JSON.stringify(await text(status))}`);
    if (end === 'done') assert.ok(await waitFor(() => frame.locator('#stale').isVisible(), 10_000, 200), 'a result computed from a deleted file is marked stale');
    else assert.match(await text(frame.locator('#error')), /data\.npz/, 'the error names the data file');
    copyFileSync(join(ROOT, 'examples', 'mlp', 'data.npz'), data);
  });

  test('reloading the window mid-run ends the worker; the reloaded window inspects again', { timeout: 300_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    // A long run: exact mode (one HVP per parameter), chosen in the panel.
    await inspectFile(page, 'mlp/model.json'); // the cached result: the panel comes to the front
    await runCommand(page, 'Show Curvature Panel');
    const frame = await webviewFrame(page, { has: '#estimator', timeout: 60_000 });
    await chooseEstimator(frame, 'exact');
    assert.ok(await waitFor(() => workerProcesses(ctx.session).length === 1, 60_000, 250), 'the exact run is going');
    await sleep(2000);
    const t0 = performance.now();
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const gone = await waitFor(() => workerProcesses(ctx.session).length === 0, 60_000, 250);
    t.diagnostic(`worker gone ${((performance.now() - t0) / 1000).toFixed(1)} s after the reload`);
    assert.ok(gone, `no worker left after the reload (workers: ${JSON.stringify(workerProcesses(ctx.session).map((w) => w.pid))})`);
    // The new window's extension works: an Inspect starts a worker, which Cancel stops.
    await inspectFile(page, 'mlp/model.json');
    assert.ok(await waitFor(() => workerProcesses(ctx.session).length === 1, 60_000, 250), 'a new run starts after the reload');
    await runCommand(page, 'Cancel Hessian Inspection');
    assert.ok(await waitFor(() => workerProcesses(ctx.session).length === 0, 20_000, 250), 'and cancels');
  });
});
