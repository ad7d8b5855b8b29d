/**
 * `npm run bench`: the performance table of issue 6, written to bench/hvp-results.md (kept in git, so
 * changes show in review) and printed.
 *
 * Per model × backend × workers: gradient and HVP time (medians over repeated runs after a warm-up, one
 * thread), their ratio, PyTorch's HVP time on the same architecture and batch (bench/torch_hvp.py under
 * /usr/bin/python3, torch.set_num_threads = our worker count; the column says so when torch is absent),
 * the ratio to PyTorch, peak RSS of the process, probes/s through the HVP worker pool (hvpPool.ts:
 * batches as inspect makes them, batching.ts), memory above resident-after-load of one HVP vs one gradient.
 * Each model × backend runs in its own child process so peak RSS is its own.
 *
 *   node dist/bench.js [--quick]      (--quick: fewer repetitions, for a smoke test)
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { buildNetwork } from '../extension/engine/network.js';
import { Objective } from '../extension/engine/objective.js';
import { activateBackend, tf, type BackendName } from '../extension/engine/tfjs.js';
import { HvpPool } from '../extension/engine/hvpPool.js';
import { selfTest } from '../extension/engine/selftest.js';
import { activationBudget, stacking } from '../extension/engine/batching.js';
import { DEFAULTS } from '../extension/engine/inspect.js';
import { CASES, type Case } from './models.js';
import { firstPictureChild, firstPictureSection } from './first-picture.js';
import { median, timeMs } from './stats.js';
import { ENGINE_V8_FLAGS } from '../extension/engine/v8Flags.js';


interface Row {
  workers: number;
  /** HVPs per pool batch (inspect's: K stacked per worker, or 4 single ones per worker). */
  batch: number;
  probesPerSecond: number;
  peakRssMb: number;
  /** Resident memory a thread adds (its isolate, backend, model, data and activations), MB. */
  threadMb: number | null;
}
interface CaseResult {
  params: number;
  gradientMs: number;
  hvpMs: number;
  loadMb: number;
  gradientMb: number;
  hvpMb: number;
  /** One worker's stacked batch (HVPs) and its peak memory above resident, MB (as hvpMb). */
  batch: number;
  batchMb: number;
  rows: Row[];
}

const rssMb = () => process.memoryUsage.rss() / 2 ** 20;
const peakMb = () => process.resourceUsage().maxRSS / 1024;

/** Seconds of pool rounds per worker count (scaled down with --quick). */
const POOL_SECONDS = 4;

