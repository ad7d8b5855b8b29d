/**
 * "Export Curvature Report": the Markdown report plus its figures in a folder beside it —
 *
 *   out/mlp-curvature.md
 *   out/mlp-curvature-assets/dense__dense_kernel.png   one heatmap per weight tensor (panel layout/colours)
 *   out/mlp-curvature-assets/traces.svg                per-layer traces ± stderr
 *   out/mlp-curvature-assets/eigenvalues.svg           extreme eigenvalues per block (symlog)
 *   out/mlp-curvature-assets/convergence.svg           running trace ± stderr (with ≥ 2 convergence points)
 *
 * The Markdown links the figures relatively (percent-encoded), so it renders in VS Code's preview and
 * on GitHub. Everything is computed first; then every file is written to a temporary name, and only
 * when all of them are written are they renamed into place, the Markdown last. A failure leaves no
 * Markdown file and no temporary files behind.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConvergencePoint, InspectResult, Progress, TensorResult } from '../protocol.js';
import type { Scale } from '../../webview/heatmapLayout.js';
import { markdownReport, mdCode, mdText, type ReportFigures, type TensorFigure } from './markdown.js';
import { heatmapPng } from './png.js';
import { convergenceSvg, densitySvg, eigenvaluesSvg, fmt, tracesSvg } from './svg.js';

export interface TensorValues {
  values: ArrayLike<number>;
  /** Null when exact. */
  stderr: ArrayLike<number> | null;
}

export interface ExportOptions {
  /** The running trace estimate (see `convergenceRecorder`); drawn when it has ≥ 2 points. */
  convergence?: ConvergencePoint[];
  /** Shown in the header (default: now). */
  date?: Date;
  /** A tensor's diagonal by tensor name (e.g. 'dense/kernel'); wins over the values in the result. */
  arrays?: Map<string, TensorValues>;
  /** Where a tensor's `valuesFile` / `stderrFile` live (the result JSON's folder), when the result has them. */
  valuesDir?: string;
  /** Colour scale of the heatmaps, as the panel's scale switch (default 'linear', the panel's default). */
  scale?: Scale;
}

/** A file name made of [A-Za-z0-9._-] only, never hidden or empty, at most 100 characters. */
export function safeFileName(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_').slice(0, 100);
  return t === '' ? '_' : t;
}

/** `out/x.md` → `x-assets` (the folder beside the Markdown file). */
export function assetsDirName(mdPath: string): string {
  return `${basename(mdPath).replace(/\.(md|markdown)$/i, '')}-assets`;
}

/** Collects the running trace from `inspect`'s progress (Hutchinson probes) for the convergence chart. */
export function convergenceRecorder(): { points: ConvergencePoint[]; onProgress: (p: Progress) => void } {
  const points: ConvergencePoint[] = [];
  return {
    points,
    onProgress(p) {
      if (p.phase !== 'diagonal' || !p.running) return;
      const point = { matvecs: p.done, value: p.running.trace, stderr: p.running.stderr };
      if (points.length && points[points.length - 1].matvecs === p.done) points[points.length - 1] = point;
      else points.push(point);
    },
  };
}

