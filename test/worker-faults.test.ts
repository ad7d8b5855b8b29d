/**
 * Worker faults, in plain node (no VS Code): the worker killed mid-run, a memory cap exceeded (`ulimit -v`,
 * since tfjs/WASM memory is outside the JS heap), a worker that goes silent mid-run (watchdog, with the
 * timeout injected), malformed messages, and a listener that throws on a message. Each ends in a clear
 * WorkerError, no worker (or zombie) is left behind, and the next run works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInWorker, WorkerError } from '../extension/host/workerClient.js';
import type { Progress, WorkerInspectOptions } from '../extension/protocol.js';
import { useCli } from './cli.js';
import { writeModel } from './modelWriter.js';

useCli(); // builds dist/ (the worker bundle) when a source is newer

const WORKER = 'dist/worker.js';
const options = (over: Partial<WorkerInspectOptions> = {}): WorkerInspectOptions => ({
  modelPath: 'examples/mlp/model.json',
  dataPath: 'examples/mlp/data.npz',
  loss: null,
  samples: 5,
  top: 1,
  bottom: 1,
  exact: false,
  exactLimit: 5000,
  seed: 0,
  backend: 'wasm',
  memoryBudget: 2 ** 30,
  ...over,
});
const never = { onCancellationRequested: () => ({ dispose() {} }) };
const quiet = { log: () => {}, cancel: never };

/** Child processes of this test process that are workers (real or fake) or zombies; tsx's esbuild service is neither. */
function children(): string[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,stat=,args=', '--ppid', String(process.pid)]).toString().trim();
  } catch {
    return []; // ps exits 1 when there is no child at all
  }
  return out ? out.split('\n').filter((l) => /worker\.js|<defunct>|\bZ/.test(l)) : [];
}

