/**
 * The one place readers allocate buffers whose size comes from an input file (declared shapes, sizes in
 * headers, row counts). The size is checked against the caller's limit BEFORE anything is allocated, and
 * a request above it is an InputError naming the file — never a RangeError, a crash, or an engine that
 * runs out of memory later. Tests observe every request through `observeAllocations` (e.g. the largest
 * one) to prove that no input makes a reader ask for more than its limit.
 *
 * Every reader (model, weights, data) routes its input-sized allocations through `allocate`; a new reader
 * should do the same (see test/fuzz-readers.test.ts for the fuzz pattern that checks it).
 */
import { InputError } from '../errors.js';

const CTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

export type AllocKind = keyof typeof CTORS;
export type Allocated<K extends AllocKind> = InstanceType<(typeof CTORS)[K]>;

/** One allocation request, as the observer sees it. */
export interface AllocationRequest {
  kind: AllocKind;
  count: number;
  bytes: number;
  limit: number;
  file: string | null;
  what: string;
}

type Observer = (r: AllocationRequest) => void;
const observers = new Set<Observer>();

/**
 * A typed array of `count` elements of `kind`, zero-filled. Throws InputError(file, …) when `count` is not
 * a non-negative safe integer or when its bytes exceed `limit`; `what` says what the buffer is for
 * ("shape (3, 4) of <f4", "weights of group 0"), so that the message tells the user what to change.
 */
export function allocate<K extends AllocKind>(kind: K, count: number, limit: number, file: Where, what: string): Allocated<K> {
  const ctor = CTORS[kind];
  reserve(count * ctor.BYTES_PER_ELEMENT, limit, file, what, kind, count);
  try {
    return new ctor(count) as Allocated<K>;
  } catch {
    return failAt(file, `${what}: cannot allocate ${count * ctor.BYTES_PER_ELEMENT} bytes; raise Node's memory or use a smaller file`);
  }
}

/**
 * The same check (and observation) for memory that a library allocates on the reader's behalf: a file
 * read whole after its size is known, zlib's output capped at the declared size.
 */
export function reserve(bytes: number, limit: number, file: Where, what: string, kind: AllocKind = 'uint8', count = bytes): void {
  for (const o of observers) o({ kind, count, bytes, limit, file: typeof file === 'function' ? null : file, what });
  if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(bytes)) {
    failAt(file, `${what}: invalid size ${count}; the file is corrupt`);
  }
  if (bytes > limit) {
    failAt(file, `${what} needs ${bytes} bytes, above the limit of ${limit} bytes; use a smaller file or raise the limit (see "Security and limits" in the README)`);
  }
}

/** The file the request is for (named in the error), or a reader's own fail function (e.g. naming an npz member). */
export type Where = string | null | ((detail: string) => never);

function failAt(file: Where, detail: string): never {
  if (typeof file === 'function') return file(detail);
  throw new InputError(file, detail);
}

/**
 * Runs `fn` with `observer` called for every allocation request (before the limit check), then removes
 * it. For tests: record the largest request and compare it with the limit.
 */
export function observeAllocations<T>(observer: Observer, fn: () => T): T {
  observers.add(observer);
  try {
    return fn();
  } finally {
    observers.delete(observer);
  }
}
