/**
 * `npx tsx bench/profile.ts`: where one HVP's time goes on the wasm backend, per kernel (tf.profile's
 * kernel times, summed by kernel name, and the wall time not spent in kernels: tape bookkeeping, op
 * dispatch, JS), for the 784-256-256-10 MLP (batch 128) and the 28×28 two-conv CNN (batch 64) of the
 * benchmark. Appends nothing; prints Markdown.
 */
import { buildNetwork } from '../extension/engine/network.js';
import { Objective } from '../extension/engine/objective.js';
import { activateBackend, tf } from '../extension/engine/tfjs.js';
import { BENCH_MODELS } from './models.js';

async function main(): Promise<void> {
  await activateBackend('wasm');
  for (const c of BENCH_MODELS) {
    const { file, dataset, loss } = c.load();
    const net = buildNetwork(file);
    const obj = new Objective(net, dataset, loss, c.chunk);
    const v = new Float32Array(net.size).map((_, i) => Math.sin(i));
    for (let i = 0; i < 3; i++) obj.hvp(v);
    const t0 = performance.now();
    obj.hvp(v);
    const wall = performance.now() - t0;
    const info = await tf.profile(() => {
      obj.hvp(v);
    });
    const byKernel = new Map<string, { ms: number; calls: number }>();
    let kernelMs = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      kernelMs += ms;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls++;
      byKernel.set(k.name, e);
    }
    const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
    console.log(`\n### ${c.name}: one HVP ${wall.toFixed(1)} ms wall, ${info.kernels.length} kernel calls, ${kernelMs.toFixed(1)} ms in kernels (${((100 * kernelMs) / wall).toFixed(0)} %)\n`);
    console.log('| kernel | calls | ms | share of wall |\n|---|---|---|---|');
    for (const [name, e] of top) console.log(`| ${name} | ${e.calls} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / wall).toFixed(0)} % |`);
    obj.dispose();
  }
}

void main();