/** One model on one backend, in this (child) process. */
async function runCase(c: Case, backend: BackendName, workerCounts: number[], reps: number): Promise<CaseResult> {
  await activateBackend(backend);
  // As a worker starts (backend.ts, hvpThread.ts): the self-test runs before the model is loaded, so
  // the memory measured from here on is the model's, not the runtime's first compilations.
  if (!selfTest().ok) throw new Error(`the ${backend} backend failed the self-test`);
  const tensorsBefore = tf.memory().numTensors;
  const { file, dataset, loss } = c.load();
  const net = buildNetwork(file);
  const obj = new Objective(net, dataset, loss, c.chunk);
  const v = new Float32Array(net.size).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const loadMb = rssMb();
  obj.lossAndGradient();
  const gradientMb = peakMb() - loadMb;
  obj.hvp(v);
  const hvpMb = peakMb() - loadMb;
  // Batches as inspect makes them for this model, chunk and the default memory budget (batching.ts);
  // one worker's batch (K stacked HVPs with their vectors and results) is measured like one HVP.
  const budget = activationBudget(DEFAULTS.memoryBudget, 4 * (dataset.x.length + dataset.y.length), 4 * net.size);
  const alone = stacking(net, obj, c.chunk, budget, 1);
  if (alone.stacked) obj.hvpMany(Array.from({ length: alone.K }, (_, k) => v.map((x, i) => x * Math.cos(i + k))));
  const batchMb = peakMb() - loadMb;
  const [gradientMs, hvpMs] = await timeMs([() => obj.lossAndGradient(), () => obj.hvp(v)], reps);
  // One pool per worker count, all alive, timed in alternation (round r times every pool once): the
  // machine is shared and its speed drifts over seconds, which sequential timing would read as speed-up.
  const pools: Array<{ workers: number; pool: HvpPool; vs: Float32Array[]; threadMb: number | null; times: number[] }> = [];
  try {
    for (const workers of workerCounts) {
      const before = rssMb();
      const { stacked, K } = stacking(net, obj, c.chunk, budget, workers);
      const pool = new HvpPool(workers, { model: { file }, weights: net.initial, dataset, loss, chunkSize: c.chunk, backend, stacked }, (vs) => obj.hvpMany(vs));
      // A stacked batch is K per worker; single HVPs go 4 per worker.
      const vs = Array.from({ length: (stacked ? K : 4) * workers }, (_, k) => new Float32Array(net.size).map((_, i) => Math.sin(0.37 * i + k)));
      pools.push({ workers, pool, vs, threadMb: null, times: [] });
      await pool.ready();
      await pool.hvpMany(vs); // warm-up
      await pool.hvpMany(vs);
      pools[pools.length - 1].threadMb = workers > 1 ? (rssMb() - before) / (workers - 1) : null;
    }
    // At least `reps` rounds, and until every pool has run for POOL_SECONDS: a round of a small model
    // takes tens of ms, and the machine's speed drifts over seconds.
    const spent = () => Math.min(...pools.map((p) => p.times.reduce((a, b) => a + b, 0)));
    for (let r = 0; r < Math.max(3, reps) || (spent() < 1000 * POOL_SECONDS * (reps / 9) && r < 400); r++) {
      for (const p of pools) {
        const t0 = performance.now();
        await p.pool.hvpMany(p.vs);
        p.times.push(performance.now() - t0);
      }
    }
  } finally {
    await Promise.all(pools.map((p) => p.pool.close()));
  }
  const rows: Row[] = pools.map((p) => ({ workers: p.workers, batch: p.vs.length, probesPerSecond: (1000 * p.vs.length) / median(p.times), peakRssMb: peakMb(), threadMb: p.threadMb }));
  obj.dispose();
  net.dispose();
  if (tf.memory().numTensors !== tensorsBefore) throw new Error(`${tf.memory().numTensors - tensorsBefore} tensors left after the case`);
  return { params: net.size, gradientMs, hvpMs, loadMb, gradientMb, hvpMb, batch: alone.stacked ? alone.K : 1, batchMb, rows };
}

/**
 * What parallelism the machine gives right now, as a control for the speed-up column: a fixed loop
 * (Float32Array multiply-adds) twice on this thread vs once here and once in a second thread.
 */
async function parallelControl(): Promise<number> {
  const { Worker } = await import('node:worker_threads');
  const body = `function work(n) { const a = new Float32Array(1 << 16).fill(1.0001); let s = 0; for (let r = 0; r < n; r++) for (let i = 0; i < a.length; i++) { a[i] = a[i] * 0.99991 + 0.0001; s += a[i]; } return s; }`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const work = new Function(`${body}; return work;`)() as (n: number) => number;
  const n = 1500;
  work(50);
  let t0 = performance.now();
  work(n);
  work(n);
  const serial = performance.now() - t0;
  const w = new Worker(`${body}; const { parentPort } = require('node:worker_threads'); parentPort.on('message', (n) => parentPort.postMessage(work(n)));`, { eval: true });
  await new Promise((r) => (w.once('message', r), w.postMessage(50)));
  t0 = performance.now();
  const other = new Promise((r) => w.once('message', r));
  w.postMessage(n);
  work(n);
  await other;
  const parallel = performance.now() - t0;
  await w.terminate();
  return serial / parallel;
}

interface Torch {
  blas: string;
  params: number;
  hvp_ms: number;
  gradient_ms: number;
  torch: string;
}

