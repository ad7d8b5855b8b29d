/**
 * Probe-parallel HVP threads (extension/engine/hvpPool.ts): the same seed gives the same numbers with 1
 * and 2 workers (Hutchinson, XDiag and exact mode, through inspect()); threads leak no tensors; a
 * cancelled or finished run leaves no thread behind; a thread's error surfaces with its name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect, type InspectOptions } from '../extension/engine/inspect.js';
import { HvpPool, liveThreads } from '../extension/engine/hvpPool.js';
import { activateBackend, tf } from '../extension/engine/tfjs.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import { Objective } from '../extension/engine/objective.js';
import { CancelledError } from '../extension/errors.js';

const dir = 'test/fixtures/models';

async function noThreadsLeft(): Promise<void> {
  // A thread's exit event follows terminate() by a tick or two.
  for (let i = 0; i < 200 && liveThreads() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(liveThreads(), 0, 'worker threads still running after the run');
}

/** The cnn fixture in this thread (chunks of 16) and a pool of `workers` over it. */
function cnnPool(workers: number, stacked: boolean) {
  const modelPath = `${dir}/cnn/model.json`;
  const { net } = loadModel(modelPath);
  const { x, y } = readArrays(`${dir}/cnn/data.npz`);
  const { dataset, loss } = prepareData('data.npz', x, y, net, null);
  const obj = new Objective(net, dataset, loss, 16);
  const pool = new HvpPool(workers, { model: { path: modelPath }, weights: net.initial, dataset, loss, chunkSize: 16, backend: 'wasm', stacked }, (vs) => obj.hvpMany(vs));
  return { net, obj, pool };
}

async function both(options: InspectOptions) {
  const [a, b] = [await inspect({ ...options, workers: 1 }), await inspect({ ...options, workers: 2 })];
  assert.equal(a.timing.workers, 1);
  assert.equal(b.timing.workers, 2);
  const { timing: ta, ...ra } = a;
  const { timing: tb, ...rb } = b;
  assert.equal(ta.hvps, tb.hvps);
  return { a: ra, b: rb, batch: ta.batch };
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: Hutchinson with 1 and 2 workers gives identical results for the seed`, async () => {
    const m = backend === 'wasm' ? 'cnn' : 'mlp'; // conv on cpu is slow
    const { a, b } = await both({ modelPath: `${dir}/${m}/model.json`, dataPath: `${dir}/${m}/data.npz`, samples: 37, top: 0, bottom: 0, seed: 7, backend });
    assert.deepEqual(b, a);
    await noThreadsLeft();
  });
}

test('XDiag sketch and exact mode (uneven last batch) with 1 and 2 workers give identical results', async () => {
  const x = await both({ modelPath: `${dir}/mlp/model.json`, dataPath: `${dir}/mlp/data.npz`, estimator: 'xdiag', matvecs: 30, top: 0, bottom: 0, seed: 3, backend: 'wasm' });
  assert.deepEqual(x.b, x.a);
  // K: the HVPs inspect stacks per worker for the fixture MLP (batching.ts). 2K + 5 probes: a first batch
  // of 4 per worker (for an early preview), then K per worker: 1 worker 4 + K + K + 1 (a share of one,
  // padded to a stacked pair), 2 workers 4 + 4, then 2K − 3 shared unevenly.
  const mlp = { modelPath: `${dir}/mlp/model.json`, dataPath: `${dir}/mlp/data.npz`, top: 0, bottom: 0, backend: 'wasm' as const };
  const K = (await inspect({ ...mlp, samples: 2, workers: 1 })).timing.batch;
  assert.ok(K >= 8, `the fixture MLP should stack HVPs (K = ${K}), or this case tests nothing new`);
  const h = await both({ ...mlp, samples: 2 * K + 5, seed: 5 });
  assert.equal(h.batch, K);
  assert.deepEqual(h.b, h.a);
  // 246 columns in batches of K (1 worker) or 2K (2 workers), the last one shorter.
  const e = await both({ modelPath: `${dir}/mlp/model.json`, dataPath: `${dir}/mlp/data.npz`, exact: true, top: 2, bottom: 2, backend: 'wasm' });
  assert.deepEqual(e.b, e.a);
  await noThreadsLeft();
});

test('threads keep their tensor count constant across batches and match the main thread', async () => {
  await activateBackend('wasm');
  const { net, obj, pool } = cnnPool(3, true);
  try {
    const vs = Array.from({ length: 6 }, (_, k) => new Float32Array(net.size).map((_, i) => Math.sin(0.3 * i + k)));
    await pool.ready(); // so that every batch is shared with both threads
    const before = tf.memory().numTensors;
    const first = await pool.hvpMany(vs);
    for (let r = 0; r < 3; r++) await pool.hvpMany(vs);
    assert.equal(tf.memory().numTensors, before, 'main thread tensor count grew');
    const counts = pool.threadTensorCounts;
    assert.equal(counts.length, 2);
    for (const c of counts) {
      assert.equal(c.length, 4);
      assert.ok(c.every((n) => n === c[0]), `a thread's tensor count changed across batches: ${c}`);
    }
    // Shares: main [0, 2), thread 1 [2, 4), thread 2 [4, 6); each equals this thread's own HVP bit for bit.
    const local = obj.hvpMany(vs);
    first.forEach((h, k) => assert.deepEqual(h, local[k], `vector ${k}`));
  } finally {
    await pool.close();
    obj.dispose();
  }
  await noThreadsLeft();
});

