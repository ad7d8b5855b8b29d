/**
 * Fixes to tfjs-backend-wasm 4.22, whose heap is a wasm32 memory that can never pass 4 GiB, shared by every
 * tensor. Found when `bench/estimators.ts` crashed with "memory access out of bounds" inside malloc
 * (examples/cnn, 32 stacked HVP copies; see bench/wasm-heap-notes.md):
 *
 * - Its Identity and Cast kernels copy their input, and the gradient tape clones (Identity) every tensor it
 *   saves for the backward pass, so a reverse-over-reverse HVP held ~37× its forward activations on wasm
 *   (~23× on cpu, whose Identity shares the buffer). `shareWasmCopies` makes them share the buffer as the
 *   cpu backend does (tensors are immutable, and reshape already shares buffers this way on wasm).
 * - Its malloc is not checked: near 4 GiB it traps inside malloc, and a failed allocation would hand
 *   kernels address 0 to write to. `guardWasmHeap` counts the bytes the backend holds and throws a plain
 *   error before an allocation could take the heap past WASM_HEAP_LIMIT.
 * - Its BatchMatMul, for one batch and no transposes, caches an XNNPACK operator holding the packed weights
 *   under the id of b's buffer, not under b's shape: a reshape of the same buffer used later as b with
 *   other dimensions reuses the stale operator, which reads and writes out of bounds (wrong numbers, heap
 *   corruption). `freshMatMulWeights` hands BatchMatMul a copy of b in that case.
 * - Its Slice (and SplitV and Unpack, which call it) reads the input with readSync, which copies the whole
 *   input out of the heap for every slice: splitting a 1.4 MB tensor in 4 copied 5.6 MB and took 1.5 ms,
 *   a third of a CNN's R-operator HVP. `sliceFromHeap` copies only the slice, from a view of the heap.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The most bytes of tensors the wasm heap may hold (of its 4 GiB, some go to the stack, statics and C++). */
export const WASM_HEAP_LIMIT = 3.75 * 2 ** 30;

interface WasmModule {
  _malloc(n: number): number;
  _free(p: number): void;
}

const sharing = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo => {
  const x = args.inputs.x!;
  (args.backend as tf.KernelBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

let shared = false;

/** Re-registers wasm's Identity (and Cast to the same dtype) to share the input's buffer, and BatchMatMul (see above). */
export function shareWasmCopies(): void {
  if (shared) return;
  shared = true;
  const identity = tf.getKernel('Identity', 'wasm');
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (identity && matMul) freshMatMulWeights(matMul, identity.kernelFunc);
  const cast = tf.getKernel('Cast', 'wasm');
  sliceFromHeap();
  if (identity) {
    tf.unregisterKernel('Identity', 'wasm');
    tf.registerKernel({ ...identity, kernelFunc: sharing as unknown as tf.KernelFunc });
  }
  if (cast) {
    const copy = cast.kernelFunc;
    tf.unregisterKernel('Cast', 'wasm');
    tf.registerKernel({
      ...cast,
      kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: { dtype: string } }) =>
        args.inputs.x!.dtype === args.attrs.dtype ? sharing(args) : copy(args as unknown as Parameters<tf.KernelFunc>[0])) as unknown as tf.KernelFunc,
    });
  }
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** x[begin : begin + size] copied from a view of the heap (the output is allocated first: growing the heap detaches views). */
function heapSlice(backend: HeapBackend, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const n = size.reduce((a, b) => a * b, 1);
  if (n === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const shape = x.shape;
  const rank = shape.length;
  // Runs: the innermost axes the slice takes whole, plus the first one it cuts.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  const run = size.slice(k).reduce((a, b) => a * b, 1);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const idx = begin.slice(0, k);
  const outer = n / run;
  for (let r = 0, o = 0; r < outer; r++, o += run) {
    let off = begin[k] * strides[k];
    for (let d = 0; d < k; d++) off += idx[d] * strides[d];
    if (run < 64) for (let i = 0; i < run; i++) dst[o + i] = src[off + i];
    else dst.set(src.subarray(off, off + run), o);
    for (let d = k - 1; d >= 0; d--) {
      if (++idx[d] < begin[d] + size[d]) break;
      idx[d] = begin[d];
    }
  }
  return out;
}

/** Slice, SplitV and Unpack on wasm through heapSlice (strings keep the stock kernels). */
function sliceFromHeap(): void {
  const replace = (name: string, f: (args: KernelArgs, stock: tf.KernelFunc) => tf.TensorInfo | tf.TensorInfo[]) => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) return;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: ((args: KernelArgs) => (Object.values(args.inputs)[0]!.dtype === 'string' ? k.kernelFunc(args) : f(args, k.kernelFunc))) as tf.KernelFunc });
  };
  replace('Slice', (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { begin, size } = args.attrs as unknown as { begin: number[]; size: number[] };
    const [b, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    return heapSlice(args.backend as unknown as HeapBackend, x, b, sz);
  });
  replace('SplitV', (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const begin = x.shape.map(() => 0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const out = heapSlice(args.backend as unknown as HeapBackend, x, [...begin], size);
      begin[ax] += s;
      return out;
    });
  });
  replace('Unpack', (args) => {
    const x = args.inputs.value as tf.TensorInfo;
    const ax = tf.util.parseAxisParam((args.attrs as unknown as { axis: number }).axis, x.shape)[0];
    const size = [...x.shape];
    size[ax] = 1;
    const outShape = x.shape.filter((_, d) => d !== ax);
    return Array.from({ length: x.shape[ax] }, (_, i) => {
      const begin = x.shape.map((_, d) => (d === ax ? i : 0));
      const out = heapSlice(args.backend as unknown as HeapBackend, x, begin, size);
      return { ...out, shape: outShape };
    });
  });
}

