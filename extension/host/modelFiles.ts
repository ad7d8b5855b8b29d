/**
 * Which files are models Inspect Hessian accepts, and which files beside a model belong to it (so that
 * editing any of them marks a result stale). Pure (no vscode); the engine's loadModel decides what
 * actually loads and says why not.
 *
 *   model.json   TF.js LayersModel; its weight shards are the `.bin` files beside it
 *   *.keras      Keras 3 archive, one file
 *   *.h5         legacy Keras HDF5 model, one file (`*.weights.h5` holds no model config: not offered)
 *   *.onnx       ONNX; external data (`model.onnx.data`, what torch ≥ 2.9 writes) sits beside it
 */
import { basename } from 'node:path';

/** Glob for the workspace search of models (VS Code's findFiles syntax). */
export const MODEL_GLOB = '**/{model.json,*.keras,*.h5,*.onnx}';

/** A model file for the picker (package.json's Explorer / editor-title `when` clause lists the same extensions). */
export function isModelFile(path: string): boolean {
  const name = basename(path).toLowerCase();
  if (name === 'model.json') return true;
  if (name.endsWith('.weights.h5')) return false;
  return name.endsWith('.keras') || name.endsWith('.h5') || name.endsWith('.onnx');
}

/** The files in the model's folder (names in `siblings`) that hold its weights, besides the model file. */
export function companionFiles(modelPath: string, siblings: readonly string[]): string[] {
  const name = basename(modelPath);
  const lower = name.toLowerCase();
  if (lower === 'model.json') return siblings.filter((f) => f.endsWith('.bin'));
  if (lower.endsWith('.onnx')) return siblings.filter((f) => f !== name && f.startsWith(name));
  return [];
}
