/**
 * Reader for numpy's `.npy` format (versions 1.0, 2.0 and 3.0), little-endian numeric dtypes only.
 *
 * A file is: the magic `\x93NUMPY`, a version, a header length, a header that is a Python dict literal
 * (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`), then the raw C-order data. The header
 * is parsed by a small strict parser (never eval'd), sizes are checked against the limits before anything
 * is allocated, and the data is copied into a fresh, aligned buffer. Every problem is an InputError.
 */
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { allocate, reserve } from './alloc.js';

export type NpyDtype = 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'bool';

export interface NdArray {
  dtype: NpyDtype;
  shape: number[];
  /** C-order values. int64 arrays come as a Float64Array (every value within ±2^53). */
  data: Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;
}

/** Max bytes of any one decoded array, and of a whole file. */
export interface ReadLimits {
  maxBytes: number;
  /** Max bytes inflated from one compressed archive, all members together (default: maxBytes). */
  maxDecompressedBytes?: number;
}

export const DEFAULT_LIMITS: ReadLimits = Object.freeze({ maxBytes: 2 * 1024 ** 3 });

/** Reports one problem; never returns. The npz reader passes one that names the member. */
export type Fail = (detail: string) => never;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER = 1 << 20;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** descr (without its byte-order character) -> dtype and item size. */
const DTYPES: Record<string, [NpyDtype, number]> = {
  f4: ['float32', 4], f8: ['float64', 8], i1: ['int8', 1], i2: ['int16', 2], i4: ['int32', 4],
  i8: ['int64', 8], u1: ['uint8', 1], u2: ['uint16', 2], b1: ['bool', 1],
};
const CONVERT_HINT = "convert it in numpy, e.g. a.astype('<f4'), before saving";

export function parseNpy(bytes: Uint8Array, file: string, limits: ReadLimits = DEFAULT_LIMITS): NdArray {
  return decodeNpy(bytes, (detail) => {
    throw new InputError(file, detail);
  }, limits);
}

export function readNpy(path: string, limits: ReadLimits = DEFAULT_LIMITS): NdArray {
  return parseNpy(readInput(path, limits, '.npy'), path, limits);
}

