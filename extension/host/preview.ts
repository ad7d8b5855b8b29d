/**
 * Per-tensor diagonals from the worker (protocol CheckpointDiagonal: JSON lists, where NaN arrives as
 * null) as the panel holds them: typed arrays, structured-cloned into the webview like the result's
 * tensors. For previews (DiagonalPreview) and Inspect Checkpoints' diagonals. Imports no vscode.
 */
import type { CheckpointDiagonal, DiagonalPreview, PanelPreview, TensorArrays } from '../protocol.js';

export function tensorArraysOf(d: readonly CheckpointDiagonal[]): TensorArrays[] {
  const f32 = (xs: ReadonlyArray<number | null>) => Float32Array.from(xs, (v) => (v == null ? Number.NaN : v));
  return d.map((t) => ({ layer: t.layer, name: t.name, shape: t.shape, values: f32(t.values), stderr: t.stderr ? f32(t.stderr) : null }));
}

export function panelPreview(p: DiagonalPreview): PanelPreview {
  return { ...p, tensors: tensorArraysOf(p.tensors) };
}
