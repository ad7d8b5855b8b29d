/**
 * How a weight tensor's diagonal is laid out as an image, and how values map to colours. Pure (no DOM,
 * no Node): used by the panel's canvas and by the exported PNGs, so both show the same picture.
 *
 * Layouts: a dense kernel [in, out] is in rows × out columns; a conv kernel [kh, kw, in, out] is an
 * in × out grid of kh × kw tiles (one pixel gap between tiles); a bias [n] is a 1 × n strip; any other
 * shape is its leading dimensions × its last.
 */

export interface Grid {
  rows: number;
  cols: number;
  /** Flat tensor index shown at each cell (row-major), or -1 for gaps between tiles. */
  index: Int32Array;
  /** Describes a cell for tooltips, e.g. "[1, 2, in 3, out 0]". */
  describe(row: number, col: number): string | null;
}

export function layoutTensor(shape: number[]): Grid {
  if (shape.length === 4) {
    const [kh, kw, ci, co] = shape;
    const rows = ci * (kh + 1) - 1;
    const cols = co * (kw + 1) - 1;
    const index = new Int32Array(rows * cols).fill(-1);
    for (let i = 0; i < ci; i++)
      for (let o = 0; o < co; o++)
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++) index[(i * (kh + 1) + a) * cols + o * (kw + 1) + b] = ((a * kw + b) * ci + i) * co + o;
    return {
      rows,
      cols,
      index,
      describe: (r, c) => {
        const [i, a, o, b] = [Math.floor(r / (kh + 1)), r % (kh + 1), Math.floor(c / (kw + 1)), c % (kw + 1)];
        return a === kh || b === kw ? null : `[${a}, ${b}, ${i}, ${o}] (kh ${a}, kw ${b}, in ${i}, out ${o})`;
      },
    };
  }
  const cols = shape.length === 0 ? 1 : shape[shape.length - 1];
  const rows = shape.length <= 1 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const index = Int32Array.from({ length: rows * cols }, (_, i) => i);
  const lead = shape.slice(0, -1);
  return {
    rows,
    cols,
    index,
    describe: (r, c) => {
      const loc: number[] = [];
      let rem = r;
      for (let d = lead.length - 1; d >= 0; d--) {
        loc.unshift(rem % lead[d]);
        rem = Math.floor(rem / lead[d]);
      }
      return `[${[...loc, c].join(', ')}]`;
    },
  };
}

export type Scale = 'linear' | 'symlog';

/** sign(x)·log10(1 + |x|/t): linear near 0 (|x| ≪ t), logarithmic beyond. */
export function symlog(x: number, t: number): number {
  return Math.sign(x) * Math.log10(1 + Math.abs(x) / t);
}

/** The symlog threshold: a small fraction of the largest magnitude (at least a tiny positive number). */
export function symlogThreshold(maxAbs: number): number {
  return Math.max(maxAbs * 1e-3, 1e-30);
}

/** Position in [−1, 1] of a value on the colour bar whose ends are ±maxAbs. */
export function normalise(v: number, maxAbs: number, scale: Scale): number {
  if (!(maxAbs > 0) || !Number.isFinite(v)) return 0;
  if (scale === 'linear') return Math.max(-1, Math.min(1, v / maxAbs));
  const t = symlogThreshold(maxAbs);
  return Math.max(-1, Math.min(1, symlog(v, t) / symlog(maxAbs, t)));
}

/**
 * Diverging colour map centred at 0 (blue for negative, neutral for 0, red for positive), close to
 * ColorBrewer's RdBu, readable on light and dark backgrounds. `u` in [−1, 1].
 */
export function diverging(u: number): [number, number, number] {
  const stops: Array<[number, [number, number, number]]> = [
    [-1, [33, 102, 172]],
    [-0.5, [103, 169, 207]],
    [0, [247, 247, 247]],
    [0.5, [239, 138, 98]],
    [1, [178, 24, 43]],
  ];
  const x = Math.max(-1, Math.min(1, u));
  for (let i = 1; i < stops.length; i++) {
    const [x1, c1] = stops[i];
    const [x0, c0] = stops[i - 1];
    if (x <= x1) {
      const f = (x - x0) / (x1 - x0);
      return [0, 1, 2].map((k) => Math.round(c0[k] + f * (c1[k] - c0[k]))) as [number, number, number];
    }
  }
  return stops[stops.length - 1][1];
}

/** An entry is significant when |value| ≥ 2·stderr (always, when exact). */
export function significant(value: number, stderr: number | null | undefined): boolean {
  return stderr == null || !Number.isFinite(stderr) || Math.abs(value) >= 2 * stderr;
}

export function maxAbsOf(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) m = Math.max(m, Math.abs(values[i]));
  return m;
}
