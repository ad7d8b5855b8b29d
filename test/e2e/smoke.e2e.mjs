// Smoke: a real VS Code (code-server) loads in chromium with the example workspace, the command
// palette runs a built-in command, and stopping the session leaves no process behind.
// Needs no extension: it checks the harness itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { paletteHas, runCommand, screenshot, useSession, tabTitles, groupMembers, sleep } from './harness.mjs';

describe('smoke: workbench, command palette, clean shutdown', async () => {
  const ctx = await useSession({ before, after }, { name: 'smoke', vsix: null });

  test('the workbench loads with the example workspace in the Explorer', async (t) => {
    if (!ctx.ready(t)) return;
    const { page, timings } = ctx.session;
    t.diagnostic(`start timings (ms): ${JSON.stringify(timings)}`);
    const rows = page.locator('.explorer-folders-view .monaco-list-row');
    await rows.filter({ hasText: 'mlp' }).first().waitFor();
    const names = await rows.allInnerTexts();
    assert.ok(names.some((n) => n.includes('cnn')), `Explorer rows: ${JSON.stringify(names)}`);
    await screenshot(page, 'smoke-workbench');
  });

  test('the command palette runs a built-in command', async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    assert.ok(await paletteHas(page, 'New Untitled Text File'), 'the palette lists "New Untitled Text File"');
    await runCommand(page, 'New Untitled Text File');
    await page.locator('.tabs-container .tab', { hasText: 'Untitled-1' }).first().waitFor({ timeout: 10_000 });
    assert.ok((await tabTitles(page)).some((x) => x.includes('Untitled-1')));
    await page.keyboard.type('hello from the e2e smoke test');
    await page.locator('.view-line', { hasText: 'hello from the e2e smoke test' }).first().waitFor({ timeout: 5000 });
  });

  test('stopping the session kills the whole process group (no leftovers, no zombies)', async (t) => {
    if (!ctx.ready(t)) return;
    const s = ctx.session;
    const before = groupMembers(s.pid).alive.length;
    t.diagnostic(`code-server process group ${s.pid}: ${before} processes while running`);
    assert.ok(before >= 2, `expected code-server and its extension host in the group, saw ${before}`);
    const left = await s.stop();
    await sleep(200);
    assert.deepEqual(left.alive, [], 'no live process left');
    assert.deepEqual(left.zombies, [], 'no zombie left');
    assert.equal(groupMembers(s.pid).alive.length, 0);
  });
});
