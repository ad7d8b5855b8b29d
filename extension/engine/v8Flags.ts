/**
 * V8 flags of every process that runs the engine: the extension's worker process (host/workerClient.ts),
 * the CLI (bin/curvature-lens.js relaunches itself with them) and the benchmark's children. V8 reads
 * them only at start-up (setting them at run time crashes the heap), so they go on the command line.
 *
 * `--single-threaded-gc`: garbage collection on the thread that allocates, without V8's parallel and
 * concurrent helper threads. With as many HVP threads as cores (hvpPool.ts; 2 workers on a 2-core
 * machine), the helpers of every isolate compete with the HVPs for the cores, and a parallel scavenge
 * waits for helpers that get no core. Measured on 2 cores (wasm, 2 workers against 1, the pool's batches
 * as inspect makes them; two runs each): examples/cnn 1.57 / 1.60× → 1.92 / 1.91×, 784-256-256-10 MLP
 * 1.52 / 1.58× → 1.79 / 1.75×. One worker alone runs within the machine's noise of the default
 * (probes/s in three alternating runs each: examples/cnn 118–126 both ways; 784 MLP 86–90 against
 * 80–91; examples/mlp 1206–1262 against 1038–1254; 28×28 CNN 55–56 against 53–54).
 */
export const ENGINE_V8_FLAGS: readonly string[] = ['--single-threaded-gc'];
