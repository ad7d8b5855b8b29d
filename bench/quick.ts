/** `npx tsx bench/quick.ts [filter]`: gradient and HVP medians on wasm for the bench models, timed in alternation as in the full bench (a fast check between full runs). */
import { buildNetwork } from '../extension/engine/network.js';
import { Objective } from '../extension/engine/objective.js';
import { activateBackend } from '../extension/engine/tfjs.js';
import { CASES } from './models.js';
import { timeMs } from './stats.js';

async function main(): Promise<void> {
  await activateBackend((process.env.BACKEND as 'wasm' | 'cpu') ?? 'wasm');
  for (const c of CASES.filter((c) => c.name.includes(process.argv[2] ?? ''))) {
    const { file, dataset, loss } = c.load();
    const obj = new Objective(buildNetwork(file), dataset, loss, c.chunk);
    const v = new Float32Array(obj.size).map((_, i) => Math.sin(i));
    const [g, h] = await timeMs([() => obj.lossAndGradient(), () => obj.hvp(v)], 9);
    console.log(`${c.name}: gradient ${g.toFixed(1)} ms, HVP ${h.toFixed(1)} ms, ratio ${(h / g).toFixed(2)}`);
    obj.dispose();
  }
}
void main();
