/**
 * Probe-parallel HVPs: independent Hessian-vector products (Hutchinson probes, XDiag/XTrace sketch
 * columns, exact-mode columns) split over worker threads (node:worker_threads), each with its own tfjs
 * instance, backend, copy of the model and data chunks (tfjs-wasm is single-threaded in Node, so
 * parallelism must come from several instances). The calling thread computes one share itself, so
 * `workers` = N means N HVPs in flight and N − 1 threads.
 *
 * Results do not depend on the worker count: probes are made by the caller from its seeded RNG; each
 * vector's HVP is computed whole by one instance with the same backend, weights, chunking and ops
 * (a stacked batch gives bit-identical results to single HVPs, see Objective.hvpMany), and results come
 * back in the order of the input. A test checks 1 vs 2 workers through inspect().
 *
 * Trust: each thread runs the same numerical second-order self-test as the main thread on its own fresh
 * backend instance before it computes anything (~0.5 s). Until a thread is ready, batches are shared
 * among the threads that are, the calling thread included, so the first batches (and the first preview)
 * never wait for a thread's start. A thread whose backend fails its self-test is an error (raised by
 * the next batch or ready()), never a silent fallback to another backend.
 *
 * Lifetime: threads start with the pool, stop on close() (always called by inspect's finally), on the
 * caller's AbortSignal, and on the first error of any thread (the error names the thread).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../errors.js';
import type { TfjsModelFile } from '../readers/tfjsModel.js';
import type { LossSpec } from './loss.js';
import type { Dataset } from './objective.js';
import type { BackendName } from './tfjs.js';

/** Default worker count: one fewer than the cores (the rest of the machine keeps one), at least 1. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** Everything a thread needs to rebuild the main thread's Objective exactly. */
export interface ThreadJob {
  /** The model: a file to load (any format loadModel reads) or an already-read TF.js model. */
  model: { path: string } | { file: TfjsModelFile };
  /** The weights to use (the main thread's, so that both sides differentiate the same function). */
  weights: Float32Array;
  dataset: Dataset;
  loss: LossSpec;
  chunkSize: number;
  /** The backend the main thread chose and self-tested; the thread self-tests its own instance of it. */
  backend: BackendName;
  /**
   * True: a share is computed as one stacked batch (a share of one is padded to two); false: each HVP
   * alone. On wasm stacked and single HVPs differ in the last bits, so every HVP of a pool must take
   * the same path, whatever the share sizes.
   */
  stacked: boolean;
}

/** A share of HVPs computed the pool's one way (see ThreadJob.stacked). */
export function hvpShare(hvpMany: (vs: Float32Array[]) => Float32Array[], vs: Float32Array[], stacked: boolean): Float32Array[] {
  if (vs.length === 0) return [];
  if (!stacked) return vs.map((v) => hvpMany([v])[0]);
  return vs.length === 1 ? [hvpMany([vs[0], vs[0]])[0]] : hvpMany(vs);
}

/** Messages between the pool and a thread (engine-internal; not part of the host/worker protocol). */
export type ToThread = { type: 'init'; job: ThreadJob } | { type: 'hvp'; id: number; vs: Float32Array[] };
export type FromThread =
  | { type: 'ready'; selfTest: string }
  | { type: 'hvp'; id: number; hvs: Float32Array[]; numTensors: number }
  | { type: 'error'; id: number | null; message: string };

let live = 0;
/** Threads started by any pool and not yet exited (for tests: no thread outlives its run). */
export function liveThreads(): number {
  return live;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  isReady: boolean;
  pending: Map<number, { resolve: (hvs: Float32Array[]) => void; reject: (e: Error) => void }>;
  /** numTensors the thread reported after each batch (a leak shows as growth). */
  tensorCounts: number[];
}

export class HvpPool {
  private readonly slots: Slot[] = [];
  private failure: Error | null = null;
  private nextId = 1;
  private closed = false;
  private readonly onAbort = () => this.fail(new CancelledError());
  /** Rejects with the first failure (ready() races it). */
  private readonly failed: Promise<never>;
  private rejectFailed: (e: Error) => void = () => undefined;

  /**
   * @param workers HVPs in flight (≥ 1); the pool starts workers − 1 threads.
   * @param local the calling thread's own batched HVP (Objective.hvpMany), applied through hvpShare.
   */
  private readonly stacked: boolean;

