/**
 * How inspect evaluates its HVPs for a model, its data and a memory budget: examples per chunk, and
 * how many independent HVPs are stacked per worker (shared with the benchmark, so that it measures the
 * batches inspect really runs).
 */
import type { Network } from './network.js';
import type { Objective } from './objective.js';

/**
 * Most HVPs evaluated together per worker. Stacking itself gains little past ~16 once ops are large
 * (R-operator, examples/mlp: 0.86 ms per HVP at 16, 0.82 at 32, 0.81 at 64), but a pool batch ends
 * when its slowest share does, so larger batches synchronise the workers less often (2 workers,
 * examples/mlp: 1.3× → 1.5–1.7× the probes/s of 1 going from 32 to 64 per worker; the 784 MLP 1.3× →
 * 1.5–1.6×). The memory budget bounds it (stacking()).
 */
const MAX_BATCH = 64;
/**
 * Reverse-over-reverse HVPs are stacked only for small models without convolutions (parameters × chunk
 * examples and activation bytes per copy below these), where op dispatch dominates: on wasm, 4 stacked
 * HVPs of a 784-256-256-10 MLP on 128 examples took 3× as long as 4 single ones, and stacked convolutions
 * are window-built (layers.ts) while single ones run on tfjs' kernel (6× faster per HVP on examples/cnn).
 * R-operator HVPs (rop.ts) always stack: the directions share one forward pass (examples/mlp 2.9 → 1.5 ms
 * per HVP at 8, the 784 MLP 16.7 → 12.7 ms). A property of the model, not a timing, because on wasm
 * stacked and single HVPs may differ in the last bits and a seed must reproduce.
 */
const STACK_MAX_WEIGHT_EXAMPLES = 5e6;
const STACK_MAX_ACTIVATION_BYTES = 2 * 2 ** 20;
/**
 * An R-operator batch holds at most this many times one HVP's memory (issue 6: a worker's batch within 3×
 * a gradient's, and one HVP takes 1.3–2.1× a gradient). The backend holds one direction at a time
 * (Objective.hvpMany), so what grows with K is each direction's vector and product on the host: models
 * dominated by activations (CNNs, small MLPs) still stack MAX_BATCH, those dominated by parameters a few
 * (784-256-256-10 MLP: 3; per HVP 11.9 ms at 3, 11.2 at 6, 11.1 at 12).
 */
const ROP_BATCH_PER_HVP = 1.5;

/** Bytes left for activations once the data and 16 parameter-sized vectors are counted. */
export function activationBudget(memoryBudget: number, dataBytes: number, vectorBytes: number): number {
  return Math.max(memoryBudget - dataBytes - 16 * vectorBytes, memoryBudget / 8);
}

/** Examples per chunk: a gradient's activations (×12 for the second-order tape) in half the budget. */
export function chunkSizeFor(net: Network, examples: number, budget: number): number {
  return Math.max(1, Math.min(examples, Math.floor(budget / 2 / Math.max(net.activationBytesPerExample * 12, 1))));
}

/**
 * Independent HVPs (exact columns, probes) per worker: `stacked` ones go K at a time through one
 * Objective.hvpMany, as many as fit in the worker's share of the budget: the backend's estimated peak
 * (Objective.hvpPeakBytes) plus what each direction holds outside it (Objective.hostBytesPerDirection);
 * otherwise one by one.
 */
export function stacking(net: Network, obj: Objective, chunkSize: number, budget: number, workers: number): { stacked: boolean; K: number } {
  const perDirection = obj.hostBytesPerDirection;
  const room = obj.rop ? Math.min(budget / workers, ROP_BATCH_PER_HVP * (obj.hvpPeakBytes(1) + perDirection)) : budget / workers;
  const fit = Math.min(MAX_BATCH, obj.directionsWithin(room, perDirection));
  const small = !convolutional(net) && net.size * chunkSize < STACK_MAX_WEIGHT_EXAMPLES && obj.activationBytesPerCopy < STACK_MAX_ACTIVATION_BYTES;
  const stacked = fit >= 2 && (obj.rop || small);
  return { stacked, K: stacked ? fit : 1 };
}

/** Whether the network has convolution layers (Keras Conv2D/DepthwiseConv2D, ONNX Conv). */
function convolutional(net: Network): boolean {
  return net.blocks.some((b) => /conv/i.test(b.className));
}
