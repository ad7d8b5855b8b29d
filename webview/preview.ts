/**
 * The preliminary diagonal the panel shows while a run goes on (protocol PanelPreview): its label, and
 * per layer the tensors as TensorResults (min, mean, max from the values) for the heatmap figures. Pure.
 */
import type { DiagonalEstimate, PanelPreview, TensorArrays, TensorResult } from '../extension/protocol.js';
import { DASH } from './format.js';

const NAMES: Record<DiagonalEstimate['method'], string> = { exact: 'exact', hutchinson: 'Hutchinson', xdiag: 'XDiag' };

/** "Preliminary — 36 HVPs: …" or, once the diagonal phase is done, what is still running. */
export function previewLabel(p: PanelPreview): string {
  if (p.final) return `Diagonal final (${NAMES[p.method]}, ${p.matvecs} HVPs) ${DASH} eigenvalues and the rest are still being computed.`;
  const source = p.estimator === 'xdiag' ? `Hutchinson mean over the XDiag sketch’s first ${p.samples} test vectors` : `Hutchinson running mean over ${p.samples} probes`;
  return `Preliminary ${DASH} ${p.matvecs} HVPs of ${p.planned}: ${source}, ± its standard error; the final ${NAMES[p.estimator]} result replaces it.`;
}

/** Changes whenever the preview does (a new preview has more HVPs or becomes final). */
export function previewKey(p: PanelPreview | null | undefined): string {
  return p ? `${p.method}:${p.matvecs}:${p.samples}:${p.final}:${p.tensors.length}` : '';
}

/** The preview's tensors grouped by layer (in order), each with the summary numbers a heatmap shows. */
export function previewLayers(p: PanelPreview): Array<{ layer: string; tensors: Array<{ tensor: TensorResult; arrays: TensorArrays }> }> {
  const out: Array<{ layer: string; tensors: Array<{ tensor: TensorResult; arrays: TensorArrays }> }> = [];
  for (const a of p.tensors) {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of a.values) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    const diagonal: DiagonalEstimate = { method: p.method, samples: p.samples, matvecs: p.matvecs, min, max, mean: a.values.length ? sum / a.values.length : NaN };
    const item = { tensor: { name: a.name, shape: a.shape, diagonal }, arrays: a };
    const last = out[out.length - 1];
    if (last?.layer === a.layer) last.tensors.push(item);
    else out.push({ layer: a.layer, tensors: [item] });
  }
  return out;
}
