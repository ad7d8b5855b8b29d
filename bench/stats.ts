/** The median (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Median ms of each function, timed in alternation after a warm-up (so that drift hits them alike). */
export async function timeMs(fs: Array<() => unknown>, reps: number): Promise<number[]> {
  for (const f of fs) await f();
  const ts: number[][] = fs.map(() => []);
  for (let i = 0; i < reps; i++) {
    for (const [j, f] of fs.entries()) {
      const t0 = performance.now();
      await f();
      ts[j].push(performance.now() - t0);
    }
  }
  return ts.map(median);
}
