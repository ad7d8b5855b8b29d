/**
 * The user-facing limits on untrusted input (README "Security and limits"; extension settings
 * curvatureLens.limits.*), turned into each reader's own limits. Every reader checks them before it
 * allocates (readers/alloc.ts) and names the limit in its error.
 */
import type { InputLimits } from '../protocol.js';
import { DEFAULT_LIMITS, type ReadLimits } from './npy.js';
import { DEFAULT_MODEL_LIMITS, type ModelLimits } from './tfjsModel.js';

export const DEFAULT_INPUT_LIMITS: Required<InputLimits> = {
  maxFileBytes: DEFAULT_LIMITS.maxBytes,
  maxParameters: DEFAULT_MODEL_LIMITS.maxParameters!,
  maxLayers: DEFAULT_MODEL_LIMITS.maxLayers!,
};

/** Limits of the data readers: any one file or decoded array, and all members of an archive together. */
export function dataLimits(l: InputLimits = {}): ReadLimits {
  const max = l.maxFileBytes ?? DEFAULT_INPUT_LIMITS.maxFileBytes;
  return { maxBytes: max, maxDecompressedBytes: max };
}

/** Limits of the model readers: the weights as a whole count as one file. */
export function modelLimits(l: InputLimits = {}): ModelLimits {
  return {
    ...DEFAULT_MODEL_LIMITS,
    maxWeightBytes: l.maxFileBytes ?? DEFAULT_MODEL_LIMITS.maxWeightBytes,
    maxParameters: l.maxParameters ?? DEFAULT_MODEL_LIMITS.maxParameters,
    maxLayers: l.maxLayers ?? DEFAULT_MODEL_LIMITS.maxLayers,
  };
}
