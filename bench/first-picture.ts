/**
 * Time to a first useful picture (issue 6), a short extra table of `npm run bench` (bench/hvp.ts):
 * per example model, inspect() with default settings (XDiag, 100 HVPs, default workers, auto backend)
 * in a fresh process each time, like the extension's worker. Clocks start when the worker is ready
 * (backend self-tested, model and data loaded: the 'loaded' progress message) and stop at the first
 * preliminary diagonal (engine/diagonalPreview.ts) and at the final diagonal's preview; compared with
 * the time of 5 single HVPs measured in the same process afterwards (medians). Goal: first preview
 * within 2× the time of 5 HVPs.
 */
import { spawnSync } from 'node:child_process';
import { inspect } from '../extension/engine/inspect.js';
import { loadModel } from '../extension/engine/loadModel.js';
import { Objective } from '../extension/engine/objective.js';
import { prepareData, readArrays } from '../extension/readers/dataset.js';
import { CancelledError } from '../extension/errors.js';
import { median } from './stats.js';
import { ENGINE_V8_FLAGS } from '../extension/engine/v8Flags.js';

const MODELS = ['examples/mlp', 'examples/cnn'];

interface Measured {
  backend: string;
  workers: number;
  params: number;
  /** ms from ready to the first preview, its HVPs, ms to the final diagonal's preview. */
  firstMs: number;
  firstHvps: number;
  finalMs: number;
  /** ms of 5 single HVPs (median of 3, after a warm-up). */
  fiveHvpMs: number;
}


/** One measurement, in this (child) process. */
export async function firstPictureChild(index: number): Promise<Measured> {
  const dir = MODELS[index];
  const controller = new AbortController();
  let ready = NaN;
  let first: { ms: number; hvps: number } | null = null;
  let finalMs = NaN;
  let backend = '';
  let params = 0;
  try {
    const r = await inspect({
      modelPath: `${dir}/model.json`,
      dataPath: `${dir}/data.npz`,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'load' && p.message === 'loaded' && Number.isNaN(ready)) ready = performance.now();
        if (p.note?.startsWith('backend: ')) backend = p.note.slice(9).split(':')[0];
      },
      onPreview: (p) => {
        const ms = performance.now() - ready;
        first ??= { ms, hvps: p.matvecs };
        params = p.tensors.reduce((a, t) => a + t.values.length, 0);
        if (p.final) {
          finalMs = ms;
          controller.abort(); // the eigenvalues are not this table's business
        }
      },
    });
    throw new Error(`the run finished without a final preview (${r.timing.hvps} HVPs)`);
  } catch (e) {
    if (!(e instanceof CancelledError)) throw e;
  }
  if (!first) throw new Error('no preview');
  const got: { ms: number; hvps: number } = first;
  const { net } = loadModel(`${dir}/model.json`);
  const { x, y } = readArrays(`${dir}/data.npz`);
  const { dataset, loss } = prepareData('data.npz', x, y, net, null);
  const obj = new Objective(net, dataset, loss, dataset.examples);
  const v = new Float32Array(net.size).map((_, i) => Math.sin(0.37 * i));
  obj.hvp(v);
  const times: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) obj.hvp(v);
    times.push(performance.now() - t0);
  }
  obj.dispose();
  const { defaultWorkers } = await import('../extension/engine/hvpPool.js');
  return { backend, workers: defaultWorkers(), params, firstMs: got.ms, firstHvps: got.hvps, finalMs, fiveHvpMs: median(times) };
}

/**
 * The table: each model measured in `runs` fresh processes (argv: the bench's own entry and
 * --first-picture i); `tableHvpMs` ("model/backend" → HVP ms of the main table) for a second ratio.
 */
export function firstPictureSection(runs: number, tableHvpMs: ReadonlyMap<string, number> = new Map()): string {
  const rows: string[] = [];
  for (const [i, dir] of MODELS.entries()) {
    const ms: Measured[] = [];
    for (let r = 0; r < runs; r++) {
      process.stderr.write(`first picture: ${dir} (${r + 1}/${runs}) …\n`);
      const out = spawnSync(process.execPath, [...ENGINE_V8_FLAGS, ...process.execArgv, process.argv[1], '--first-picture', String(i)], { encoding: 'utf8', timeout: 600_000 });
      const line = out.stdout?.trim().split('\n').pop();
      if (out.status !== 0 || !line) {
        rows.push(`| ${dir} | FAILED: ${(out.stderr || out.error?.message || '').trim().split('\n').pop()} | | | | | | | | |`);
        break;
      }
      ms.push(JSON.parse(line) as Measured);
    }
    if (ms.length < runs) continue;
    const m = (f: (x: Measured) => number) => median(ms.map(f));
    const first = m((x) => x.firstMs);
    const five = m((x) => x.fiveHvpMs);
    const table = tableHvpMs.get(`${dir}/${ms[0].backend}`);
    const vsTable = table === undefined ? 'n/a | n/a' : `${(5 * table).toFixed(0)} | ${(first / (5 * table)).toFixed(2)}`;
    rows.push(`| ${dir} | ${ms[0].backend} | ${ms[0].params} | ${ms[0].workers} | ${first.toFixed(0)} (${ms.map((x) => x.firstMs.toFixed(0)).join(', ')}) | ${ms[0].firstHvps} | ${five.toFixed(0)} | ${(first / five).toFixed(2)} | ${vsTable} | ${m((x) => x.finalMs).toFixed(0)} |`);
  }
  return [
    '## Time to a first picture',
    '',
    '| model | backend | params | workers | first preview ms (runs) | its HVPs | 5 HVPs ms | first / 5 HVPs | 5 × table HVP ms | first / that | final diagonal ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `inspect() with default settings (XDiag + XTrace, 100 HVPs), each run in a fresh process like the extension's worker; medians of ${runs} runs. Clocks start when the worker is ready (backend self-tested, model and data loaded) and stop at the first preliminary diagonal (the Hutchinson mean of the sketch's first test vectors, engine/diagonalPreview.ts) and at the final XDiag diagonal, sent before the eigenvalues. The first preview's time includes the cold start of every op; the loss and gradient come after the first batch (inspect computes them when its second HVP call starts), and H·g after the diagonal. 5 HVPs ms: five single HVPs measured afterwards in the same process (warm, median of 3); 5 × table HVP ms: five times the HVP ms of the table above (same run, other processes). Goal: first / 5 HVPs ≤ 2. Noisy: the machine is shared, and the two HVP times can differ by 2–3× between processes minutes apart.`,
    '',
  ].join('\n');
}
