/**
 * Entry of an HVP worker thread (see hvpPool.ts): on `init` it activates the main thread's backend in
 * its own tfjs instance, runs the second-order self-test on it, rebuilds the Objective (same model,
 * weights, data chunks and loss) and answers `hvp` batches with Objective.hvpMany. Errors are reported
 * as messages; the pool terminates the thread.
 */
import { parentPort } from 'node:worker_threads';
import { InputError } from '../errors.js';
import { buildNetwork, type Network } from './network.js';
import { loadModel } from './loadModel.js';
import { Objective } from './objective.js';
import { selfTest } from './selftest.js';
import { activateBackend, tf } from './tfjs.js';
import { hvpShare, type FromThread, type ThreadJob, type ToThread } from './hvpPool.js';

const port = parentPort;
if (!port) throw new Error('hvpThread must run as a worker thread');
let obj: Objective | null = null;
let stacked = false;

const send = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', (m: ToThread) => {
  if (m.type === 'init') {
    init(m.job).then(
      (detail) => send({ type: 'ready', selfTest: detail }),
      (e: unknown) => send({ type: 'error', id: null, message: messageOf(e) }),
    );
    return;
  }
  try {
    if (!obj) throw new Error('hvp before init');
    const o = obj;
    const hvs = hvpShare((vs) => o.hvpMany(vs), m.vs, stacked);
    send({ type: 'hvp', id: m.id, hvs, numTensors: tf.memory().numTensors }, hvs.map((h) => h.buffer as ArrayBuffer));
  } catch (e) {
    send({ type: 'error', id: m.id, message: messageOf(e) });
  }
});

async function init(job: ThreadJob): Promise<string> {
  await activateBackend(job.backend);
  const r = selfTest();
  if (!r.ok) throw new Error(`the ${job.backend} backend failed the second-order self-test in this thread (${r.detail})`);
  const net: Network = 'path' in job.model ? loadModel(job.model.path).net : buildNetwork(job.model.file);
  if (net.size !== job.weights.length) throw new Error(`the model has ${net.size} parameters here but ${job.weights.length} in the main thread (did the file change during the run?)`);
  obj = new Objective(net, job.dataset, job.loss, job.chunkSize, job.weights);
  stacked = job.stacked;
  return r.detail;
}

function messageOf(e: unknown): string {
  if (e instanceof InputError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
