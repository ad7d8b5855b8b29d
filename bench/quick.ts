/** `npx tsx bench/quick.ts [filter]`: gradient and HVP medians on wasm for the bench models (a fast check between full runs). */
import { buildNetwork } from '../extension/engine/network.js';
import { Objective } from '../extension/engine/objective.js';
import { activateBackend } from '../extension/engine/tfjs.js';
import { CASES } from './models.js';
import { median } from './stats.js';

function ms(f: () => unknown, reps = 9): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

async function main(): Promise<void> {
  await activateBackend((process.env.BACKEND as 'wasm' | 'cpu') ?? 'wasm');
  for (const c of CASES.filter((c) => c.name.includes(process.argv[2] ?? ''))) {
    const { file, dataset, loss } = c.load();
    const obj = new Objective(buildNetwork(file), dataset, loss, c.chunk);
    const v = new Float32Array(obj.size).map((_, i) => Math.sin(i));
    const g = ms(() => obj.lossAndGradient());
    const h = ms(() => obj.hvp(v));
    console.log(`${c.name}: gradient ${g.toFixed(1)} ms, HVP ${h.toFixed(1)} ms, ratio ${(h / g).toFixed(2)}`);
    obj.dispose();
  }
}
void main();