async function noneLeft(): Promise<void> {
  for (let i = 0; i < 30 && children().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(children(), [], 'a worker or zombie was left behind');
}

function fakeWorker(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-fault-worker-'));
  const p = join(dir, 'worker.js');
  writeFileSync(p, body);
  return p;
}

async function nextRunWorks(extra: Partial<Parameters<typeof runInWorker>[0]> = {}): Promise<void> {
  const r = await runInWorker({ workerPath: WORKER, options: options(), onProgress: () => {}, ...quiet, ...extra });
  assert.equal(r.layers.length, 3);
  await noneLeft();
}

test('the worker killed mid-run (SIGKILL) ends as a clear error; no process is left; the next run works', async () => {
  const before = children().length;
  let killed = 0;
  const run = runInWorker({
    workerPath: WORKER,
    options: options({ samples: 100_000 }),
    ...quiet,
    onProgress: (p: Progress) => {
      if (p.phase !== 'diagonal' || killed) return;
      const pid = Number(children()[0]?.trim().split(/\s+/)[0]);
      assert.ok(pid > 0, 'no worker process found');
      killed = pid;
      process.kill(pid, 'SIGKILL');
    },
  });
  await assert.rejects(run, (e: unknown) => e instanceof WorkerError && e.kind === 'internal' && /the worker stopped unexpectedly \(signal SIGKILL\)/.test(e.message));
  assert.ok(killed > 0);
  assert.equal(before, 0);
  await noneLeft();
  await nextRunWorks();
});

test('a worker silent mid-run is stopped by the watchdog (injected 1 s), then the next run works', async () => {
  const w = fakeWorker(`process.send({type:'ready'}); process.on('message', (m) => { if (m.type === 'inspect') { process.send({type:'progress', id:m.id, progress:{phase:'diagonal', message:'probes', done:1, total:9, eta:null}}); setInterval(() => {}, 1000); } });`);
  const seen: Progress[] = [];
  const t0 = Date.now();
  await assert.rejects(
    runInWorker({ workerPath: w, options: options(), onProgress: (p) => seen.push(p), ...quiet, silenceLimitSeconds: 1 }),
    (e: unknown) => e instanceof WorkerError && /the worker sent nothing for 1 s and was stopped \(hung\?\)/.test(e.message),
  );
  assert.equal(seen.length, 1, 'the progress before the hang arrived');
  assert.ok(Date.now() - t0 < 5000);
  await noneLeft();
});

const MALFORMED: Array<[string, string]> = [
  ['a number', '42'],
  ['null', 'null'],
  ['a string', '"result"'],
  ['an array', '[1, 2]'],
  ['no type', '{}'],
  ['an unknown type', "{type: 'explode'}"],
  ['progress without progress', "{type: 'progress', id: 1}"],
  ['progress with a bad phase', "{type: 'progress', id: 1, progress: {phase: 'nope', message: 'x', done: 1, total: 2, eta: null}}"],
  ['progress with text numbers', "{type: 'progress', id: 1, progress: {phase: 'diagonal', message: 'x', done: '1', total: 2, eta: null}}"],
  ['a result of another schema', "{type: 'result', id: 1, result: {schemaVersion: 2, layers: []}}"],
  ['a result without layers', "{type: 'result', id: 1, result: {schemaVersion: 1, global: {}, model: {}}}"],
  ['an error of an unknown kind', "{type: 'error', id: 1, kind: 'boom', message: 'x'}"],
  ['an error without text', "{type: 'error', id: 1, kind: 'internal', message: {}}"],
];

for (const [what, msg] of MALFORMED) {
  test(`a malformed message (${what}) ends the run with a clear error and kills the worker`, async () => {
    const w = fakeWorker(`process.send({type:'ready'}); process.on('message', (m) => { if (m.type === 'inspect') { process.send(${msg}); setInterval(() => {}, 1000); } });`);
    await assert.rejects(
      runInWorker({ workerPath: w, options: options(), onProgress: () => {}, ...quiet }),
      (e: unknown) => e instanceof WorkerError && e.kind === 'internal' && /^the worker sent a malformed message \(.+\) and was stopped$/.test(e.message),
    );
    await noneLeft();
  });
}

test('a progress listener that throws ends the run with an error instead of escaping into the host', async () => {
  await assert.rejects(
    runInWorker({ workerPath: WORKER, options: options(), onProgress: () => { throw new TypeError('panel gone'); }, ...quiet }),
    (e: unknown) => e instanceof WorkerError && /could not handle the worker's progress message: panel gone/.test(e.message),
  );
  await noneLeft();
});

test('a worker that exceeds its memory cap (ulimit -v) ends with an out-of-memory error', { skip: process.platform === 'win32' }, async () => {
  // allocates outside the JS heap (like tfjs/WASM) until the cap stops it
  const w = fakeWorker(`process.send({type:'ready'}); process.on('message', (m) => { if (m.type === 'inspect') { const keep = []; for (;;) keep.push(Buffer.alloc(64 << 20, 1)); } });`);
  await assert.rejects(
    runInWorker({ workerPath: w, options: options(), onProgress: () => {}, ...quiet, memoryLimitMB: 1600 }),
    (e: unknown) => e instanceof WorkerError && /the worker stopped unexpectedly \(exit code \d+\): out of memory/.test(e.message),
  );
  await noneLeft();
});

test('the real worker over its memory cap reports "ran out of memory"; under the same cap a normal run works', { skip: process.platform === 'win32' }, async () => {
  // 100 → 200 Dense: P = 20200, so --exact's dense Hessian alone is 1.6 GB, above the 1600 MB cap
  // (the engine's own budget is raised out of the way to show the cap doing its job).
  const dir = mkdtempSync(join(tmpdir(), 'cl-oom-'));
  const modelPath = writeModel(dir, { inputs: 100, layers: [{ name: 'wide', units: 200 }] });
  await assert.rejects(
    runInWorker({ workerPath: WORKER, options: options({ modelPath, dataPath: null, exact: true, exactLimit: 10 ** 6, memoryBudget: 2 ** 40 }), onProgress: () => {}, ...quiet, memoryLimitMB: 1600 }),
    (e: unknown) => e instanceof WorkerError && e.kind === 'internal' && /ran out of memory/.test(e.message),
  );
  await noneLeft();
  await nextRunWorks({ memoryLimitMB: 1600 });
});
