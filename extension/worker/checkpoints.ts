/**
 * The worker's side of Inspect Checkpoints: the engine's inspectCheckpoints (one inspection per model
 * file, same settings and seed, refusing a different architecture) with each progress message tagged by
 * its checkpoint, and each checkpoint's per-tensor diagonal kept for the panel's diff.
 */
import type { CheckpointDiagonal, CheckpointProgress, CheckpointsResult, InspectResult, Progress, WorkerCheckpointsOptions } from '../protocol.js';
import { inspectCheckpoints } from '../engine/checkpoints.js';

export function diagonalsOf(r: InspectResult): CheckpointDiagonal[] {
  return r.layers.flatMap((l) =>
    l.tensors.map((t) => ({ layer: l.name, name: t.name, shape: t.shape, values: t.diagonal.values ?? [], stderr: t.diagonal.stderr ?? null })),
  );
}

export async function runCheckpoints(
  o: WorkerCheckpointsOptions,
  signal: AbortSignal,
  onProgress: (p: Progress, c: CheckpointProgress) => void,
): Promise<{ result: CheckpointsResult; diagonals: CheckpointDiagonal[][] }> {
  let at: CheckpointProgress = { index: 0, total: o.paths.length, path: o.paths[0] ?? '' };
  const { result, runs } = await inspectCheckpoints(
    o.paths,
    { ...o.settings, signal, onProgress: (p) => onProgress(p, at) },
    (index, path) => {
      at = { index, total: o.paths.length, path };
      onProgress({ phase: 'load', message: 'checkpoint', done: index, total: o.paths.length, eta: null, note: `checkpoint ${index + 1}/${o.paths.length}: ${path}` }, at);
    },
  );
  return { result, diagonals: runs.map(diagonalsOf) };
}
