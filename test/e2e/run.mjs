#!/usr/bin/env node
// Runs the end-to-end tests (test/e2e/*.e2e.mjs) with node's own test runner, one file at a time.
//
//   npm run test:e2e                      all of them
//   node test/e2e/run.mjs inspect trust   only files whose name contains one of the words
//
// Before the tests it packages the extension (`npm run package` → curvature-lens.vsix), unless
// E2E_VSIX=path/to.vsix names one. The tools come from `bash scripts/e2e-setup.sh`.
// If the tools or the browser are missing the tests are skipped with the reason, or, with
// E2E_REQUIRED=1, fail. E2E_KEEP=1 keeps each session's temporary folder (logs, workspace).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_VSIX, E2E_DIR, REQUIRED, ROOT, toolsProblem } from './harness.mjs';

const t0 = performance.now();
const secs = (t) => ((performance.now() - t) / 1000).toFixed(1);
const env = { ...process.env };

const problem = toolsProblem();
if (problem) {
  if (REQUIRED) {
    console.error(`[e2e] FAIL: E2E_REQUIRED=1 but the e2e tools are not installed: ${problem}`);
    process.exit(1);
  }
  console.error(`[e2e] SKIPPING the end-to-end tests: ${problem}`);
  env.E2E_SKIP = problem;
}

// The .vsix under test: always freshly packaged, so the tests never see a stale one.
if (!env.E2E_SKIP && !env.E2E_VSIX) {
  const t = performance.now();
  const startWall = Date.now();
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const [cmd, args] = pkg.scripts?.package
    ? ['npm', ['run', '--silent', 'package']]
    : ['npx', ['--no-install', 'vsce', 'package', '--no-dependencies', '-o', 'curvature-lens.vsix']];
  console.error(`[e2e] packaging the extension: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 300_000 });
  const fresh = existsSync(DEFAULT_VSIX) && statSync(DEFAULT_VSIX).mtimeMs >= startWall - 2000;
  if (r.status !== 0 || !fresh) {
    const msg = `packaging failed (${cmd} ${args.join(' ')}: exit ${r.status}${fresh ? '' : ', no fresh curvature-lens.vsix'}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-25).join('\n')}`;
    console.error(`[e2e] ${msg}`);
    env.E2E_VSIX_ERROR = msg;
  } else {
    console.error(`[e2e] packaged ${DEFAULT_VSIX} (${(statSync(DEFAULT_VSIX).size / 1e6).toFixed(2)} MB) in ${secs(t)} s`);
    env.E2E_VSIX = DEFAULT_VSIX;
  }
}

const filters = process.argv.slice(2);
const files = readdirSync(E2E_DIR)
  .filter((f) => f.endsWith('.e2e.mjs'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort()
  .map((f) => join(E2E_DIR, f));
if (files.length === 0) {
  console.error(`[e2e] no test file matches ${filters.join(' ')}`);
  process.exit(1);
}
console.error(`[e2e] preparation took ${secs(t0)} s; running ${files.length} file(s)`);
// The runner's own summary is the last thing printed.
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { cwd: ROOT, env, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
