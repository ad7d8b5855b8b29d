/**
 * A tensor's Hessian diagonal as RGBA pixels, from `layoutTensor` and `diverging()` (heatmapLayout.ts).
 * Pure (no DOM): the canvas code in heatmap.ts only copies these pixels into an ImageData, and the
 * tests check them in Node.
 *
 * Sizing: each grid cell is `cell` CSS pixels (at least 2, about 600 px across in all, at most 28). Up to
 * MAX_PIXELS the canvas is drawn at that size, so entries that are not significant (|value| < 2·stderr,
 * `significant()`) are drawn faded toward the page's background under a diagonal hatch; beyond, the canvas holds one pixel per cell
 * (CSS scales it up with `image-rendering: pixelated`) and those entries are faded in a checkerboard.
 * Grids wider or taller than MAX_CELLS are binned: one cell per bin × bin block, showing the block's
 * entry of largest magnitude.
 */
import { diverging, layoutTensor, significant, symlog, symlogThreshold, type Grid, type Scale } from './heatmapLayout.js';

export const TARGET_PX = 600;
export const MIN_CELL = 2;
export const MAX_CELL = 28;
export const MAX_PIXELS = 4_200_000;
export const MAX_CELLS = 4096;

export interface HeatmapPlan {
  grid: Grid;
  /** Grid cells per displayed cell along each axis (1 unless the grid is huge). */
  bin: number;
  /** Displayed cells. */
  rows: number;
  cols: number;
  /** CSS pixels per displayed cell. */
  cell: number;
  /** Canvas pixels per displayed cell: `cell`, or 1 when that would exceed MAX_PIXELS. */
  px: number;
  canvasWidth: number;
  canvasHeight: number;
  cssWidth: number;
  cssHeight: number;
}

export function planHeatmap(shape: readonly number[], grid: Grid = layoutTensor([...shape])): HeatmapPlan {
  const bin = Math.max(1, Math.ceil(Math.max(grid.rows, grid.cols) / MAX_CELLS));
  const rows = Math.ceil(grid.rows / bin);
  const cols = Math.ceil(grid.cols / bin);
  const fit = Math.floor(Math.min(TARGET_PX / Math.max(1, cols), TARGET_PX / Math.max(1, rows)));
  const cell = Math.max(MIN_CELL, Math.min(MAX_CELL, fit));
  const px = rows * cols * cell * cell <= MAX_PIXELS ? cell : 1;
  return { grid, bin, rows, cols, cell, px, canvasWidth: cols * px, canvasHeight: rows * px, cssWidth: cols * cell, cssHeight: rows * cell };
}

/**
 * For each displayed cell, the grid cell (row · grid.cols + col) it shows, or −1 for a gap between conv
 * tiles. Unbinned, that is the cell itself; binned, the block's entry of largest |value|.
 */
export function representatives(plan: HeatmapPlan, values: ArrayLike<number>): Int32Array {
  const { grid, bin, rows, cols } = plan;
  const out = new Int32Array(rows * cols).fill(-1);
  if (bin === 1) {
    for (let i = 0; i < out.length; i++) out[i] = grid.index[i] >= 0 ? i : -1;
    return out;
  }
  const best = new Float64Array(rows * cols).fill(-1);
  for (let r = 0; r < grid.rows; r++) {
    const dr = Math.floor(r / bin) * cols;
    for (let c = 0; c < grid.cols; c++) {
      const k = r * grid.cols + c;
      const idx = grid.index[k];
      if (idx < 0) continue;
      const d = dr + Math.floor(c / bin);
      const v = values[idx];
      const m = Number.isFinite(v) ? Math.abs(v) : 0;
      if (m > best[d]) {
        best[d] = m;
        out[d] = k;
      }
    }
  }
  return out;
}

const LUT_SIZE = 1024;

/** The position in [−1, 1] of colour table entry i. */
function lutPosition(i: number): number {
  return (2 * i) / LUT_SIZE - 1;
}

/**
 * value → colour table entry: `normalise(v, maxAbs, scale)` (heatmapLayout.ts) mapped to [0, LUT_SIZE],
 * with the scale's constants hoisted out of the per-entry loop. The tests hold it equal to normalise.
 */