test('unstacked pools compute every HVP alone: equal to single HVPs bit for bit, whatever the shares', async () => {
  await activateBackend('wasm');
  const { net, obj, pool } = cnnPool(2, false);
  try {
    const vs = Array.from({ length: 5 }, (_, k) => new Float32Array(net.size).map((_, i) => Math.cos(0.2 * i + k)));
    await pool.ready();
    const got = await pool.hvpMany(vs); // shares of 3 and 2
    vs.forEach((v, k) => assert.deepEqual(got[k], obj.hvp(v), `vector ${k}`));
  } finally {
    await pool.close();
    obj.dispose();
  }
  await noThreadsLeft();
});

test('cancelling a run stops its threads', async () => {
  const controller = new AbortController();
  const run = inspect({
    modelPath: `${dir}/cnn/model.json`,
    dataPath: `${dir}/cnn/data.npz`,
    samples: 100000,
    workers: 2,
    backend: 'wasm',
    signal: controller.signal,
    onProgress: (p) => {
      if (p.phase === 'diagonal' && p.done >= 64) controller.abort();
    },
  });
  await assert.rejects(run, CancelledError);
  await noThreadsLeft();
});

test("a thread's failure surfaces as a clear error naming the thread, and the pool stops", async () => {
  await activateBackend('wasm');
  const modelPath = `${dir}/mlp/model.json`;
  const { net } = loadModel(modelPath);
  const { x, y } = readArrays(`${dir}/mlp/data.npz`);
  const { dataset, loss } = prepareData('data.npz', x, y, net, null);
  const obj = new Objective(net, dataset, loss, 64);
  // The thread is given a model that does not exist.
  const pool = new HvpPool(2, { model: { path: `${dir}/no-such-model/model.json` }, weights: net.initial, dataset, loss, chunkSize: 64, backend: 'wasm', stacked: true }, (vs) => obj.hvpMany(vs));
  try {
    const vs = [new Float32Array(net.size).fill(1), new Float32Array(net.size).fill(2)];
    await assert.rejects(pool.ready(), /HVP worker thread 1: .*no-such-model/);
    await assert.rejects(pool.hvpMany(vs), /HVP worker thread 1/);
  } finally {
    await pool.close();
    obj.dispose();
  }
  await noThreadsLeft();
});

test('batches do not wait for threads that are still starting: the caller computes them, with the same numbers', async () => {
  await activateBackend('wasm');
  const { net, obj, pool } = cnnPool(2, true);
  try {
    const vs = Array.from({ length: 4 }, (_, k) => new Float32Array(net.size).map((_, i) => Math.sin(0.3 * i + k)));
    const early = await pool.hvpMany(vs); // the thread is still self-testing (~0.5 s)
    assert.deepEqual(pool.threadTensorCounts, [[]], 'the first batch waited for the thread');
    await pool.ready();
    const shared = await pool.hvpMany(vs);
    assert.equal(pool.threadTensorCounts[0].length, 1, 'the thread took no share once ready');
    assert.deepEqual(shared, early);
  } finally {
    await pool.close();
    obj.dispose();
  }
  await noThreadsLeft();
});