function readF32(path: string, n: number): Float32Array {
  const buf = readFileSync(path);
  if (buf.length !== n * 4) throw new Error(`${basename(path)} holds ${buf.length} bytes, want ${n * 4}`);
  const out = new Float32Array(n);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** The tensor's diagonal from `arrays`, the result itself, or its .f32 files; else why not. */
function tensorValues(t: TensorResult, opts: ExportOptions): TensorValues | string {
  const given = opts.arrays?.get(t.name);
  if (given) return given;
  const d = t.diagonal;
  const n = t.shape.reduce((a, b) => a * b, 1);
  let values: ArrayLike<number> | undefined = d.values;
  let stderr: ArrayLike<number> | null = d.stderr ?? null;
  try {
    if (!values && d.valuesFile && opts.valuesDir) values = readF32(join(opts.valuesDir, d.valuesFile), n);
    if (!d.stderr && d.stderrFile && opts.valuesDir) stderr = readF32(join(opts.valuesDir, d.stderrFile), n);
  } catch (e) {
    return `could not read the stored diagonal (${mdText((e as Error).message)})`;
  }
  if (!values) return d.valuesFile ? `the diagonal is stored in ${mdCode(d.valuesFile)} beside the result JSON, which this export could not read` : 'the result holds no diagonal values for it';
  if (d.method === 'hutchinson' && !stderr && d.stderrFile) return `the standard errors are stored in ${mdCode(d.stderrFile)}, which this export could not read`;
  return { values, stderr };
}

/**
 * Writes `mdPath` and `<name>-assets/` beside it; returns the Markdown text and the files written
 * (the Markdown first).
 */
export function exportReport(result: InspectResult, mdPath: string, opts: ExportOptions = {}): { markdown: string; files: string[] } {
  const dirName = assetsDirName(mdPath);
  const assetsDir = join(dirname(mdPath), dirName);
  const staged: Array<{ name: string; data: string | Buffer }> = [];
  const used = new Set<string>();
  const stage = (wanted: string, data: string | Buffer): string => {
    const dot = wanted.lastIndexOf('.');
    const [stem, ext] = [wanted.slice(0, dot), wanted.slice(dot)];
    let name = wanted;
    for (let k = 2; used.has(name.toLowerCase()); k++) name = `${stem}-${k}${ext}`;
    used.add(name.toLowerCase());
    staged.push({ name, data });
    return `${dirName}/${name}`;
  };

  // Figures, all in memory first.
  const figures: ReportFigures = {};
  const name = result.model.name;
  if (result.layers.length) {
    figures.traces = {
      path: stage('traces.svg', tracesSvg(result)),
      alt: 'per-layer traces',
      caption: `_Trace of each layer's block${result.layers.some((l) => l.trace.stderr != null) ? ', whiskers ± 1 standard error' : ' (exact)'}; the layer traces add up to the global trace, ${fmt(result.global.trace.value, 4)}._`,
    };
  }
  figures.eigenvalues = {
    path: stage('eigenvalues.svg', eigenvaluesSvg(result)),
    alt: 'extreme eigenvalues per block',
    caption: '_Largest (red) and smallest (blue) eigenvalues of the whole Hessian and of each layer\'s block, on a symlog axis; hollow: not converged._',
  };
  const conv = (opts.convergence?.length ? opts.convergence : (result.global.trace.convergence ?? [])).filter((p) => Number.isFinite(p.matvecs) && Number.isFinite(p.value));
  if (conv.length >= 2) {
    figures.convergence = {
      path: stage('convergence.svg', convergenceSvg(conv, name)),
      alt: 'running trace estimate',
      caption:
        result.global.trace.method === 'xtrace'
          ? `_XTrace estimate of the trace from the sketch's first j test vectors (2j HVPs), band ± 1 leave-one-out standard error; final ${fmt(conv[conv.length - 1].value, 4)} at ${conv[conv.length - 1].matvecs} HVPs._`
          : `_Running Hutchinson estimate of the trace after each probe, band ± 1 standard error; final ${fmt(conv[conv.length - 1].value, 4)} after ${conv[conv.length - 1].matvecs} probes._`,
    };
  }
  if (result.global.density) {
    const d = result.global.density;
    figures.density = {
      path: stage('density.svg', densitySvg(result)),
      alt: 'spectral density',
      caption: `_Spectral density of H (stochastic Lanczos quadrature, ${d.runs} runs × ${d.steps} steps, Gaussian broadening σ = ${fmt(d.sigma, 2)}), log density against λ; dashed: the largest (red) and smallest (blue) eigenvalues found._`,
    };
  }
  const tensors: TensorFigure[] = [];
  for (const layer of result.layers) {
    for (const t of layer.tensors) {
      const fig: TensorFigure = { layer: layer.name, tensor: t.name, shape: t.shape, image: null };
      const n = t.shape.reduce((a, b) => a * b, 1);
      const got = n === 0 ? 'the tensor is empty' : tensorValues(t, opts);
      if (typeof got === 'string') {
        fig.note = `_No heatmap: ${got}._`;
      } else {
        try {
          const img = heatmapPng(t.shape, got.values, got.stderr, { scale: opts.scale });
          const g = img.geometry;
          const bits = [
            `${img.scale === 'symlog' ? 'symlog' : 'linear'} colour scale from −${fmt(img.maxAbs, 3)} (blue) to +${fmt(img.maxAbs, 3)} (red)`,
            got.stderr ? `${img.insignificant} of ${img.entries} entries not significant (hatched)` : 'exact values',
            g.bin > 1 ? `each pixel is the entry of largest |value| in a ${g.bin} × ${g.bin} block` : `${g.cellW} × ${g.cellH} px per entry`,
          ];
          fig.image = {
            path: stage(`${safeFileName(layer.name)}__${safeFileName(t.name)}.png`, img.png),
            alt: `${t.name} diagonal`,
            caption: `_${mdText(bits.join('; '))}._`,
          };
          const ggn = t.ggnDiagonal?.values;
          if (ggn && ggn.length === n) {
            const gi = heatmapPng(t.shape, ggn, null, { scale: opts.scale });
            fig.ggnImage = {
              path: stage(`${safeFileName(layer.name)}__${safeFileName(t.name)}__ggn.png`, gi.png),
              alt: `${t.name} GGN diagonal`,
              caption: `_The exact GGN diagonal of the same tensor, same layout; ${gi.scale === 'symlog' ? 'symlog' : 'linear'} colour scale from −${fmt(gi.maxAbs, 3)} to +${fmt(gi.maxAbs, 3)}. The Hessian diagonal minus this is the network's own curvature (zero for ReLU networks)._`,
            };
          }
        } catch (e) {
          fig.note = `_No heatmap: ${mdText((e as Error).message)}._`;
        }
      }
      tensors.push(fig);
    }
  }
  figures.tensors = tensors;
  const markdown = markdownReport(result, { figures, date: opts.date ?? new Date() });

  // Write: every file to a temporary name, then rename them all, the Markdown last.
  const targets = [...staged.map((s) => ({ path: join(assetsDir, s.name), data: s.data })), { path: mdPath, data: markdown }];
  const tag = `${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
  const temps: string[] = [];
  const renamed: string[] = [];
  try {
    mkdirSync(dirname(mdPath), { recursive: true });
    if (staged.length) mkdirSync(assetsDir, { recursive: true });
    const written = targets.map((t) => {
      const tmp = join(dirname(t.path), `.${basename(t.path)}.${tag}.tmp`);
      temps.push(tmp);
      writeFileSync(tmp, t.data);
      return { tmp, path: t.path };
    });
    for (const w of written) {
      renameSync(w.tmp, w.path);
      renamed.push(w.tmp);
    }
  } catch (e) {
    for (const tmp of temps) {
      if (!renamed.includes(tmp) && existsSync(tmp)) {
        try {
          unlinkSync(tmp);
        } catch {
          /* best effort */
        }
      }
    }
    throw e;
  }
  return { markdown, files: [mdPath, ...staged.map((s) => join(assetsDir, s.name))] };
}
