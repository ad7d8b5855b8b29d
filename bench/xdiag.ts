/**
 * `npx tsx bench/xdiag.ts [n] [matvecs]`: the time of XDiag/XTrace's own linear algebra (the QR of the
 * sketch, the Gram matrices and the leave-one-out diagonals, all float64 JavaScript), apart from the
 * HVPs: the operator is a cheap diagonal-plus-rank-8 matrix, so the products cost O(n) each. Defaults:
 * the 784-256-256-10 MLP's size and inspect's default budget. Prints one table row per repetition.
 */
import { performance } from 'node:perf_hooks';
import { xtraceDiag } from '../extension/estimators/xtrace.js';
import { Rng } from '../extension/estimators/rng.js';

const n = Number(process.argv[2] ?? 269_322);
const matvecs = Number(process.argv[3] ?? 120);
const rng = new Rng(7);
const d = Float32Array.from({ length: n }, () => rng.normal());
const U = Array.from({ length: 8 }, () => Float32Array.from({ length: n }, () => rng.normal() / Math.sqrt(n)));
const matvec = async (v: Float32Array): Promise<Float32Array> => {
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = d[j] * v[j];
  for (const u of U) {
    let s = 0;
    for (let j = 0; j < n; j++) s += u[j] * v[j];
    for (let j = 0; j < n; j++) out[j] += 50 * s * u[j];
  }
  return out;
};

async function main(): Promise<void> {
  console.log(`| n | matvecs | total s | of which products s |`);
  console.log(`|---|---|---|---|`);
  for (let rep = 0; rep < 3; rep++) {
    let inProducts = 0;
    const timed = async (v: Float32Array) => {
      const t = performance.now();
      const r = await matvec(v);
      inProducts += performance.now() - t;
      return r;
    };
    const t0 = performance.now();
    await xtraceDiag(timed, n, { matvecs, rng: new Rng(rep) });
    console.log(`| ${n} | ${matvecs} | ${((performance.now() - t0) / 1000).toFixed(2)} | ${(inProducts / 1000).toFixed(2)} |`);
  }
}
void main();
