/**
 * A preliminary diagonal from the worker (protocol DiagonalPreview, JSON lists) as the panel holds it:
 * typed arrays, structured-cloned into the webview like the result's tensors. Imports no vscode.
 */
import type { DiagonalPreview, PanelPreview } from '../protocol.js';

export function panelPreview(p: DiagonalPreview): PanelPreview {
  const f32 = (xs: ReadonlyArray<number | null>) => Float32Array.from(xs, (v) => (v == null ? Number.NaN : v));
  return {
    ...p,
    tensors: p.tensors.map((t) => ({ layer: t.layer, name: t.name, shape: t.shape, values: f32(t.values), stderr: t.stderr ? f32(t.stderr) : null })),
  };
}