function torchHvp(c: Case, threads: number, reps: number): Torch | string {
  const r = spawnSync('/usr/bin/python3', [join(process.cwd(), 'bench', 'torch_hvp.py'), JSON.stringify({ ...c.spec, examples: c.examples, threads, reps })], { encoding: 'utf8', timeout: 600_000 });
  if (r.error) return `python3 not runnable (${r.error.message})`;
  if (r.status !== 0) return /No module named 'torch'/.test(r.stderr) ? 'torch is not installed (apt-get install python3-torch)' : `torch failed: ${r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Torch;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const reps = quick ? 3 : 9;
  const picture = process.argv.indexOf('--first-picture');
  if (picture >= 0) return void process.stdout.write(JSON.stringify(await firstPictureChild(Number(process.argv[picture + 1]))) + '\n');
  const child = process.argv.indexOf('--case');
  if (child >= 0) {
    const c = CASES[Number(process.argv[child + 1])];
    const [backend, workers] = c.runs[Number(process.argv[child + 2])];
    process.stdout.write(JSON.stringify(await runCase(c, backend, workers, reps)) + '\n');
    return;
  }
  const started = Date.now();
  const loadBefore = loadavg();
  const controlBefore = await parallelControl();
  const header = ['model', 'backend', 'params', 'examples', 'workers', 'gradient ms', 'HVP ms', 'HVP / grad', 'PyTorch HVP ms', 'HVP / PyTorch', 'PyTorch HVP / grad', 'peak RSS MB', 'HVPs / batch', 'probes/s', 'PyTorch HVPs/s', 'speed-up', 'HVP mem / grad mem', 'batch mem / grad mem', 'thread MB'];
  const rows: string[][] = [];
  const notes: string[] = [];
  const torchCache = new Map<string, Torch | string>();
  const hvpMsOf = new Map<string, number>(); // "model/backend" → HVP ms, for the first-picture table
  for (const [ci, c] of CASES.entries()) {
    for (const [ri, [backend]] of c.runs.entries()) {
      process.stderr.write(`${c.name} · ${backend} …\n`);
      const r = spawnSync(process.execPath, [...ENGINE_V8_FLAGS, ...process.execArgv, process.argv[1], '--case', String(ci), String(ri), ...(quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 1_200_000 });
      const line = r.stdout?.trim().split('\n').pop();
      if (r.status !== 0 || !line) {
        const why = (r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ');
        notes.push(`${c.name} on ${backend}: FAILED (${why})`);
        process.stderr.write(`  failed: ${why}\n`);
        continue;
      }
      const res = JSON.parse(line) as CaseResult;
      hvpMsOf.set(`${c.name}/${backend}`, res.hvpMs);
      const one = res.rows[0]?.probesPerSecond ?? NaN;
      for (const row of res.rows) {
        const torchAt = (threads: number) => {
          const key = `${ci}/${threads}`;
          if (!torchCache.has(key)) torchCache.set(key, torchHvp(c, threads, reps));
          const t = torchCache.get(key)!;
          if (typeof t !== 'string' && t.params !== res.params) throw new Error(`${c.name}: torch has ${t.params} parameters, tfjs ${res.params}`);
          if (typeof t === 'string' && !notes.includes(`PyTorch: ${t}`)) notes.push(`PyTorch: ${t}`);
          return t;
        };
        // Our HVP ms is one thread: compared with PyTorch on one thread; probes/s with PyTorch on `workers` threads.
        const t = torchAt(1);
        const tw = torchAt(row.workers);
        rows.push([
          c.name,
          backend,
          String(res.params),
          String(c.examples),
          String(row.workers),
          res.gradientMs.toFixed(1),
          res.hvpMs.toFixed(1),
          (res.hvpMs / res.gradientMs).toFixed(2),
          typeof t === 'string' ? 'n/a' : t.hvp_ms.toFixed(1),
          typeof t === 'string' ? 'n/a' : (res.hvpMs / t.hvp_ms).toFixed(1),
          typeof t === 'string' ? 'n/a' : (t.hvp_ms / t.gradient_ms).toFixed(2),
          row.peakRssMb.toFixed(0),
          String(row.batch),
          row.probesPerSecond.toFixed(1),
          typeof tw === 'string' ? 'n/a' : (1000 / tw.hvp_ms).toFixed(1),
          (row.probesPerSecond / one).toFixed(2),
          (res.hvpMb / Math.max(res.gradientMb, 1e-9)).toFixed(2) + ` (${res.hvpMb.toFixed(1)} / ${res.gradientMb.toFixed(1)} MB)`,
          res.batch > 1 ? (res.batchMb / Math.max(res.gradientMb, 1e-9)).toFixed(1) + ` (${res.batch} HVPs: ${res.batchMb.toFixed(1)} MB)` : '',
          row.threadMb == null ? '' : row.threadMb.toFixed(0),
        ]);
        process.stderr.write(`  ${rows[rows.length - 1].join(' | ')}\n`);
      }
    }
  }
  try {
    await activateBackend('tensorflow');
  } catch (e) {
    notes.push(`tensorflow (tfjs-node): absent (${(e as Error).message})`);
  }
  const firstPicture = firstPictureSection(quick ? 1 : 3, hvpMsOf);
  const loadAfter = loadavg();
  const controlAfter = await parallelControl();
  const someTorch = [...torchCache.values()].find((t): t is Torch => typeof t !== 'string');
  const torchVersion = someTorch?.torch;
  if (someTorch) {
    const reference = /\/blas\/libblas\.so/.test(someTorch.blas);
    notes.push(`PyTorch's BLAS here: ${someTorch.blas}${reference ? ' — the unoptimised reference BLAS (Debian libblas3), so the PyTorch times are pessimistic; install libopenblas0 (update-alternatives then picks it) for a fair peer' : ''}`);
  }
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const text = [
    '# HVP benchmark (`npm run bench`)',
    '',
    `Measured ${new Date().toISOString().slice(0, 16)}Z on ${availableParallelism()} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.versions.node}, tfjs 4.22.0${torchVersion ? `, PyTorch ${torchVersion}` : ''}; load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before and ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after (the machine is shared, so times are noisy); control: a fixed loop in 2 threads ran ${controlBefore.toFixed(2)}× (before) and ${controlAfter.toFixed(2)}× (after) as fast as in 1, the parallel speed-up the machine offered; ${((Date.now() - started) / 1000).toFixed(0)} s in all.`,
    '',
    table,
    '',
    'Each model × backend runs in a child process started with the engine\'s V8 flags (' + ENGINE_V8_FLAGS.join(' ') + ', extension/engine/v8Flags.ts), as the extension\'s worker and the CLI run. Columns: gradient / HVP ms are medians of ' + reps + ' runs after a warm-up, timed in alternation, on one thread, over all examples (chunks of the stated size). PyTorch HVP ms: the same architecture and batch in PyTorch eager (double backward, `torch.set_num_threads(1)`, as our HVP ms is one thread), see bench/torch_hvp.py; PyTorch HVP / grad: its HVP time over its own gradient time (the same ratio for PyTorch); PyTorch HVPs/s: the same with `torch.set_num_threads(workers)`, to compare with probes/s. probes/s: HVPs per second through the worker pool (hvpPool.ts), one batch at a time, each batch as inspect makes them for the model, its chunk and the default memory budget (engine/batching.ts: K stacked HVPs per worker where inspect stacks, else 4 single HVPs per worker; HVPs / batch gives the total), the pool sharing each batch in equal contiguous runs between the calling thread and the threads (all started and self-tested first); median over rounds that time each worker count once in turn (the shared machine drifts in speed), at least ' + reps + ' rounds and ' + POOL_SECONDS + ' s per worker count; speed-up relative to 1 worker. HVP mem / grad mem: peak resident memory above the resident memory after the self-test and loading model and data (as a worker starts), one HVP vs one gradient. batch mem / grad mem: the same for one stacked batch as inspect runs it on one worker (K HVPs at once, with their K vectors and results; K is bounded by the memory budget, `--memory-budget`). thread MB: resident memory one extra worker thread adds (its own tfjs, wasm heap, model, data and activations). peak RSS: the whole process, threads included.',
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
    '',
    firstPicture,
  ].join('\n');
  process.stdout.write(text);
  if (!quick) writeFileSync(join(process.cwd(), 'bench', 'hvp-results.md'), text);
}

void main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack}\n`);
  process.exitCode = 1;
});
