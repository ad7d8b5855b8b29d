// Hostile input and a dying worker, as a user sees them: a layer named like an HTML tag renders as text
// in the panel (no element is created from it) and in the exported report; a worker killed mid-run
// (SIGKILL, as the OOM killer does) ends in a clear error in the panel, leaves no worker process behind,
// and the next Inspect works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, chooseEstimator, inspectFile, runCommand, screenshot, since, sleep, useSession, waitFor, webviewFrame, workerProcesses } from './harness.mjs';

const EVIL = '<img src=x onerror=document.title="pwned">';
// examples/mlp with its middle layer (and its weights) renamed to EVIL.
const evilModel = readFileSync(join(ROOT, 'examples', 'mlp', 'model.json'), 'utf8').replaceAll('"dense_1"', JSON.stringify(EVIL)).replaceAll('"dense_1/', JSON.stringify(EVIL).slice(0, -1) + '/');


describe('faults: an injected-HTML layer name, a killed worker', async () => {
  const ctx = await useSession(
    { before, after },
    {
      name: 'faults',
      workspaceSettings: { 'curvatureLens.samples': 100000 },
      files: {
        'evil/model.json': evilModel,
        'evil/group1-shard1of1.bin': { copy: 'mlp/group1-shard1of1.bin' },
        'evil/data.npz': { copy: 'mlp/data.npz' },
      },
    },
  );

  test('a worker killed mid-run: a clear error in the panel, no worker left, and the next run works', { timeout: 240_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    await inspectFile(page, 'mlp/model.json');
    const frame = await webviewFrame(page, { has: '#status', timeout: 60_000 });
    const status = frame.locator('#status');
    const victim = await waitFor(async () => {
      const w = workerProcesses(ctx.session);
      const s = (await status.getAttribute('data-status').catch(() => null)) ?? '';
      return w.length === 1 && s === 'running' ? w[0] : null;
    }, 60_000, 250);
    assert.ok(victim, `one running worker (workers: ${JSON.stringify(workerProcesses(ctx.session))})`);
    await sleep(2000); // past the self-test, into the probes
    const t0 = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    const err = frame.locator('#error');
    await err.waitFor({ state: 'visible', timeout: 20_000 }).catch(async (e) => {
      await screenshot(page, 'kill-timeout');
      throw new Error(`#error not shown within 20 s of the kill (${e.message.split('\n')[0]}); status: ${JSON.stringify(await status.innerText().catch(() => '?'))}`);
    });
    const text = (await err.innerText()).trim();
    t.diagnostic(`#error ${since(t0)} after SIGKILL: ${JSON.stringify(text.slice(0, 300))}`);
    await screenshot(page, 'kill-error');
    assert.match(text, /worker stopped unexpectedly|signal SIGKILL/i, 'the error says the worker died');
    assert.ok(await waitFor(() => workerProcesses(ctx.session).length === 0, 10_000, 200), 'no worker process left after the crash');

    // The extension is still usable: a new run starts, streams progress, and cancels cleanly.
    await runCommand(page, 'Inspect Hessian');
    const progressed = await waitFor(async () => {
      const s = (await status.getAttribute('data-status').catch(() => null)) ?? '';
      const txt = (await status.innerText().catch(() => '')).trim();
      return s === 'running' && /\d+\s*\/\s*\d+/.test(txt) ? txt : null;
    }, 60_000, 250);
    assert.ok(progressed, `the next run streams progress (status: ${JSON.stringify(await status.innerText().catch(() => '?'))})`);
    t.diagnostic(`next run: ${JSON.stringify(progressed)}`);
    assert.equal(await frame.locator('#error').isVisible(), false, 'the old error is gone');
    await frame.locator('#cancel').click();
    assert.ok(await waitFor(async () => /cancell?ed/i.test(await status.innerText().catch(() => '')), 15_000, 200), 'the next run cancels');
    assert.ok(await waitFor(() => workerProcesses(ctx.session).length === 0, 10_000, 200), 'no worker process left after Cancel');
  });

  test('a layer named like an HTML tag renders as text in the panel and the report, creating no element', { timeout: 240_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    // A short run for this model: Hutchinson's 100 000 probes would take minutes.
    await inspectFile(page, 'evil/model.json');
    const frame = await webviewFrame(page, { has: '#status', timeout: 60_000 });
    // The long run again: cancel it once it is going, then switch the estimator in the panel (sketch, 100 HVPs).
    await frame.locator('#cancel').waitFor({ state: 'visible', timeout: 60_000 });
    await sleep(1500);
    await frame.locator('#cancel').click();
    await waitFor(async () => /cancell?ed/i.test(await frame.locator('#status').innerText().catch(() => '')), 15_000, 200);
    await chooseEstimator(frame, 'xdiag');
    const names = frame.locator('section.layer h2.layer-name');
    const shown = await waitFor(async () => {
      const all = await names.allInnerTexts().catch(() => []);
      return all.includes(EVIL) ? all : null;
    }, 120_000, 500);
    await screenshot(page, 'evil-panel');
    assert.ok(shown, `the panel lists the layer named ${EVIL} as text (names: ${JSON.stringify(await names.allInnerTexts().catch(() => []))})`);
    assert.equal(await frame.locator('img').count(), 0, 'no <img> element in the panel');
    assert.notEqual(await page.title(), 'pwned');

    await runCommand(page, 'Export Curvature Report');
    const dir = join(ctx.session.ws, 'evil');
    const md = await waitFor(() => readdirSync(dir).find((f) => f.endsWith('-curvature.md')), 60_000, 500);
    assert.ok(md, `a report in evil/ (files: ${readdirSync(dir).join(', ')})`);
    const text = readFileSync(join(dir, md), 'utf8');
    assert.ok(!text.includes(EVIL), 'the raw tag never appears in the Markdown');
    assert.match(text, /&lt;img src=x onerror=document\.title=(?:&quot;|\\?")pwned(?:&quot;|\\?")&gt;|\\<img src=x onerror/, 'the name appears escaped');
  });
});
