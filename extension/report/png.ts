/**
 * A weight tensor's Hessian diagonal as a PNG heatmap, with the panel's layout and colours
 * (webview/heatmapLayout.ts; the fade, hatch colour and hatch period mirror webview/heatmapPixels.ts).
 * Each grid cell becomes a block of whole pixels; entries that are not significant (|value| < 2·stderr)
 * are faded and hatched (a checkerboard at one pixel per cell); non-finite entries are solid dark grey;
 * conv tiles are separated by white gaps; a colour bar (−maxAbs at the bottom, 0 in the middle, +maxAbs
 * at the top) sits on the right. Grids too large for MAX_SIDE pixels are binned: each pixel shows the
 * entry of largest |value| in its bin × bin block.
 */
import { PNG } from 'pngjs';
import { diverging, layoutTensor, maxAbsOf, normalise, significant, type Scale } from '../../webview/heatmapLayout.js';

/** The heatmap's long side is at least this many pixels (cells scaled up by an integer factor)… */
export const MIN_SIDE = 240;
/** …and at most this many (larger grids are binned). */
export const MAX_SIDE = 1200;
/** A very thin grid (784 × 10) has its cells stretched along the short side to at least this many pixels. */
export const MIN_SHORT = 48;
/** Outer margin, gap between heatmap and colour bar, colour bar width, tick length, least bar height. */
export const PAD = 10;
export const BAR_GAP = 12;
export const BAR_W = 14;
export const TICK = 5;
export const BAR_MIN_H = 120;

type RGB = [number, number, number];
const BACKGROUND: RGB = [255, 255, 255];
const GAP: RGB = [255, 255, 255];
const FRAME: RGB = [89, 99, 110];
/** Hatch lines over entries that are not significant; non-finite entries are drawn solid in it. */
const HATCH: RGB = [96, 96, 96];

export interface HeatmapGeometry {
  rows: number;
  cols: number;
  /** Grid cells per pixel side when binned (1 otherwise). */
  bin: number;
  /** Pixels per (binned) cell: square, unless stretched along a very short side (cellW ≠ cellH). */
  cellW: number;
  cellH: number;
  /** The heatmap itself, without margin and colour bar. */
  heatWidth: number;
  heatHeight: number;
  /** The whole image. */
  width: number;
  height: number;
}

/** The image's size for a tensor shape: the layout grid × an integer scale, plus margin and colour bar. */
export function heatmapGeometry(shape: number[]): HeatmapGeometry {
  const { rows, cols } = layoutTensor(shape);
  const long = Math.max(rows, cols, 1);
  const bin = long > MAX_SIDE ? Math.ceil(long / MAX_SIDE) : 1;
  const scale = bin > 1 ? 1 : Math.max(1, Math.min(Math.ceil(MIN_SIDE / long), Math.floor(MAX_SIDE / long)));
  const [brows, bcols] = [Math.ceil(rows / bin), Math.ceil(cols / bin)];
  const stretch = (cells: number) => (cells * scale >= MIN_SHORT ? 1 : Math.ceil(MIN_SHORT / (cells * scale)));
  const cellW = scale * (cols <= rows ? stretch(bcols) : 1);
  const cellH = scale * (rows < cols ? stretch(brows) : 1);
  const heatWidth = bcols * cellW;
  const heatHeight = brows * cellH;
  return {
    rows,
    cols,
    bin,
    cellW,
    cellH,
    heatWidth,
    heatHeight,
    width: PAD + heatWidth + BAR_GAP + BAR_W + TICK + PAD,
    height: PAD + Math.max(heatHeight, BAR_MIN_H) + PAD,
  };
}

export interface HeatmapImage {
  png: Buffer;
  geometry: HeatmapGeometry;
  /** The colour bar's ends are ±maxAbs. */
  maxAbs: number;
  scale: Scale;
  /** Entries with |value| < 2·stderr (hatched), and all entries. */
  insignificant: number;
  entries: number;
}

const mix = (a: RGB, b: RGB, f: number): RGB => [0, 1, 2].map((k) => Math.round(a[k] * (1 - f) + b[k] * f)) as RGB;

/**
 * A not-significant entry's colour: desaturated and pulled toward a mid grey, still showing the sign.
 * The same formula, hatch colour and hatch period as the panel's canvas (webview/heatmapPixels.ts).
 */
export function fade([r, g, b]: RGB): RGB {
  const grey = 0.3 * r + 0.59 * g + 0.11 * b;
  const f = (c: number) => Math.round(0.5 * (0.4 * c + 0.6 * grey) + 0.5 * 170);
  return [f(r), f(g), f(b)];
}