/** Reads a whole input file, with one-line errors for a missing, unreadable or oversized file. */
export function readInput(path: string, limits: ReadLimits, kind: string): Uint8Array {
  const fail = (detail: string): never => {
    throw new InputError(path, detail);
  };
  let size = 0;
  try {
    const st = statSync(path);
    if (!st.isFile()) fail(`is not a file; expected a ${kind} file`);
    size = st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? `file not found; check the path to the ${kind} file` : `cannot read the file (${code ?? String(e)})`);
  }
  if (size > limits.maxBytes) fail(tooBig('the file is', size, limits));
  reserve(size, limits.maxBytes, path, `reading the ${kind} file`);
  try {
    return readFileSync(path);
  } catch (e) {
    return fail(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** A file-supplied string made safe for a one-line message: control characters escaped, length capped. */
export function printable(s: string): string {
  const t = s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return t.length > 60 ? `${t.slice(0, 60)}...` : t;
}

export function tooBig(what: string, bytes: number, limits: ReadLimits): string {
  return `${what} ${bytes} bytes, above the limit of ${limits.maxBytes} bytes; use a smaller file or raise the limit`;
}

/** Decodes one .npy image; `fail` builds the error (so the npz reader can name its member). */
export function decodeNpy(bytes: Uint8Array, fail: Fail, limits: ReadLimits = DEFAULT_LIMITS): NdArray {
  if (bytes.length > limits.maxBytes) fail(tooBig('the data is', bytes.length, limits));
  if (MAGIC.some((b, i) => i < bytes.length && bytes[i] !== b)) {
    fail('not a .npy array: bad magic (expected \\x93NUMPY); save it with numpy.save');
  }
  if (bytes.length < 10) fail(`truncated .npy: only ${bytes.length} bytes, the header is missing`);
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) fail(`unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail('truncated .npy: the file ends inside the header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (headerLen > MAX_HEADER) fail(`.npy header of ${headerLen} bytes is implausibly long (max ${MAX_HEADER})`);
  if (start + headerLen > bytes.length) fail(`truncated .npy: header of ${headerLen} bytes runs past the end of the data (${bytes.length} bytes)`);
  const headerBytes = bytes.subarray(start, start + headerLen);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('corrupt .npy header: not valid UTF-8');
  }
  const header = parseHeader(text, fail);

  const [dtype, itemSize] = checkDescr(header.descr, fail);
  if (header.fortran_order) {
    fail('fortran_order arrays are not supported; save np.ascontiguousarray(a) instead');
  }
  const count = elementCount(header.shape, itemSize, limits, fail);
  const dataStart = start + headerLen;
  const nbytes = count * itemSize;
  const have = bytes.length - dataStart;
  if (have !== nbytes) {
    fail(`shape (${header.shape.join(', ')}) of ${printable(header.descr)} needs ${nbytes} data bytes but the file has ${have}` +
      (have < nbytes ? ' (truncated?)' : ''));
  }
  // A fresh, aligned buffer of its own (not Buffer#slice, which would share the file's memory).
  const raw = allocate('uint8', nbytes, limits.maxBytes, fail, `the array of shape (${header.shape.join(', ')})`);
  raw.set(bytes.subarray(dataStart, dataStart + nbytes));
  if (!LITTLE_ENDIAN_HOST && itemSize > 1) byteSwap(raw, itemSize);
  return { dtype, shape: header.shape, data: toTyped(raw, dtype, count, fail, limits) };
}

interface Header {
  descr: string;
  fortran_order: boolean;
  shape: number[];
}

function checkDescr(descr: string, fail: Fail): [NpyDtype, number] {
  const order = descr[0];
  const known = DTYPES[descr.slice(1)];
  if (known && descr.length === 3 && '<>|='.includes(order)) {
    const [dtype, itemSize] = known;
    if (itemSize === 1 || order === '<') return known;
    if (order === '>') fail(`big-endian dtype '${printable(descr)}' is not supported; ${CONVERT_HINT.replace("'<f4'", `'<${descr.slice(1)}'`)}`);
    if (order === '=' && LITTLE_ENDIAN_HOST) return known;
    fail(`dtype '${printable(descr)}' (${dtype}) has an unsupported byte order; ${CONVERT_HINT}`);
  }
  if (descr === '|O' || descr === 'O') fail("object arrays (dtype '|O', pickled) are not supported; save numeric arrays only");
  fail(`unsupported dtype '${printable(descr)}' (supported: float32, float64, int8, int16, int32, int64, uint8, uint16, bool); ${CONVERT_HINT}`);
}

function elementCount(shape: number[], itemSize: number, limits: ReadLimits, fail: Fail): number {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d; // dims are >= 1 here, so the product only grows: once past the limit it stays past it
    if (count * itemSize > limits.maxBytes) {
      fail(tooBig(`shape (${shape.join(', ')}) declares`, shape.reduce((a, b) => a * b, itemSize), limits));
    }
  }
  return count;
}

function toTyped(raw: Uint8Array, dtype: NpyDtype, count: number, fail: Fail, limits: ReadLimits): NdArray['data'] {
  const buf = raw.buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(buf, 0, count);
    case 'float64': return new Float64Array(buf, 0, count);
    case 'int32': return new Int32Array(buf, 0, count);
    case 'int16': return new Int16Array(buf, 0, count);
    case 'uint16': return new Uint16Array(buf, 0, count);
    case 'int8': return new Int8Array(buf, 0, count);
    case 'uint8': return raw;
    case 'bool': // numpy reads any nonzero byte as True
      for (let i = 0; i < raw.length; i++) raw[i] = raw[i] === 0 ? 0 : 1;
      return raw;
    case 'int64': return int64ToFloat64(new Int32Array(buf, 0, 2 * count), fail, limits);
  }
}

/** int64 pairs (low word unsigned, high word signed) to doubles; refuses values beyond ±2^53. */
function int64ToFloat64(words: Int32Array, fail: Fail, limits: ReadLimits): Float64Array {
  const out = allocate('float64', words.length / 2, limits.maxBytes, fail, 'the int64 array as float64');
  for (let i = 0; i < out.length; i++) {
    const lo = words[2 * i] >>> 0;
    const hi = words[2 * i + 1];
    // |v| <= 2^53 exactly when hi in [-2^21, 2^21), or v == 2^53 (hi == 2^21, lo == 0).
    if (hi < -0x200000 || hi > 0x200000 || (hi === 0x200000 && lo !== 0)) {
      fail(`int64 value at index ${i} is beyond ±2^53 and cannot be represented exactly; store it as float64 or int32`);
    }
    out[i] = hi * 4294967296 + lo;
  }
  return out;
}

function byteSwap(raw: Uint8Array, size: number): void {
  for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
}

// ---- the header dict: a Python literal of strings, ints, booleans, None, tuples and lists ----

type PyValue = string | number | boolean | null | PyValue[];

function parseHeader(text: string, fail: Fail): Header {
  const bad = (what: string): never => fail(`corrupt .npy header: ${what}`);
  let pos = 0;
  const ws = () => {
    while (pos < text.length && ' \t\r\n'.includes(text[pos])) pos++;
  };
  const expect = (ch: string) => {
    ws();
    if (text[pos] !== ch) bad(`expected '${ch}' at character ${pos}`);
    pos++;
  };
  const value = (depth: number): PyValue => {
    ws();
    const ch = text[pos];
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, pos + 1);
      if (end < 0) bad('unterminated string');
      const s = text.slice(pos + 1, end);
      if (s.includes('\\')) bad('escapes in strings are not supported');
      pos = end + 1;
      return s;
    }
    if (ch === '(' || ch === '[') {
      if (depth > 8) bad('nested too deeply');
      const close = ch === '(' ? ')' : ']';
      pos++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (text[pos] === close) break;
        items.push(value(depth + 1));
        ws();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== close) bad(`expected ',' or '${close}' at character ${pos}`);
      }
      pos++;
      return items;
    }
    const m = /^(?:-?\d+L?|True|False|None)/.exec(text.slice(pos, pos + 40));
    if (!m) return bad(`unexpected ${ch === undefined ? 'end' : `'${printable(ch)}'`} at character ${pos}`);
    pos += m[0].length;
    if (m[0] === 'True' || m[0] === 'False') return m[0] === 'True';
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', '')); // Python 2 wrote longs as 3L
  };

  const dict = new Map<string, PyValue>();
  expect('{');
  for (;;) {
    ws();
    if (text[pos] === '}') break;
    const key = value(0);
    if (typeof key !== 'string') bad('dict keys must be strings');
    if (dict.has(key as string)) bad(`duplicate key '${printable(key as string)}'`);
    expect(':');
    dict.set(key as string, value(0));
    ws();
    if (text[pos] === ',') pos++;
    else if (text[pos] !== '}') bad(`expected ',' or '}' at character ${pos}`);
  }
  pos++;
  ws();
  if (pos !== text.length) bad(`unexpected text after the dict at character ${pos}`);

  const keys = [...dict.keys()].sort().join(',');
  if (keys !== 'descr,fortran_order,shape') bad(`keys are {${printable(keys)}}, expected exactly descr, fortran_order, shape`);
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (Array.isArray(descr)) fail("structured dtypes (record arrays) are not supported; save each field as its own array");
  if (typeof descr !== 'string') return bad("'descr' is not a string");
  if (typeof fortran !== 'boolean') return bad("'fortran_order' is not True or False");
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    return bad("'shape' is not a tuple of non-negative integers");
  }
  if (shape.length > 32) bad(`shape has ${shape.length} dimensions (numpy allows at most 32)`);
  return { descr, fortran_order: fortran, shape: shape as number[] };
}
