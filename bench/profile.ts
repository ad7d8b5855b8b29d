/**
 * `npx tsx bench/profile.ts`: where one HVP's time goes on the wasm backend, per kernel (tf.profile's
 * kernel times, summed by kernel name, and the wall time not spent in kernels: tape bookkeeping, op
 * dispatch, JS), for the 784-256-256-10 MLP (batch 128) and the 28×28 two-conv CNN (batch 64) of the
 * benchmark, on the R-operator path inspect uses for them (rop.ts) and on the reverse-over-reverse
 * reference path, next to one gradient. Prints Markdown and writes it to bench/hvp-profile.md.
 */
import { buildNetwork } from '../extension/engine/network.js';
import { Objective } from '../extension/engine/objective.js';
import { activateBackend, tf } from '../extension/engine/tfjs.js';
import { writeFileSync } from 'node:fs';
import { BENCH_MODELS } from './models.js';

async function main(): Promise<void> {
  await activateBackend('wasm');
  const out: string[] = ['# Where an HVP spends its time (wasm, `npx tsx bench/profile.ts`)', '', `Measured ${new Date().toISOString().slice(0, 16)}Z. Kernel times from tf.profile (one profiled HVP after 3 warm-ups); wall time from an unprofiled HVP. Time outside kernels is tfjs' op dispatch, tape bookkeeping and JS.`];
  const log = (line: string) => (out.push(line), console.log(line));
  for (const c of BENCH_MODELS) {
    const { file, dataset, loss } = c.load();
    const net = buildNetwork(file);
    const obj = new Objective(net, dataset, loss, c.chunk);
    const v = new Float32Array(net.size).map((_, i) => Math.sin(i));
    const runs: Array<[string, () => void]> = [
      ['one HVP, R-operator (rop.ts, what inspect runs)', () => ((obj.rop = true), obj.hvp(v))],
      ['one HVP, reverse-over-reverse (autodiff.ts, the reference)', () => ((obj.rop = false), obj.hvp(v))],
      ['one gradient', () => obj.lossAndGradient()],
    ];
    for (const [what, f] of runs) {
      for (let i = 0; i < 3; i++) f();
      const t0 = performance.now();
      f();
      const wall = performance.now() - t0;
      const info = await tf.profile(f);
      const byKernel = new Map<string, { ms: number; calls: number }>();
      let kernelMs = 0;
      for (const k of info.kernels) {
        // Composite kernels (conv.ts' gradient kernels) contain the kernels they run: count those.
        if (k.name.startsWith('CurvatureLens')) continue;
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        kernelMs += ms;
        const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
        e.ms += ms;
        e.calls++;
        byKernel.set(k.name, e);
      }
      const calls = [...byKernel.values()].reduce((a, e) => a + e.calls, 0);
      const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
      log(`\n### ${c.name}: ${what}: ${wall.toFixed(1)} ms wall, ${calls} kernel calls, ${kernelMs.toFixed(1)} ms in kernels (${((100 * kernelMs) / wall).toFixed(0)} %)\n`);
      log('| kernel | calls | ms | share of wall |\n|---|---|---|---|');
      for (const [name, e] of top) log(`| ${name} | ${e.calls} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / wall).toFixed(0)} % |`);
    }
    obj.dispose();
  }
  writeFileSync('bench/hvp-profile.md', out.join('\n') + '\n');
}

void main();