export function colourIndexer(maxAbs: number, scale: Scale): (v: number) => number {
  const half = LUT_SIZE / 2;
  if (!(maxAbs > 0)) return () => half;
  if (scale === 'linear') {
    const k = 1 / maxAbs;
    return (v) => {
      const u = v * k;
      return Math.round((u > 1 ? 1 : u < -1 ? -1 : u) * half + half);
    };
  }
  const t = symlogThreshold(maxAbs);
  const k = 1 / symlog(maxAbs, t);
  return (v) => {
    const u = Math.sign(v) * Math.log10(1 + Math.abs(v) / t) * k;
    return Math.round((u > 1 ? 1 : u < -1 ? -1 : u) * half + half);
  };
}
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** An RGBA colour packed the way a Uint32Array view of ImageData bytes holds it on this machine. */
export function pack(r: number, g: number, b: number, a = 255): number {
  return littleEndian ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

/** RGB of the page behind the heatmaps, which entries that are not significant fade toward. */
export type Rgb = [number, number, number];
export const DEFAULT_BACKGROUND: Rgb = [255, 255, 255];

interface Tables {
  full: Uint32Array;
  faded: Uint32Array;
  /** Faded mixed half-and-half with the hatch colour (the checkerboard's other cells). */
  checker: Uint32Array;
  hatch: number;
}
const tables = new Map<string, Tables>();
/**
 * diverging() sampled at LUT_SIZE + 1 points on [−1, 1], plain and faded (for entries that are not
 * significant), and the hatch colour, for one background.
 */
function colourTables(background: Rgb): Tables {
  const key = background.join(',');
  const hit = tables.get(key);
  if (hit) return hit;
  const full = new Uint32Array(LUT_SIZE + 1);
  const faded = new Uint32Array(LUT_SIZE + 1);
  const checker = new Uint32Array(LUT_SIZE + 1);
  const h = hatchColour(background);
  for (let i = 0; i <= LUT_SIZE; i++) {
    const [r, g, b] = diverging(lutPosition(i));
    const f = fade([r, g, b], background);
    full[i] = pack(r, g, b);
    faded[i] = pack(...f);
    checker[i] = pack(...(f.map((x, k) => Math.round((x + h[k]) / 2)) as Rgb));
  }
  const t = { full, faded, checker, hatch: pack(...h) };
  tables.set(key, t);
  return t;
}

/**
 * A colour for an entry that is not significant: half desaturated, then mostly faded into the page's
 * background, so it still shows its sign but recedes (pale on light themes, dim on dark ones).
 */
export function fade([r, g, b]: Rgb, background: Rgb = DEFAULT_BACKGROUND): Rgb {
  const grey = 0.3 * r + 0.59 * g + 0.11 * b;
  return [r, g, b].map((c, k) => Math.round(0.45 * (0.55 * c + 0.45 * grey) + 0.55 * background[k])) as Rgb;
}

/** The hatch lines: the background moved a third of the way toward black (light) or white (dark). */
export function hatchColour(background: Rgb = DEFAULT_BACKGROUND): Rgb {
  const light = 0.3 * background[0] + 0.59 * background[1] + 0.11 * background[2] >= 128;
  return background.map((c) => Math.round(light ? c * 0.62 : c + (255 - c) * 0.36)) as Rgb;
}

/** "rgb(31, 31, 31)", "rgba(…)", "#1f1f1f" or "#fff" as RGB; null for anything else or transparent. */
export function parseRgb(css: string): Rgb | null {
  const s = css.trim();
  let m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/i.exec(s);
  if (m) {
    if (m[4] !== undefined && parseFloat(m[4]) === 0) return null;
    return [m[1], m[2], m[3]].map((x) => Math.max(0, Math.min(255, Math.round(Number(x))))) as Rgb;
  }
  m = /^#([0-9a-f]{3,8})$/i.exec(s);
  if (m) {
    const h = m[1];
    if (h.length === 3 || h.length === 4) return [0, 1, 2].map((i) => parseInt(h[i] + h[i], 16)) as Rgb;
    if (h.length === 6 || h.length === 8) return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
  }
  return null;
}

export interface PaintInput {
  values: ArrayLike<number>;
  /** Null when exact: then every entry is significant. */
  stderr: ArrayLike<number> | null;
  scale: Scale;
  maxAbs: number;
  /** The page's background (default white): faded entries and the hatch are mixed from it. */
  background?: Rgb;
}

/**
 * Paints the plan's canvas (`canvasWidth × canvasHeight` RGBA pixels) into `out` (a fresh array when
 * omitted). Gaps between conv tiles stay transparent (the canvas' CSS background shows through).
 */
export function paintHeatmap(plan: HeatmapPlan, reps: Int32Array, input: PaintInput, out?: Uint8ClampedArray): Uint8ClampedArray {
  const { grid, rows, cols, px, canvasWidth } = plan;
  const bytes = out ?? new Uint8ClampedArray(plan.canvasWidth * plan.canvasHeight * 4);
  const pixels = new Uint32Array(bytes.buffer, bytes.byteOffset, plan.canvasWidth * plan.canvasHeight);
  pixels.fill(0);
  const { full, faded, checker, hatch } = colourTables(input.background ?? DEFAULT_BACKGROUND);
  const period = px >= 6 ? 4 : px >= 3 ? 3 : 2;
  const { values, stderr, scale, maxAbs } = input;
  const index = colourIndexer(maxAbs, scale);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = reps[r * cols + c];
      if (k < 0) continue;
      const idx = grid.index[k];
      const v = values[idx];
      let colour: number;
      let hatched = false;
      if (v !== v || v === Infinity || v === -Infinity) {
        colour = hatch;
      } else {
        const li = index(v);
        // significant(v, stderr[idx]), inlined: this loop runs once per entry.
        const se = stderr ? stderr[idx] : Number.NaN;
        hatched = se === se && se !== Infinity && Math.abs(v) < 2 * se;
        colour = hatched ? (px === 1 && (r + c) % 2 === 1 ? checker[li] : faded[li]) : full[li];
      }
      if (px === 1) {
        // One pixel per cell: a checkerboard of faded and hatch-tinted cells marks the insignificant.
        pixels[r * canvasWidth + c] = colour;
        continue;
      }
      const y0 = r * px;
      const x0 = c * px;
      for (let y = y0; y < y0 + px; y++) {
        const row = y * canvasWidth;
        if (!hatched) {
          pixels.fill(colour, row + x0, row + x0 + px);
          continue;
        }
        for (let x = x0; x < x0 + px; x++) pixels[row + x] = (x + y) % period === 0 ? hatch : colour;
      }
    }
  }
  return bytes;
}

