/**
 * One entry point from a model file on disk to a differentiable Network, by file format. Each format's
 * reader treats the file as untrusted input and throws InputError naming it.
 */
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { InputError } from '../errors.js';
import { readKerasModel } from '../readers/keras.js';
import { readTfjsModel, type ModelLimits } from '../readers/tfjsModel.js';
import { DEFAULT_ONNX_LIMITS, readOnnxModel } from '../readers/onnxModel.js';
import type { ModelFormat } from '../protocol.js';
import { buildOnnxNetwork } from './onnxNetwork.js';
import { buildNetwork, type Network } from './network.js';

export interface LoadedModel {
  net: Network;
  /** The training loss recorded in the file, if any (Keras' name, e.g. "categorical_crossentropy"). */
  trainingLoss: string | null;
  /** The file format, as reported in the result's model.format. */
  format: ModelFormat;
}

/** The model file extensions Inspect accepts, for messages and file pickers. */
export const MODEL_FORMATS = ['model.json', '.onnx', '.keras', '.h5'] as const;

export function loadModel(path: string, limits?: ModelLimits): LoadedModel {
  const ext = extname(path).toLowerCase();
  // Missing files and folders get the TF.js reader's messages, which say what to pass instead.
  const isFile = statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  if (ext === '.json' || !isFile) {
    const model = readTfjsModel(path, limits);
    return { net: buildNetwork(model), trainingLoss: model.trainingLoss, format: 'tfjs-layers' };
  }
  if (ext === '.keras' || ext === '.h5' || ext === '.hdf5') {
    const model = readKerasModel(path, limits ? { maxFileBytes: limits.maxWeightBytes, maxConfigBytes: limits.maxJsonBytes, maxWeightBytes: limits.maxWeightBytes } : undefined);
    return { net: buildNetwork(model), trainingLoss: model.trainingLoss, format: ext === '.keras' ? 'keras' : 'keras-h5' };
  }
  if (ext === '.onnx') {
    const onnxLimits = limits ? { maxFileBytes: limits.maxWeightBytes, maxTensorBytes: limits.maxWeightBytes, maxNodes: limits.maxLayers ?? DEFAULT_ONNX_LIMITS.maxNodes } : undefined;
    return { net: buildOnnxNetwork(readOnnxModel(path, onnxLimits)), trainingLoss: null, format: 'onnx' };
  }
  throw new InputError(path, `not a supported model file (expected one of: ${MODEL_FORMATS.join(', ')})`);
}
