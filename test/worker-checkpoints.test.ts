/**
 * Inspect Checkpoints through the real worker process (dist/worker.js): a folder of checkpoints made
 * here by scaling the logistic fixture's weights, found with the CLI's glob, inspected in one worker
 * run. The rows come back in natural order (epoch-2 before epoch-10), progress is tagged by checkpoint,
 * and every row and diagonal equals a single Inspect run of that checkpoint in a worker of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheckpointsInWorker, runInWorker, WorkerError } from '../extension/host/workerClient.js';
import { checkpointRow } from '../extension/engine/checkpoints.js';
import { diagonalsOf } from '../extension/worker/checkpoints.js';
import { findCheckpoints } from '../extension/host/checkpointFiles.js';
import type { CheckpointProgress, WorkerCheckpointsOptions } from '../extension/protocol.js';

const WORKER = 'dist/worker.js';
if (!existsSync(WORKER)) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });

const FIXTURE = 'test/fixtures/models/logistic';
const never = { onCancellationRequested: () => ({ dispose() {} }) };

/** epoch-1, epoch-2, epoch-10: the fixture's weights scaled by 0.5, 1 and 3 (written in shuffled order). */
function makeCheckpoints(): string {
  const root = mkdtempSync(join(tmpdir(), 'cl-ckpt-'));
  const w = new Float32Array(new Uint8Array(readFileSync(join(FIXTURE, 'group1-shard1of1.bin'))).buffer);
  for (const [epoch, scale] of [[10, 3], [1, 0.5], [2, 1]] as const) {
    const d = join(root, `epoch-${epoch}`);
    mkdirSync(d);
    copyFileSync(join(FIXTURE, 'model.json'), join(d, 'model.json'));
    writeFileSync(join(d, 'group1-shard1of1.bin'), Buffer.from(Float32Array.from(w, (v) => v * scale).buffer));
  }
  copyFileSync(join(FIXTURE, 'data.npz'), join(root, 'data.npz'));
  return root;
}

const settings = (root: string): WorkerCheckpointsOptions['settings'] => ({
  dataPath: join(root, 'data.npz'),
  loss: 'binary-cross-entropy',
  estimator: 'hutchinson',
  samples: 12,
  top: 1,
  bottom: 1,
  seed: 7,
  backend: 'cpu',
});

test('checkpoints in the worker: natural order, progress per checkpoint, rows and diagonals equal to single runs', async () => {
  const root = makeCheckpoints();
  const paths = findCheckpoints(root);
  assert.deepEqual(paths, [1, 2, 10].map((k) => join(root, `epoch-${k}`, 'model.json')));
  const seen: CheckpointProgress[] = [];
  const { result, diagonals } = await runCheckpointsInWorker({
    workerPath: WORKER,
    options: { paths, settings: settings(root) },
    onProgress: (_p, c) => c && seen.push(c),
    log: () => {},
    cancel: never,
  });
  assert.deepEqual(result.checkpoints.map((r) => r.path), paths);
  assert.deepEqual([...new Set(seen.map((c) => `${c.index}/${c.total}:${c.path}`))], paths.map((p, i) => `${i}/3:${p}`));
  assert.equal(diagonals.length, 3);
  for (const [i, path] of paths.entries()) {
    const single = await runInWorker({ workerPath: WORKER, options: { ...settings(root), modelPath: path }, onProgress: () => {}, log: () => {}, cancel: never });
    assert.deepEqual(result.checkpoints[i], JSON.parse(JSON.stringify(checkpointRow(path, single))), `row ${i}`);
    assert.deepEqual(diagonals[i], diagonalsOf(single), `diagonal ${i}`);
    assert.equal(diagonals[i].length, 2);
    assert.equal(diagonals[i][0].values.length, 3);
    assert.ok(diagonals[i][0].stderr, 'a stochastic diagonal carries its stderr');
  }
  // Scaling the weights changes the curvature: the rows are not one checkpoint repeated.
  assert.notEqual(result.checkpoints[0].trace.value, result.checkpoints[2].trace.value);
  assert.notDeepEqual(diagonals[0][0].values, diagonals[2][0].values);
});

test('checkpoints in the worker: a missing checkpoint is an input error naming it', async () => {
  const root = makeCheckpoints();
  const paths = [join(root, 'epoch-1', 'model.json'), join(root, 'epoch-3', 'model.json')];
  await assert.rejects(
    runCheckpointsInWorker({ workerPath: WORKER, options: { paths, settings: settings(root) }, onProgress: () => {}, log: () => {}, cancel: never }),
    (e: unknown) => e instanceof WorkerError && e.kind === 'input' && e.message.includes(join('epoch-3', 'model.json')),
  );
});

test('checkpoints in the worker: cancel stops the run as cancelled', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cl-ckpt-cancel-'));
  const paths = [1, 2].map((k) => {
    const d = join(root, `epoch-${k}`);
    mkdirSync(d);
    for (const f of ['model.json', 'group1-shard1of1.bin']) copyFileSync(join('examples/mlp', f), join(d, f));
    return join(d, 'model.json');
  });
  const listeners: Array<() => void> = [];
  const cancel = { onCancellationRequested: (l: () => void) => (listeners.push(l), { dispose() {} }) };
  const t0 = Date.now();
  await assert.rejects(
    runCheckpointsInWorker({
      workerPath: WORKER,
      options: { paths, settings: { dataPath: 'examples/mlp/data.npz', estimator: 'hutchinson', samples: 100000, top: 1, bottom: 1, backend: 'cpu' } },
      onProgress: (p) => p.phase === 'diagonal' && listeners.forEach((l) => l()),
      log: () => {},
      cancel,
    }),
    (e: unknown) => e instanceof WorkerError && e.kind === 'cancelled',
  );
  assert.ok(Date.now() - t0 < 30000);
});
