/**
 * One entry point from a model file on disk to a differentiable Network, by file format. Each format's
 * reader treats the file as untrusted input and throws InputError naming it.
 */
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { InputError } from '../errors.js';
import { readTfjsModel, type ModelLimits } from '../readers/tfjsModel.js';
import { buildNetwork, type Network } from './network.js';

export interface LoadedModel {
  net: Network;
  /** The training loss recorded in the file, if any (Keras' name, e.g. "categorical_crossentropy"). */
  trainingLoss: string | null;
}

/** The model file extensions Inspect accepts, for messages and file pickers. */
export const MODEL_FORMATS = ['model.json'] as const;

export function loadModel(path: string, limits?: ModelLimits): LoadedModel {
  const ext = extname(path).toLowerCase();
  // Missing files and folders get the TF.js reader's messages, which say what to pass instead.
  const isFile = statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  if (ext === '.json' || !isFile) {
    const model = readTfjsModel(path, limits);
    return { net: buildNetwork(model), trainingLoss: model.trainingLoss };
  }
  throw new InputError(path, `not a supported model file (expected one of: ${MODEL_FORMATS.join(', ')})`);
}
