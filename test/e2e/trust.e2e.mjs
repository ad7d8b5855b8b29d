// An untrusted workspace (code-server without --disable-workspace-trust, a fresh user-data-dir):
// Inspect Hessian asks for trust/consent before it reads the model, and renders nothing before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dialogs, inspectFile, notifications, screenshot, sleep, useSession, waitFor, webviewFrame } from './harness.mjs';

const TRUST = /trust/i;

/** Trust prompts on screen: modal dialogs and notification toasts mentioning trust. */
async function trustPrompts(page) {
  return [...(await dialogs(page)), ...(await notifications(page))].filter((x) => TRUST.test(x));
}

/** Whether any webview shows a result (a layer section or a rendered summary trace). */
async function resultRendered(page) {
  const f = await webviewFrame(page, { timeout: 500 }).catch(() => null);
  if (!f) return false;
  return (await f.locator('section.layer').count()) > 0 || (await f.locator('#summary [data-key="trace"], #summary [data-field="trace"]').count()) > 0;
}

describe('untrusted workspace', async () => {
  const ctx = await useSession(
    { before, after },
    {
      name: 'trust',
      trust: false,
      // No startup modal and no banner: the workspace just stays in Restricted Mode, so any trust
      // prompt seen later comes from running the command.
      userSettings: {
        'security.workspace.trust.enabled': true,
        'security.workspace.trust.startupPrompt': 'never',
        'security.workspace.trust.banner': 'never',
        'security.workspace.trust.emptyWindow': false,
      },
    },
  );

  test('the workspace opens in Restricted Mode with no trust prompt yet', { timeout: 60_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 20_000 }).catch(async () => {
      await screenshot(page, 'trust-start');
      throw new Error(`no "Restricted Mode" status bar item: the workspace is trusted, so this test would prove nothing; status bar: ${JSON.stringify(await page.locator('.statusbar-item').allInnerTexts())}`);
    });
    assert.deepEqual(await trustPrompts(page), [], 'no trust prompt before the command');
  });

  test('Inspect Hessian asks for trust first and renders no result before consent', { timeout: 120_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    await inspectFile(page, 'mlp/model.json');
    const prompts = await waitFor(async () => {
      const p = await trustPrompts(page);
      return p.length ? p : null;
    }, 20_000, 250);
    await screenshot(page, 'trust-prompt');
    assert.ok(prompts, `a modal or notification mentioning trust within 20 s; dialogs ${JSON.stringify(await dialogs(page))}, notifications ${JSON.stringify(await notifications(page))}`);
    t.diagnostic(`prompt: ${JSON.stringify(prompts.map((p) => p.slice(0, 300)))}`);
    // Nothing computed while the prompt waits.
    await sleep(5000);
    assert.equal(await resultRendered(page), false, 'no result rendered before consent');
    assert.ok((await trustPrompts(page)).length > 0, 'the prompt is still waiting for an answer');
  });

  test('after consent (the prompt\'s affirmative button) the result renders', { timeout: 120_000 }, async (t) => {
    if (!ctx.ready(t)) return;
    const { page } = ctx.session;
    const dialog = page.locator('.monaco-dialog-box').filter({ hasText: TRUST }).first();
    const toast = page.locator('.notifications-toasts .notification-toast').filter({ hasText: TRUST }).first();
    const box = (await dialog.isVisible().catch(() => false)) ? dialog : toast;
    const buttons = box.locator('.monaco-button, a.monaco-button, button');
    const labels = (await buttons.allInnerTexts()).map((x) => x.trim()).filter(Boolean);
    t.diagnostic(`prompt buttons: ${JSON.stringify(labels)}`);
    const yes = labels.find((l) => /inspect|trust|continue|yes|allow/i.test(l) && !/cancel|no\b|don't/i.test(l));
    assert.ok(yes, `an affirmative button in the prompt: ${JSON.stringify(labels)}`);
    await buttons.filter({ hasText: yes }).first().click();
    const frame = await webviewFrame(page, { has: 'section.layer[data-layer="dense_1"]', timeout: 60_000 }).catch(async (e) => {
      await screenshot(page, 'trust-after-consent-timeout');
      throw e;
    });
    assert.ok(frame);
    await screenshot(page, 'trust-after-consent');
  });
});
