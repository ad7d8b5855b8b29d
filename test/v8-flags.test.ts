/**
 * Every process that runs the engine starts with ENGINE_V8_FLAGS (engine/v8Flags.ts): the extension's
 * worker process (forked, and through `sh -c ulimit` with a memory cap) and the CLI, whose launcher
 * relaunches node with them and forwards signals to it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInWorker, WorkerError } from '../extension/host/workerClient.js';
import { ENGINE_V8_FLAGS } from '../extension/engine/v8Flags.js';
import type { WorkerInspectOptions } from '../extension/protocol.js';
import { CLI, useCli } from './cli.js';

useCli();

test('the launcher lists the same flags as engine/v8Flags.ts', () => {
  const m = /const ENGINE_V8_FLAGS = (\[[^\]]*\]);/.exec(readFileSync(CLI, 'utf8'));
  assert.ok(m, 'no ENGINE_V8_FLAGS list in bin/curvature-lens.js');
  assert.deepEqual(JSON.parse(m[1].replace(/'/g, '"')), [...ENGINE_V8_FLAGS]);
  assert.ok(ENGINE_V8_FLAGS.length > 0);
});

test('the worker process starts with the flags, forked and under a memory cap', async () => {
  // A stand-in worker that answers a run with its own command-line flags.
  const dir = mkdtempSync(join(tmpdir(), 'cl-flags-worker-'));
  const worker = join(dir, 'worker.js');
  writeFileSync(worker, `process.send({ type: 'ready' }); process.on('message', (m) => { if (m.type === 'inspect') process.send({ type: 'error', id: m.id, kind: 'internal', message: 'flags ' + JSON.stringify(process.execArgv) }); });`);
  const options = { modelPath: 'examples/mlp/model.json', dataPath: null, loss: null, samples: 1, top: 1, bottom: 1, exact: false, exactLimit: 1, seed: 0, backend: 'wasm', memoryBudget: 2 ** 30 } as WorkerInspectOptions;
  for (const memoryLimitMB of [undefined, 4000]) {
    await assert.rejects(
      runInWorker({ workerPath: worker, options, onProgress: () => {}, log: () => {}, cancel: { onCancellationRequested: () => ({ dispose() {} }) }, memoryLimitMB }),
      (e: unknown) => {
        assert.ok(e instanceof WorkerError, String(e));
        const flags = JSON.parse(/flags (\[.*\])/.exec(e.message)![1]) as string[];
        for (const f of ENGINE_V8_FLAGS) assert.ok(flags.includes(f), `${f} missing from ${e.message} (memory cap ${memoryLimitMB})`);
        return true;
      },
    );
  }
});

test('the CLI runs in a node started with the flags; SIGTERM to the launcher stops it', async () => {
  const launcher = spawn(process.execPath, [CLI, 'inspect', 'examples/mlp/model.json', '--data', 'examples/mlp/data.npz', '--samples', '1000000', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  launcher.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => launcher.on('exit', (code, signal) => r([code, signal])));
  let args = '';
  for (let i = 0; i < 100 && !args; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      args = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(launcher.pid)]).toString().trim();
    } catch {
      // no child yet
    }
  }
  assert.match(args, /curvature-lens\.js inspect/, 'the launcher started no CLI process');
  for (const f of ENGINE_V8_FLAGS) assert.ok(args.split(/\s+/).includes(f), `${f} missing from the CLI's command line: ${args}`);
  const child = Number(args.split(/\s+/)[0]);
  launcher.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.ok(signal === 'SIGTERM' || code !== 0, `the launcher exited with ${code} after SIGTERM (stderr: ${stderr})`);
  // The CLI itself is gone too.
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(child, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the CLI process ${child} outlived its launcher`);
});
