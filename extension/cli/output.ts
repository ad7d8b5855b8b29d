/**
 * Writes results: JSON (tensors above the inline limit go to little-endian float32 files beside it,
 * never with `--json -`) and the Markdown report. Every file is written to a temporary name and renamed,
 * so a failed or interrupted run never leaves a half-written result.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { InspectResult } from '../protocol.js';

export const INLINE_LIMIT = 1_000_000;

export function atomicWrite(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The JSON text; with a path, large arrays are moved into .f32 files beside it (written here). */
export function resultJson(result: InspectResult, jsonPath: string | null, inlineLimit = INLINE_LIMIT): string {
  const copy: InspectResult = structuredClone(result);
  if (jsonPath) {
    const stem = basename(jsonPath).replace(/\.json$/i, '');
    for (const layer of copy.layers) {
      for (const t of layer.tensors) {
        for (const [kind, d] of [['diagonal', t.diagonal], ['ggn', t.ggnDiagonal]] as const) {
          if (!d?.values || d.values.length <= inlineLimit) continue;
          const safe = t.name.replace(/[^A-Za-z0-9._-]+/g, '_');
          d.valuesFile = `${stem}.${safe}.${kind}.f32`;
          atomicWrite(join(dirname(jsonPath), d.valuesFile), f32le(d.values));
          delete d.values;
          if (d.stderr) {
            d.stderrFile = `${stem}.${safe}.stderr.f32`;
            atomicWrite(join(dirname(jsonPath), d.stderrFile), f32le(d.stderr));
            delete d.stderr;
          }
        }
      }
    }
  }
  return JSON.stringify(copy, null, 1) + '\n';
}

export function writeResult(result: InspectResult, jsonPath: string): void {
  atomicWrite(jsonPath, resultJson(result, jsonPath));
}

function f32le(values: number[]): Uint8Array {
  const a = Float32Array.from(values);
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  a.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}
