/**
 * Running the real CLI (`node bin/curvature-lens.js`) in tests, and the bad-input contract: exit 2, one
 * `curvature-lens: error: <file>: …` line (after any progress lines), no stack trace, nothing on
 * stdout, no result file.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(process.cwd()); // run-tests runs from the repository root
export const CLI = join(ROOT, 'bin', 'curvature-lens.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'models');
export const SHARD = 'group1-shard1of1.bin';

/**
 * Registers the file's hooks: rebuild dist/ when a source is newer than dist/cli.js (what the launcher
 * runs), and delete the temp folders afterwards. Returns a maker of temp copies of fixture files.
 */
export function useCli(): (fixture: string, files: string[], prefix: string) => string {
  const dirs: string[] = [];
  before(() => {
    const cli = join(ROOT, 'dist', 'cli.js');
    const newest = (dir: string): number =>
      Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.ts') ? statSync(join(dir, e.name)).mtimeMs : 0)));
    if (!existsSync(cli) || statSync(cli).mtimeMs < newest(join(ROOT, 'extension'))) {
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `build failed: ${r.stderr}`);
    }
  });
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return (fixture, files, prefix) => {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-${fixture}-`));
    dirs.push(dir);
    for (const f of files) cpSync(join(FIXTURES, fixture, f), join(dir, f));
    return dir;
  };
}

export interface Run {
  r: SpawnSyncReturns<string>;
  out: string;
  outMd: string;
  dir: string;
}

/** `inspect <model> <dataArgs> <args>` with the fast settings and both result files requested in dir. */
export function runInspect(dir: string, model: string, dataArgs: string[], args: string[]): Run {
  const out = join(dir, 'out.json');
  const outMd = join(dir, 'out.md');
  const r = spawnSync(
    process.execPath,
    [CLI, 'inspect', model, ...dataArgs, ...args, '--backend', 'cpu', '--samples', '2', '--top', '1', '--bottom', '1', '--json', out, '--report', outMd],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, CURVATURE_LENS_DEBUG: '' } },
  );
  return { r, out, outMd, dir };
}

/** Progress lines ("[phase] message done/total …") that precede the error; everything else is checked. */
export const PROGRESS = /^\[(backend|load|gradient|diagonal|eigenvalues|layers|done)\] /;

/** The run ended as bad input: exit 2, one clean error line matching `re`, no stack, no result files. */
export function assertBadInput({ r, out, outMd, dir }: Run, re: RegExp): void {
  assert.equal(r.error, undefined, `the CLI did not finish: ${r.error}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const other = lines.filter((l) => !PROGRESS.test(l));
  const ctx = `stderr was:\n${r.stderr}`;
  assert.equal(r.status, 2, `exit code ${r.status}, want 2; ${ctx}`);
  assert.equal(other.length, 1, `want exactly one non-progress line on stderr; ${ctx}`);
  const line = other[0];
  assert.equal(lines[lines.length - 1], line, `the error must be the last line; ${ctx}`);
  assert.match(line, /^curvature-lens: error: /);
  assert.match(line, re);
  assert.ok(!lines.some((l) => /^\s+at /.test(l)), `stack trace on stderr; ${ctx}`);
  assert.doesNotMatch(line, /internal error/);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.ok(!existsSync(out), `${out} was written`);
  assert.ok(!existsSync(outMd), `${outMd} was written`);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('out.')), [], 'no temporary result files left');
}