export interface CellInfo {
  /** Grid position (of the block's largest entry, when binned). */
  row: number;
  col: number;
  /** Flat tensor index. */
  index: number;
  /** Grid rows/cols the displayed cell covers (equal to row/col unless binned). */
  rowRange: [number, number];
  colRange: [number, number];
}

/**
 * The entry under a point given as fractions of the canvas' rendered width and height (so it holds
 * however CSS sized the canvas); null over gaps or outside.
 */
export function cellAt(plan: HeatmapPlan, reps: Int32Array, fx: number, fy: number): CellInfo | null {
  if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) return null;
  const r = Math.floor(fy * plan.rows);
  const c = Math.floor(fx * plan.cols);
  const k = reps[r * plan.cols + c];
  if (k < 0) return null;
  const row = Math.floor(k / plan.grid.cols);
  const col = k % plan.grid.cols;
  const b = plan.bin;
  return {
    row,
    col,
    index: plan.grid.index[k],
    rowRange: [r * b, Math.min(plan.grid.rows, (r + 1) * b) - 1],
    colRange: [c * b, Math.min(plan.grid.cols, (c + 1) * b) - 1],
  };
}

/** How many entries are not significant (|value| < 2·stderr), out of how many. */
export function insignificantCount(values: ArrayLike<number>, stderr: ArrayLike<number> | null): number {
  if (!stderr) return 0;
  let k = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]) && !significant(values[i], stderr[i])) k++;
  return k;
}