/** Renders the heatmap PNG for one tensor's diagonal (values and stderr flat, row-major). */
export function heatmapPng(shape: number[], values: ArrayLike<number>, stderr: ArrayLike<number> | null, opts: { scale?: Scale } = {}): HeatmapImage {
  const scaleKind = opts.scale ?? 'linear';
  const grid = layoutTensor(shape);
  const g = heatmapGeometry(shape);
  const n = shape.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw new Error(`diagonal has ${values.length} values, shape [${shape.join(', ')}] needs ${n}`);
  if (stderr && stderr.length !== n) throw new Error(`stderr has ${stderr.length} values, shape [${shape.join(', ')}] needs ${n}`);
  const maxAbs = maxAbsOf(values);
  let insignificant = 0;
  for (let i = 0; i < n; i++) if (!significant(values[i], stderr ? stderr[i] : null)) insignificant++;

  const png = new PNG({ width: g.width, height: g.height, colorType: 6 });
  const data = png.data;
  const put = (x: number, y: number, c: RGB) => {
    const o = (y * g.width + x) * 4;
    data[o] = c[0];
    data[o + 1] = c[1];
    data[o + 2] = c[2];
    data[o + 3] = 255;
  };
  for (let y = 0; y < g.height; y++) for (let x = 0; x < g.width; x++) put(x, y, BACKGROUND);

  // Cells (binned: the entry of largest |value| in each block stands for it).
  const brows = Math.ceil(grid.rows / g.bin);
  const bcols = Math.ceil(grid.cols / g.bin);
  const cellMin = Math.min(g.cellW, g.cellH);
  const period = cellMin >= 6 ? 4 : cellMin >= 3 ? 3 : 2;
  for (let br = 0; br < brows; br++) {
    for (let bc = 0; bc < bcols; bc++) {
      let pick = -1;
      let best = -1;
      for (let r = br * g.bin; r < Math.min(grid.rows, (br + 1) * g.bin); r++) {
        for (let c = bc * g.bin; c < Math.min(grid.cols, (bc + 1) * g.bin); c++) {
          const idx = grid.index[r * grid.cols + c];
          if (idx < 0) continue;
          const a = Number.isFinite(values[idx]) ? Math.abs(values[idx]) : Infinity;
          if (a > best) [best, pick] = [a, idx];
        }
      }
      let colour: RGB;
      let hatched = false;
      if (pick < 0) colour = GAP;
      else if (!Number.isFinite(values[pick])) colour = HATCH;
      else {
        colour = diverging(normalise(values[pick], maxAbs, scaleKind));
        if (!significant(values[pick], stderr ? stderr[pick] : null)) {
          colour = fade(colour);
          hatched = true;
        }
      }
      // One pixel per cell: a checkerboard of faded and hatch-tinted cells marks the insignificant.
      if (hatched && g.cellW === 1 && g.cellH === 1) {
        if ((br + bc) % 2 === 1) colour = mix(colour, HATCH, 0.5);
        hatched = false;
      }
      const x0 = PAD + bc * g.cellW;
      const y0 = PAD + br * g.cellH;
      // Large cells get a faint one-pixel edge (right and bottom) so that equal neighbours stay apart.
      const edge = pick >= 0 && Math.min(g.cellW, g.cellH) >= 12 ? mix(colour, FRAME, 0.2) : null;
      for (let dy = 0; dy < g.cellH; dy++) {
        for (let dx = 0; dx < g.cellW; dx++) {
          const onEdge = edge !== null && (dx === g.cellW - 1 || dy === g.cellH - 1);
          // Diagonal stripes continuous across neighbouring cells.
          put(x0 + dx, y0 + dy, onEdge ? edge : hatched && (dx + bc * g.cellW + dy + br * g.cellH) % period === 0 ? HATCH : colour);
        }
      }
    }
  }
  // A one-pixel frame just outside the heatmap.
  const frame = (x0: number, y0: number, w: number, h: number) => {
    for (let x = x0 - 1; x <= x0 + w; x++) {
      put(x, y0 - 1, FRAME);
      put(x, y0 + h, FRAME);
    }
    for (let y = y0 - 1; y <= y0 + h; y++) {
      put(x0 - 1, y, FRAME);
      put(x0 + w, y, FRAME);
    }
  };
  frame(PAD, PAD, g.heatWidth, g.heatHeight);

  // Colour bar: +maxAbs at the top, −maxAbs at the bottom; ticks at the ends and at 0. The same
  // mapping from bar position to colour as the cells (u in [−1, 1] on the normalised axis).
  const barX = PAD + g.heatWidth + BAR_GAP;
  const barH = Math.max(g.heatHeight, BAR_MIN_H);
  for (let y = 0; y < barH; y++) {
    const u = 1 - (2 * (y + 0.5)) / barH;
    const c = diverging(u);
    for (let x = 0; x < BAR_W; x++) put(barX + x, PAD + y, c);
  }
  frame(barX, PAD, BAR_W, barH);
  for (const y of [PAD - 1, PAD + Math.floor(barH / 2), PAD + barH]) for (let x = 0; x < TICK; x++) put(barX + BAR_W + x, y, FRAME);

  return { png: PNG.sync.write(png), geometry: g, maxAbs, scale: scaleKind, insignificant, entries: n };
}
