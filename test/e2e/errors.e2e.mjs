// What a user sees when things go wrong: a broken model.json gives a clear error panel naming the
// file; a long run (100 000 probes) stops when Cancel is clicked in the panel.
// The workspace starts with curvatureLens.samples = 100000, so the run is long enough to cancel.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectFile, openFile, runCommand, screenshot, since, sleep, useSession, waitFor, webviewFrame } from './harness.mjs';

const BROKEN_MODEL = '{\n "format": "layers-model",\n "modelTopology": {\n  "class_name": "Sequential",\n  "config": {"layers": [\n';

describe('errors: a broken model.json, and Cancel', async () => {
  const ctx = await useSession(
    { before, after },
    {
      name: 'errors',
      workspaceSettings: { 'curvatureLens.samples': 100000 },
      files: { 'bad/model.json': BROKEN_MODEL, 'bad/data.npz': { copy: 'mlp/data.npz' } },
    },
  );

  test('a broken bad/model.json: the panel shows #error mentioning model.json', { timeout: 120_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    await openFile(page, 'bad/model.json');
    const t0 = performance.now();
    await runCommand(page, 'Inspect Hessian');
    const frame = await webviewFrame(page, { has: '#error', timeout: 60_000 });
    const err = frame.locator('#error');
    await err.waitFor({ state: 'visible', timeout: 60_000 }).catch(async (e) => {
      await screenshot(page, 'error-timeout');
      throw new Error(`#error not shown within 60 s (${e.message.split('\n')[0]}); panel: ${JSON.stringify((await frame.locator('body').innerText()).slice(0, 500))}`);
    });
    const text = (await err.innerText()).trim();
    t.diagnostic(`#error after ${since(t0)}: ${JSON.stringify(text.slice(0, 400))}`);
    await screenshot(page, 'error-panel');
    assert.match(text, /model\.json/, `#error names model.json: ${JSON.stringify(text)}`);
    assert.equal(await frame.locator('section.layer').count(), 0, 'no layer sections for a broken model');
  });

  test('Cancel in the panel stops a 100 000-probe run; the status says cancelled within 10 s', { timeout: 150_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    await inspectFile(page, 'mlp/model.json');
    const frame = await webviewFrame(page, { has: '#cancel', timeout: 60_000 });
    const cancel = frame.locator('#cancel');
    await cancel.waitFor({ state: 'visible', timeout: 60_000 }).catch(async (e) => {
      await screenshot(page, 'cancel-timeout');
      throw new Error(`#cancel not shown during the run (${e.message.split('\n')[0]}); status: ${JSON.stringify(await frame.locator('#status').innerText().catch(() => '?'))}`);
    });
    // Let it get going (past loading and the self-test), then cancel.
    await sleep(3000);
    const status = frame.locator('#status');
    const running = (await status.innerText()).trim();
    t.diagnostic(`status while running: ${JSON.stringify(running)} (data-status=${await status.getAttribute('data-status')})`);
    assert.doesNotMatch(running, /cancell?ed|done/i, 'the run is still going when Cancel is clicked');
    await screenshot(page, 'cancel-running');
    const t0 = performance.now();
    await cancel.click();
    const said = await waitFor(async () => {
      const txt = (await status.innerText().catch(() => '')).trim();
      return /cancell?ed/i.test(txt) ? txt : null;
    }, 10_000, 200);
    await screenshot(page, 'cancel-after');
    const final = (await status.innerText().catch(() => '')).trim();
    assert.ok(said, `status within 10 s of Cancel: ${JSON.stringify(final)} (data-status=${await status.getAttribute('data-status')})`);
    t.diagnostic(`"${said}" ${since(t0)} after the click (data-status=${await status.getAttribute('data-status')})`);
    assert.equal(await frame.locator('section.layer').count(), 0, 'no result rendered for the cancelled run');
  });
});