/** b's last two dimensions, per buffer, for BatchMatMul's one-batch path (the one that caches by buffer). */
const cachedAs = new WeakMap<object, string>();

function freshMatMulWeights(matMul: tf.KernelConfig, copy: tf.KernelFunc): void {
  const inner = matMul.kernelFunc;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    ...matMul,
    kernelFunc: ((args: KernelArgs) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      const batch = (t: tf.TensorInfo): number => t.shape.slice(0, -2).reduce((p, q) => p * q, 1);
      if (transposeA || transposeB || batch(a) !== 1 || batch(b) !== 1) return inner(args);
      const dims = b.shape.slice(-2).join('x');
      const seen = cachedAs.get(b.dataId);
      if (seen === undefined) cachedAs.set(b.dataId, dims);
      if (seen === undefined || seen === dims) return inner(args);
      const fresh = copy({ inputs: { x: b }, backend: args.backend, attrs: {} }) as tf.TensorInfo;
      try {
        return inner({ ...args, inputs: { a, b: fresh } });
      } finally {
        (args.backend as tf.KernelBackend).disposeData(fresh.dataId);
      }
    }) as tf.KernelFunc,
  });
}

let live = 0;
let peak = 0;
const guarded = new WeakSet<object>();

/** Wraps the active wasm backend's malloc/free (once per module) to count live bytes and refuse overflow. */
export function guardWasmHeap(backend: tf.KernelBackend): void {
  const wasm = (backend as unknown as { wasm?: WasmModule }).wasm;
  if (!wasm || guarded.has(wasm)) return;
  guarded.add(wasm);
  // Emscripten's export stubs replace themselves with the raw export on their first call: make that call
  // now, so that the wrappers below are not overwritten by it.
  wasm._free(wasm._malloc(8));
  const sizes = new Map<number, number>();
  const malloc = wasm._malloc.bind(wasm);
  const free = wasm._free.bind(wasm);
  wasm._malloc = (n: number): number => {
    if (live + n > WASM_HEAP_LIMIT) {
      throw new Error(
        `the wasm backend is out of memory: ${mb(n)} MB more would take its tensors past ${mb(WASM_HEAP_LIMIT)} MB ` +
          `(wasm memory cannot pass 4 GiB); lower --memory-budget, or use the cpu backend`,
      );
    }
    const p = malloc(n) >>> 0;
    if (p === 0 && n > 0) throw new Error(`the wasm backend could not allocate ${mb(n)} MB (its heap holds ${mb(live)} MB); lower --memory-budget, or use the cpu backend`);
    sizes.set(p, n);
    live += n;
    peak = Math.max(peak, live);
    return p;
  };
  wasm._free = (p: number): void => {
    const q = p >>> 0;
    live -= sizes.get(q) ?? 0;
    sizes.delete(q);
    free(p);
  };
}

/** Bytes of tensors the wasm heap holds now (0 before the wasm backend is used). */
export function wasmHeapLive(): number {
  return live;
}

/** The most bytes held since the last reset (for tests and benchmarks). */
export function wasmHeapPeak(reset = false): number {
  const p = peak;
  if (reset) peak = live;
  return p;
}

const mb = (b: number): string => (b / 2 ** 20).toFixed(0);