  constructor(
    readonly workers: number,
    job: ThreadJob,
    private readonly local: (vs: Float32Array[]) => Float32Array[],
    private readonly signal?: AbortSignal,
  ) {
    this.stacked = job.stacked;
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => undefined);
    try {
      for (let i = 1; i < workers; i++) this.slots.push(this.spawn(i, job));
    } catch (e) {
      this.fail(e as Error); // the first hvpMany reports it; threads already started are stopped
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * H·v for every v, in order; the vectors are shared out in contiguous runs, the caller's first, among
   * the caller and the threads that are ready (any share gives the same numbers).
   */
  async hvpMany(vs: Float32Array[]): Promise<Float32Array[]> {
    this.check();
    const ready = this.slots.filter((s) => s.isReady);
    const parts = Math.min(1 + ready.length, vs.length);
    const bounds = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * vs.length) / parts));
    const remote = ready.slice(0, parts - 1).map((s, i) => this.post(s, vs.slice(bounds[i + 1], bounds[i + 2])));
    // Keep a failing thread's rejection handled while this thread computes its own share.
    remote.forEach((p) => p.catch(() => undefined));
    const mine = hvpShare(this.local, vs.slice(bounds[0], bounds[1]), this.stacked);
    const rest = await Promise.all(remote);
    this.check();
    return [...mine, ...rest.flat()];
  }

  /** numTensors reported by each thread after each of its batches. */
  get threadTensorCounts(): number[][] {
    return this.slots.map((s) => [...s.tensorCounts]);
  }

  /** Stops every thread (idempotent); resolves once they have exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.signal?.aborted) throw new CancelledError();
  }

  /** The first failure wins: pending batches reject with it and every thread is stopped. */
  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.rejectFailed(e);
    for (const s of this.slots) {
      for (const p of s.pending.values()) p.reject(e);
      s.pending.clear();
    }
    void this.close();
  }

  /** Resolves once every thread has passed its self-test and loaded the model; rejects with the first failure. */
  async ready(): Promise<void> {
    await Promise.race([Promise.all(this.slots.map((s) => s.ready)), this.failed]);
    this.check();
  }

  private post(slot: Slot, vs: Float32Array[]): Promise<Float32Array[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ type: 'hvp', id, vs: vs.map(compact) } satisfies ToThread);
    });
  }

  private spawn(index: number, job: ThreadJob): Slot {
    const worker = startThread();
    live++;
    const name = `HVP worker thread ${index}`;
    const pending: Slot['pending'] = new Map();
    const tensorCounts: number[] = [];
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    worker.on('message', (m: FromThread) => {
      if (m.type === 'ready') {
        slot.isReady = true;
        markReady();
      } else if (m.type === 'hvp') {
        tensorCounts.push(m.numTensors);
        pending.get(m.id)?.resolve(m.hvs);
        pending.delete(m.id);
      } else this.fail(new Error(`${name}: ${m.message}`));
    });
    worker.on('error', (e) => this.fail(new Error(`${name} crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      live--;
      if (!this.closed) this.fail(new Error(`${name} exited unexpectedly (code ${code})`));
    });
    const dataset = { ...job.dataset, x: compact(job.dataset.x), y: compact(job.dataset.y) };
    worker.postMessage({ type: 'init', job: { ...job, weights: compact(job.weights), dataset } } satisfies ToThread);
    const slot: Slot = { worker, ready, isReady: false, pending, tensorCounts };
    return slot;
  }
}

/**
 * The thread entry, bundled as dist/hvpThread.js beside dist/cli.js, dist/worker.js and dist/bench.js
 * (scripts/build.mjs); from source (tests under tsx) the .ts entry is run through tsx's require hook.
 */
function startThread(): Worker {
  const bundled = join(__dirname, 'hvpThread.js');
  if (existsSync(bundled)) return new Worker(bundled);
  const source = join(__dirname, 'hvpThread.ts');
  if (!existsSync(source)) throw new Error(`the HVP thread entry is missing: neither ${bundled} nor ${source} exists (run node scripts/build.mjs)`);
  const tsx = require.resolve(['tsx', 'cjs'].join('/')); // a dev dependency, only when running from source
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(source)});`, { eval: true });
}

/** Posting a view clones its whole buffer: send views of larger buffers as copies of their own. */
function compact(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}
