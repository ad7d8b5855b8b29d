/**
 * The host's worker client against the real worker and against misbehaving fake workers: results,
 * errors, cancellation (the process is gone within 5 s), crashes, malformed messages, a silent (hung)
 * worker, and no child process left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInWorker, WorkerError } from '../extension/host/workerClient.js';
import type { Progress, WorkerInspectOptions } from '../extension/protocol.js';

const WORKER = 'dist/worker.js';
if (!existsSync(WORKER)) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });

const options = (over: Partial<WorkerInspectOptions> = {}): WorkerInspectOptions => ({
  modelPath: 'examples/mlp/model.json',
  dataPath: 'examples/mlp/data.npz',
  loss: null,
  samples: 10,
  top: 2,
  bottom: 2,
  exact: false,
  exactLimit: 5000,
  seed: 0,
  backend: 'wasm',
  memoryBudget: 2 ** 30,
  ...over,
});

function cancelSource() {
  const listeners: Array<() => void> = [];
  return {
    token: { onCancellationRequested: (l: () => void) => (listeners.push(l), { dispose() {} }) },
    cancel: () => listeners.forEach((l) => l()),
  };
}

const never = { onCancellationRequested: () => ({ dispose() {} }) };

/** Worker processes (real or fake) still alive under this test process; tsx's esbuild service is not one. */
function children(): number {
  const out = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)]).toString().trim();
  return out ? out.split('\n').filter((a) => /worker\.js/.test(a)).length : 0;
}

function fakeWorker(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-fake-worker-'));
  const p = join(dir, 'worker.js');
  writeFileSync(p, body);
  return p;
}

async function settle(ms = 1500) {
  await new Promise((r) => setTimeout(r, ms));
}

test('the real worker returns a result and streams progress', async () => {
  const seen: Progress[] = [];
  const r = await runInWorker({ workerPath: WORKER, options: options(), onProgress: (p) => seen.push(p), log: () => {}, cancel: never });
  assert.equal(r.schemaVersion, 1);
  assert.equal(r.layers.length, 3);
  assert.ok(seen.some((p) => p.phase === 'diagonal' && p.running), 'running estimates during the probes');
  await settle();
  assert.equal(children(), 0, 'worker left behind');
});

test('bad input comes back as an input error naming the file', async () => {
  await assert.rejects(
    runInWorker({ workerPath: WORKER, options: options({ modelPath: 'nope/model.json' }), onProgress: () => {}, log: () => {}, cancel: never }),
    (e: unknown) => e instanceof WorkerError && e.kind === 'input' && /nope\/model\.json: model file not found/.test(e.message),
  );
});

test('cancel: the run ends as cancelled and the process is gone within 5 s', async () => {
  const c = cancelSource();
  const t0 = Date.now();
  const run = runInWorker({ workerPath: WORKER, options: options({ samples: 100000 }), onProgress: (p) => p.phase === 'diagonal' && c.cancel(), log: () => {}, cancel: c.token });
  await assert.rejects(run, (e: unknown) => e instanceof WorkerError && e.kind === 'cancelled');
  await settle();
  assert.ok(Date.now() - t0 < 15000);
  assert.equal(children(), 0, 'worker still running after cancel');
});

test('a worker that ignores cancel is killed after the grace period', async () => {
  const w = fakeWorker(`process.send({type:'ready'}); process.on('message', m => { if (m.type==='inspect') setInterval(() => process.send({type:'progress', id:m.id, progress:{phase:'diagonal',message:'x',done:1,total:2,eta:null}}), 100); });`);
  const c = cancelSource();
  setTimeout(() => c.cancel(), 300);
  const t0 = Date.now();
  await assert.rejects(runInWorker({ workerPath: w, options: options(), onProgress: () => {}, log: () => {}, cancel: c.token, graceSeconds: 1 }), (e: unknown) => e instanceof WorkerError && e.kind === 'cancelled');
  assert.ok(Date.now() - t0 < 5000, 'took too long');
  await settle();
  assert.equal(children(), 0);
});

test('a crashing worker becomes a readable error with its last stderr lines', async () => {
  const w = fakeWorker(`process.send({type:'ready'}); process.on('message', () => { console.error('FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'); process.exit(134); });`);
  await assert.rejects(
    runInWorker({ workerPath: w, options: options(), onProgress: () => {}, log: () => {}, cancel: never }),
    (e: unknown) => e instanceof WorkerError && /exit code 134/.test(e.message) && /out of memory/.test(e.message),
  );
});

test('malformed messages end the run with an error and kill the worker', async () => {
  const w = fakeWorker(`process.send({type:'ready'}); process.on('message', () => { process.send(42); setInterval(() => {}, 1000); });`);
  await assert.rejects(runInWorker({ workerPath: w, options: options(), onProgress: () => {}, log: () => {}, cancel: never }), /malformed message/);
  await settle();
  assert.equal(children(), 0);
});

test('a silent (hung) worker is stopped by the watchdog', async () => {
  const w = fakeWorker(`process.send({type:'ready'}); setInterval(() => {}, 1000);`);
  await assert.rejects(runInWorker({ workerPath: w, options: options(), onProgress: () => {}, log: () => {}, cancel: never, silenceLimitSeconds: 1 }), /sent nothing for 1 s/);
  await settle();
  assert.equal(children(), 0);
});
