/**
 * Curvature across checkpoints: the same inspection (same data, seed and settings) of several model
 * files of one architecture, in the order given, reduced to the numbers that trace training: top and
 * bottom eigenvalue, trace and the diagonal's Frobenius share.
 */
import { InputError } from '../errors.js';
import type { CheckpointRow, CheckpointsResult, InspectResult } from '../protocol.js';
import { inspect, type InspectOptions } from './inspect.js';

export function checkpointRow(path: string, r: InspectResult): CheckpointRow {
  const g = r.global;
  return {
    path,
    topEigenvalue: g.eigenvalues.top[0]?.value ?? null,
    bottomEigenvalue: g.eigenvalues.bottom[0]?.value ?? null,
    trace: { value: g.trace.value, stderr: g.trace.stderr },
    diagonalShare: g.diagonalShare ?? null,
  };
}

/** Runs inspect() on each path in turn; refuses a checkpoint whose layers differ from the first one's. */
export async function inspectCheckpoints(
  paths: string[],
  options: Omit<InspectOptions, 'modelPath'>,
  onCheckpoint?: (index: number, path: string) => void,
): Promise<{ result: CheckpointsResult; runs: InspectResult[] }> {
  if (paths.length === 0) throw new InputError(null, '--checkpoints matched no model file');
  const runs: InspectResult[] = [];
  for (const [i, path] of paths.entries()) {
    onCheckpoint?.(i, path);
    const r = await inspect({ ...options, modelPath: path });
    const first = runs[0];
    const shape = (x: InspectResult) => x.layers.map((l) => `${l.name}:${l.parameters}`).join(',');
    if (first && shape(first) !== shape(r)) {
      throw new InputError(path, `its layers (${shape(r)}) differ from those of ${paths[0]} (${shape(first)}); --checkpoints compares checkpoints of one architecture`);
    }
    runs.push(r);
  }
  return { result: { checkpoints: runs.map((r, i) => checkpointRow(paths[i], r)) }, runs };
}
