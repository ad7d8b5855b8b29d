/**
 * Which model files in a folder are its checkpoints, for Inspect Checkpoints: model files one level down
 * (epoch-N/model.json, step-N/model.onnx, …) or side by side (epoch-1.keras, epoch-2.keras, …),
 * found with the CLI's small glob (cli/glob.ts: readdir only, no shell, natural order). When the folder
 * holds several kinds, the most numerous wins (a stray `best/model.onnx` beside ten epoch-N/model.json
 * is not a checkpoint of them). Pure of vscode; the engine refuses checkpoints whose layers differ.
 */
import { basename, extname, join } from 'node:path';
import { expandGlob, naturalCompare } from '../cli/glob.js';
import { isModelFile } from './modelFiles.js';

/** Checkpoint patterns, relative to the folder, in order of preference on a tie. */
const PATTERNS = ['*/model.json', '*/*.onnx', '*/*.keras', '*/*.h5', '*.onnx', '*.keras', '*.h5'];

/** The checkpoints in `folder` as absolute paths in natural order (epoch-2 before epoch-10); [] when none. */
export function findCheckpoints(folder: string): string[] {
  const groups = new Map<string, string[]>();
  for (const pattern of PATTERNS) {
    for (const rel of expandGlob(pattern, folder)) {
      if (!isModelFile(rel)) continue;
      // Group one level down by the file's name (model.json) or, for named files, by extension.
      const key = pattern.startsWith('*/') ? `*/${basename(rel) === 'model.json' ? 'model.json' : `*${extname(rel).toLowerCase()}`}` : `*${extname(rel).toLowerCase()}`;
      const g = groups.get(key) ?? [];
      g.push(join(folder, rel));
      groups.set(key, g);
    }
  }
  let best: string[] = [];
  for (const g of groups.values()) if (g.length > best.length) best = g;
  return [...new Set(best)].sort(naturalCompare);
}
